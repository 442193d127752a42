"""The pathway engine: a patient's history in, phase, next actions and deviations out.

``evaluate(history, protocol, today)`` walks the events in date order and applies the rules of the
protocol (STUDY.md, "The experimental pathway"):

1. induction: ``induction.min_cycles``-``max_cycles`` cycles, then a response scan (RECIST 1.1);
2. RFA only when therapy was effective (``response.effective``), after a pre-RFA lab gate that
   passed within ``lab_gate.freshness_days``, at least ``rfa.separation_days`` (or an agent's longer
   hold) from any systemic dose, ``rfa.min``-``max_lesions_per_session`` lesions, at most
   ``rfa.max_sessions`` sessions;
3. a failed gate postpones the session (labs repeated, therapy continues) until the postponement
   limit, when withdrawal is proposed for the investigator to confirm;
4. after each session: the 1-month CT/MRI, ``consolidation`` cycles, a response scan, and the next
   session while lesions remain; progression (or extrahepatic progression) ends the RFA pathway;
5. follow-up visits on the calendar anchored at randomization (both arms).

What happened is always accepted: a real event that breaks a rule is reported as a
:class:`Deviation` (with its justification when one was recorded), never refused. The engine is
deterministic and never raises on a history that passed its schema.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from rfatrial.kernel.evaluation import (
    ActionKind,
    Deviation,
    Evaluation,
    GateDecision,
    LesionState,
    NextAction,
    ResponseRecord,
)
from rfatrial.kernel.follow_up import PlannedVisit, follow_up_calendar
from rfatrial.kernel.history import (
    Event,
    ImagingAssessment,
    LabPanel,
    LesionMeasurement,
    PatientHistory,
    PostRfaScan,
    RfaSession,
    SystemicCycle,
)
from rfatrial.kernel.lab_gate import PanelResult, check_panel
from rfatrial.kernel.protocol import Protocol
from rfatrial.kernel.recist import LesionObservation, Timepoint, TimepointResponse, assess_series

__all__ = ["evaluate"]

_DAY = timedelta(days=1)
# Same-day order: what is known before what is done (labs and scans before a session or a cycle).
_RANK = {
    "screening": 0,
    "randomization": 1,
    "lab_panel": 2,
    "imaging": 3,
    "post_rfa_scan": 4,
    "rfa_session": 5,
    "systemic_cycle": 6,
    "follow_up_visit": 7,
    "adverse_event": 8,
    "withdrawal": 9,
    "lost_to_follow_up": 10,
    "death": 11,
}
_CANDIDATE = frozenset({"active", "residual", "local_progression"})
_RECIST_MODALITIES = frozenset({"CT", "MRI"})


@dataclass(slots=True)
class _Lesion:
    lesion_id: str
    organ: str
    segment: str | None
    first_seen: date
    status: str = "active"
    sizes: list[tuple[date, float]] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    history: list[tuple[date, str]] = field(default_factory=list)

    def set(self, day: date, status: str) -> None:
        if status != self.status or not self.history:
            self.status = status
            self.history.append((day, status))


@dataclass(slots=True)
class _Walk:
    """Mutable state while the engine walks the history."""

    protocol: Protocol
    today: date
    arm: str | None = None
    randomized: date | None = None
    screened: date | None = None
    eligible: bool = False
    phase: str = "not_screened"
    block: str | None = None  # "induction" | "consolidation"
    block_cycles: int = 0
    cycles: list[tuple[int, SystemicCycle]] = field(default_factory=list)
    sessions: list[tuple[int, RfaSession]] = field(default_factory=list)
    pending_scans: list[int] = field(
        default_factory=list
    )  # session numbers awaiting the 1-month scan
    rfa_open: ImagingAssessment | None = None  # the scan that found therapy effective
    last_effective: ImagingAssessment | None = None  # the last response scan, if effective
    rfa_stopped: str | None = None
    gate_failures: int = 0
    first_failure: date | None = None
    gate_result: PanelResult | None = None
    last_panel: LabPanel | None = None
    pre_cycle_failure: date | None = None
    off_study: date | None = None
    lesions: dict[str, _Lesion] = field(default_factory=dict)
    responses: list[ResponseRecord] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    visits: dict[str, tuple[int, date, tuple[str, ...]]] = field(default_factory=dict)
    judged: dict[int, PanelResult] = field(default_factory=dict)

    def gate_check(self, panel: LabPanel) -> PanelResult:
        """The pre-RFA gate on ``panel``, judged once per evaluation."""
        found = self.judged.get(id(panel))
        if found is None:
            found = self.judged[id(panel)] = check_panel(panel, self.protocol.lab_gate.criteria)
        return found

    def deviate(
        self,
        code: str,
        day: date,
        text: str,
        rule: str,
        index: int | None,
        justification: str | None = None,
    ) -> None:
        self.deviations.append(Deviation(code, day, text, rule, index, justification))

    def lesion(self, m: LesionMeasurement | str, day: date) -> _Lesion:
        lesion_id = m if isinstance(m, str) else m.lesion_id
        found = self.lesions.get(lesion_id)
        if found is None:
            organ = "liver" if isinstance(m, str) else m.organ
            segment = None if isinstance(m, str) else m.segment
            found = _Lesion(lesion_id, organ, segment, day)
            found.set(day, "active")
            self.lesions[lesion_id] = found
        return found

    def remaining(self) -> list[str]:
        return sorted(
            lid for lid, x in self.lesions.items() if x.organ == "liver" and x.status in _CANDIDATE
        )

    def liver_ned(self) -> bool:
        liver = [x for x in self.lesions.values() if x.organ == "liver"]
        return bool(liver) and all(x.status in ("complete", "disappeared") for x in liver)


def evaluate(history: PatientHistory, protocol: Protocol, today: date) -> Evaluation:
    """Evaluate ``history`` under ``protocol`` as of ``today``.

    Examples
    --------
    >>> from datetime import date
    >>> from rfatrial.kernel.history import PatientHistory
    >>> from rfatrial.kernel.protocol import default_protocol
    >>> h = PatientHistory.model_validate({"patient_id": "P1", "site": "S01", "sex": "M",
    ...     "age_at_screening": 60, "events": [
    ...         {"type": "screening", "date": "2026-01-02", "consent_date": "2026-01-02",
    ...          "eligible": True, "liver_lesion_count": 4},
    ...         {"type": "randomization", "date": "2026-01-05", "arm": "experimental"}]})
    >>> result = evaluate(h, default_protocol(), date(2026, 1, 6))
    >>> result.phase, result.next_actions[0].kind
    ('induction', 'systemic_cycle')
    """
    w = _Walk(protocol, today)
    order = sorted(range(len(history.events)), key=lambda i: _sort_key(history.events[i], i))
    responses = _recist_responses(history.events, order)
    for i in order:
        event = history.events[i]
        if event.date > today:
            w.issues.append(f"events[{i}] ({event.type}) is dated after {today.isoformat()}")
            continue
        if w.off_study is not None and event.type != "death":
            w.issues.append(
                f"events[{i}] ({event.type}) is dated after the patient left the study"
                f" on {w.off_study.isoformat()}"
            )
        _apply(w, event, i, responses.get(i))
    actions = _next_actions(w) if w.off_study is None else []
    _visit_deviations(w)
    return _result(history, w, actions)


def _sort_key(event: Event, index: int) -> tuple[date, int, int]:
    return (event.date, _RANK[event.type], index)


# --- RECIST over the whole series ---------------------------------------------------------------


def _observations(items: Iterable[LesionMeasurement]) -> tuple[LesionObservation, ...]:
    return tuple(
        LesionObservation(m.lesion_id, m.organ, m.diameter_mm, m.is_node, m.too_small_to_measure)
        for m in items
    )


def _recist_responses(events: list[Event], order: list[int]) -> dict[int, TimepointResponse]:
    """RECIST response of every CT/MRI after the baseline, keyed by event index."""
    baseline: ImagingAssessment | None = None
    followups: list[tuple[int, Timepoint]] = []
    treated: set[str] = set()
    for i in order:
        e = events[i]
        if e.type == "rfa_session":
            treated.update(x.lesion_id for x in e.lesions)
        elif e.type == "imaging" and e.modality in _RECIST_MODALITIES:
            if e.purpose == "baseline" or baseline is None:
                baseline, followups, treated = e, [], set()
                continue
            new = bool(e.new_lesions) or e.extrahepatic_progression
            followups.append(
                (
                    i,
                    Timepoint(
                        _observations(e.lesions),
                        new_lesion=new,
                        non_target_unequivocal_progression=e.non_target_progression,
                        treated=frozenset(treated),
                    ),
                )
            )
    if baseline is None or not followups:
        return {}
    series = assess_series(_observations(baseline.lesions), [t for _, t in followups])
    return {i: r for (i, _), r in zip(followups, series, strict=True)}


# --- applying one event -----------------------------------------------------------------------


def _apply(w: _Walk, e: Event, i: int, response: TimepointResponse | None) -> None:
    if e.type == "screening":
        w.screened, w.eligible = e.date, e.eligible
        w.phase = "screening" if e.eligible else "screen_failure"
    elif e.type == "randomization":
        _randomize(w, e.date, e.arm, i)
    elif e.type == "systemic_cycle":
        _cycle(w, e, i)
    elif e.type == "imaging":
        _imaging(w, e, i, response)
    elif e.type == "lab_panel":
        _labs(w, e)
    elif e.type == "rfa_session":
        _session(w, e, i)
    elif e.type == "post_rfa_scan":
        _post_rfa_scan(w, e, i)
    elif e.type == "follow_up_visit":
        if e.visit_id in w.visits:
            w.issues.append(f"events[{i}]: visit {e.visit_id} is recorded twice")
        else:
            w.visits[e.visit_id] = (i, e.date, tuple(e.components))
    elif e.type in ("withdrawal", "lost_to_follow_up", "death"):
        if w.off_study is None:
            w.off_study = e.date
        w.phase = {
            "withdrawal": "withdrawn",
            "lost_to_follow_up": "lost_to_follow_up",
            "death": "deceased",
        }[e.type]


def _randomize(w: _Walk, day: date, arm: str, i: int) -> None:
    w.arm, w.randomized = arm, day
    w.phase, w.block, w.block_cycles = "induction", "induction", 0
    if w.screened is None:
        w.deviate(
            "randomized_without_screening",
            day,
            "randomized with no screening record",
            "randomization",
            i,
        )
    elif not w.eligible:
        w.deviate(
            "randomized_ineligible",
            day,
            "randomized although screening found the patient not eligible",
            "randomization",
            i,
        )


def _cycle(w: _Walk, e: SystemicCycle, i: int) -> None:
    p = w.protocol
    if w.randomized is None:
        w.issues.append(f"events[{i}]: systemic cycle before randomization")
    if p.systemic.cycle_length(e.regimen) is None:
        w.issues.append(
            f"events[{i}]: regimen '{e.regimen}' is not in the protocol's systemic.cycle_days"
        )
    if w.cycles:
        prev = w.cycles[-1][1]
        length = p.systemic.cycle_length(prev.regimen)
        if length is not None and (e.date - prev.date).days < length - p.systemic.cycle_window_days:
            w.deviate(
                "cycle_too_early",
                e.date,
                f"cycle given {(e.date - prev.date).days} days after the previous {prev.regimen}"
                f" cycle (cycle length {length} days)",
                "systemic.cycle_days",
                i,
            )
    # A failed pre-cycle panel delays the cycle; giving it anyway is a deviation.
    panel = w.last_panel
    if panel is not None and (e.date - panel.date).days <= p.systemic.pre_cycle_lab_freshness_days:
        failed = check_panel(panel, p.systemic.pre_cycle_labs).failed
        failed = tuple(c for c in failed if c.status == "fail")
        if failed:
            w.deviate(
                "cycle_despite_failed_labs",
                e.date,
                "cycle given although pre-cycle labs failed: "
                + ", ".join(f"{c.key} {c.value} ({c.threshold})" for c in failed),
                "systemic.pre_cycle_labs",
                i,
            )
    for number, s in w.sessions:
        hold = p.rfa.hold_for(e.agent_names, before_rfa=False)
        gap = (e.date - s.date).days
        if gap < hold:
            w.deviate(
                "cycle_within_separation",
                e.date,
                f"systemic cycle {gap} days after RFA session {number} (at least {hold} required)",
                "rfa.separation_days",
                i,
            )
    w.cycles.append((i, e))
    if w.block is not None:
        w.block_cycles += 1


def _effective(w: _Walk, e: ImagingAssessment, r: TimepointResponse) -> bool:
    p = w.protocol
    if e.extrahepatic_progression or any(m.organ != "liver" for m in e.new_lesions):
        return False
    overall = r.overall
    # New liver lesions after the first session are candidates, not failure, unless the rest of
    # the disease progressed too.
    if (
        overall == "PD"
        and e.new_lesions
        and w.sessions
        and p.response.new_liver_lesions_after_first_rfa_are_candidates
        and r.target_response != "PD"
        and r.non_target_response != "PD"
        and not e.non_target_progression
    ):
        overall = r.target_response or "SD"
        overall = "SD" if overall == "NE" else overall
    if overall == "NON_CR_NON_PD":
        return "SD" in p.response.effective
    return overall in p.response.effective


def _imaging(w: _Walk, e: ImagingAssessment, i: int, r: TimepointResponse | None) -> None:
    for m in e.lesions:
        x = w.lesion(m, e.date)
        if m.segment and x.segment is None:
            x.segment = m.segment
        if m.diameter_mm is not None:
            x.sizes.append((e.date, m.diameter_mm))
            if m.diameter_mm == 0 and x.status == "active":
                x.set(e.date, "disappeared")
            elif m.diameter_mm > 0 and x.status == "disappeared":
                x.set(e.date, "active")
    for m in e.new_lesions:
        x = w.lesion(m, e.date)
        if m.diameter_mm is not None:
            x.sizes.append((e.date, m.diameter_mm))
    for lid in e.local_progression:
        x = w.lesion(lid, e.date)
        if x.status not in ("ablated", "complete"):
            w.issues.append(f"events[{i}]: local progression of {lid}, which was never ablated")
        x.set(e.date, "local_progression")
    if r is None:
        return
    effective = _effective(w, e, r)
    w.responses.append(
        ResponseRecord(
            e.date,
            e.modality,
            e.purpose,
            r.overall,
            r.target_response,
            r.sum_mm,
            r.change_from_baseline,
            r.change_from_nadir,
            effective,
            sum(1 for m in e.new_lesions if m.organ == "liver"),
            e.extrahepatic_progression,
        )
    )
    if w.randomized is None:
        return
    closes_block = e.purpose == "response" and w.block is not None
    if closes_block:
        rng = w.protocol.induction if w.block == "induction" else w.protocol.consolidation
        if not rng.min_cycles <= w.block_cycles <= rng.max_cycles:
            w.deviate(
                f"{w.block}_cycles_out_of_range",
                e.date,
                f"{w.block_cycles} {w.block} cycle(s) before the response scan"
                f" ({rng.min_cycles}-{rng.max_cycles} required)",
                f"{w.block}.min_cycles",
                i,
            )
        w.block, w.block_cycles = None, 0
    if w.arm != "experimental" or w.rfa_stopped is not None:
        if closes_block:
            w.phase = "follow_up"
        return
    w.last_effective = e if effective else None
    if not effective:
        w.rfa_stopped = "extrahepatic_progression" if e.extrahepatic_progression else "progression"
        w.rfa_open = None
        w.phase = "follow_up"
        return
    if closes_block or w.rfa_open is not None:
        _open_rfa(w, e)


def _open_rfa(w: _Walk, scan: ImagingAssessment) -> None:
    """An effective response scan: prepare the next session, or end the RFA pathway."""
    if not w.remaining():
        if w.liver_ned():
            w.rfa_stopped, w.phase = "liver_ned", "follow_up"
        elif any(x.status == "ablated" for x in w.lesions.values()):
            w.phase = "consolidation"  # awaiting the 1-month scan of the last session
        else:
            w.rfa_stopped, w.phase = "no_liver_lesion", "follow_up"
        return
    if w.rfa_open is None:
        w.gate_failures, w.first_failure, w.gate_result = 0, None, None
        panel = w.last_panel
        w.rfa_open = scan
        w.phase = "rfa_preparation"
        if (
            panel is not None
            and (scan.date - panel.date).days <= w.protocol.lab_gate.freshness_days
        ):
            _gate(w, panel)
    else:
        w.rfa_open = scan


def _gate(w: _Walk, panel: LabPanel) -> None:
    result = w.gate_check(panel)
    w.gate_result = result
    if not result.passed:
        w.gate_failures += 1
        if w.first_failure is None:
            w.first_failure = panel.date


def _labs(w: _Walk, e: LabPanel) -> None:
    w.last_panel = e
    if w.rfa_open is not None and w.phase == "rfa_preparation":
        _gate(w, e)


def _session(w: _Walk, e: RfaSession, i: int) -> None:
    p = w.protocol
    number = len(w.sessions) + 1
    just = e.justification
    remaining_before = w.remaining()
    if w.randomized is None:
        w.deviate("rfa_before_randomization", e.date, "RFA before randomization", "rfa", i, just)
    elif w.arm == "control":
        w.deviate(
            "rfa_in_control_arm",
            e.date,
            "RFA given to a patient of the control arm (systemic therapy alone)",
            "randomization.arms",
            i,
            just,
        )
    if number > p.rfa.max_sessions:
        w.deviate(
            "rfa_session_beyond_max",
            e.date,
            f"RFA session {number}: at most {p.rfa.max_sessions} sessions",
            "rfa.max_sessions",
            i,
            just,
        )
    elif w.arm == "experimental" and w.randomized is not None:
        if w.rfa_stopped in ("progression", "extrahepatic_progression"):
            w.deviate(
                "rfa_after_progression",
                e.date,
                f"RFA session {number} after {w.rfa_stopped.replace('_', ' ')} on therapy",
                "response.effective",
                i,
                just,
            )
        elif w.rfa_open is None:
            w.deviate(
                "rfa_without_effective_response",
                e.date,
                f"RFA session {number} without a response scan showing effective therapy"
                " since the last cycles",
                "response.effective",
                i,
                just,
            )
        elif (e.date - w.rfa_open.date).days > p.rfa.after_response_scan_days.latest:
            w.deviate(
                "rfa_response_evaluation_stale",
                e.date,
                f"RFA session {number} {(e.date - w.rfa_open.date).days} days after the response"
                f" scan (at most {p.rfa.after_response_scan_days.latest})",
                "rfa.after_response_scan_days",
                i,
                just,
            )
    _session_gate_deviations(w, e, number, i)
    _session_separation_deviations(w, e, number, i)
    n = len(e.lesions)
    if n > p.rfa.max_lesions_per_session:
        w.deviate(
            "rfa_too_many_lesions",
            e.date,
            f"{n} lesions ablated in session {number} (at most {p.rfa.max_lesions_per_session})",
            "rfa.max_lesions_per_session",
            i,
            just,
        )
    elif n < p.rfa.min_lesions_per_session:
        if len(remaining_before) >= p.rfa.min_lesions_per_session:
            w.deviate(
                "rfa_too_few_lesions",
                e.date,
                f"{n} lesion(s) ablated in session {number} while {len(remaining_before)} remained"
                f" (at least {p.rfa.min_lesions_per_session})",
                "rfa.min_lesions_per_session",
                i,
                just,
            )
        elif just is None:
            w.deviate(
                "rfa_too_few_lesions_without_reason",
                e.date,
                f"{n} lesion(s) ablated in session {number} with no recorded reason",
                "rfa.min_lesions_per_session",
                i,
            )
    for a in e.lesions:
        x = w.lesion(a.lesion_id, e.date)
        x.sessions.append(number)
        x.set(e.date, "ablated" if a.technical_success else "residual")
    w.sessions.append((number, e))
    w.pending_scans.append(number)
    w.rfa_open, w.gate_failures, w.first_failure, w.gate_result = None, 0, None, None
    if w.arm == "experimental" and w.rfa_stopped is None and number >= p.rfa.max_sessions:
        w.rfa_stopped = "max_sessions"
    if w.rfa_stopped is None:
        w.phase, w.block, w.block_cycles = "consolidation", "consolidation", 0
    else:
        w.phase, w.block, w.block_cycles = "follow_up", None, 0


def _session_gate_deviations(w: _Walk, e: RfaSession, number: int, i: int) -> None:
    p = w.protocol
    panel = w.last_panel
    if panel is None or (e.date - panel.date).days > p.lab_gate.freshness_days:
        age = "none recorded" if panel is None else f"last {(e.date - panel.date).days} days before"
        w.deviate(
            "rfa_lab_gate_stale",
            e.date,
            f"RFA session {number} without pre-RFA labs within {p.lab_gate.freshness_days} days"
            f" ({age})",
            "lab_gate.freshness_days",
            i,
            e.justification,
        )
        return
    result = w.gate_check(panel)
    if not result.passed:
        w.deviate(
            "rfa_lab_gate_failed",
            e.date,
            f"RFA session {number} although the pre-RFA lab gate did not pass: "
            + ", ".join(f"{c.key} {c.status} ({c.value}; {c.threshold})" for c in result.failed),
            "lab_gate.criteria",
            i,
            e.justification,
        )
    if _withdrawal_proposed_on(w, e.date):
        w.deviate(
            "rfa_after_postponement_limit",
            e.date,
            f"RFA session {number} after the postponement limit, when withdrawal was proposed",
            "lab_gate.postponement_limit_days",
            i,
            e.justification,
        )


def _session_separation_deviations(w: _Walk, e: RfaSession, number: int, i: int) -> None:
    p = w.protocol
    for _, c in reversed(w.cycles):
        gap = (e.date - c.date).days
        hold = p.rfa.hold_for(c.agent_names, before_rfa=True)
        if gap < hold:
            w.deviate(
                "rfa_within_separation",
                e.date,
                f"RFA session {number} {gap} days after a {c.regimen} cycle"
                f" (at least {hold} required)",
                "rfa.separation_days",
                i,
                e.justification,
            )
            return
        if gap > _max_hold(p):
            return


def _max_hold(p: Protocol) -> int:
    holds = [h.days_before_rfa for h in p.rfa.agent_holds]
    return max([p.rfa.separation_days, *holds])


def _withdrawal_proposed_on(w: _Walk, day: date) -> bool:
    gate = w.protocol.lab_gate
    if w.gate_failures == 0 or w.gate_result is None or w.gate_result.passed:
        return False
    if w.gate_failures >= gate.postponement_limit_failures:
        return True
    assert w.first_failure is not None
    return (day - w.first_failure).days >= gate.postponement_limit_days


def _post_rfa_scan(w: _Walk, e: PostRfaScan, i: int) -> None:
    p = w.protocol
    due = [n for n in w.pending_scans if w.sessions[n - 1][1].date <= e.date]
    if not due:
        w.issues.append(f"events[{i}]: post-RFA scan with no session awaiting its 1-month scan")
    else:
        number = due[0]
        w.pending_scans.remove(number)
        session = w.sessions[number - 1][1]
        target = session.date + timedelta(days=p.post_rfa_scan.days_after_rfa)
        off = abs((e.date - target).days)
        if off > p.post_rfa_scan.window_days:
            w.deviate(
                "post_rfa_scan_out_of_window",
                e.date,
                f"1-month scan of session {number} {(e.date - session.date).days} days after it"
                f" (target {p.post_rfa_scan.days_after_rfa} ± {p.post_rfa_scan.window_days})",
                "post_rfa_scan.window_days",
                i,
            )
    for res in e.results:
        x = w.lesions.get(res.lesion_id)
        if x is None or not x.sessions:
            w.issues.append(f"events[{i}]: {res.lesion_id} was never ablated")
            continue
        x.set(e.date, res.outcome)
    for m in e.new_lesions:
        w.lesion(m, e.date)
    if e.extrahepatic_progression and w.rfa_stopped is None and w.arm == "experimental":
        w.rfa_stopped, w.rfa_open, w.phase = "extrahepatic_progression", None, "follow_up"
    if w.rfa_stopped is None and w.arm == "experimental" and w.liver_ned() and w.sessions:
        w.rfa_stopped, w.phase, w.block = "liver_ned", "follow_up", None
    elif (
        w.rfa_stopped is None
        and w.block is None
        and w.rfa_open is None
        and w.last_effective is not None
        and w.remaining()
    ):
        # residual tumour found after the response scan that closed consolidation: plan it now
        _open_rfa(w, w.last_effective)


# --- next actions -----------------------------------------------------------------------------


def _action(
    w: _Walk,
    kind: ActionKind,
    what: str,
    why: str,
    rule: str,
    earliest: date,
    target: date,
    latest: date,
    **extra: object,
) -> NextAction:
    target = min(max(target, earliest), latest)
    return NextAction(
        kind,
        what,
        why,
        rule,
        earliest,
        target,
        latest,
        w.today > latest,
        **extra,  # type: ignore[arg-type]
    )


def _next_actions(w: _Walk) -> list[NextAction]:
    p = w.protocol
    out: list[NextAction] = []
    if w.randomized is None:
        if w.phase == "screening" and w.screened is not None:
            out.append(
                _action(
                    w,
                    "randomize",
                    "Randomize",
                    "eligible and consented at screening",
                    "randomization.randomize_within_days",
                    w.screened,
                    w.screened,
                    w.screened + timedelta(days=p.randomization.randomize_within_days),
                )
            )
        return out
    if w.block is not None:
        out.extend(_block_actions(w))
    if w.phase == "rfa_preparation" and w.rfa_open is not None:
        out.extend(_rfa_actions(w, w.rfa_open))
    out.extend(_post_scan_actions(w))
    out.extend(_visit_actions(w))
    out.sort(key=lambda a: (a.target, a.kind))
    return out


def _next_cycle_window(w: _Walk) -> tuple[date, date, date, str] | None:
    """Earliest, target, latest date of the next cycle and why, or None if not computable."""
    p = w.protocol
    assert w.randomized is not None
    if not w.cycles:
        win = p.systemic.first_cycle_after_randomization_days
        r = w.randomized
        return (
            r + timedelta(days=win.earliest),
            r + timedelta(days=win.target),
            r + timedelta(days=win.latest),
            "first cycle after randomization",
        )
    last = w.cycles[-1][1]
    agents = last.agent_names
    length = p.systemic.cycle_length(last.regimen)
    if length is None:
        return None
    if w.block == "consolidation" and w.block_cycles == 0 and w.sessions:
        session = w.sessions[-1][1]
        hold = p.rfa.hold_for(agents, before_rfa=False)
        start = max(
            session.date + timedelta(days=max(hold, p.rfa.separation_days)),
            last.date + timedelta(days=length - p.systemic.cycle_window_days),
        )
        latest = session.date + timedelta(days=p.consolidation.start_latest_days or 28)
        latest = max(latest, start)
        return (
            start,
            start,
            latest,
            f"first consolidation cycle after RFA session {len(w.sessions)}",
        )
    target = last.date + timedelta(days=length)
    why = f"{last.regimen} every {length} days"
    if w.last_panel is not None and w.last_panel.date >= last.date:
        failed = [c for c in check_panel(w.last_panel, p.systemic.pre_cycle_labs).failed]
        if any(c.status == "fail" for c in failed):
            target = max(target, w.last_panel.date + timedelta(days=p.systemic.cycle_delay_days))
            why += "; delayed: pre-cycle labs failed (" + ", ".join(c.key for c in failed) + ")"
    window = timedelta(days=p.systemic.cycle_window_days)
    for _, s in w.sessions:  # never propose a cycle inside the hold after a session
        hold = p.rfa.hold_for(agents, before_rfa=False)
        target = max(target, s.date + timedelta(days=max(hold, p.rfa.separation_days)))
    return target - window, target, target + window, why


def _block_actions(w: _Walk) -> list[NextAction]:
    p = w.protocol
    rng = p.induction if w.block == "induction" else p.consolidation
    out = []
    if w.block_cycles < rng.max_cycles:
        nxt = _next_cycle_window(w)
        if nxt is not None:
            e, t, l_, why = nxt
            out.append(
                _action(
                    w,
                    "systemic_cycle",
                    f"{w.block.capitalize() if w.block else 'Systemic'} cycle {w.block_cycles + 1}",
                    f"{w.block} {rng.min_cycles}-{rng.max_cycles} cycles; {why}",
                    f"{w.block}.max_cycles",
                    e,
                    t,
                    l_,
                )
            )
    if w.block_cycles >= rng.min_cycles and w.cycles:
        last = w.cycles[-1][1].date
        win = p.response.scan_after_last_cycle_days
        out.append(
            _action(
                w,
                "response_scan",
                "Response evaluation: enhanced CT/MRI + US/CEUS (RECIST 1.1)",
                f"{w.block_cycles} {w.block} cycle(s) given ({rng.min_cycles}-{rng.max_cycles})",
                "response.scan_after_last_cycle_days",
                last + timedelta(days=win.earliest),
                last + timedelta(days=win.target),
                last + timedelta(days=win.latest),
            )
        )
    return out


def _separation_clear(w: _Walk) -> date:
    """First day an RFA session may take place given every cycle's hold."""
    p = w.protocol
    clear = date.min
    for _, c in w.cycles[-4:]:
        hold = p.rfa.hold_for(c.agent_names, before_rfa=True)
        clear = max(clear, c.date + timedelta(days=hold))
    return clear


