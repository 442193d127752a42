"""The planning service: drafts keep everything, confirmations keep the rules, audited and locked;
recording the session marks the plan done."""

from __future__ import annotations

import pytest

from rfatrial.server.planning.models import PlanStatus, SessionPlan
from rfatrial.server.planning.services import (
    PlanError,
    PlanRefusedError,
    cancel_plan,
    open_plan,
    save_plan,
)
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, StaleRecordError, verify_audit_trail
from rfatrial.server.study.services import amend_event, delete_event, record_event
from tests.server.planning.conftest import PlanningStudy, day, rfa

INVESTIGATOR = Actor("an investigator", "127.0.0.1")
PROPOSAL = ["L8", "L7", "L6", "L5"]


def _audit(plan: SessionPlan) -> list[m.AuditEntry]:
    return list(
        m.AuditEntry.objects.filter(table="planning_sessionplan", record_id=plan.pk).order_by("seq")
    )


def _confirmed_for_today(planning: PlanningStudy) -> SessionPlan:
    """The planner's proposal for patient A, confirmed for a session today."""
    plan, _ = save_plan(
        planning.patient_a,
        lesions=PROPOSAL,
        planned_date=day(0),
        reasons="",
        actor=INVESTIGATOR,
        confirm=True,
    )
    return plan


def test_a_draft_keeps_the_proposal_the_choice_and_the_findings(planning: PlanningStudy) -> None:
    seven = [f"L{k}" for k in range(1, 8)]
    plan, check = save_plan(
        planning.patient_a, lesions=seven, planned_date=day(2), reasons="", actor=INVESTIGATOR
    )
    assert plan.status == PlanStatus.DRAFT and plan.session == 1
    assert plan.proposed_lesions == PROPOSAL
    assert plan.proposed_split == [["L8", "L7", "L6", "L5"], ["L4", "L3", "L2", "L1"]]
    assert plan.lesions == seven and plan.planned_date == day(2)
    assert "rfa_too_many_lesions" in {f["code"] for f in plan.findings}
    assert check.refusals
    [entry] = _audit(plan)
    assert entry.action == "create" and entry.actor == "an investigator"
    assert entry.ip == "127.0.0.1"
    assert verify_audit_trail().ok


def test_seven_lesions_are_never_confirmed(planning: PlanningStudy) -> None:
    before = m.AuditEntry.objects.count()
    seven = [f"L{k}" for k in range(1, 8)]
    with pytest.raises(PlanRefusedError) as refused:
        save_plan(
            planning.patient_a,
            lesions=seven,
            planned_date=day(2),
            reasons="the whole liver at once",
            actor=INVESTIGATOR,
            confirm=True,
        )
    [finding] = refused.value.findings
    assert finding.code == "rfa_too_many_lesions"
    assert finding.source == "rfa.max_lesions_per_session = 6 (protocol 1.0)"
    assert "at most 6" in str(refused.value)
    assert SessionPlan.objects.count() == 0 and m.AuditEntry.objects.count() == before


def test_a_change_from_the_proposal_is_confirmed_only_with_a_reason(
    planning: PlanningStudy,
) -> None:
    chosen = ["L8", "L7", "L6", "L4"]
    draft, _ = save_plan(
        planning.patient_a, lesions=chosen, planned_date=day(3), reasons="", actor=INVESTIGATOR
    )
    with pytest.raises(PlanRefusedError) as refused:
        save_plan(
            planning.patient_a,
            lesions=chosen,
            planned_date=day(3),
            reasons="  ",
            actor=INVESTIGATOR,
            expected_version=draft.version,
            confirm=True,
        )
    assert [f.code for f in refused.value.findings] == ["changed_from_proposal"]
    plan, _ = save_plan(
        planning.patient_a,
        lesions=chosen,
        planned_date=day(3),
        reasons="L5 lies under the diaphragm: with L3 next time",
        actor=INVESTIGATOR,
        expected_version=draft.version,
        confirm=True,
    )
    assert plan.pk == draft.pk and plan.status == PlanStatus.CONFIRMED
    assert plan.confirmed_by == "an investigator" and plan.confirmed_at is not None
    assert plan.reasons.startswith("L5 lies")
    entries = _audit(plan)
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].reason == "session plan confirmed"
    assert '"status":["draft","confirmed"]' in entries[1].changes


