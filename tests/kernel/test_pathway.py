"""The pathway engine on hand-made histories: phases, next actions and deviations at each rule."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest

from rfatrial.kernel.evaluation import Evaluation, NextAction
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import Protocol, default_protocol

from .builders import INDUCTION, START, cycle, day, history, labs, post_scan, rfa, scan

P = default_protocol()


def at(offset: int) -> date:
    return START + timedelta(days=offset)


def run(arm: str, *events: dict[str, Any], today: int, protocol: Protocol = P) -> Evaluation:
    return evaluate(history(arm, *events), protocol, at(today))


def action(result: Evaluation, kind: str) -> NextAction:
    found = [a for a in result.next_actions if a.kind == kind]
    assert found, f"no {kind} among {[a.kind for a in result.next_actions]}"
    return found[0]


def kinds(result: Evaluation) -> set[str]:
    return {a.kind for a in result.next_actions}


def codes(result: Evaluation) -> list[str]:
    return [d.code for d in result.deviations]


def amended(**changes: dict[str, Any]) -> Protocol:
    data = P.model_dump()
    for section, values in changes.items():
        data[section].update(values)
    return Protocol.model_validate(data)


# --- induction and response ---------------------------------------------------------------------


def test_after_randomization_the_first_cycle_is_due() -> None:
    r = run("experimental", today=4)
    assert r.phase == "induction" and r.arm == "experimental"
    a = action(r, "systemic_cycle")
    assert (a.earliest, a.target, a.latest) == (at(3), at(10), at(17))
    assert a.rule == "induction.max_cycles"
    assert codes(r) == []


def test_response_scan_is_proposed_once_min_induction_cycles_are_given() -> None:
    r = run("experimental", cycle(10), today=20)
    assert "response_scan" not in kinds(r)
    r = run("experimental", cycle(10), cycle(24), today=26)
    scan_action = action(r, "response_scan")
    assert scan_action.earliest == at(31) and scan_action.target == at(38)
    nxt = action(r, "systemic_cycle")  # a 3rd induction cycle is still allowed (2-4)
    assert nxt.target == at(38)
    r = run("experimental", *(cycle(10 + 14 * k) for k in range(4)), today=60)
    assert "systemic_cycle" not in kinds(r)  # 4 = max: only the scan


def test_effective_response_opens_rfa_preparation_and_asks_for_labs() -> None:
    r = run("experimental", *INDUCTION, today=38)
    assert r.phase == "rfa_preparation"
    assert r.responses[-1].overall == "PR" and r.responses[-1].effective
    assert r.lab_gate is not None and r.lab_gate.decision == "labs_needed"
    labs_action = action(r, "pre_rfa_labs")
    assert labs_action.session == 1
    assert "rfa_session" not in kinds(r)


def test_passing_gate_proposes_the_session_outside_the_separation_window() -> None:
    r = run("experimental", *INDUCTION, labs(36), today=38)
    a = action(r, "rfa_session")
    assert r.lab_gate is not None and r.lab_gate.decision == "proceed"
    assert a.earliest == at(38)  # scan day; last cycle day 24 + 7 has passed
    assert a.latest == at(36 + 7)  # labs fresh for 7 days
    assert set(a.lesions) == {"L1", "L2", "L3", "L4"}


def test_bevacizumab_hold_pushes_the_session_later() -> None:
    events = (cycle(10), cycle(24, bevacizumab=True), INDUCTION[2], labs(50))
    r = run("experimental", *events, today=50)
    a = action(r, "rfa_session")
    assert a.earliest == at(24 + 28)


def test_progression_ends_the_rfa_pathway() -> None:
    events = (cycle(10), cycle(24), scan(38, {"L1": 40.0, "L2": 30.0, "L3": 22.0, "L4": 18.0}))
    r = run("experimental", *events, today=40)
    assert r.responses[-1].overall == "PD" and not r.responses[-1].effective
    assert r.rfa_stopped == "progression" and r.phase == "follow_up"
    assert "rfa_session" not in kinds(r) and "pre_rfa_labs" not in kinds(r)


def test_requiring_objective_response_is_a_protocol_change_only() -> None:
    stable = scan(38, {"L1": 28.0, "L2": 22.0, "L3": 17.0, "L4": 14.0})
    r = run("experimental", cycle(10), cycle(24), stable, today=40)
    assert r.responses[-1].overall == "SD" and r.phase == "rfa_preparation"
    strict = amended(response={"effective": ["CR", "PR"]})
    r = run("experimental", cycle(10), cycle(24), stable, today=40, protocol=strict)
    assert r.phase == "follow_up" and r.rfa_stopped == "progression"


# --- the lab gate -------------------------------------------------------------------------------


def test_failed_gate_postpones_then_proposes_withdrawal_after_three_failures() -> None:
    low = {"platelets": 40}
    r = run("experimental", *INDUCTION, labs(39, **low), today=40)
    assert r.lab_gate is not None and r.lab_gate.decision == "postpone"
    assert r.lab_gate.postponed_until == at(46)
    repeat = action(r, "pre_rfa_labs")
    assert repeat.earliest == at(46) and "platelets 40" in repeat.why
    assert "systemic_cycle" in kinds(r)  # treatment continues while postponed
    assert "rfa_session" not in kinds(r)
    r = run("experimental", *INDUCTION, labs(39, **low), labs(46, **low), today=47)
    assert r.lab_gate is not None and r.lab_gate.failures == 2
    assert r.lab_gate.decision == "postpone"
    r = run("experimental", *INDUCTION, labs(39, **low), labs(46, **low), labs(53, **low), today=54)
    assert r.lab_gate is not None and r.lab_gate.decision == "withdrawal_proposed"
    assert kinds(r) >= {"confirm_withdrawal"} and "rfa_session" not in kinds(r)


def test_withdrawal_is_proposed_after_the_postponement_days() -> None:
    limit = P.lab_gate.postponement_limit_days
    events = (*INDUCTION, labs(39, platelets=40), labs(60, platelets=40))
    r = run("experimental", *events, today=39 + limit - 1)
    assert r.lab_gate is not None and r.lab_gate.decision == "postpone"
    r = run("experimental", *events, today=39 + limit)
    assert r.lab_gate is not None and r.lab_gate.decision == "withdrawal_proposed"
    wider = amended(lab_gate={"postponement_limit_days": limit + 10})
    r = run("experimental", *events, today=39 + limit, protocol=wider)
    assert r.lab_gate is not None and r.lab_gate.decision == "postpone"


def test_gate_passes_after_a_failure() -> None:
    r = run("experimental", *INDUCTION, labs(39, platelets=40), labs(46), today=46)
    assert r.lab_gate is not None and r.lab_gate.decision == "proceed"
    assert action(r, "rfa_session").earliest == at(46)


# --- sessions and what follows them -------------------------------------------------------------


def first_session() -> tuple[dict[str, Any], ...]:
    return (*INDUCTION, labs(40), rfa(41, ["L1", "L2", "L3"]))


def test_after_a_session_consolidation_and_the_one_month_scan_are_due() -> None:
    r = run("experimental", *first_session(), today=42)
    assert r.phase == "consolidation" and r.rfa_sessions_done == 1
    post = action(r, "post_rfa_scan")
    assert (post.earliest, post.target, post.latest) == (at(64), at(71), at(78))
    nxt = action(r, "systemic_cycle")
    assert nxt.earliest >= at(41 + P.rfa.separation_days)
    assert r.lesions_remaining == ("L4",)
    assert codes(r) == []
    statuses = {x.lesion_id: x.status for x in r.lesions}
    assert statuses == {"L1": "ablated", "L2": "ablated", "L3": "ablated", "L4": "active"}


def test_full_course_to_liver_ned() -> None:
    events = (
        *first_session(),
        cycle(49),
        scan(63, {"L4": 9.0}),
        labs(66),
        post_scan(70, {"L1": "complete", "L2": "complete", "L3": "complete"}),
        rfa(72, ["L4"], justification="only one lesion remained"),
        post_scan(102, {"L4": "complete"}),
    )
    r = run("experimental", *events, today=103)
    assert r.liver_ned and r.rfa_stopped == "liver_ned" and r.phase == "follow_up"
    assert r.rfa_sessions_done == 2
    assert codes(r) == []
    assert kinds(r) == {"follow_up_visit"}


def test_residual_tumour_is_a_candidate_for_the_next_session() -> None:
    events = (
        *first_session(),
        post_scan(70, {"L1": "residual", "L2": "complete", "L3": "complete"}),
    )
    r = run("experimental", *events, today=71)
    assert set(r.lesions_remaining) == {"L1", "L4"}


def test_never_more_than_the_maximum_number_of_sessions() -> None:
    two = amended(rfa={"max_sessions": 2})
    events = (*first_session(), cycle(49), scan(63, {"L4": 9.0}), labs(64))
    r = run("experimental", *events, today=64, protocol=two)
    # the next session waits for the 1-month scan of the last one
    assert "rfa_session" not in kinds(r) and "post_rfa_scan" in kinds(r)
    complete = {"L1": "complete", "L2": "complete", "L3": "complete"}
    events = (*events, post_scan(68, complete), labs(69))
    r = run("experimental", *events, today=69, protocol=two)
    assert "rfa_session" in kinds(r)
    events = (*events, rfa(70, ["L4"], justification="one left"))
    r = run("experimental", *events, today=71, protocol=two)
    assert r.rfa_stopped == "max_sessions" and r.phase == "follow_up"


# --- deviations ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("events", "code"),
    [
        ((*INDUCTION, labs(36), rfa(30, ["L1", "L2"])), "rfa_without_effective_response"),
        (
            (
                cycle(10),
                cycle(24),
                scan(38, {"L1": 20.0}),
                labs(36),
                cycle(36),
                rfa(40, ["L1", "L2"]),
            ),
            "rfa_within_separation",
        ),
        (
            (*INDUCTION, labs(39), rfa(40, ["L1", "L2", "L3", "L4", "L5", "L6", "L7"])),
            "rfa_too_many_lesions",
        ),
        ((*INDUCTION, labs(39), rfa(40, ["L1"])), "rfa_too_few_lesions"),
        ((*INDUCTION, labs(39, platelets=30), rfa(40, ["L1", "L2"])), "rfa_lab_gate_failed"),
        ((*INDUCTION, labs(32), rfa(40, ["L1", "L2"])), "rfa_lab_gate_stale"),
        ((*INDUCTION, rfa(40, ["L1", "L2"])), "rfa_lab_gate_stale"),
        (
            (cycle(10), scan(30, {"L1": 20.0, "L2": 16.0, "L3": 12.0, "L4": 10.0})),
            "induction_cycles_out_of_range",
        ),
        (
            (*(cycle(10 + 14 * k) for k in range(5)), scan(90, {"L1": 20.0})),
            "induction_cycles_out_of_range",
        ),
        ((*INDUCTION, labs(40), rfa(41, ["L1", "L2"]), cycle(45)), "cycle_within_separation"),
        ((cycle(10), cycle(15)), "cycle_too_early"),
        ((cycle(10), labs(22, neutrophils=1.0), cycle(24)), "cycle_despite_failed_labs"),
        (
            (*INDUCTION, labs(40), rfa(41, ["L1", "L2"]), post_scan(55, {"L1": "complete"})),
            "post_rfa_scan_out_of_window",
        ),
        ((*INDUCTION, labs(40), rfa(41, ["L1", "L2"])), "post_rfa_scan_missed"),
    ],
)
def test_each_rule_broken_is_reported(events: tuple[dict[str, Any], ...], code: str) -> None:
    r = run("experimental", *events, today=120)
    assert code in codes(r)


def test_progression_then_rfa_is_a_deviation_with_its_justification() -> None:
    events = (
        cycle(10),
        cycle(24),
        scan(38, {"L1": 40.0, "L2": 30.0, "L3": 22.0, "L4": 18.0}),
        labs(40),
        rfa(42, ["L1", "L2"], justification="tumour board decision"),
    )
    r = run("experimental", *events, today=43)
    (dev,) = [d for d in r.deviations if d.code == "rfa_after_progression"]
    assert dev.justification == "tumour board decision" and dev.event_index is not None


def test_a_fourth_session_is_flagged() -> None:
    events: list[dict[str, Any]] = list(first_session())
    for k, day0 in enumerate((80, 130, 180)):
        events += [cycle(day0 - 20), scan(day0 - 5, {"L4": 9.0}), labs(day0 - 1)]
        events.append(rfa(day0, ["L4", f"L{9 + k}"]))
    r = run("experimental", *events, today=200)
    assert "rfa_session_beyond_max" in codes(r)


def test_rfa_in_the_control_arm_is_flagged() -> None:
    r = run("control", *INDUCTION, labs(39), rfa(40, ["L1", "L2"]), today=41)
    assert "rfa_in_control_arm" in codes(r)


def test_control_arm_never_gets_rfa_actions() -> None:
    r = run("control", *INDUCTION, labs(39), today=40)
    assert r.phase == "follow_up"
    assert not kinds(r) & {"rfa_session", "pre_rfa_labs", "post_rfa_scan"}


# --- follow-up visits -----------------------------------------------------------------------


def visit(offset: int, visit_id: str, components: list[str] | None = None) -> dict[str, Any]:
    full = ["us_ceus", "ct_mri", "labs", "tumour_markers", "ecg"]
    return {
        "type": "follow_up_visit",
        "date": day(offset),
        "visit_id": visit_id,
        "components": full if components is None else components,
    }


def test_visits_due_overdue_missed_and_out_of_window() -> None:
    # randomized on day 3 (2026-01-08): M3 on 2026-04-08 ± 14 days
    m3 = date(2026, 4, 8)
    r = run("control", *INDUCTION, today=(m3 - START).days - 15)
    assert all(a.visit_id != "M3" or a.earliest > r.today for a in r.next_actions)
    r = run("control", *INDUCTION, today=(m3 - START).days)
    a = next(a for a in r.next_actions if a.visit_id == "M3")
    assert not a.overdue and a.target == m3
    r = run("control", *INDUCTION, today=(m3 - START).days + 15)
    a = next(a for a in r.next_actions if a.visit_id == "M3")
    assert a.overdue
    assert "visit_missed" in codes(r)
    r = run("control", *INDUCTION, visit((m3 - START).days + 20, "M3"), today=120)
    assert "visit_out_of_window" in codes(r) and "visit_missed" not in codes(r)
    r = run("control", *INDUCTION, visit((m3 - START).days, "M3", ["labs"]), today=120)
    assert "visit_incomplete" in codes(r)
    assert codes(run("control", *INDUCTION, visit((m3 - START).days, "M3"), today=120)) == []


def test_off_study_patients_have_no_actions() -> None:
    r = run("experimental", *INDUCTION, {"type": "death", "date": day(50)}, today=400)
    assert r.phase == "deceased" and r.next_actions == ()
    # visits after death are not missed
    assert "visit_missed" not in codes(r)


def test_records_after_today_are_data_issues_not_errors() -> None:
    r = run("experimental", *INDUCTION, today=20)
    assert any("dated after" in issue for issue in r.data_issues)


def test_changing_the_separation_in_the_file_changes_the_proposal() -> None:
    wider = amended(rfa={"separation_days": 20})
    r = run("experimental", *INDUCTION, labs(42), today=42, protocol=wider)
    assert action(r, "rfa_session").earliest == at(44)
    assert action(
        run("experimental", *INDUCTION, labs(42), today=42), "rfa_session"
    ).earliest == at(42)


# --- every rule at its boundary -------------------------------------------------------------


def _session_after_cycle(gap: int, bevacizumab: bool = False) -> Evaluation:
    events = (
        cycle(10),
        cycle(24, bevacizumab=bevacizumab),
        scan(26, {"L1": 20.0, "L2": 16.0, "L3": 12.0, "L4": 10.0}),
        labs(24 + gap),
        rfa(24 + gap, ["L1", "L2"]),
    )
    return run("experimental", *events, today=24 + gap)


@pytest.mark.parametrize(
    ("gap", "bevacizumab", "flagged"),
    [(7, False, False), (6, False, True), (28, True, False), (27, True, True)],
)
def test_separation_before_a_session_at_its_boundary(
    gap: int, bevacizumab: bool, flagged: bool
) -> None:
    assert ("rfa_within_separation" in codes(_session_after_cycle(gap, bevacizumab))) == flagged


@pytest.mark.parametrize(("gap", "flagged"), [(7, False), (6, True)])
def test_separation_after_a_session_at_its_boundary(gap: int, flagged: bool) -> None:
    r = run("experimental", *first_session(), cycle(41 + gap), today=41 + gap)
    assert ("cycle_within_separation" in codes(r)) == flagged


@pytest.mark.parametrize(("age", "flagged"), [(7, False), (8, True)])
def test_lab_freshness_at_its_boundary(age: int, flagged: bool) -> None:
    r = run("experimental", *INDUCTION, labs(45 - age), rfa(45, ["L1", "L2"]), today=45)
    assert ("rfa_lab_gate_stale" in codes(r)) == flagged


@pytest.mark.parametrize(("n", "flagged"), [(6, False), (7, True)])
def test_lesions_per_session_upper_boundary(n: int, flagged: bool) -> None:
    ids = [f"L{k}" for k in range(1, n + 1)]
    r = run("experimental", *INDUCTION, labs(40), rfa(41, ids), today=41)
    assert ("rfa_too_many_lesions" in codes(r)) == flagged


@pytest.mark.parametrize(("n", "flagged"), [(2, False), (1, True)])
def test_lesions_per_session_lower_boundary(n: int, flagged: bool) -> None:
    ids = [f"L{k}" for k in range(1, n + 1)]
    r = run("experimental", *INDUCTION, labs(40), rfa(41, ids), today=41)
    assert ("rfa_too_few_lesions" in codes(r)) == flagged


@pytest.mark.parametrize(("cycles", "flagged"), [(1, True), (2, False), (4, False), (5, True)])
def test_induction_cycles_at_their_boundaries(cycles: int, flagged: bool) -> None:
    events = [cycle(10 + 14 * k) for k in range(cycles)]
    last = 10 + 14 * (cycles - 1)
    r = run("experimental", *events, scan(last + 14, {"L1": 20.0}), today=last + 14)
    assert ("induction_cycles_out_of_range" in codes(r)) == flagged


@pytest.mark.parametrize(("cycles", "flagged"), [(0, True), (1, False), (2, False), (3, True)])
def test_consolidation_cycles_at_their_boundaries(cycles: int, flagged: bool) -> None:
    events = [cycle(49 + 14 * k) for k in range(cycles)]
    r = run("experimental", *first_session(), *events, scan(100, {"L4": 9.0}), today=100)
    assert ("consolidation_cycles_out_of_range" in codes(r)) == flagged


@pytest.mark.parametrize(("day", "flagged"), [(64, False), (63, True), (78, False), (79, True)])
def test_one_month_scan_window_at_its_boundaries(day: int, flagged: bool) -> None:
    # session on day 41: target day 71 ± 7
    r = run("experimental", *first_session(), post_scan(day, {"L1": "complete"}), today=day)
    assert ("post_rfa_scan_out_of_window" in codes(r)) == flagged


@pytest.mark.parametrize(("shift", "flagged"), [(-14, False), (-15, True), (14, False), (15, True)])
def test_visit_window_at_its_boundaries(shift: int, flagged: bool) -> None:
    m3 = (date(2026, 4, 8) - START).days  # randomized 2026-01-08
    r = run("control", *INDUCTION, visit(m3 + shift, "M3"), today=m3 + 20)
    assert ("visit_out_of_window" in codes(r)) == flagged


@pytest.mark.parametrize(("failures", "decision"), [(2, "postpone"), (3, "withdrawal_proposed")])
def test_failed_gates_at_the_limit(failures: int, decision: str) -> None:
    panels = [labs(39 + 7 * k, platelets=40) for k in range(failures)]
    r = run("experimental", *INDUCTION, *panels, today=39 + 7 * (failures - 1))
    assert r.lab_gate is not None and r.lab_gate.decision == decision