def _rfa_actions(w: _Walk, scan: ImagingAssessment) -> list[NextAction]:
    p = w.protocol
    gate = p.lab_gate
    number = len(w.sessions) + 1
    candidates = tuple(w.remaining())
    win = p.rfa.after_response_scan_days
    scan_latest = scan.date + timedelta(days=win.latest)
    rfa_earliest = max(scan.date + timedelta(days=win.earliest), _separation_clear(w))
    if _withdrawal_proposed_on(w, w.today) or (w.gate_failures >= gate.postponement_limit_failures):
        assert w.first_failure is not None
        limit = min(
            w.first_failure + timedelta(days=gate.postponement_limit_days),
            w.gate_result.panel_date if w.gate_result else w.today,
        )
        return [
            _action(
                w,
                "confirm_withdrawal",
                "Investigator to confirm withdrawal (pre-RFA lab gate still failing)",
                f"{w.gate_failures} failed gate(s) since {w.first_failure.isoformat()}; limit"
                f" {gate.postponement_limit_failures} gates or {gate.postponement_limit_days} days",
                "lab_gate.postponement_limit_days",
                limit,
                limit,
                limit + timedelta(days=gate.confirm_withdrawal_within_days),
                session=number,
            )
        ]
    if rfa_earliest > scan_latest:
        return [_repeat_scan(w, scan_latest)]
    if w.pending_scans:
        return []  # the next session is planned once the last one's 1-month scan is read
    result = w.gate_result
    if result is not None and result.passed:
        latest = min(scan_latest, result.panel_date + timedelta(days=gate.freshness_days))
        earliest = max(rfa_earliest, result.panel_date)
        if earliest <= latest:
            return [
                _action(
                    w,
                    "rfa_session",
                    f"RFA session {number} of at most {p.rfa.max_sessions}: "
                    f"{p.rfa.min_lesions_per_session}-{p.rfa.max_lesions_per_session} lesions",
                    f"therapy effective on {scan.date.isoformat()}; lab gate passed on"
                    f" {result.panel_date.isoformat()}; {len(candidates)} lesion(s) remain",
                    "rfa.max_sessions",
                    earliest,
                    scan.date + timedelta(days=win.target),
                    latest,
                    session=number,
                    lesions=candidates,
                )
            ]
    # Labs are needed: first, repeated after a failure, or fresher for the earliest session date.
    out = []
    labs_earliest = rfa_earliest - timedelta(days=gate.freshness_days)
    why = f"pre-RFA lab gate for session {number}, within {gate.freshness_days} days before it"
    if result is not None and not result.passed:
        labs_earliest = max(
            labs_earliest, result.panel_date + timedelta(days=gate.repeat_after_days)
        )
        failed = ", ".join(f"{c.key} {c.value} ({c.threshold})" for c in result.failed)
        why = f"RFA postponed: gate failed on {result.panel_date.isoformat()} ({failed})"
        nxt = _continuation_cycle(w)
        if nxt is not None:
            out.append(nxt)
    elif result is not None:
        labs_earliest = max(labs_earliest, result.panel_date + _DAY)
    labs_earliest = max(labs_earliest, scan.date)
    labs_latest = max(scan_latest, labs_earliest)
    out.append(
        _action(
            w,
            "pre_rfa_labs",
            "Pre-RFA labs: blood count, biochemistry, coagulation",
            why,
            "lab_gate.freshness_days",
            labs_earliest,
            max(labs_earliest, rfa_earliest - timedelta(days=min(3, gate.freshness_days))),
            labs_latest,
            session=number,
        )
    )
    return out


