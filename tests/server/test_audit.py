"""The audit trail: append-only, chained by SHA-256, and checked against the data.

Tampering is done as an attacker would: raw SQL on the database, behind the application's back.
"""

from __future__ import annotations

from datetime import date

import pytest
from django.db import connection

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited, verify_audit_trail
from rfatrial.server.study.services import amend_event, load_history
from tests.kernel.builders import labs
from tests.server.conftest import TODAY, example_histories

pytestmark = pytest.mark.django_db


def _sql(statement: str, *params: object) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


@pytest.fixture
def patient() -> m.Patient:
    return load_history(example_histories()["with_deviations"], today=TODAY)


def test_a_loaded_and_amended_study_verifies(patient: m.Patient) -> None:
    panel = m.LabPanel.objects.filter(patient=patient).order_by("seq").first()
    assert panel is not None
    amend_event(
        patient,
        panel.seq,
        labs(0, platelets=175) | {"date": panel.date.isoformat()},
        expected_version=panel.version,
        actor=Actor("dm", "192.0.2.1"),
        reason="source document check",
        today=date(2026, 11, 1),
    )
    report = verify_audit_trail()
    assert report.ok, report.problems
    assert report.entries == m.AuditEntry.objects.count() > 100
    assert report.records > 100


def test_a_value_changed_by_sql_is_found(patient: m.Patient) -> None:
    result = m.LabResult.objects.filter(panel__patient=patient).first()
    assert result is not None
    _sql("UPDATE study_labresult SET value = %s WHERE id = %s", 999.0, result.pk)
    problems = verify_audit_trail().problems
    assert problems == [
        f"study_labresult record {result.pk}: value is 999.0 in the database,"
        f" {result.value!r} in the audit trail"
    ]


def test_a_record_deleted_or_inserted_by_sql_is_found(patient: m.Patient) -> None:
    visit = m.FollowUpVisit.objects.filter(patient=patient).first()
    assert visit is not None
    _sql("DELETE FROM study_followupvisit WHERE id = %s", visit.pk)
    _sql(
        "INSERT INTO study_death (version, patient_id, seq, date, cause) VALUES (1, %s, 999,"
        " '2026-10-01', 'unknown')",
        patient.pk,
    )
    problems = verify_audit_trail().problems
    assert f"study_followupvisit record {visit.pk} was removed without an audit entry" in problems
    assert any(
        p.startswith("study_death record") and "not in the audit trail" in p for p in problems
    )


def test_an_audit_entry_changed_by_sql_is_found(patient: m.Patient) -> None:
    entry = m.AuditEntry.objects.filter(table="study_randomization").get()
    forged = entry.changes.replace("experimental", "control")
    _sql("UPDATE study_auditentry SET changes = %s WHERE id = %s", forged, entry.pk)
    _sql("UPDATE study_randomization SET arm = 'control'")
    problems = verify_audit_trail().problems
    assert problems == [
        f"audit entry {entry.seq} (create study_randomization record {entry.record_id}) was changed"
    ]


def test_a_forged_entry_with_a_recomputed_hash_breaks_the_chain(patient: m.Patient) -> None:
    entry = m.AuditEntry.objects.order_by("seq")[5]
    _sql("UPDATE study_auditentry SET hash = %s WHERE id = %s", "f" * 64, entry.pk)
    problems = verify_audit_trail().problems
    assert f"audit entry {entry.seq + 1} does not follow entry {entry.seq}" in problems


def test_audit_entries_deleted_by_sql_are_found(patient: m.Patient) -> None:
    last = m.AuditEntry.objects.order_by("-seq").first()
    assert last is not None
    _sql("DELETE FROM study_auditentry WHERE seq IN (%s, %s)", 10, 11)
    _sql("DELETE FROM study_auditentry WHERE seq = %s", last.seq)
    problems = verify_audit_trail().problems
    assert "audit entries 10 to 11 removed" in problems
    assert f"audit entry {last.seq} removed" in problems


def test_the_trail_cannot_be_changed_through_the_application(patient: m.Patient) -> None:
    entry = m.AuditEntry.objects.first()
    assert entry is not None
    with pytest.raises(PermissionError):
        m.AuditEntry.objects.filter(pk=entry.pk).update(reason="x")
    with pytest.raises(PermissionError):
        m.AuditEntry.objects.filter(pk=entry.pk).delete()
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()


def test_a_failed_transaction_leaves_no_entry() -> None:
    before = m.AuditEntry.objects.count()
    with pytest.raises(RuntimeError), audited(Actor("x"), "test") as audit:
        audit.create(m.Site, code="S99")
        raise RuntimeError("rolled back")
    assert m.AuditEntry.objects.count() == before
    assert not m.Site.objects.filter(code="S99").exists()
    assert verify_audit_trail().ok


def test_a_data_query_or_a_site_setting_changed_by_sql_is_found(patient: m.Patient) -> None:
    # Study data lives beyond the study app too: queries (monitoring), site settings (web).
    from rfatrial.server.monitoring import queries
    from rfatrial.server.web.models import SiteSettings

    cycle = m.SystemicCycle.objects.filter(patient=patient).order_by("seq").first()
    assert cycle is not None
    query = queries.open_query(cycle, text="Dose?", actor=Actor("monitor"), roles={"monitor"})
    assert verify_audit_trail().ok
    table = query._meta.db_table
    _sql(f"UPDATE {table} SET status = %s WHERE id = %s", "closed", query.pk)
    assert verify_audit_trail().problems == [
        f"{table} record {query.pk}: status is 'closed' in the database, 'new' in the audit trail"
    ]
    _sql(f"UPDATE {table} SET status = %s WHERE id = %s", "new", query.pk)
    assert verify_audit_trail().ok
    settings_table = SiteSettings._meta.db_table
    _sql(
        f"INSERT INTO {settings_table} (site_id, date_format, version) VALUES (%s, %s, %s)",
        patient.site_id,
        "dmy_slash",
        1,
    )
    problems = verify_audit_trail().problems
    assert len(problems) == 1 and problems[0].startswith(f"{settings_table} record ")
    assert problems[0].endswith("is not in the audit trail")
