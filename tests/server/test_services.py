"""The engine at every write: validate, store, re-evaluate, flag, in one transaction."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, ReasonRequiredError, StaleRecordError, audited
from rfatrial.server.study.convert import history_from_db
from rfatrial.server.study.services import (
    EventError,
    JustificationRequiredError,
    amend_event,
    delete_event,
    ensure_site,
    record_event,
    register_patient,
)
from tests.kernel.builders import cycle, day, labs

pytestmark = pytest.mark.django_db

ALICE = Actor("alice", "10.0.0.5")
BOB = Actor("bob", "10.0.0.6")
TODAY = date(2026, 6, 1)


def screening() -> dict[str, Any]:
    return {
        "type": "screening",
        "date": day(-3),
        "consent_date": day(-3),
        "eligible": True,
        "liver_lesion_count": 4,
    }


def rfa(offset: int, *ids: str) -> dict[str, Any]:
    return {"type": "rfa_session", "date": day(offset), "lesions": [{"lesion_id": i} for i in ids]}


@pytest.fixture
def patient() -> m.Patient:
    with audited(ALICE, "site opened") as audit:
        site = ensure_site(audit, "S01", "First site")
    p = register_patient(site, "S01-0001", sex="F", age_at_screening=61, actor=ALICE)
    record_event(p, screening(), actor=ALICE, today=TODAY)
    record_event(
        p,
        {"type": "randomization", "date": day(0), "arm": "experimental"},
        actor=ALICE,
        today=TODAY,
    )
    return p


def test_each_write_stores_the_new_verdict(patient: m.Patient) -> None:
    state = m.PatientState.objects.get(patient=patient)
    assert state.phase == "induction" and state.arm == "experimental"
    first = m.NextAction.objects.filter(patient=patient).order_by("position").first()
    assert first is not None and first.kind == "systemic_cycle"
    result = record_event(patient, cycle(1), actor=ALICE, today=TODAY)
    assert result.row is not None and result.row.seq == 2
    state.refresh_from_db()
    assert state.cycles_given == 1
    assert history_from_db(patient).events[-1].type == "systemic_cycle"


def test_a_rule_breaking_event_needs_a_justification_and_is_flagged(patient: m.Patient) -> None:
    audit_before = m.AuditEntry.objects.count()
    with pytest.raises(JustificationRequiredError) as refused:
        record_event(patient, rfa(2, "L1", "L2"), actor=ALICE, today=TODAY)
    assert refused.value.deviations and "justification" in str(refused.value)
    assert not m.RfaSession.objects.filter(patient=patient).exists()
    assert m.AuditEntry.objects.count() == audit_before  # nothing stored, nothing logged

    result = record_event(
        patient, rfa(2, "L1", "L2"), actor=ALICE, today=TODAY, justification="tumour board"
    )
    assert result.flagged
    assert history_from_db(patient).events[-1].justification == "tumour board"
    flagged = m.Deviation.objects.filter(patient=patient, event_seq=result.row.seq)
    assert flagged.exists()
    assert set(flagged.values_list("justification", flat=True)) == {"tumour board"}
    assert set(flagged.values_list("event_kind", flat=True)) == {"rfa_session"}


def test_other_events_keep_their_justification_beside_the_history(patient: m.Patient) -> None:
    record_event(patient, cycle(1), actor=ALICE, today=TODAY)
    record_event(patient, labs(14, neutrophils=0.8), actor=ALICE, today=TODAY)
    with pytest.raises(JustificationRequiredError, match="cycle_despite_failed_labs"):
        record_event(patient, cycle(15), actor=ALICE, today=TODAY)
    result = record_event(
        patient, cycle(15), actor=ALICE, today=TODAY, justification="neutropenia judged transient"
    )
    assert result.row is not None and result.row.justification == "neutropenia judged transient"
    row = m.Deviation.objects.get(patient=patient, code="cycle_despite_failed_labs")
    assert (row.event_seq, row.justification) == (result.row.seq, "neutropenia judged transient")
    assert "justification" not in history_from_db(patient).events[-1].model_dump()


def test_bad_events_are_refused_with_the_path_of_the_field(patient: m.Patient) -> None:
    bad = labs(5)
    bad["results"][0]["unit"] = "furlongs"
    with pytest.raises(EventError, match=r"results\.0"):
        record_event(patient, bad, actor=ALICE, today=TODAY)
    with pytest.raises(EventError, match="after today"):
        record_event(patient, cycle(400), actor=ALICE, today=TODAY)
    with pytest.raises(EventError, match="at most one 'randomization'"):
        record_event(
            patient,
            {"type": "randomization", "date": day(1), "arm": "control"},
            actor=ALICE,
            today=TODAY,
        )
    assert len(history_from_db(patient).events) == 2


def test_amend_with_a_stale_version_is_refused_clearly(patient: m.Patient) -> None:
    row = record_event(patient, cycle(1), actor=ALICE, today=TODAY).row
    assert row is not None and row.version == 1
    amend_event(
        patient, row.seq, cycle(2), expected_version=1, actor=ALICE, reason="typo", today=TODAY
    )
    with pytest.raises(StaleRecordError, match=r"changed by alice .*now version 2.*version 1"):
        amend_event(
            patient, row.seq, cycle(4), expected_version=1, actor=BOB, reason="typo", today=TODAY
        )
    assert history_from_db(patient).events[-1].date == date.fromisoformat(day(2))


def test_amend_changes_only_what_changed_and_logs_old_and_new(patient: m.Patient) -> None:
    row = record_event(patient, labs(1), actor=ALICE, today=TODAY).row
    assert row is not None
    changed = labs(1, platelets=150)
    before = m.AuditEntry.objects.count()
    result = amend_event(
        patient,
        row.seq,
        changed,
        expected_version=1,
        actor=BOB,
        reason="lab corrected",
        today=TODAY,
    )
    new = list(m.AuditEntry.objects.filter(seq__gt=before).order_by("seq"))
    assert [(e.table, e.action) for e in new] == [
        ("study_labresult", "update"),
        ("study_labpanel", "update"),
    ]
    assert '"value":[180.0,150.0]' in new[0].changes
    assert {e.actor for e in new} == {"bob"} and {e.reason for e in new} == {"lab corrected"}
    assert result.row is not None and result.row.version == 2
    stored = history_from_db(patient).events[-1]
    assert stored.type == "lab_panel" and stored.result("platelets").value == 150


def test_amend_and_delete_need_a_reason(patient: m.Patient) -> None:
    row = record_event(patient, cycle(1), actor=ALICE, today=TODAY).row
    assert row is not None
    with pytest.raises(ReasonRequiredError):
        amend_event(
            patient, row.seq, cycle(2), expected_version=1, actor=ALICE, reason=" ", today=TODAY
        )
    with pytest.raises(ReasonRequiredError):
        delete_event(patient, row.seq, expected_version=1, actor=ALICE, reason="", today=TODAY)


def test_delete_removes_the_event_and_its_rows_and_reevaluates(patient: m.Patient) -> None:
    row = record_event(patient, cycle(1), actor=ALICE, today=TODAY).row
    assert row is not None
    with pytest.raises(StaleRecordError):
        delete_event(patient, row.seq, expected_version=7, actor=ALICE, reason="x", today=TODAY)
    delete_event(
        patient, row.seq, expected_version=1, actor=ALICE, reason="wrong patient", today=TODAY
    )
    assert not m.SystemicCycle.objects.filter(patient=patient).exists()
    assert not m.CycleAgent.objects.filter(cycle__patient=patient).exists()
    assert m.PatientState.objects.get(patient=patient).cycles_given == 0
    deletes = m.AuditEntry.objects.filter(action="delete").values_list("table", flat=True)
    assert set(deletes) == {"study_cycleagent", "study_systemiccycle"}


def test_audit_entries_say_who_from_where_and_why(patient: m.Patient) -> None:
    entry = m.AuditEntry.objects.filter(table="study_randomization").get()
    assert (entry.actor, entry.ip, entry.action) == ("alice", "10.0.0.5", "create")
    assert '"arm":[null,"experimental"]' in entry.changes
