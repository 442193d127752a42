"""The arithmetic of RECIST 1.1 (private to :mod:`rfatrial.kernel.recist`, which documents it).

The sums, the target selection and the running series of timepoints, in exact micrometres. Kept
apart from the public records of ``recist`` so that ``make kernel`` can compile it with mypyc.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from fractions import Fraction
from typing import Final, Literal, Protocol, TypeAlias

from rfatrial.kernel.units import ClinicalValueError, exact_decimal

__all__ = [
    "UM_PER_MM",
    "BriefResponse",
    "Exact",
    "Lesion",
    "Limits",
    "NonTargetResponse",
    "OverallResponse",
    "Series",
    "TargetResponse",
    "as_float",
    "baseline_series",
    "fraction_change",
    "micrometres",
    "overall",
    "select",
    "size_of",
]

TargetResponse = Literal["CR", "PR", "SD", "PD", "NE"]
NonTargetResponse = Literal["CR", "NON_CR_NON_PD", "PD", "NE"]
OverallResponse = Literal["CR", "PR", "SD", "PD", "NE", "NON_CR_NON_PD"]


class Lesion(Protocol):
    """What RECIST reads of a lesion: :class:`~rfatrial.kernel.recist.LesionObservation`, or a
    record registered with :func:`~rfatrial.kernel.recist.accept_lesion_type` that has the same
    attributes and was validated the same way."""

    @property
    def lesion_id(self) -> str: ...
    @property
    def organ(self) -> str: ...
    @property
    def diameter_mm(self) -> float | None: ...
    @property
    def is_node(self) -> bool: ...
    @property
    def too_small_to_measure(self) -> bool: ...


# Sizes are exact decimals in micrometres: an ``int`` when the millimetres have at most 3 decimals
# (every real measurement), otherwise a ``Fraction``. Sums and comparisons are then exact integer
# arithmetic, with the same results as on the exact decimals in millimetres.
Exact: TypeAlias = "int | Fraction"
UM_PER_MM: Final = 1000
_FAST_LIMIT_MM: Final = 1e9  # below it, floats are far closer together than 0.001 mm


def micrometres(name: str, value: float) -> Exact:
    """The exact decimal of ``value`` (mm) in micrometres."""
    if type(value) is float and 0.0 <= value < _FAST_LIMIT_MM:
        # the nearest integer (a tie rounded either way fails the check below, as it should)
        scaled = int(value * UM_PER_MM + 0.5)
        # the decimal scaled/1000 reads back as value: it is the shortest repr (same digits or
        # fewer, and two decimals of at most 3 places are never within one float spacing here)
        if scaled / UM_PER_MM == value:
            return scaled
    elif type(value) is int:
        return value * UM_PER_MM
    exact = exact_decimal(name, value) * UM_PER_MM
    return exact.numerator if exact.denominator == 1 else exact


@dataclass(frozen=True, slots=True)
class Limits:
    """The numbers of a :class:`RecistCriteria`, exact: lengths in µm, ratios as (num, den)."""

    too_small: Exact
    measurable: Exact
    measurable_node: Exact
    pathological_node: Exact
    pd_absolute: Exact
    pd_increase: tuple[int, int]
    pr_decrease: tuple[int, int]


def size_of(obs: Lesion, limits: Limits) -> Exact | None:
    """The size that enters a sum: 5 mm if too small, ``None`` if not evaluated."""
    if obs.too_small_to_measure:
        return limits.too_small
    mm = obs.diameter_mm
    if mm is None:
        return None
    if type(mm) is float and 0.0 <= mm < 1e9:  # the fast path of micrometres, inlined
        um = int(mm * 1000.0 + 0.5)
        if um / 1000 == mm:
            return um
    return micrometres("diameter_mm", mm)


def select(
    by_id: dict[str, Lesion], max_targets: int, max_per_organ: int, limits: Limits
) -> tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], dict[str, Exact]]:
    """The targets, non-targets and normal nodes of a baseline, and the size of every target."""
    candidates: list[tuple[Exact, str]] = []  # (-size, lesion_id): largest first, then by id
    normal_nodes: list[str] = []
    pathological_node, measurable_node = limits.pathological_node, limits.measurable_node
    measurable = limits.measurable
    for obs in by_id.values():
        size = size_of(obs, limits)
        if obs.is_node:
            if size is None:
                raise ClinicalValueError(
                    f"baseline lesion {obs.lesion_id!r}: a lymph node needs its short axis to "
                    "be classified (normal < 10 mm, non-target 10-15 mm, target ≥ 15 mm)"
                )
            if size < pathological_node:
                normal_nodes.append(obs.lesion_id)
                continue
        elif size == 0:
            raise ClinicalValueError(
                f"baseline lesion {obs.lesion_id!r}: diameter 0 mm (disappeared) at baseline"
            )
        if (
            size is not None
            and not obs.too_small_to_measure
            and size >= (measurable_node if obs.is_node else measurable)
        ):
            candidates.append((-size, obs.lesion_id))
    candidates.sort()
    targets: list[str] = []
    sizes: dict[str, Exact] = {}
    per_organ: dict[str, int] = {}
    for negative, lesion_id in candidates:
        if len(targets) >= max_targets:
            break
        organ = by_id[lesion_id].organ.strip().casefold()
        count = per_organ.get(organ, 0)
        if count < max_per_organ:
            targets.append(lesion_id)
            sizes[lesion_id] = -negative
            per_organ[organ] = count + 1
    if normal_nodes:
        chosen = sizes.keys() | normal_nodes
        non_targets = tuple([lesion_id for lesion_id in by_id if lesion_id not in chosen])
    else:
        non_targets = tuple([lesion_id for lesion_id in by_id if lesion_id not in sizes])
    return tuple(targets), non_targets, tuple(normal_nodes), sizes


def _is_pd(total: Exact, nadir: Exact, limits: Limits) -> bool:
    increase = total - nadir
    num, den = limits.pd_increase
    return increase * den >= num * nadir and increase >= limits.pd_absolute


# What the pathway engine reads of a timepoint: overall, target and non-target responses, the sum
# in mm, and the changes from baseline and from the nadir (see TimepointResponse).
BriefResponse: TypeAlias = (
    "tuple[OverallResponse, TargetResponse | None, NonTargetResponse | None,"
    " float | None, float | None, float | None]"
)

# (response, sum, baseline sum, nadir sum)
_TargetResult: TypeAlias = "tuple[TargetResponse | None, Exact | None, Exact | None, Exact | None]"


def _target_response(
    active: list[str],
    baseline: Exact,
    nadir: Exact,
    now: dict[str, Exact | None],
    is_node: dict[str, bool],
    limits: Limits,
) -> _TargetResult:
    if not active:
        return None, None, None, None
    partial: Exact = 0
    known = 0
    for t in active:
        size = now[t]
        if size is not None:
            partial += size
            known += 1
    if _is_pd(partial, nadir, limits):
        return "PD", partial if known == len(active) else None, baseline, nadir
    if known < len(active):
        return "NE", None, baseline, nadir
    node_limit = limits.pathological_node
    if all((now[t] or 0) < node_limit if is_node[t] else now[t] == 0 for t in active):
        return "CR", partial, baseline, nadir
    num, den = limits.pr_decrease
    if (partial - baseline) * den <= -num * baseline:
        return "PR", partial, baseline, nadir
    return "SD", partial, baseline, nadir


def _non_target_response(
    remaining: list[str],
    observations: dict[str, Lesion],
    progression: bool,
    markers_above_normal: bool,
    limits: Limits,
) -> NonTargetResponse | None:
    if progression:
        return "PD"
    if not remaining:
        return None
    present = unevaluated = False
    node_limit = limits.pathological_node
    for lesion_id in remaining:
        obs = observations.get(lesion_id)
        size = None if obs is None else size_of(obs, limits)
        if obs is None or size is None:
            unevaluated = True
        elif size >= node_limit if obs.is_node else size > 0:
            present = True
            break
    if present:
        return "NON_CR_NON_PD"
    if unevaluated:
        return "NE"
    return "NON_CR_NON_PD" if markers_above_normal else "CR"


def overall(
    target: TargetResponse | None,
    non_target: NonTargetResponse | None,
    new_lesion: bool,
    markers_above_normal: bool,
) -> OverallResponse:
    if new_lesion or target == "PD" or non_target == "PD":
        return "PD"
    if target is None:  # non-target disease only (RECIST 1.1 Table 5)
        if non_target is None:  # every lesion treated: see the module notes
            return "NON_CR_NON_PD" if markers_above_normal else "CR"
        return non_target
    if target == "NE":
        return "NE"
    if target == "CR":
        if non_target == "CR" or (non_target is None and not markers_above_normal):
            return "CR"
        return "PR"
    return target


def fraction_change(value: Exact | None, reference: Exact | None) -> float | None:
    if value is None or reference is None or reference == 0:
        return None
    # int / int is correctly rounded, as is float() of a Fraction: the float of the exact ratio
    return float((value - reference) / reference)


def as_float(value: Exact | None) -> float | None:
    """Micrometres back to millimetres, rounded once."""
    return None if value is None else float(value / UM_PER_MM)


def baseline_series(
    by_id: dict[str, Lesion], max_targets: int, max_per_organ: int, limits: Limits
) -> Series:
    """The running sums of a series from its baseline lesions, keyed by their distinct ids."""
    targets, non_targets, _, sizes = select(by_id, max_targets, max_per_organ, limits)
    if not targets and not non_targets:
        raise ClinicalValueError(
            "baseline: no target or non-target lesion, so a RECIST response cannot be assessed"
        )
    return Series(by_id, limits, targets, non_targets, sizes)


class Series:
    """The running state of a RECIST series: what treatment left to assess, the sums so far."""

    def __init__(
        self,
        by_id: dict[str, Lesion],
        limits: Limits,
        targets: tuple[str, ...],
        non_targets: tuple[str, ...],
        base_sizes: dict[str, Exact],
    ) -> None:
        self.by_id = by_id
        self._limits = limits
        self._targets = targets
        self._non_targets = non_targets
        self._base_sizes = base_sizes
        self._is_node = {lesion_id: obs.is_node for lesion_id, obs in by_id.items()}
        self.history: list[dict[str, Exact | None]] = []
        self._treated: set[str] = set()
        self.active: list[str] = []
        self._remaining: list[str] = []
        self.treated_ids: tuple[str, ...] = ()
        # baseline and nadir sums over the active targets, the nadir over _history[:_folded]
        self._baseline: Exact = 0
        self._nadir: Exact | None = None
        self._folded = 0

    def brief(
        self,
        observations: dict[str, Lesion],
        treated: AbstractSet[str],
        *,
        new_lesion: bool,
        non_target_progression: bool,
    ) -> BriefResponse:
        """The next timepoint answering only (overall, target, non-target response, sum in mm,
        change from baseline, change from nadir): what the pathway engine reads."""
        response, non_target, total, base_sum, nadir_sum = self.assess(
            observations, treated, non_target_progression, False
        )
        return (
            overall(response, non_target, new_lesion, False),
            response,
            non_target,
            None if total is None else float(total / UM_PER_MM),
            fraction_change(total, base_sum),
            fraction_change(total, nadir_sum),
        )

    def assess(
        self,
        observations: dict[str, Lesion],
        treated: AbstractSet[str],
        non_target_progression: bool,
        markers_above_normal: bool,
    ) -> tuple[
        TargetResponse | None,
        NonTargetResponse | None,
        Exact | None,
        Exact | None,
        Exact | None,
    ]:
        """The next timepoint: target and non-target responses, sum, baseline and nadir sums."""
        by_id, limits = self.by_id, self._limits
        # baseline lesions treated since the last timepoint (usually none)
        newly = [t for t in treated if t in by_id and t not in self._treated] if treated else []
        if newly or not self.history:
            # what treatment leaves to assess changes only when a baseline lesion is treated
            self._treated.update(newly)
            treated = self._treated
            self.active = [t for t in self._targets if t not in treated]
            self._remaining = [n for n in self._non_targets if n not in treated]
            self.treated_ids = tuple(sorted(treated))
            self._nadir = None
        active = self.active
        # targets only leave the active set (treated is cumulative): later sums need only these
        now: dict[str, Exact | None] = {
            t: (size_of(observations[t], limits) if t in observations else None) for t in active
        }
        history = self.history
        nadir = self._nadir
        if nadir is None:
            nadir = 0
            for t in active:
                nadir += self._base_sizes[t]
            self._baseline, self._folded = nadir, 0
        for k in range(self._folded, len(history)):
            earlier = history[k]
            earlier_sum: Exact = 0
            for t in active:
                size = earlier[t]
                if size is None:
                    break
                earlier_sum += size
            else:
                if earlier_sum < nadir:
                    nadir = earlier_sum
        self._nadir, self._folded = nadir, len(history)
        response, total, base_sum, nadir_sum = _target_response(
            active, self._baseline, nadir, now, self._is_node, limits
        )
        history.append(now)
        non_target = _non_target_response(
            self._remaining, observations, non_target_progression, markers_above_normal, limits
        )
        return response, non_target, total, base_sum, nadir_sum
