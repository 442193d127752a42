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

from collections.abc import Sequence
from datetime import date
from typing import cast

from rfatrial.kernel._recist_core import BriefResponse, Lesion, Series
from rfatrial.kernel._walk import RANK, RECIST_MODALITIES, Walk, days, withdrawal_proposed_on
from rfatrial.kernel.ablation import open_rfa, record_labs, record_post_rfa_scan, record_session
from rfatrial.kernel.evaluation import (
    Deviation,
    Evaluation,
    GateDecision,
    LesionState,
    NextAction,
    ResponseRecord,
)
from rfatrial.kernel.follow_up import follow_up_calendar, visits_by_id
from rfatrial.kernel.history import (
    AdverseEvent,
    Event,
    FollowUpVisit,
    ImagingAssessment,
    LabPanel,
    LesionMeasurement,
    PatientHistory,
    RfaSession,
    SystemicCycle,
)
from rfatrial.kernel.lab_gate import check_panel
from rfatrial.kernel.messages import Params, render
from rfatrial.kernel.next_actions import next_actions
from rfatrial.kernel.protocol import Protocol
from rfatrial.kernel.recist import accept_lesion_type, baseline_running_sums
from rfatrial.kernel.units import ClinicalValueError

__all__ = ["PathwayState", "evaluate"]


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
    return _evaluate_events(history.patient_id, history.events, protocol, today)


def _evaluate_events(
    patient_id: str, events: Sequence[Event], protocol: Protocol, today: date
) -> Evaluation:
    w = Walk(protocol, today)
    records: list[Event] = events if isinstance(events, list) else list(events)
    n = len(records)
    dates: list[date] = [e.date for e in records]
    ranks = [RANK[e.type] for e in records]
    # the walk's order: by date, then the same-day order of the kinds, then as recorded; a
    # history stored in that order (the usual case) needs no sort
    order: list[int] = list(range(n))
    for k in range(1, n):
        if dates[k] < dates[k - 1] or (dates[k] == dates[k - 1] and ranks[k] < ranks[k - 1]):
            keys = [(dates[j], ranks[j], j) for j in range(n)]
            keys.sort()
            order = [key[2] for key in keys]
            break
    recist = _RecistSeries()
    for i in order:
        event = records[i]
        if dates[i] > today:
            w.issues.append(f"events[{i}] ({event.type}) is dated after {today.isoformat()}")
            continue
        _step(w, recist, event, i)
    return _conclude(patient_id, w)


class _Scan:
    """The fields of an imaging record, read once, with its lesions by id."""

    def __init__(self, e: ImagingAssessment) -> None:
        self.event = e
        self.day: date = e.date
        self.modality: str = e.modality
        self.purpose: str = e.purpose
        self.lesions: list[LesionMeasurement] = e.lesions
        self.new_lesions: list[LesionMeasurement] = e.new_lesions
        self.local_progression: list[str] = e.local_progression
        self.non_target_progression: bool = e.non_target_progression
        self.extrahepatic: bool = e.extrahepatic_progression
        # the lesions by id (distinct: the history schema checks it)
        self.by_id = {m.lesion_id: m for m in self.lesions}


def _step(w: Walk, recist: _RecistSeries, event: Event, i: int) -> None:
    # the most frequent records first, on their own short way (each field read once)
    if w.off_study is None:
        # exact types: isinstance would ask the models' metaclass (an ABC) every time
        if type(event) is LabPanel:
            record_labs(w, event)
            return
        if type(event) is ImagingAssessment:
            scan = _Scan(event)
            response = recist.add_scan(scan)
            if recist.issue and recist.issue not in w.issues:
                w.issues.append(recist.issue)
            _imaging(w, scan, i, response)
            return
        if type(event) is FollowUpVisit:
            _visit(w, event, i)
            return
        if type(event) is SystemicCycle:
            _cycle(w, event, i)
            return
        if type(event) is AdverseEvent:
            return
    other: _Scan | None = None
    response = None
    if event.type == "imaging":
        other = _Scan(event)
        response = recist.add_scan(other)
    elif event.type == "rfa_session":
        recist.add_session(event)
    if recist.issue and recist.issue not in w.issues:
        w.issues.append(recist.issue)
    if w.off_study is not None and event.type != "death":
        w.issues.append(
            f"events[{i}] ({event.type}) is dated after the patient left the study"
            f" on {w.off_study.isoformat()}"
        )
    if other is not None:
        _imaging(w, other, i, response)
    else:
        _apply(w, event, i)


