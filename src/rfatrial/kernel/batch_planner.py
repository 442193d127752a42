"""The ablation batch planner: which remaining lesions can be ablated, in which session.

For the next session, each remaining liver lesion is judged on its features (size, ultrasound
visibility, distance to critical structures and large vessels, the ablative margin achievable)
against the protocol's ``planner`` and ``rfa`` settings: ablatable, not ablatable, or to assess
(a feature was not recorded, so the planner does not guess). Ablatable lesions are ranked by the
risk of leaving them untreated — largest first, since size drives both progression and local
tumour progression (references/clinical.md §2c) — and split over the sessions left: as few
sessions as the per-session maximum allows, the lesions spread evenly, the largest first. What
does not fit in the sessions left is listed, never planned as an extra session.

The planner proposes; the investigator decides and records the final choice with its reasons.

Examples
--------
>>> from rfatrial.kernel.protocol import default_protocol
>>> lesions = [LesionFeatures(f"L{k}", 10.0 + k, us_visible=True, distance_to_critical_mm=20,
...                           margin_achievable_mm=8) for k in range(1, 8)]
>>> plan = plan_sessions(lesions, default_protocol(), sessions_done=1)
>>> [len(s) for s in plan.sessions], plan.next_session
([4, 3], ('L7', 'L6', 'L5', 'L4'))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from rfatrial.kernel.evaluation import Evaluation
from rfatrial.kernel.history import LesionMeasurement, PatientHistory
from rfatrial.kernel.protocol import Protocol

__all__ = [
    "LesionFeatures",
    "LesionVerdict",
    "SessionPlan",
    "judge_lesion",
    "plan_for_patient",
    "plan_sessions",
    "remaining_lesion_features",
]

Verdict = Literal["ablatable", "not_ablatable", "to_assess"]


@dataclass(frozen=True, slots=True)
class LesionFeatures:
    """What the planner needs to know of one remaining lesion (``None``: not recorded)."""

    lesion_id: str
    diameter_mm: float | None
    segment: str | None = None
    us_visible: bool | None = None
    distance_to_vessel_mm: float | None = None
    distance_to_critical_mm: float | None = None
    margin_achievable_mm: float | None = None


@dataclass(frozen=True, slots=True)
class LesionVerdict:
    """One lesion judged for the next session, with every reason that decided it."""

    lesion_id: str
    verdict: Verdict
    reasons: tuple[str, ...]
    warnings: tuple[str, ...]
    diameter_mm: float | None


@dataclass(frozen=True, slots=True)
class SessionPlan:
    """The proposal: lesions per session (in order), the next session, and what was left out."""

    verdicts: tuple[LesionVerdict, ...]
    sessions: tuple[tuple[str, ...], ...]
    beyond_limit: tuple[str, ...]
    sessions_left: int

    @property
    def next_session(self) -> tuple[str, ...]:
        return self.sessions[0] if self.sessions else ()


def judge_lesion(features: LesionFeatures, protocol: Protocol) -> LesionVerdict:
    """Ablatable, not ablatable, or to assess — and why (each rule names its protocol key)."""
    planner, rfa = protocol.planner, protocol.rfa
    blocking: list[str] = []
    unknown: list[str] = []
    warnings: list[str] = []
    size = features.diameter_mm
    if size is None:
        unknown.append("diameter not measured")
    elif size > planner.max_diameter_mm:
        blocking.append(f"{size:g} mm > {planner.max_diameter_mm:g} mm (planner.max_diameter_mm)")
    elif size > planner.ideal_max_diameter_mm:
        warnings.append(
            f"{size:g} mm > {planner.ideal_max_diameter_mm:g} mm: complete ablation less likely"
            " (planner.ideal_max_diameter_mm)"
        )
    if planner.require_us_visible:
        if features.us_visible is None:
            unknown.append("US/CEUS visibility not recorded")
        elif not features.us_visible:
            blocking.append("not visible on US/CEUS (planner.require_us_visible)")
    critical = features.distance_to_critical_mm
    if critical is None:
        unknown.append("distance to critical structures not recorded")
    elif critical < planner.min_distance_to_critical_mm:
        blocking.append(
            f"{critical:g} mm from a critical structure"
            f" (< {planner.min_distance_to_critical_mm:g} mm, planner.min_distance_to_critical_mm)"
        )
    margin = features.margin_achievable_mm
    if margin is None:
        unknown.append("achievable margin not assessed")
    elif margin < rfa.min_margin_mm:
        blocking.append(f"margin {margin:g} mm < {rfa.min_margin_mm:g} mm (rfa.min_margin_mm)")
    elif margin < rfa.ideal_margin_mm:
        warnings.append(f"margin {margin:g} mm < ideal {rfa.ideal_margin_mm:g} mm")
    vessel = features.distance_to_vessel_mm
    if vessel is not None and vessel < planner.heat_sink_distance_mm:
        warnings.append(
            f"large vessel {vessel:g} mm away: heat sink (planner.heat_sink_distance_mm)"
        )
    verdict: Verdict = "not_ablatable" if blocking else ("to_assess" if unknown else "ablatable")
    return LesionVerdict(
        features.lesion_id, verdict, tuple(blocking + unknown), tuple(warnings), size
    )


def _split(n: int, sessions: int, per_session: int) -> list[int]:
    """Sizes of ``sessions`` or fewer sessions holding ``n`` lesions, as even as possible."""
    if n == 0 or sessions == 0:
        return []
    count = min(sessions, -(-n // per_session))
    base, extra = divmod(min(n, count * per_session), count)
    return [base + (1 if k < extra else 0) for k in range(count)]


def plan_sessions(
    lesions: Sequence[LesionFeatures], protocol: Protocol, *, sessions_done: int
) -> SessionPlan:
    """Judge every remaining lesion and split the ablatable ones over the sessions left.

    Parameters
    ----------
    lesions
        The remaining liver lesions (active, residual or with local progression).
    protocol
        Its ``planner`` and ``rfa`` settings decide.
    sessions_done
        Sessions already given: at most ``rfa.max_sessions`` in all.
    """
    verdicts = tuple(judge_lesion(f, protocol) for f in lesions)
    left = max(0, protocol.rfa.max_sessions - sessions_done)
    ranked = sorted(
        (v for v in verdicts if v.verdict == "ablatable"),
        key=lambda v: (-(v.diameter_mm or 0.0), v.lesion_id),
    )
    sizes = _split(len(ranked), left, protocol.rfa.max_lesions_per_session)
    sessions: list[tuple[str, ...]] = []
    start = 0
    for size in sizes:
        sessions.append(tuple(v.lesion_id for v in ranked[start : start + size]))
        start += size
    beyond = tuple(v.lesion_id for v in ranked[start:])
    return SessionPlan(verdicts, tuple(sessions), beyond, left)


_FEATURES = (
    "diameter_mm",
    "segment",
    "us_visible",
    "distance_to_vessel_mm",
    "distance_to_critical_mm",
    "margin_achievable_mm",
)


def remaining_lesion_features(
    history: PatientHistory, evaluation: Evaluation
) -> list[LesionFeatures]:
    """The features of each remaining liver lesion, from its latest record of each feature."""
    latest: dict[str, LesionFeatures] = {}
    for e in sorted(history.events, key=lambda e: e.date):
        if e.date > evaluation.today:
            continue
        seen: list[LesionMeasurement] = []
        if e.type == "imaging":
            seen = [*e.lesions, *e.new_lesions]
        elif e.type == "post_rfa_scan":
            seen = list(e.new_lesions)
        for m in seen:
            known = latest.get(m.lesion_id) or LesionFeatures(m.lesion_id, None)
            recorded = {k: getattr(m, k) for k in _FEATURES if getattr(m, k) is not None}
            latest[m.lesion_id] = replace(known, **recorded)
    return [
        latest.get(lesion_id) or LesionFeatures(lesion_id, None)
        for lesion_id in evaluation.lesions_remaining
    ]


def plan_for_patient(
    history: PatientHistory, evaluation: Evaluation, protocol: Protocol
) -> SessionPlan:
    """The planner's proposal for a patient as the engine sees him on ``evaluation.today``."""
    return plan_sessions(
        remaining_lesion_features(history, evaluation),
        protocol,
        sessions_done=evaluation.rfa_sessions_done,
    )
