"""RECIST 1.1 tumour response, Eisenhauer et al., Eur J Cancer 2009;45:228-47.

Baseline lesions are classified (:func:`is_measurable`, :func:`select_targets`): a non-nodal
lesion is measurable with a longest diameter ≥ 10 mm; a lymph node is a target candidate with a
short axis ≥ 15 mm, pathological but non-target from 10 to < 15 mm, and normal (neither) below
10 mm. At most 5 targets are chosen, at most 2 per organ, largest first; ties are broken by
``lesion_id`` so that the choice is deterministic. Every other lesion is a non-target.

Each follow-up (:func:`assess_series`) gets a target response from the sum of diameters (nodes by
short axis; "too small to measure" counts 5 mm, "disappeared" 0 mm):

- PD: sum ≥ 20% above the nadir **and** ≥ 5 mm above it; the nadir is the smallest sum of the
  baseline and the earlier timepoints;
- CR: every non-nodal target 0 mm and every target node < 10 mm;
- PR: sum ≥ 30% below baseline;
- SD otherwise; NE when a target was not evaluated, unless the evaluated targets alone already
  show PD.

The overall response follows RECIST 1.1 Tables 4 and 5 (references/clinical.md §7): any new lesion,
target PD or non-target PD gives PD; with target disease, target CR with non-target CR (or no
non-targets) is CR, with non-target non-CR/non-PD or not evaluated is PR; target PR gives PR,
SD gives SD, NE gives NE. Without target disease the non-target response is the overall response
(CR, NON_CR_NON_PD, NE).

Choices made where the standard does not decide, or for the ablation setting of this study:

- **Locally treated (ablated) lesions are tracked as treated, not as regressions.** Lesions in an
  area treated by loco-regional therapy are not measurable unless progression has been shown
  (PMC4671850, Table 1). A lesion in ``Timepoint.treated`` is removed from the target set of that
  timepoint, and the baseline and nadir sums are recomputed over the same remaining targets, so
  that sums compare like with like: ablating a target never makes a PR or CR by itself. Treated
  lesions also leave the non-target set. ``treated`` is cumulative: a lesion treated before an
  earlier timepoint stays treated (the union of all timepoints so far is used). Local tumour
  progression at an ablation site is not a RECIST matter here; the caller records it and may
  report it as a new lesion.
- When every target has been treated, ``target_response`` is ``None`` and the overall response
  comes from the non-targets and new lesions (Table 5). When no non-target remains either, the
  overall response is ``"CR"`` (no RECIST-evaluable disease left) unless a new lesion or an
  unequivocal non-target progression is reported (``"PD"``) or tumour markers are above normal
  (``"NON_CR_NON_PD"``). That "CR" says nothing about residual tumour at the ablation sites, which
  the 1-month scan after ablation assesses (technique efficacy).
- ``non_target_unequivocal_progression`` always gives non-target PD, even when no non-target
  remains: a progression reported by the reader is never dropped.
- Non-targets: if any evaluated non-target is present the response is NON_CR_NON_PD even if
  others were not evaluated (it cannot be CR); if none is present but some were not evaluated it
  is NE. A non-target node counts as present with a short axis ≥ 10 mm.
- Tumour markers: ``Timepoint.tumor_markers_above_normal`` (default ``False``) turns a non-target
  CR into NON_CR_NON_PD, and a target CR without non-targets into PR, since markers must normalise
  for a complete response.
- Lesions observed at follow-up that are not baseline lesions are not part of the RECIST
  assessment (new lesions are reported through ``Timepoint.new_lesion``); their ids are returned
  in ``TimepointResponse.untracked`` so that nothing is dropped silently.
- PD is checked before CR: target nodes that all shrank below 10 mm but whose sum grew by ≥ 20%
  and ≥ 5 mm from the nadir are PD. After a CR (nadir 0 mm) a reappearing target is PD once the
  sum reaches 5 mm; ``change_from_nadir`` is then ``None`` (undefined).
- ``sum_mm`` is ``None`` when a target was not evaluated; ``nadir_sum_mm`` is the reference used
  for PD at that timepoint (baseline and earlier timepoints whose sum over the current targets is
  complete).
- A baseline lymph node without a short axis, or a baseline non-nodal lesion of 0 mm, is an
  error; so is a baseline without any target or non-target lesion, or two observations of one
  lesion at one timepoint. Organs are compared case-insensitively; the caller decides how lymph
  nodes are grouped into organs through ``organ``.
- Confirmation of CR/PR and the minimum interval for SD are not applied here: each timepoint is
  assessed on its own.

Examples
--------
>>> baseline = [LesionObservation("L1", "liver", 40.0), LesionObservation("L2", "liver", 20.0)]
>>> seen = (LesionObservation("L1", "liver", 28.0), LesionObservation("L2", "liver", 14.0))
>>> r = assess_series(baseline, [Timepoint(seen)])[0]
>>> r.target_response, r.overall, r.sum_mm, r.change_from_baseline
('PR', 'PR', 42.0, -0.3)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import lru_cache

from rfatrial.kernel._frozen import quick
from rfatrial.kernel._recist_core import (
    BriefResponse,
    Lesion,
    Limits,
    NonTargetResponse,
    OverallResponse,
    Series,
    TargetResponse,
    as_float,
    baseline_series,
    fraction_change,
    micrometres,
    overall,
    select,
)
from rfatrial.kernel.units import ClinicalValueError, exact_decimal

__all__ = [
    "BriefResponse",
    "Lesion",
    "LesionObservation",
    "NonTargetResponse",
    "OverallResponse",
    "RecistCriteria",
    "RecistSeries",
    "TargetResponse",
    "TargetSelection",
    "Timepoint",
    "TimepointResponse",
    "accept_lesion_type",
    "assess_series",
    "baseline_running_sums",
    "is_measurable",
    "select_targets",
]


def _check_text(name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ClinicalValueError(f"{name}: {value!r} must be a non-empty string")


_INF = math.inf


def _is_size_int(value: object) -> bool:
    return type(value) is int and value >= 0


def _check_bool(name: str, value: object) -> None:
    if not isinstance(value, bool):
        raise ClinicalValueError(f"{name}: {value!r} is not a bool")


@dataclass(frozen=True, slots=True)
class LesionObservation:
    """One lesion on one scan.

    Parameters
    ----------
    lesion_id
        Stable identifier of the lesion across scans.
    organ
        The organ, e.g. ``"liver"``, ``"lung"``, ``"lymph_node"`` or ``"peritoneum"``.
    diameter_mm
        Longest diameter (short axis for nodes); ``0`` = disappeared; ``None`` = not evaluated.
    is_node
        Whether the lesion is a lymph node.
    too_small_to_measure
        Present but too small to measure: counts as 5 mm.

    Examples
    --------
    >>> LesionObservation("N1", "lymph_node", 16.0, is_node=True).is_node
    True
    """

    lesion_id: str
    organ: str
    diameter_mm: float | None
    is_node: bool = False
    too_small_to_measure: bool = False

    def __post_init__(self) -> None:
        # Cheap checks of the usual case first; anything else takes the full checks below.
        # (for a str, ``not s.isspace()`` with ``s`` non-empty is ``bool(s.strip())``)
        lesion_id, organ, mm = self.lesion_id, self.organ, self.diameter_mm
        if (
            type(lesion_id) is str is type(organ)
            and type(self.is_node) is bool is type(self.too_small_to_measure)
            and (0.0 <= mm < _INF if type(mm) is float else mm is None or _is_size_int(mm))
            and lesion_id
            and organ
            and not lesion_id.isspace()
            and not organ.isspace()
        ):
            return
        _check_text("lesion_id", self.lesion_id)
        _check_text(f"lesion {self.lesion_id}: organ", self.organ)
        _check_bool(f"lesion {self.lesion_id}: is_node", self.is_node)
        _check_bool(f"lesion {self.lesion_id}: too_small_to_measure", self.too_small_to_measure)
        if self.diameter_mm is not None:
            size = exact_decimal(f"lesion {self.lesion_id}: diameter_mm", self.diameter_mm)
            if size < 0:
                raise ClinicalValueError(
                    f"lesion {self.lesion_id}: diameter_mm {self.diameter_mm!r} is negative "
                    "(0 = disappeared, None = not evaluated)"
                )


_LESION_TYPES: set[type] = {LesionObservation}


def accept_lesion_type(cls: type) -> None:
    """Accept records of ``cls`` as lesions without copying them into :class:`LesionObservation`.

    For a type whose own validation already guarantees what ``LesionObservation`` checks (a
    non-empty id and organ, booleans, a finite diameter ≥ 0 or ``None``), such as the kernel's
    history records; this spares the engine a copy of every lesion of every scan.
    """
    _LESION_TYPES.add(cls)


@dataclass(frozen=True, slots=True)
class RecistCriteria:
    """The numbers of RECIST 1.1, as data; the defaults are those of the standard.

    Examples
    --------
    >>> RecistCriteria().pr_decrease
    0.3
    """

    max_targets: int = 5
    max_targets_per_organ: int = 2
    min_measurable_mm: float = 10.0
    min_measurable_node_mm: float = 15.0
    pathological_node_mm: float = 10.0
    pr_decrease: float = 0.30
    pd_increase: float = 0.20
    pd_absolute_mm: float = 5.0
    too_small_mm: float = 5.0

    def __post_init__(self) -> None:
        for name in ("max_targets", "max_targets_per_organ"):
            count = getattr(self, name)
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise ClinicalValueError(f"{name}: {count!r} must be an integer ≥ 1")
        for name in (
            "min_measurable_mm",
            "min_measurable_node_mm",
            "pathological_node_mm",
            "pd_increase",
            "pd_absolute_mm",
            "too_small_mm",
        ):
            if exact_decimal(name, getattr(self, name)) <= 0:
                raise ClinicalValueError(f"{name}: {getattr(self, name)!r} must be above 0")
        if not 0 < exact_decimal("pr_decrease", self.pr_decrease) < 1:
            raise ClinicalValueError(f"pr_decrease: {self.pr_decrease!r} must be between 0 and 1")
        if self.pathological_node_mm > self.min_measurable_node_mm:
            raise ClinicalValueError(
                f"pathological_node_mm {self.pathological_node_mm!r} must not exceed "
                f"min_measurable_node_mm {self.min_measurable_node_mm!r}"
            )


_DEFAULT = RecistCriteria()


@dataclass(frozen=True, slots=True)
class TargetSelection:
    """The baseline classification: target and non-target lesion ids.

    ``targets`` are in selection order (largest first); ``normal_nodes`` lists nodes with a short
    axis < 10 mm, which are neither.

    Examples
    --------
    >>> select_targets([LesionObservation("L1", "liver", 12.0)]).targets
    ('L1',)
    """

    targets: tuple[str, ...]
    non_targets: tuple[str, ...]
    normal_nodes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Timepoint:
    """One follow-up assessment.

    Parameters
    ----------
    observations
        The baseline lesions as seen on this scan (missing = not evaluated).
    new_lesion
        An unequivocal new lesion was found.
    non_target_unequivocal_progression
        The reader reports unequivocal progression of non-target disease.
    treated
        Ids of lesions treated locally (ablated) before this timepoint; cumulative over the series.
    tumor_markers_above_normal
        Tumour markers above the upper limit of normal (prevents a complete response).

    Examples
    --------
    >>> Timepoint((), new_lesion=True).new_lesion
    True
    """

    observations: tuple[Lesion, ...]
    new_lesion: bool = False
    non_target_unequivocal_progression: bool = False
    treated: frozenset[str] = frozenset()
    tumor_markers_above_normal: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "observations", tuple(self.observations))
        object.__setattr__(self, "treated", frozenset(self.treated))
        for obs in self.observations:
            if type(obs) not in _LESION_TYPES and not isinstance(obs, LesionObservation):
                raise ClinicalValueError(f"observations: {obs!r} is not a LesionObservation")
        _check_bool("new_lesion", self.new_lesion)
        _check_bool("non_target_unequivocal_progression", self.non_target_unequivocal_progression)
        _check_bool("tumor_markers_above_normal", self.tumor_markers_above_normal)
        if not all(type(t) is str and t.strip() for t in self.treated):
            for lesion_id in self.treated:  # the slow path names the bad id
                _check_text("treated lesion id", lesion_id)


@dataclass(frozen=True, slots=True)
class TimepointResponse:
    """The RECIST 1.1 response at one follow-up.

    Attributes
    ----------
    target_response
        ``"CR"``, ``"PR"``, ``"SD"``, ``"PD"``, ``"NE"``, or ``None`` with no (remaining) targets.
    non_target_response
        ``"CR"``, ``"NON_CR_NON_PD"``, ``"PD"``, ``"NE"``, or ``None`` with no (remaining)
        non-targets.
    new_lesion
        A new lesion was reported.
    overall
        The overall response.
    sum_mm
        Sum of diameters of the remaining targets (``None`` if not all evaluated or none remain).
    baseline_sum_mm, nadir_sum_mm
        Baseline and nadir sums over the same remaining targets.
    change_from_baseline, change_from_nadir
        Fractional changes (``-0.3`` = 30% decrease), or ``None`` when undefined.
    targets
        The targets assessed at this timepoint (selected minus treated).
    treated
        Baseline lesions excluded as treated.
    untracked
        Observed lesion ids that are not baseline lesions (not assessed).

    Examples
    --------
    >>> r = assess_series([LesionObservation("L1", "liver", 20.0)],
    ...                   [Timepoint((LesionObservation("L1", "liver", 0.0),))])[0]
    >>> r.overall, r.change_from_baseline
    ('CR', -1.0)
    """

    target_response: TargetResponse | None
    non_target_response: NonTargetResponse | None
    new_lesion: bool
    overall: OverallResponse
    sum_mm: float | None
    baseline_sum_mm: float | None
    nadir_sum_mm: float | None
    change_from_baseline: float | None
    change_from_nadir: float | None
    targets: tuple[str, ...] = field(default=())
    treated: tuple[str, ...] = field(default=())
    untracked: tuple[str, ...] = field(default=())


_QuickResponse = quick(TimepointResponse)


def _ratio(name: str, value: float) -> tuple[int, int]:
    exact = exact_decimal(name, value)
    return exact.numerator, exact.denominator


def _make_limits(criteria: RecistCriteria) -> Limits:
    return Limits(
        too_small=micrometres("too_small_mm", criteria.too_small_mm),
        measurable=micrometres("min_measurable_mm", criteria.min_measurable_mm),
        measurable_node=micrometres("min_measurable_node_mm", criteria.min_measurable_node_mm),
        pathological_node=micrometres("pathological_node_mm", criteria.pathological_node_mm),
        pd_absolute=micrometres("pd_absolute_mm", criteria.pd_absolute_mm),
        pd_increase=_ratio("pd_increase", criteria.pd_increase),
        pr_decrease=_ratio("pr_decrease", criteria.pr_decrease),
    )


_cached_limits = lru_cache(maxsize=64)(_make_limits)
_DEFAULT_LIMITS = _make_limits(_DEFAULT)


def _limits(criteria: RecistCriteria) -> Limits:
    if criteria is _DEFAULT:
        return _DEFAULT_LIMITS
    try:
        return _cached_limits(criteria)
    except TypeError:  # not hashable
        return _make_limits(criteria)


def is_measurable(obs: Lesion, criteria: RecistCriteria = _DEFAULT) -> bool:
    """Whether a baseline lesion is measurable (a target candidate).

    Non-nodal: longest diameter ≥ 10 mm. Node: short axis ≥ 15 mm. A lesion too small to measure
    or not evaluated is not measurable.

    Examples
    --------
    >>> is_measurable(LesionObservation("L1", "liver", 10.0))
    True
    >>> is_measurable(LesionObservation("L2", "liver", 9.9))
    False
    >>> is_measurable(LesionObservation("N1", "lymph_node", 14.9, is_node=True))
    False
    """
    if obs.too_small_to_measure or obs.diameter_mm is None:
        return False
    limits = _limits(criteria)
    size = micrometres("diameter_mm", obs.diameter_mm)
    return size >= (limits.measurable_node if obs.is_node else limits.measurable)


def _unique(observations: Sequence[Lesion], where: str) -> dict[str, Lesion]:
    by_id: dict[str, Lesion] = {}
    for obs in observations:
        if type(obs) not in _LESION_TYPES and not isinstance(obs, LesionObservation):
            raise ClinicalValueError(f"{where}: {obs!r} is not a LesionObservation")
        if obs.lesion_id in by_id:
            raise ClinicalValueError(f"{where}: lesion {obs.lesion_id!r} is listed twice")
        by_id[obs.lesion_id] = obs
    return by_id


def select_targets(
    baseline: Sequence[Lesion], criteria: RecistCriteria = _DEFAULT
) -> TargetSelection:
    """Choose the target lesions at baseline; the other lesions are non-targets.

    Measurable lesions are taken largest first (ties by ``lesion_id``), at most
    ``max_targets`` in total and ``max_targets_per_organ`` per organ. Nodes with a short axis
    < 10 mm are normal and neither target nor non-target.

    Raises
    ------
    ClinicalValueError
        A lesion listed twice; a node without a short axis; a non-nodal lesion of 0 mm.

    Examples
    --------
    >>> lesions = [LesionObservation(f"L{i}", "liver", 10.0 + i) for i in range(3)]
    >>> select_targets(lesions)
    TargetSelection(targets=('L2', 'L1'), non_targets=('L0',), normal_nodes=())
    """
    targets, non_targets, normal_nodes, _ = select(
        _unique(baseline, "baseline"),
        criteria.max_targets,
        criteria.max_targets_per_organ,
        _limits(criteria),
    )
    return TargetSelection(targets, non_targets, normal_nodes)


def assess_series(
    baseline: Sequence[Lesion],
    followups: Sequence[Timepoint],
    criteria: RecistCriteria = _DEFAULT,
) -> tuple[TimepointResponse, ...]:
    """Assess every follow-up timepoint against the baseline by RECIST 1.1.

    Parameters
    ----------
    baseline
        All lesions at baseline; targets are chosen by :func:`select_targets`.
    followups
        The follow-up timepoints in chronological order.
    criteria
        The RECIST numbers (defaults of the standard).

    Returns
    -------
    tuple of TimepointResponse
        One response per follow-up, in order.

    Raises
    ------
    ClinicalValueError
        Invalid baseline (see :func:`select_targets`), a baseline without any target or
        non-target lesion, or a lesion observed twice at one timepoint.

    Examples
    --------
    >>> base = [LesionObservation("L1", "liver", 30.0), LesionObservation("L2", "liver", 20.0)]
    >>> seen = (LesionObservation("L1", "liver", 30.0), LesionObservation("L2", "liver", 20.0))
    >>> r = assess_series(base, [Timepoint(seen, treated=frozenset({"L1"}))])[0]
    >>> r.targets, r.target_response, r.baseline_sum_mm
    (('L2',), 'SD', 20.0)
    """
    series = RecistSeries(baseline, criteria)
    responses = []
    for number, timepoint in enumerate(followups, start=1):
        if not isinstance(timepoint, Timepoint):
            raise ClinicalValueError(f"followups[{number - 1}]: {timepoint!r} is not a Timepoint")
        responses.append(series.add(timepoint))
    return tuple(responses)


def baseline_running_sums(by_id: dict[str, Lesion]) -> Series:
    """:attr:`RecistSeries.series` for a baseline with the default criteria, its lesions keyed by
    their distinct ids and of an accepted type (what the history schema guarantees)."""
    return baseline_series(
        by_id, _DEFAULT.max_targets, _DEFAULT.max_targets_per_organ, _DEFAULT_LIMITS
    )


class RecistSeries:
    """RECIST 1.1 one timepoint at a time: the same answers as :func:`assess_series`.

    For a record that grows scan by scan (the pathway engine, a care team): each new timepoint
    costs one step, not a re-assessment of the whole series.

    Examples
    --------
    >>> series = RecistSeries([LesionObservation("L1", "liver", 30.0)])
    >>> series.add(Timepoint((LesionObservation("L1", "liver", 20.0),))).target_response
    'PR'
    """

    def __init__(self, baseline: Sequence[Lesion], criteria: RecistCriteria = _DEFAULT) -> None:
        self.series = baseline_series(
            _unique(baseline, "baseline"),
            criteria.max_targets,
            criteria.max_targets_per_organ,
            _limits(criteria),
        )
        """The running sums (what :meth:`add_brief` asks, also reachable without this wrapper)."""

    def add(self, timepoint: Timepoint) -> TimepointResponse:
        """Assess the next timepoint (chronological order)."""
        number = len(self.series.history) + 1
        return self.add_checked(
            _unique(timepoint.observations, f"timepoint {number}"),
            timepoint.treated,
            new_lesion=timepoint.new_lesion,
            non_target_progression=timepoint.non_target_unequivocal_progression,
            markers_above_normal=timepoint.tumor_markers_above_normal,
        )

    def add_checked(
        self,
        observations: dict[str, Lesion],
        treated: AbstractSet[str],
        *,
        new_lesion: bool,
        non_target_progression: bool,
        markers_above_normal: bool = False,
    ) -> TimepointResponse:
        """:meth:`add` for a timepoint whose parts were already checked as :class:`Timepoint`
        checks them, the observations keyed by their (distinct) lesion ids."""
        series = self.series
        response, non_target, total, base_sum, nadir_sum = series.assess(
            observations, treated, non_target_progression, markers_above_normal
        )
        extra = observations.keys() - series.by_id.keys()
        return _QuickResponse(
            target_response=response,
            non_target_response=non_target,
            new_lesion=new_lesion,
            overall=overall(response, non_target, new_lesion, markers_above_normal),
            sum_mm=as_float(total),
            baseline_sum_mm=as_float(base_sum),
            nadir_sum_mm=as_float(nadir_sum),
            change_from_baseline=fraction_change(total, base_sum),
            change_from_nadir=fraction_change(total, nadir_sum),
            targets=tuple(series.active),
            treated=series.treated_ids,
            untracked=tuple(sorted(extra)) if extra else (),
        )

    def add_brief(
        self,
        observations: dict[str, Lesion],
        treated: AbstractSet[str],
        *,
        new_lesion: bool,
        non_target_progression: bool,
    ) -> BriefResponse:
        """:meth:`add_checked` answering only (overall, target, non-target response, sum in mm,
        change from baseline, change from nadir): what the pathway engine reads."""
        return self.series.brief(
            observations,
            treated,
            new_lesion=new_lesion,
            non_target_progression=non_target_progression,
        )