def _conclude(patient_id: str, w: Walk) -> Evaluation:
    actions = next_actions(w) if w.off_study is None else []
    return _result(patient_id, w, actions)


class PathwayState:
    """The engine kept running for one patient: add events as they happen, evaluate any day.

    Adding events in date order costs one step each, so a care team (or a simulator) that asks
    what is due after every event pays for the new event only. An event that arrives out of order
    makes the next evaluation walk the whole history again; either way the result equals
    :func:`evaluate` on the same events.

    Examples
    --------
    >>> from datetime import date
    >>> from rfatrial.kernel.history import Randomization, Screening
    >>> from rfatrial.kernel.protocol import default_protocol
    >>> state = PathwayState(default_protocol(), "P1")
    >>> state.add(Screening(date=date(2026, 1, 2), consent_date=date(2026, 1, 2),
    ...                     eligible=True, liver_lesion_count=4))
    >>> state.add(Randomization(date=date(2026, 1, 5), arm="experimental"))
    >>> state.evaluate(date(2026, 1, 6)).phase
    'induction'
    """

    def __init__(self, protocol: Protocol, patient_id: str = "") -> None:
        self._protocol = protocol
        self._patient_id = patient_id
        self._events: list[Event] = []
        self._walk = Walk(protocol, date.max)
        self._recist = _RecistSeries()
        self._last: tuple[date, int] | None = None
        self._in_order = True

    @property
    def events(self) -> tuple[Event, ...]:
        return tuple(self._events)

    def add(self, event: Event) -> None:
        """Record one event (validated by the history schema)."""
        index = len(self._events)
        self._events.append(event)
        key = (event.date, RANK[event.type])
        if self._last is not None and key < self._last:
            self._in_order = False
        if not self._in_order:
            return
        self._last = key
        _step(self._walk, self._recist, event, index)

    def evaluate(self, today: date) -> Evaluation:
        """What the engine says on ``today`` about the events added so far."""
        if not self._current(today):
            return _evaluate_events(self._patient_id, self._events, self._protocol, today)
        self._walk.today = today
        return _conclude(self._patient_id, self._walk)

    def next_actions(self, today: date) -> tuple[NextAction, ...]:
        """Only the next actions on ``today``: what a care team needs after each event."""
        if not self._current(today):
            return self.evaluate(today).next_actions
        w = self._walk
        w.today = today
        return tuple(next_actions(w)) if w.off_study is None else ()

    def _current(self, today: date) -> bool:
        return self._in_order and (self._last is None or self._last[0] <= today)


class _RecistSeries:
    """RECIST 1.1 over the scans seen so far, one timepoint at a time."""

    def __init__(self) -> None:
        self.series: Series | None = None  # the running sums of a RecistSeries
        # lesions treated since the last timepoint: the series keeps the union of what it is given
        self.treated: set[str] = set()
        self.issue: str | None = None

    def add_session(self, e: RfaSession) -> None:
        self.treated.update(x.lesion_id for x in e.lesions)

    def add_scan(self, e: _Scan) -> BriefResponse | None:
        """The response at scan ``e``."""
        if e.modality not in RECIST_MODALITIES:
            return None
        try:
            if e.purpose == "baseline" or (self.series is None and self.issue is None):
                self.treated = set()
                self.series, self.issue = None, None
                self.series = baseline_running_sums(cast("dict[str, Lesion]", e.by_id))
                return None
            if self.series is None:
                return None
            treated, self.treated = self.treated, set()
            # the history schema checked what Timepoint checks (distinct ids, sizes, flags)
            return self.series.brief(
                cast("dict[str, Lesion]", e.by_id),  # read only: a dict of its lesions
                treated,
                new_lesion=bool(e.new_lesions) or e.extrahepatic,
                non_target_progression=e.non_target_progression,
            )
        except ClinicalValueError as exc:
            self.series, self.issue = None, f"RECIST response cannot be assessed: {exc}"
            return None