def _continuation_cycle(w: _Walk) -> NextAction | None:
    """While RFA is postponed, systemic therapy continues."""
    if not w.cycles:
        return None
    saved = w.block
    w.block = None
    nxt = _next_cycle_window(w)
    w.block = saved
    if nxt is None:
        return None
    e, t, l_, why = nxt
    return _action(
        w,
        "systemic_cycle",
        "Systemic cycle (treatment continues while RFA is postponed)",
        why,
        "lab_gate.repeat_after_days",
        e,
        t,
        l_,
    )


def _repeat_scan(w: _Walk, stale_from: date) -> NextAction:
    start = stale_from + _DAY
    return _action(
        w,
        "response_scan",
        "Repeat response evaluation before RFA (the last one is stale)",
        f"the response scan that opened RFA is older than"
        f" {w.protocol.rfa.after_response_scan_days.latest} days",
        "rfa.after_response_scan_days",
        start,
        start,
        start + timedelta(days=14),
    )


def _post_scan_actions(w: _Walk) -> list[NextAction]:
    p = w.protocol.post_rfa_scan
    out = []
    for number in w.pending_scans:
        s = w.sessions[number - 1][1]
        target = s.date + timedelta(days=p.days_after_rfa)
        window = timedelta(days=p.window_days)
        out.append(
            _action(
                w,
                "post_rfa_scan",
                f"1-month enhanced {'/'.join(p.modalities)} after RFA session {number}",
                "technique efficacy: complete ablation or residual tumour",
                "post_rfa_scan.days_after_rfa",
                target - window,
                target,
                target + window,
                session=number,
            )
        )
    return out