def test_the_proposal_is_confirmed_at_once(planning: PlanningStudy) -> None:
    plan, check = save_plan(
        planning.patient_a,
        lesions=PROPOSAL,
        planned_date=day(2),
        reasons="",
        actor=INVESTIGATOR,
        confirm=True,
    )
    assert plan.status == PlanStatus.CONFIRMED and check.findings == ()


@pytest.mark.parametrize(("offset", "refused"), [(6, False), (7, True)])
def test_labs_of_yesterday_hold_for_a_week(
    planning: PlanningStudy, offset: int, refused: bool
) -> None:
    args = {"lesions": PROPOSAL, "reasons": "", "actor": INVESTIGATOR, "confirm": True}
    if refused:
        with pytest.raises(PlanRefusedError) as e:
            save_plan(planning.patient_a, planned_date=day(offset), **args)
        assert [f.code for f in e.value.findings] == ["rfa_lab_gate_stale"]
        assert e.value.findings[0].source == "lab_gate.freshness_days = 7 (protocol 1.0)"
    else:
        plan, _ = save_plan(planning.patient_a, planned_date=day(offset), **args)
        assert plan.status == PlanStatus.CONFIRMED


def test_a_plan_is_not_dated_in_the_past(planning: PlanningStudy) -> None:
    with pytest.raises(PlanRefusedError) as e:
        save_plan(
            planning.patient_a,
            lesions=PROPOSAL,
            planned_date=day(-1),
            reasons="",
            actor=INVESTIGATOR,
            confirm=True,
        )
    assert [f.code for f in e.value.findings] == ["planned_in_the_past"]


def test_a_stale_copy_is_refused(planning: PlanningStudy) -> None:
    plan, _ = save_plan(
        planning.patient_a, lesions=PROPOSAL, planned_date=day(2), reasons="", actor=INVESTIGATOR
    )
    read_at = plan.version
    save_plan(
        planning.patient_a,
        lesions=["L8", "L7"],
        planned_date=day(2),
        reasons="two only",
        actor=Actor("a coordinator"),
        expected_version=read_at,
    )
    with pytest.raises(StaleRecordError, match="changed by a coordinator"):
        save_plan(
            planning.patient_a,
            lesions=PROPOSAL,
            planned_date=day(2),
            reasons="",
            actor=INVESTIGATOR,
            expected_version=read_at,
        )
    assert open_plan(planning.patient_a).lesions == ["L8", "L7"]  # type: ignore[union-attr]


def test_one_open_plan_per_patient(planning: PlanningStudy) -> None:
    save_plan(
        planning.patient_a, lesions=PROPOSAL, planned_date=day(2), reasons="", actor=INVESTIGATOR
    )
    with pytest.raises(PlanError, match="open plan"):
        save_plan(
            planning.patient_a,
            lesions=PROPOSAL,
            planned_date=day(2),
            reasons="",
            actor=INVESTIGATOR,
        )
    other, _ = save_plan(
        planning.patient_b, lesions=PROPOSAL, planned_date=day(2), reasons="", actor=INVESTIGATOR
    )
    assert other.patient_id == planning.patient_b.pk  # each patient his own plan


def test_bad_lesion_ids_are_named(planning: PlanningStudy) -> None:
    with pytest.raises(PlanError, match="lesions: '' is not a lesion id"):
        save_plan(
            planning.patient_a, lesions=[" "], planned_date=day(2), reasons="", actor=INVESTIGATOR
        )


def test_changing_a_confirmed_plan_takes_it_back_to_draft(planning: PlanningStudy) -> None:
    plan, _ = save_plan(
        planning.patient_a,
        lesions=PROPOSAL,
        planned_date=day(2),
        reasons="",
        actor=INVESTIGATOR,
        confirm=True,
    )
    plan, _ = save_plan(
        planning.patient_a,
        lesions=PROPOSAL,
        planned_date=day(4),
        reasons="",
        actor=INVESTIGATOR,
        expected_version=plan.version,
    )
    assert plan.status == PlanStatus.DRAFT and plan.confirmed_by == ""


def test_the_recorded_session_marks_the_plan_done(planning: PlanningStudy) -> None:
    plan = _confirmed_for_today(planning)
    result = record_event(planning.patient_a, rfa(0, PROPOSAL), actor=INVESTIGATOR)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DONE and plan.rfa_session_seq == result.row.seq  # type: ignore[union-attr]
    assert plan.performed_lesions == PROPOSAL and not plan.differs
    assert open_plan(planning.patient_a) is None
    assert _audit(plan)[-1].reason == "RFA session recorded"
    assert verify_audit_trail().ok