# The history's lesion records are validated like LesionObservation: RECIST reads them directly.
accept_lesion_type(LesionMeasurement)


def _apply(w: Walk, e: Event, i: int) -> None:
    """Any record but imaging (see _step)."""
    if e.type == "screening":
        w.screened, w.eligible = e.date, e.eligible
        w.phase = "screening" if e.eligible else "screen_failure"
    elif e.type == "randomization":
        _randomize(w, e.date, e.arm, i)
    elif e.type == "systemic_cycle":
        _cycle(w, e, i)
    elif e.type == "lab_panel":
        record_labs(w, e)
    elif e.type == "rfa_session":
        record_session(w, e, i)
    elif e.type == "post_rfa_scan":
        record_post_rfa_scan(w, e, i)
    elif e.type == "follow_up_visit":
        _visit(w, e, i)
    elif e.type in ("withdrawal", "lost_to_follow_up", "death"):
        if w.off_study is None:
            w.off_study = e.date
        w.phase = {
            "withdrawal": "withdrawn",
            "lost_to_follow_up": "lost_to_follow_up",
            "death": "deceased",
        }[e.type]


def _visit(w: Walk, e: FollowUpVisit, i: int) -> None:
    if e.visit_id in w.visits:
        w.issues.append(f"events[{i}]: visit {e.visit_id} is recorded twice")
    else:
        w.visits[e.visit_id] = (i, e.date, tuple(e.components))


def _randomize(w: Walk, day: date, arm: str, i: int) -> None:
    w.arm, w.randomized = arm, day
    w.phase, w.block, w.block_cycles = "induction", "induction", 0
    if w.screened is None:
        w.deviate(
            "randomized_without_screening",
            day,
            "deviation.randomized_without_screening",
            {},
            "randomization",
            i,
        )
    elif not w.eligible:
        w.deviate(
            "randomized_ineligible",
            day,
            "deviation.randomized_ineligible",
            {},
            "randomization",
            i,
        )


def _cycle(w: Walk, e: SystemicCycle, i: int) -> None:
    p = w.protocol
    if w.randomized is None:
        w.issues.append(f"events[{i}]: systemic cycle before randomization")
    rules = w.rules
    day, regimen = e.date, e.regimen
    if rules.cycle_length(regimen) is None:
        w.issues.append(
            f"events[{i}]: regimen '{regimen}' is not in the protocol's systemic.cycle_days"
        )
    if w.cycles:
        prev = w.cycles[-1][1]
        length = rules.cycle_length(prev.regimen)
        since = (day - prev.date).days
        if length is not None and since < length - rules.cycle_window_days:
            w.deviate(
                "cycle_too_early",
                day,
                "deviation.cycle_too_early",
                {"days": since, "regimen": prev.regimen, "cycle_days": length},
                "systemic.cycle_days",
                i,
            )
    # A failed pre-cycle panel delays the cycle; giving it anyway is a deviation.
    panel = w.last_panel
    if (
        panel is not None
        and (day - panel.date).days <= rules.pre_cycle_freshness_days
        and not w.pre_cycle_labs_pass(panel)
    ):
        failed = [c for c in check_panel(panel, p.systemic.pre_cycle_labs).failed]
        failed = [c for c in failed if c.status == "fail"]
        if failed:
            w.deviate(
                "cycle_despite_failed_labs",
                day,
                "deviation.cycle_despite_failed_labs",
                {"failed": ", ".join(f"{c.key} {c.value} ({c.threshold})" for c in failed)},
                "systemic.pre_cycle_labs",
                i,
            )
    for number, s in w.sessions:
        hold = w.hold(e, before_rfa=False)
        gap = (day - s.date).days
        if gap < hold:
            w.deviate(
                "cycle_within_separation",
                day,
                "deviation.cycle_within_separation",
                {"days": gap, "session": number, "hold_days": hold},
                "rfa.separation_days",
                i,
            )
    w.cycles.append((i, e))
    if w.block is not None:
        w.block_cycles += 1