def _visit_actions(w: _Walk) -> list[NextAction]:
    assert w.randomized is not None
    calendar = follow_up_calendar(w.randomized, w.protocol)
    out = []
    upcoming: date | None = None
    for k, v in enumerate(calendar):
        if v.visit_id in w.visits:
            continue
        if v.earliest > w.today:
            # the first upcoming visit date (and any visit on the same date) is shown ahead
            if upcoming is None:
                upcoming = v.target
            if v.target != upcoming:
                break
        elif v.latest < w.today and _superseded(calendar, k, w.today):
            continue  # missed: reported as a deviation, no longer actionable
        out.append(
            _action(
                w,
                "follow_up_visit",
                f"Follow-up visit {v.visit_id}: " + ", ".join(v.components),
                f"every {_every(w, v.visit_id)} months from randomization"
                f" ({w.randomized.isoformat()})",
                "follow_up.periods",
                v.earliest,
                v.target,
                v.latest,
                visit_id=v.visit_id,
            )
        )
    return out


def _superseded(calendar: tuple[PlannedVisit, ...], k: int, today: date) -> bool:
    visit = calendar[k]
    suffix = visit.visit_id.removeprefix(f"M{visit.month}")
    for later in calendar[k + 1 :]:
        if later.visit_id.removeprefix(f"M{later.month}") == suffix:
            return later.earliest <= today
    return True