def test_a_session_with_other_lesions_than_planned_is_a_difference(
    planning: PlanningStudy,
) -> None:
    plan = _confirmed_for_today(planning)
    record_event(planning.patient_a, rfa(0, ["L8", "L7", "L6", "L4"]), actor=INVESTIGATOR)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DONE and plan.differs
    assert plan.not_done == ["L5"] and plan.not_planned == ["L4"]


def test_a_draft_is_cancelled_by_a_session_recorded_without_confirmation(
    planning: PlanningStudy,
) -> None:
    plan, _ = save_plan(
        planning.patient_a, lesions=PROPOSAL, planned_date=day(0), reasons="", actor=INVESTIGATOR
    )
    record_event(planning.patient_a, rfa(0, PROPOSAL), actor=INVESTIGATOR)
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED and plan.rfa_session_seq is None


def test_recording_a_session_that_breaks_a_rule_stays_possible(planning: PlanningStudy) -> None:
    seven = [f"L{k}" for k in range(1, 8)]
    result = record_event(
        planning.patient_a,
        rfa(0, seven),
        actor=INVESTIGATOR,
        justification="all seven were reachable in one session",
    )
    assert [d.code for d in result.flagged] == ["rfa_too_many_lesions"]


def test_a_plan_is_cancelled_with_a_reason(planning: PlanningStudy) -> None:
    plan, _ = save_plan(
        planning.patient_a, lesions=PROPOSAL, planned_date=day(2), reasons="", actor=INVESTIGATOR
    )
    with pytest.raises(PlanError, match="reason"):
        cancel_plan(plan, expected_version=plan.version, actor=INVESTIGATOR, reason=" ")
    cancel_plan(
        plan, expected_version=plan.version, actor=INVESTIGATOR, reason="the patient declined"
    )
    assert plan.status == PlanStatus.CANCELLED and open_plan(planning.patient_a) is None
    assert _audit(plan)[-1].reason == "the patient declined"
    with pytest.raises(PlanError, match="only an open plan"):
        cancel_plan(plan, expected_version=plan.version, actor=INVESTIGATOR, reason="again")


def _done_plan(planning: PlanningStudy) -> tuple[SessionPlan, m.EventRecord]:
    plan = _confirmed_for_today(planning)
    row = record_event(planning.patient_a, rfa(0, PROPOSAL), actor=INVESTIGATOR).row
    assert row is not None
    return plan, row


def test_correcting_the_session_corrects_the_lesions_its_plan_shows_as_treated(
    planning: PlanningStudy,
) -> None:
    plan, row = _done_plan(planning)
    amend_event(
        planning.patient_a,
        row.seq,
        rfa(0, ["L8", "L7", "L6"]),
        expected_version=row.version,
        actor=INVESTIGATOR,
        reason="L5 was not ablated: out of reach",
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DONE and plan.rfa_session_seq == row.seq
    assert plan.performed_lesions == ["L8", "L7", "L6"] and plan.not_done == ["L5"]
    assert _audit(plan)[-1].reason == "RFA session corrected"
    # a correction that leaves the lesions as they are does not touch the plan
    version = plan.version
    row.refresh_from_db()
    amend_event(
        planning.patient_a,
        row.seq,
        {**rfa(0, []), "lesions": [{"lesion_id": x, "margin_mm": 10} for x in ("L8", "L7", "L6")]},
        expected_version=row.version,
        actor=INVESTIGATOR,
        reason="margins measured again",
    )
    plan.refresh_from_db()
    assert plan.version == version
    assert verify_audit_trail().ok


def test_deleting_the_session_gives_its_plan_back_confirmed(planning: PlanningStudy) -> None:
    plan, row = _done_plan(planning)
    delete_event(
        planning.patient_a,
        row.seq,
        expected_version=row.version,
        actor=INVESTIGATOR,
        reason="entered for the wrong patient",
    )
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CONFIRMED and plan.rfa_session_seq is None
    assert plan.performed_lesions == [] and open_plan(planning.patient_a) == plan
    assert _audit(plan)[-1].reason == "RFA session deleted as entered in error"
    assert not m.RfaSession.objects.filter(patient=planning.patient_a).exists()
    assert verify_audit_trail().ok
