"""Sites, people and their roles per site; patients with few identifiers and partial dates."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, ReasonRequiredError, audited, verify_audit_trail
from rfatrial.server.study.services import (
    EventError,
    ensure_site,
    grant_role,
    register_patient,
    revoke_role,
    roles_of,
)

pytestmark = pytest.mark.django_db

ADMIN = Actor("admin", "127.0.0.1")


@pytest.fixture
def sites() -> tuple[m.Site, m.Site]:
    with audited(ADMIN, "sites opened") as audit:
        return ensure_site(audit, "S01", "Hospital A"), ensure_site(audit, "S02", "Hospital B")


def test_one_person_holds_roles_at_several_sites(sites: tuple[m.Site, m.Site]) -> None:
    s1, s2 = sites
    alice = get_user_model().objects.create_user("alice", password="x")
    grant_role(alice, s1, "investigator", actor=ADMIN)
    grant_role(alice, s1, "coordinator", actor=ADMIN)
    grant_role(alice, s2, "monitor", actor=ADMIN)
    again = grant_role(alice, s2, "monitor", actor=ADMIN)
    assert roles_of(alice) == {"S01": {"investigator", "coordinator"}, "S02": {"monitor"}}
    assert m.SiteRole.objects.filter(user=alice).count() == 3
    with pytest.raises(ValueError, match="unknown role 'surgeon'"):
        grant_role(alice, s1, "surgeon", actor=ADMIN)
    with pytest.raises(ReasonRequiredError):
        revoke_role(again, actor=ADMIN, reason="")
    revoke_role(again, actor=ADMIN, reason="left the monitoring team")
    assert roles_of(alice) == {"S01": {"investigator", "coordinator"}}
    entry = m.AuditEntry.objects.filter(table="study_siterole", action="delete").get()
    assert entry.reason == "left the monitoring team" and entry.ip == "127.0.0.1"
    assert verify_audit_trail().ok


def test_patients_have_a_study_id_per_site_and_partial_dates(
    sites: tuple[m.Site, m.Site],
) -> None:
    s1, s2 = sites
    p = register_patient(
        s1,
        "001",
        sex="M",
        age_at_screening=64,
        actor=ADMIN,
        diagnosis_date="2021-03",
        liver_surgery_date="2022",
    )
    assert (p.diagnosis_date, p.liver_surgery_date) == ("2021-03", "2022")
    register_patient(s2, "001", sex="F", age_at_screening=55, actor=ADMIN)  # same id, other site
    with pytest.raises(ValidationError, match="not a partial date"):
        register_patient(
            s1, "002", sex="M", age_at_screening=64, actor=ADMIN, diagnosis_date="2021-13"
        )
    with pytest.raises(EventError, match="age_at_screening"):
        register_patient(s1, "003", sex="M", age_at_screening=12, actor=ADMIN)
    assert m.Patient.objects.count() == 2