def _every(w: _Walk, visit_id: str) -> int:
    month = int(visit_id[1:].split("-")[0])
    suffix = visit_id.removeprefix(f"M{month}")
    for period in w.protocol.follow_up.periods:
        if period.id_suffix == suffix and period.from_month <= month <= period.to_month:
            return period.every_months
    return 0


def _visit_deviations(w: _Walk) -> None:
    if w.randomized is None:
        return
    end = w.today if w.off_study is None else min(w.today, w.off_study)
    calendar = follow_up_calendar(w.randomized, w.protocol)
    planned = {v.visit_id: v for v in calendar}
    for v in calendar:
        if v.visit_id not in w.visits and v.latest < end:
            w.deviate(
                "visit_missed",
                v.latest,
                f"follow-up visit {v.visit_id} not done by {v.latest.isoformat()}",
                "follow_up.periods",
                None,
            )
    for visit_id, (i, day, components) in w.visits.items():
        found = planned.get(visit_id)
        if found is None:
            w.issues.append(f"events[{i}]: '{visit_id}' is not a visit of the follow-up calendar")
            continue
        v = found
        if not v.earliest <= day <= v.latest:
            w.deviate(
                "visit_out_of_window",
                day,
                f"follow-up visit {visit_id} on {day.isoformat()}, window"
                f" {v.earliest.isoformat()} to {v.latest.isoformat()}",
                "follow_up.periods",
                i,
            )
        missing = [c for c in v.components if c not in components]
        if missing:
            w.deviate(
                "visit_incomplete",
                day,
                f"follow-up visit {visit_id} without " + ", ".join(missing),
                "follow_up.periods",
                i,
            )
    for number in w.pending_scans:
        s = w.sessions[number - 1][1]
        p = w.protocol.post_rfa_scan
        latest = s.date + timedelta(days=p.days_after_rfa + p.window_days)
        if latest < end:
            w.deviate(
                "post_rfa_scan_missed",
                latest,
                f"no 1-month scan after RFA session {number} by {latest.isoformat()}",
                "post_rfa_scan.days_after_rfa",
                None,
            )


