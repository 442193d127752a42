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
:func:`check_plan` judges that choice before it is confirmed: the planned session is played through
the pathway engine as if it were recorded, and every rule it would break is a finding, with the
protocol key and value it comes from. A finding is either a *refusal* (a plan that breaks it is
never confirmed), *reason required* (confirmed only with the investigator's reason) or a
*warning*:

- refusal: a lesion that is not the patient's or not remaining (ablated, complete), no lesion, more
  than ``rfa.max_lesions_per_session``, fewer than ``rfa.min_lesions_per_session`` while enough
  remain, a session beyond ``rfa.max_sessions``, a patient not in the experimental arm, off study,
  after progression or without an effective (and recent) response, no planned date or a date in
  the past, a date within ``rfa.separation_days`` (or an agent's hold) of a systemic cycle, no
  passing pre-RFA labs within ``lab_gate.freshness_days`` before the date, or after the
  postponement limit;
- reason required: a lesion judged not ablatable or to assess, a choice that differs from the
  proposal, fewer than the minimum because fewer remain;
- warning: what makes a lesion harder (size above the ideal, margin below the ideal, heat sink).

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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from types import MappingProxyType
from typing import Any, Literal, Union

from rfatrial.kernel.evaluation import Evaluation
from rfatrial.kernel.history import AblatedLesion, LesionMeasurement, PatientHistory, RfaSession
from rfatrial.kernel.messages import TEMPLATES
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import Protocol

__all__ = [
    "PLANNER_TEMPLATES",
    "LesionFeatures",
    "LesionVerdict",
    "Note",
    "PlanCheck",
    "PlanFinding",
    "SessionPlan",
    "check_plan",
    "judge_lesion",
    "plan_for_patient",
    "plan_sessions",
    "remaining_lesion_features",
]

Verdict = Literal["ablatable", "not_ablatable", "to_assess"]

# --- the planner's texts, by message id (as kernel.messages does for the engine) ---------------

_PLANNER_TEMPLATES: dict[str, str] = {
    # why a lesion is not ablatable, or to assess
    "planner.diameter_not_measured": "diameter not measured",
    "planner.too_large": "{size} mm > {maximum} mm (planner.max_diameter_mm)",
    "planner.visibility_not_recorded": "US/CEUS visibility not recorded",
    "planner.not_visible": "not visible on US/CEUS (planner.require_us_visible)",
    "planner.critical_distance_not_recorded": "distance to critical structures not recorded",
    "planner.too_close_to_critical": (
        "{distance} mm from a critical structure"
        " (< {minimum} mm, planner.min_distance_to_critical_mm)"
    ),
    "planner.margin_not_assessed": "achievable margin not assessed",
    "planner.margin_too_small": "margin {margin} mm < {minimum} mm (rfa.min_margin_mm)",
    # what makes a lesion harder
    "planner.larger_than_ideal": (
        "{size} mm > {ideal} mm: complete ablation less likely (planner.ideal_max_diameter_mm)"
    ),
    "planner.margin_below_ideal": "margin {margin} mm < ideal {ideal} mm",
    "planner.heat_sink": (
        "large vessel {distance} mm away: heat sink (planner.heat_sink_distance_mm)"
    ),
    # findings on the investigator's choice
    "planner.unknown_lesion": "{lesion} is not a lesion of this patient",
    "planner.lesion_not_remaining": "{lesion} is {status}, not a remaining liver lesion",
    "planner.lesion_not_ablatable": "{lesion} is not ablatable: {reasons}",
    "planner.lesion_to_assess": "{lesion} is to assess: {reasons}",
    "planner.lesion_risk": "{lesion}: {warning}",
    "planner.no_lesion": "no lesion is chosen for the session",
    "planner.off_study": "the patient is off study ({phase})",
    "planner.no_planned_date": "the session has no planned date",
    "planner.planned_in_the_past": (
        "the planned date {planned} is before today ({today}): a past session is recorded,"
        " not planned"
    ),
    "planner.changed_from_proposal.added": (
        "the choice differs from the planner's proposal ({proposed}): added {added}"
    ),
    "planner.changed_from_proposal.left_out": (
        "the choice differs from the planner's proposal ({proposed}): left out {left_out}"
    ),
    "planner.changed_from_proposal.both": (
        "the choice differs from the planner's proposal ({proposed}): added {added};"
        " left out {left_out}"
    ),
    # the engine's deviations of a recorded session, said of a planned one
    "planned.deviation": "{text}",
    **{
        "planned." + key: text.replace(" ablated in", " planned for")
        for key, text in TEMPLATES.items()
        if key.startswith("deviation.")
    },
}

PLANNER_TEMPLATES: Mapping[str, str] = MappingProxyType(_PLANNER_TEMPLATES)
"""Message id → English ``str.format`` template of the planner's reasons, warnings and findings.
A parameter is a value (``str.format``'s), a code, a lesion id, or a nested :class:`Note` (or a
tuple of them, joined by "; ")."""

NoteParam = Union[str, int, float, date, "Note", tuple["Note", ...]]


@dataclass(frozen=True, slots=True)
class Note:
    """One text of the planner: a message id of :data:`PLANNER_TEMPLATES` and its parameters.

    Examples
    --------
    >>> Note("planner.margin_too_small", {"margin": 3, "minimum": 5}).text
    'margin 3 mm < 5 mm (rfa.min_margin_mm)'
    """

    key: str
    params: Mapping[str, NoteParam] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """The English text."""
        return _PLANNER_TEMPLATES[self.key].format_map(
            {k: _english(v) for k, v in self.params.items()}
        )


def _english(value: NoteParam) -> str:
    if isinstance(value, Note):
        return value.text
    if isinstance(value, tuple):
        return "; ".join(_english(v) for v in value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


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
    reason_notes: tuple[Note, ...]
    warning_notes: tuple[Note, ...]
    diameter_mm: float | None

    @property
    def reasons(self) -> tuple[str, ...]:
        """Why it is not ablatable or to assess, in English."""
        return tuple(n.text for n in self.reason_notes)

    @property
    def warnings(self) -> tuple[str, ...]:
        """What makes it harder, in English."""
        return tuple(n.text for n in self.warning_notes)


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
    blocking: list[Note] = []
    unknown: list[Note] = []
    warnings: list[Note] = []
    size = features.diameter_mm
    if size is None:
        unknown.append(Note("planner.diameter_not_measured"))
    elif size > planner.max_diameter_mm:
        blocking.append(
            Note("planner.too_large", {"size": size, "maximum": planner.max_diameter_mm})
        )
    elif size > planner.ideal_max_diameter_mm:
        warnings.append(
            Note(
                "planner.larger_than_ideal", {"size": size, "ideal": planner.ideal_max_diameter_mm}
            )
        )
    if planner.require_us_visible:
        if features.us_visible is None:
            unknown.append(Note("planner.visibility_not_recorded"))
        elif not features.us_visible:
            blocking.append(Note("planner.not_visible"))
    critical = features.distance_to_critical_mm
    if critical is None:
        unknown.append(Note("planner.critical_distance_not_recorded"))
    elif critical < planner.min_distance_to_critical_mm:
        blocking.append(
            Note(
                "planner.too_close_to_critical",
                {"distance": critical, "minimum": planner.min_distance_to_critical_mm},
            )
        )
    margin = features.margin_achievable_mm
    if margin is None:
        unknown.append(Note("planner.margin_not_assessed"))
    elif margin < rfa.min_margin_mm:
        blocking.append(
            Note("planner.margin_too_small", {"margin": margin, "minimum": rfa.min_margin_mm})
        )
    elif margin < rfa.ideal_margin_mm:
        warnings.append(
            Note("planner.margin_below_ideal", {"margin": margin, "ideal": rfa.ideal_margin_mm})
        )
    vessel = features.distance_to_vessel_mm
    if vessel is not None and vessel < planner.heat_sink_distance_mm:
        warnings.append(Note("planner.heat_sink", {"distance": vessel}))
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


# --- checking the investigator's plan before it is confirmed --------------------------------------

Severity = Literal["refusal", "reason_required", "warning"]

# The engine's deviations of a recorded session that a plan may still carry with a reason; every
# other deviation of the planned session refuses the plan.
_REASON_IS_ENOUGH = frozenset({"rfa_too_few_lesions_without_reason"})
_OFF_STUDY = frozenset({"withdrawn", "deceased", "lost_to_follow_up"})
_PLACEHOLDER = "planned-lesion"


@dataclass(frozen=True, slots=True)
class PlanFinding:
    """One rule the plan breaks (or a risk it takes), and where the rule is in the protocol."""

    code: str
    severity: Severity
    note: Note
    rule: str
    source: str
    lesion_id: str | None = None

    @property
    def message(self) -> str:
        """The finding in English."""
        return self.note.text


@dataclass(frozen=True, slots=True)
class PlanCheck:
    """The plan judged: the proposal it is compared with, the session it is, and the findings."""

    proposal: SessionPlan
    session: int
    lesions: tuple[str, ...]
    planned_date: date | None
    added: tuple[str, ...]
    removed: tuple[str, ...]
    findings: tuple[PlanFinding, ...]

    @property
    def refusals(self) -> tuple[PlanFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "refusal")

    @property
    def reasons_required(self) -> tuple[PlanFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "reason_required")

    @property
    def warnings(self) -> tuple[PlanFinding, ...]:
        return tuple(f for f in self.findings if f.severity == "warning")

    def blocking(self, reason: str | None) -> tuple[PlanFinding, ...]:
        """What stops the plan from being confirmed with ``reason``: the refusals, and the
        findings that need a reason when none is given."""
        if reason and reason.strip():
            return self.refusals
        return self.refusals + self.reasons_required


def protocol_source(protocol: Protocol, rule: str) -> str:
    """Where a rule is in the protocol, with its value when it is short:
    ``rfa.max_lesions_per_session = 6 (protocol 1.0)``."""
    value: Any = protocol.model_dump(mode="json")
    for part in rule.split("."):
        if not isinstance(value, dict) or part not in value:
            return f"{rule} (protocol {protocol.version})"
        value = value[part]
    scalar = (str, int, float, bool)
    if isinstance(value, scalar) or (
        isinstance(value, list) and all(isinstance(v, scalar) for v in value)
    ):
        shown = ", ".join(str(v) for v in value) if isinstance(value, list) else str(value)
        return f"{rule} = {shown} (protocol {protocol.version})"
    return f"{rule} (protocol {protocol.version})"


def check_plan(
    history: PatientHistory,
    protocol: Protocol,
    *,
    lesions: Sequence[str],
    planned_date: date | None,
    today: date,
) -> PlanCheck:
    """Judge the investigator's plan for the patient's next RFA session.

    The planned session is played through the engine as if it were recorded on ``planned_date``;
    each deviation it would raise is a finding (see the module's description for which refuse the
    plan). The lesions are judged as :func:`plan_sessions` judges them on ``today``.

    Parameters
    ----------
    history
        The patient's recorded history.
    protocol
        Every number of the rules.
    lesions
        The lesion ids chosen for the session (repeats are ignored).
    planned_date
        The day of the session (``None``: not chosen yet, which refuses the plan).
    today
        The day of the check; the plan must not be in the past.

    Returns
    -------
    PlanCheck
        The findings, in the order: lesions, count and pathway, date, changes from the proposal.

    Examples
    --------
    >>> from rfatrial.kernel.protocol import default_protocol
    >>> h = PatientHistory(patient_id="P1", site="S01", sex="F", age_at_screening=60)
    >>> check = check_plan(h, default_protocol(), lesions=["L1"], planned_date=None,
    ...                    today=date(2026, 3, 1))
    >>> [f.code for f in check.refusals]
    ['unknown_lesion', 'no_planned_date']
    """
    now = evaluate(history, protocol, today)
    proposal = plan_for_patient(history, now, protocol)
    chosen = tuple(dict.fromkeys(lesions))
    verdicts = {v.lesion_id: v for v in proposal.verdicts}
    states = {x.lesion_id: x for x in now.lesions}
    session = now.rfa_sessions_done + 1
    findings: list[PlanFinding] = []

    def add(
        code: str, severity: Severity, note: Note, rule: str, lesion: str | None = None
    ) -> None:
        source = protocol_source(protocol, rule) if rule else "the study's planning rules"
        findings.append(PlanFinding(code, severity, note, rule, source, lesion))

    for lesion_id in chosen:
        state = states.get(lesion_id)
        verdict = verdicts.get(lesion_id)
        if state is None:
            add(
                "unknown_lesion",
                "refusal",
                Note("planner.unknown_lesion", {"lesion": lesion_id}),
                "",
                lesion_id,
            )
        elif verdict is None:
            add(
                "lesion_not_remaining",
                "refusal",
                Note("planner.lesion_not_remaining", {"lesion": lesion_id, "status": state.status}),
                "rfa",
                lesion_id,
            )
        elif verdict.verdict != "ablatable":
            add(
                f"lesion_{verdict.verdict}",
                "reason_required",
                Note(
                    f"planner.lesion_{verdict.verdict}",
                    {"lesion": lesion_id, "reasons": verdict.reason_notes},
                ),
                "planner",
                lesion_id,
            )
        if verdict is not None:
            for warning in verdict.warning_notes:
                note = Note("planner.lesion_risk", {"lesion": lesion_id, "warning": warning})
                add("lesion_risk", "warning", note, "planner", lesion_id)
    if not chosen:
        add(
            "no_lesion",
            "refusal",
            Note("planner.no_lesion"),
            "rfa.min_lesions_per_session",
        )
    if now.phase in _OFF_STUDY:
        add("off_study", "refusal", Note("planner.off_study", {"phase": now.phase}), "")
    if planned_date is None:
        add("no_planned_date", "refusal", Note("planner.no_planned_date"), "")
    elif planned_date < today:
        add(
            "planned_in_the_past",
            "refusal",
            Note("planner.planned_in_the_past", {"planned": planned_date, "today": today}),
            "",
        )
    else:
        findings += _pathway_findings(history, protocol, chosen, planned_date)
    # Changes from the proposal need a reason (only when there is a proposal to change).
    proposed = proposal.next_session
    added = tuple(x for x in chosen if x not in proposed)
    removed = tuple(x for x in proposed if x not in chosen)
    if proposed and (added or removed):
        which = "both" if added and removed else ("added" if added else "left_out")
        params: dict[str, NoteParam] = {"proposed": ", ".join(proposed)}
        params |= {"added": ", ".join(added)} if added else {}
        params |= {"left_out": ", ".join(removed)} if removed else {}
        note = Note(f"planner.changed_from_proposal.{which}", params)
        add("changed_from_proposal", "reason_required", note, "planner")
    return PlanCheck(proposal, session, chosen, planned_date, added, removed, tuple(findings))


def _pathway_findings(
    history: PatientHistory,
    protocol: Protocol,
    chosen: tuple[str, ...],
    planned_date: date,
) -> list[PlanFinding]:
    """The engine's deviations of the planned session, as if it were recorded on its date."""
    ids = list(chosen) or [_PLACEHOLDER]
    session = RfaSession(date=planned_date, lesions=[AblatedLesion(lesion_id=x) for x in ids])
    events = [*history.events, session]
    hypothetical = history.model_copy(update={"events": events})
    result = evaluate(hypothetical, protocol, max(planned_date, _last_date(history)))
    index = len(events) - 1
    out: list[PlanFinding] = []
    for d in result.deviations:
        if d.event_index != index:
            continue
        if not chosen and d.code.startswith("rfa_too_few_lesions"):
            continue  # "no lesion" says it already
        severity: Severity = "reason_required" if d.code in _REASON_IS_ENOUGH else "refusal"
        key = "planned." + d.description_key
        note = Note(key, dict(d.params)) if key in _PLANNER_TEMPLATES else None
        out.append(
            PlanFinding(
                d.code,
                severity,
                note or Note("planned.deviation", {"text": d.description}),
                d.rule,
                protocol_source(protocol, d.rule),
            )
        )
    return out


def _last_date(history: PatientHistory) -> date:
    return max((e.date for e in history.events), default=date.min)
