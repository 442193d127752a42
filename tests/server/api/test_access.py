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


# --- data queries, signatures, locks, vital signs and ECG --------------------------------------

QUERY_READERS = {"investigator", "coordinator", "monitor", "data_manager"}
MONITORS = {"monitor", "data_manager"}


def _monitoring_setup(p: m.Patient) -> tuple[int, int]:
    """A query on the patient's adverse event and a vital signs record (before any call)."""
    from rfatrial.server.monitoring import queries, vitals
    from rfatrial.server.study.audit import Actor

    ae = m.AdverseEvent.objects.filter(patient=p).first()
    assert ae is not None
    x = queries.open_query(ae, text="Grade?", actor=Actor("setup"), roles={"monitor"})
    row = vitals.record(
        p, "vital_signs", {"date": "2026-01-05", "weight_kg": 70}, actor=Actor("setup")
    )
    return x.pk, row.pk


def monitoring_call(client: Client, endpoint: str, p: m.Patient, ids: tuple[int, int]) -> Any:
    query_id, vitals_id = ids
    base = f"/api/patients/{p.pk}"
    ae_seq, _ = _seq(p, m.AdverseEvent)
    post = {"content_type": "application/json"}
    if endpoint == "query_read":
        return client.get(f"/api/queries/{query_id}")
    if endpoint == "query_open":
        body = {"kind": "adverse_event", "record": ae_seq, "text": "Start date?"}
        return client.post(f"{base}/queries", json.dumps(body), **post)
    if endpoint in ("query_answer", "query_close"):
        version = 1 if endpoint == "query_answer" else 2 if _answered(query_id) else 1
        body = {"version": version, "text": "As in the source."}
        return client.post(f"/api/queries/{query_id}/{endpoint[6:]}", json.dumps(body), **post)
    if endpoint == "signatures":
        return client.get(f"{base}/signatures")
    if endpoint == "sign":  # the password is wrong: 422 for an investigator, the role passed
        body = {"kind": "adverse_event", "record": ae_seq, "password": "not it"}
        return client.post(f"{base}/signatures", json.dumps(body), **post)
    if endpoint == "lock":
        body = {"kind": "adverse_event", "record": ae_seq, "locked": True}
        return client.put(f"{base}/locks", json.dumps(body), **post)
    if endpoint == "record_status":
        return client.get(f"{base}/record-status")
    if endpoint == "vitals_list":
        return client.get(f"{base}/vital-signs")
    if endpoint == "vitals_create":
        body = {"data": {"date": "2026-01-06", "heart_rate_per_min": 70}}
        return client.post(f"{base}/vital-signs", json.dumps(body), **post)
    if endpoint == "vitals_update":
        body = {"version": 1, "data": {"date": "2026-01-05", "weight_kg": 71}, "reason": "scale"}
        return client.put(f"{base}/vital-signs/{vitals_id}", json.dumps(body), **post)
    if endpoint == "ecg_list":
        return client.get(f"{base}/ecg")
    raise AssertionError(endpoint)


def _answered(query_id: int) -> bool:
    from rfatrial.server.monitoring.models import Query

    return Query.objects.get(pk=query_id).status == "answered"


MONITORING_ENDPOINTS: dict[str, tuple[set[str], int]] = {
    "query_read": (QUERY_READERS, 200),
    "query_open": (MONITORS, 201),
    "query_answer": ({"investigator", "coordinator"}, 200),
    "query_close": (MONITORS, 200),
    "signatures": (QUERY_READERS, 200),
    "sign": ({"investigator"}, 422),
    "lock": ({"data_manager"}, 200),
    "record_status": (QUERY_READERS, 200),
    "vitals_list": (READERS, 200),
    "vitals_create": (WRITERS, 201),
    "vitals_update": (WRITERS, 200),
    "ecg_list": (READERS, 200),
}


@pytest.mark.parametrize("site", ["own", "other"])
@pytest.mark.parametrize("role", ROLES)
def test_role_monitoring_endpoint_site(world: World, role: str, site: str) -> None:
    """The monitoring endpoints for one role at his own or another site: 404 where he holds no
    reading role (the administrator included), 403 for a reader without the role, never data."""
    patient = world.p1 if site == "own" else world.p2
    ids = _monitoring_setup(patient)
    client = client_of(world.users[role])
    for endpoint, (allowed, ok) in MONITORING_ENDPOINTS.items():
        before = m.AuditEntry.objects.count()
        response = monitoring_call(client, endpoint, patient, ids)
        hidden = site == "other" or role not in READERS
        expected = 404 if hidden else ok if role in allowed else 403
        assert response.status_code == expected, (endpoint, response.content)
        if expected >= 400:
            assert m.AuditEntry.objects.count() == before, endpoint  # nothing written
            assert patient.study_id.encode() not in response.content, endpoint


def test_the_query_list_holds_only_the_sites_of_the_caller(world: World) -> None:
    _monitoring_setup(world.p1)
    _monitoring_setup(world.p2)
    for role in QUERY_READERS:
        listed = client_of(world.users[role]).get("/api/queries").json()
        assert {x["site"] for x in listed} == {"S01"}, role
    for role in ("statistician", "administrator"):
        assert client_of(world.users[role]).get("/api/queries").json() == []
    listed = client_of(world.other).get("/api/queries?status=new").json()
    assert [x["study_id"] for x in listed] == ["S02-001"]