def _effective(w: Walk, e: _Scan, r: BriefResponse, new_elsewhere: bool) -> bool:
    rules = w.rules
    if e.extrahepatic or new_elsewhere:
        return False
    overall, target_response, non_target_response = r[0], r[1], r[2]
    # New liver lesions after the first session are candidates, not failure, unless the rest of
    # the disease progressed too.
    if (
        overall == "PD"
        and e.new_lesions
        and w.sessions
        and rules.new_liver_lesions_are_candidates
        and target_response != "PD"
        and non_target_response != "PD"
        and not e.non_target_progression
    ):
        overall = target_response or "SD"
        overall = "SD" if overall == "NE" else overall
    if overall == "NON_CR_NON_PD":
        return "SD" in rules.effective
    return overall in rules.effective


def _imaging(w: Walk, e: _Scan, i: int, r: BriefResponse | None) -> None:
    """Scan ``e``: its lesions, its new lesions, and the response ``r``."""
    day, known = e.day, w.lesions
    new_lesions = e.new_lesions
    for lesion_id, m in e.by_id.items():
        x = known.get(lesion_id) or w.lesion(m, day)
        if x.segment is None and m.segment:
            x.segment = m.segment
        size = m.diameter_mm
        if size is not None:
            x.sizes.append((day, size))
            if size == 0:
                if x.status == "active":
                    x.set(day, "disappeared")
            elif x.status == "disappeared":
                x.set(day, "active")
    new_liver = 0
    for m in new_lesions:
        x = w.lesion(m, day)
        if m.organ == "liver":
            new_liver += 1
        size = m.diameter_mm
        if size is not None:
            x.sizes.append((day, size))
    for lid in e.local_progression:
        x = w.lesion(lid, day)
        if x.status not in ("ablated", "complete"):
            w.issues.append(f"events[{i}]: local progression of {lid}, which was never ablated")
        x.set(day, "local_progression")
    if r is None:
        return
    purpose = e.purpose
    effective = _effective(w, e, r, new_liver < len(new_lesions))
    w.responses.append(
        ResponseRecord(
            day,
            e.modality,
            purpose,
            r[0],
            r[1],
            r[3],
            r[4],
            r[5],
            effective,
            new_liver,
            e.extrahepatic,
        )
    )
    if w.randomized is None:
        return
    block = w.block
    closes_block = purpose == "response" and block is not None
    if block is not None and closes_block:
        min_cycles, max_cycles = w.rules.block_cycles[block]
        if not min_cycles <= w.block_cycles <= max_cycles:
            w.deviate(
                f"{w.block}_cycles_out_of_range",
                day,
                f"deviation.{w.block}_cycles_out_of_range",
                {
                    "cycles": w.block_cycles,
                    "min_cycles": min_cycles,
                    "max_cycles": max_cycles,
                },
                f"{w.block}.min_cycles",
                i,
            )
        w.block, w.block_cycles = None, 0
    if w.arm != "experimental" or w.rfa_stopped is not None:
        if closes_block:
            w.phase = "follow_up"
        return
    w.last_effective = e.event if effective else None
    if not effective:
        w.rfa_stopped = "extrahepatic_progression" if e.extrahepatic else "progression"
        w.rfa_open = None
        w.phase = "follow_up"
        return
    if closes_block or w.rfa_open is not None:
        open_rfa(w, e.event)