# --- the result -------------------------------------------------------------------------------


def _gate_decision(w: _Walk) -> GateDecision | None:
    if w.phase != "rfa_preparation" or w.rfa_open is None:
        return None
    number = len(w.sessions) + 1
    result = w.gate_result
    if result is None:
        return GateDecision(number, "labs_needed", 0, None, None, None)
    if result.passed:
        return GateDecision(number, "proceed", w.gate_failures, w.first_failure, result, None)
    if _withdrawal_proposed_on(w, w.today):
        return GateDecision(
            number, "withdrawal_proposed", w.gate_failures, w.first_failure, result, None
        )
    until = result.panel_date + timedelta(days=w.protocol.lab_gate.repeat_after_days)
    return GateDecision(number, "postpone", w.gate_failures, w.first_failure, result, until)


def _result(history: PatientHistory, w: _Walk, actions: list[NextAction]) -> Evaluation:
    lesions = tuple(
        LesionState(
            x.lesion_id,
            x.organ,
            x.segment,
            x.first_seen,
            x.status,
            tuple(x.sizes),
            tuple(x.sessions),
            tuple(x.history),
        )
        for x in sorted(w.lesions.values(), key=lambda x: (x.first_seen, x.lesion_id))
    )
    w.deviations.sort(key=lambda d: (d.date, d.code))
    return Evaluation(
        patient_id=history.patient_id,
        today=w.today,
        protocol_version=w.protocol.version,
        arm=w.arm,
        randomization_date=w.randomized,
        phase=w.phase,
        cycles_given=len(w.cycles),
        rfa_sessions_done=len(w.sessions),
        rfa_stopped=w.rfa_stopped,
        lesions=lesions,
        lesions_remaining=tuple(w.remaining()),
        liver_ned=w.liver_ned(),
        responses=tuple(w.responses),
        lab_gate=_gate_decision(w),
        next_actions=tuple(actions),
        deviations=tuple(w.deviations),
        data_issues=tuple(w.issues),
    )
