"""Role × endpoint × site: each user reads and writes only what his roles at a site allow, and
nothing at a site where he holds no role (404 or 403 there, never data)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from rfatrial.server.study import models as m
from tests.server.api.conftest import ROLES, World, adverse_event, client_of, day

READERS = {"investigator", "coordinator", "monitor", "data_manager", "statistician"}
WRITERS = {"investigator", "coordinator"}
AUDITORS = {"investigator", "coordinator", "monitor", "data_manager"}


def _seq(p: m.Patient, model: type[m.EventRecord]) -> tuple[int, int]:
    row = model.objects.filter(patient=p).order_by("seq").first()
    assert row is not None
    return row.seq, row.version


def call(client: Client, endpoint: str, p: m.Patient) -> Any:
    base = f"/api/patients/{p.pk}"
    ae_seq, ae_version = _seq(p, m.AdverseEvent)
    body = json.dumps({"data": adverse_event(-1), "reason": "seen at the visit"})
    if endpoint == "site_patients":
        return client.get(f"/api/sites/{p.site.code}/patients")
    if endpoint == "patients":
        return client.get("/api/patients")
    if endpoint == "patient":
        return client.get(base)
    if endpoint == "records":
        return client.get(f"{base}/records")
    if endpoint == "ae_list":
        return client.get(f"{base}/records/adverse_event")
    if endpoint == "ae_read":
        return client.get(f"{base}/records/adverse_event/{ae_seq}")
    if endpoint == "evaluation":
        return client.get(f"{base}/evaluation")
    if endpoint == "lesions":
        return client.get(f"{base}/lesions")
    if endpoint == "audit":
        return client.get(f"{base}/records/adverse_event/{ae_seq}/audit")
    if endpoint == "create":
        return client.post(f"{base}/records/adverse_event", body, content_type="application/json")
    if endpoint == "update":
        update = {
            "version": ae_version,
            "data": adverse_event(-2, grade=2),
            "reason": "grade corrected",
        }
        return client.put(
            f"{base}/records/adverse_event/{ae_seq}",
            json.dumps(update),
            content_type="application/json",
        )
    if endpoint == "delete":
        return client.delete(
            f"{base}/records/adverse_event/{ae_seq}?version={ae_version}&reason=entered+in+error"
        )
    if endpoint == "register":
        return client.post(
            f"/api/sites/{p.site.code}/patients",
            json.dumps({"study_id": "NEW-1", "sex": "M", "age_at_screening": 70}),
            content_type="application/json",
        )
    if endpoint == "randomize":
        return client.post(f"{base}/randomize", "{}", content_type="application/json")
    if endpoint == "roles":
        return client.get(f"/api/sites/{p.site.code}/roles")
    if endpoint in ("planner", "plans"):
        return client.get(f"{base}/{endpoint}")
    if endpoint.startswith("plan_"):
        from rfatrial.server.planning.services import open_plan

        plan = open_plan(p)
        choice: dict[str, Any] = {"lesions": [], "planned_date": day(1)}
        if endpoint == "plan_confirm":
            choice |= {"version": plan.version if plan else 1, "confirm": True}
        url = f"{base}/plans/check" if endpoint == "plan_check" else f"{base}/plans"
        return client.post(url, json.dumps(choice), content_type="application/json")
    raise AssertionError(endpoint)


def expected_own_site(role: str, endpoint: str) -> int:
    admin_only = 403 if role in READERS else 200
    site_level = 200 if role in READERS else 403
    patient_hidden = 404  # an administrator manages the site, he does not see its patients
    table: dict[str, tuple[set[str], int]] = {
        "site_patients": (READERS, 200),
        "patient": (READERS, 200),
        "records": (READERS, 200),
        "ae_list": (READERS, 200),
        "ae_read": (READERS, 200),
        "evaluation": (READERS, 200),
        "lesions": (READERS, 200),
        "audit": (AUDITORS, 200),
        "create": (WRITERS, 201),
        "update": (WRITERS, 200),
        "delete": (WRITERS, 204),
        "register": (WRITERS, 201),
        "randomize": ({"investigator"}, 201),
        "planner": (AUDITORS, 200),
        "plans": (AUDITORS, 200),
        "plan_check": (WRITERS, 200),
        "plan_draft": (WRITERS, 201),
        "plan_confirm": ({"investigator"}, 422),  # refused: nothing to ablate before randomization
    }
    if endpoint == "roles":
        return admin_only
    allowed, ok = table[endpoint]
    if role in allowed:
        return ok
    if endpoint in ("site_patients", "register"):
        return site_level if role not in READERS else 403
    return 403 if role in READERS else patient_hidden


ENDPOINTS = [
    "site_patients",
    "patient",
    "records",
    "ae_list",
    "ae_read",
    "evaluation",
    "lesions",
    "planner",
    "plans",
    "audit",
    "create",
    "update",
    "delete",
    "plan_check",
    "plan_draft",
    "plan_confirm",
    "register",
    "randomize",
    "roles",
]


@pytest.mark.parametrize("site", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_role_endpoint_site(world: World, role: str, site: str) -> None:
    """Every endpoint (in turn, writes last) for one role at his own or another site."""
    patient = world.p1 if site == "own" else world.p2
    client = client_of(world.users[role])
    for endpoint in ENDPOINTS:
        before = m.AuditEntry.objects.count()
        response = call(client, endpoint, patient)
        expected = expected_own_site(role, endpoint) if site == "own" else 404
        assert response.status_code == expected, (endpoint, response.content)
        if expected >= 400:
            assert set(response.json()) == {"detail"}, endpoint
            assert patient.study_id.encode() not in response.content, endpoint
            assert m.AuditEntry.objects.count() == before, endpoint  # nothing written
        if site == "other":
            assert b"S02-001" not in response.content, endpoint


def test_the_patient_list_holds_only_the_sites_of_the_caller(world: World) -> None:
    for role in READERS:
        listed = client_of(world.users[role]).get("/api/patients").json()
        assert [p["site"] for p in listed] == ["S01"]
    assert client_of(world.users["administrator"]).get("/api/patients").json() == []
    listed = client_of(world.other).get("/api/patients").json()
    assert [p["study_id"] for p in listed] == ["S02-001"]


def test_nobody_without_credentials(world: World) -> None:
    for endpoint in ENDPOINTS:
        response = call(Client(), endpoint, world.p1)
        assert response.status_code == 401, endpoint
        assert b"S01-001" not in response.content


def test_a_statistician_reads_pseudonymized_data(world: World) -> None:
    stat = client_of(world.users["statistician"])
    [listed] = stat.get("/api/patients").json()
    assert listed["pseudonymized"] and listed["study_id"].startswith("P-")
    assert listed["study_id"] != "S01-001"
    assert stat.get(f"/api/patients/{world.p1.pk}").json()["study_id"] == listed["study_id"]
    records = stat.get(f"/api/patients/{world.p1.pk}/records").content
    assert b"S01-001" not in records
    full = client_of(world.users["monitor"]).get(f"/api/patients/{world.p1.pk}").json()
    assert full["study_id"] == "S01-001" and not full["pseudonymized"]