def _deviation(
    code: str, day: date, key: str, params: Params, rule: str, index: int | None
) -> Deviation:
    return Deviation(code, day, render(key, params), rule, key, params, index)


def _visit_deviations(w: Walk) -> tuple[list[Deviation], list[str]]:
    """Deviations and data issues of the calendar as of ``w.today`` (the walk is not changed)."""
    devs: list[Deviation] = []
    issues: list[str] = []
    if w.randomized is None:
        return devs, issues
    end = w.today if w.off_study is None else min(w.today, w.off_study)
    calendar = follow_up_calendar(w.randomized, w.protocol)
    planned = visits_by_id(w.randomized, w.protocol)
    for v in calendar:
        if v.target > end:
            break  # later visits end later still: none of them is missed yet
        if v.visit_id not in w.visits and v.latest < end:
            devs.append(
                _deviation(
                    "visit_missed",
                    v.latest,
                    "deviation.visit_missed",
                    {"visit": v.visit_id, "latest": v.latest},
                    "follow_up.periods",
                    None,
                )
            )
    for visit_id, (i, day, components) in w.visits.items():
        found = planned.get(visit_id)
        if found is None:
            issues.append(f"events[{i}]: '{visit_id}' is not a visit of the follow-up calendar")
            continue
        v = found
        if not v.earliest <= day <= v.latest:
            devs.append(
                _deviation(
                    "visit_out_of_window",
                    day,
                    "deviation.visit_out_of_window",
                    {"visit": visit_id, "day": day, "earliest": v.earliest, "latest": v.latest},
                    "follow_up.periods",
                    i,
                )
            )
        missing = () if components == v.components else set(v.components) - set(components)
        if missing:
            devs.append(
                _deviation(
                    "visit_incomplete",
                    day,
                    "deviation.visit_incomplete",
                    {
                        "visit": visit_id,
                        "components": ", ".join(c for c in v.components if c in missing),
                    },
                    "follow_up.periods",
                    i,
                )
            )
    for number in w.pending_scans:
        s = w.sessions[number - 1][1]
        p = w.protocol.post_rfa_scan
        latest = s.date + days(p.days_after_rfa + p.window_days)
        if latest < end:
            devs.append(
                _deviation(
                    "post_rfa_scan_missed",
                    latest,
                    "deviation.post_rfa_scan_missed",
                    {"session": number, "latest": latest},
                    "post_rfa_scan.days_after_rfa",
                    None,
                )
            )
    return devs, issues


def _gate_decision(w: Walk) -> GateDecision | None:
    if w.phase != "rfa_preparation" or w.rfa_open is None:
        return None
    number = len(w.sessions) + 1
    result = w.gate_result
    if result is None:
        return GateDecision(number, "labs_needed", 0, None, None, None)
    if result.passed:
        return GateDecision(number, "proceed", w.gate_failures, w.first_failure, result.full, None)
    if withdrawal_proposed_on(w, w.today):
        return GateDecision(
            number, "withdrawal_proposed", w.gate_failures, w.first_failure, result.full, None
        )
    until = result.panel_date + days(w.protocol.lab_gate.repeat_after_days)
    return GateDecision(number, "postpone", w.gate_failures, w.first_failure, result.full, until)


def _result(patient_id: str, w: Walk, actions: list[NextAction]) -> Evaluation:
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
    visit_deviations, visit_issues = _visit_deviations(w)
    deviations = sorted(w.deviations + visit_deviations, key=lambda d: (d.date, d.code))
    return Evaluation(
        patient_id=patient_id,
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
        deviations=tuple(deviations),
        data_issues=tuple(w.issues + visit_issues),
    )
