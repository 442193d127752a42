"""The planner's REST API: the proposal, checking, drafting and confirming a plan (422 with the
rule on refusal), roles and sites, and the session recorded through the API closing the plan."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rfatrial.server.planning.models import SessionPlan
from rfatrial.server.study import models as m
from tests.server.planning.conftest import PlanningStudy, iso, rfa

SEVEN = [f"L{k}" for k in range(1, 8)]
PROPOSAL = ["L8", "L7", "L6", "L5"]


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_proposal_shows_every_remaining_lesion_judged(planning: PlanningStudy) -> None:
    p = planning.patient_a
    body = client_of(planning.monitor).get(f"/api/patients/{p.pk}/planner").json()
    assert body["session"] == 1 and body["sessions_left"] == 3
    assert body["next_session"] == PROPOSAL
    assert body["sessions"] == [PROPOSAL, ["L4", "L3", "L2", "L1"]]
    l8 = next(x for x in body["lesions"] if x["lesion_id"] == "L8")
    assert l8["verdict"] == "ablatable" and l8["segment"] == "S8"
    assert l8["diameter_mm"] == 27.2 and l8["us_visible"] is True
    assert l8["distance_to_critical_mm"] == 15.0 and l8["margin_achievable_mm"] == 10.0
    assert body["open_plan"] is None


def test_seven_lesions_are_refused_with_the_rule(planning: PlanningStudy) -> None:
    p = planning.patient_a
    before = m.AuditEntry.objects.count()
    response = post(
        client_of(planning.investigator),
        f"/api/patients/{p.pk}/plans",
        {"lesions": SEVEN, "planned_date": iso(2), "reasons": "all at once", "confirm": True},
    )
    assert response.status_code == 422
    [item] = response.json()["detail"]
    assert item["type"] == "rfa_too_many_lesions"
    assert item["rule"] == "rfa.max_lesions_per_session"
    assert item["source"] == "rfa.max_lesions_per_session = 6 (protocol 1.0)"
    assert "at most 6" in item["msg"] and item["loc"] == ["body", "payload", "lesions"]
    assert m.AuditEntry.objects.count() == before and not SessionPlan.objects.exists()


def test_a_coordinator_drafts_and_an_investigator_confirms(planning: PlanningStudy) -> None:
    p = planning.patient_a
    url = f"/api/patients/{p.pk}/plans"
    choice = {"lesions": ["L8", "L7", "L6"], "planned_date": iso(2)}
    coordinator, investigator = client_of(planning.coordinator), client_of(planning.investigator)
    drafted = post(coordinator, url, choice)
    assert drafted.status_code == 201, drafted.content
    plan = drafted.json()["plan"]
    assert plan["status"] == "draft" and plan["drafted_by"] == "coordinator_a"
    assert [f["code"] for f in drafted.json()["findings"]] == ["changed_from_proposal"]
    assert post(coordinator, url, {**choice, "version": 1, "confirm": True}).status_code == 403
    no_reason = post(investigator, url, {**choice, "version": plan["version"], "confirm": True})
    assert no_reason.status_code == 422
    assert no_reason.json()["detail"][0]["loc"] == ["body", "payload", "reasons"]
    confirmed = post(
        investigator,
        url,
        {**choice, "version": plan["version"], "confirm": True, "reasons": "L5 next time"},
    )
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["plan"]["status"] == "confirmed"
    assert confirmed.json()["plan"]["confirmed_by"] == "investigator_a"
    stale = post(investigator, url, {**choice, "version": plan["version"]})
    assert stale.status_code == 409 and "changed by investigator_a" in stale.json()["detail"]


def test_checking_stores_nothing(planning: PlanningStudy) -> None:
    p = planning.patient_a
    before = m.AuditEntry.objects.count()
    response = post(
        client_of(planning.coordinator),
        f"/api/patients/{p.pk}/plans/check",
        {"lesions": SEVEN, "planned_date": iso(2)},
    )
    body = response.json()
    assert response.status_code == 200
    assert not body["confirmable_with_reason"] and not body["confirmable_without_reason"]
    assert body["added"] == ["L1", "L2", "L3", "L4"] and body["removed"] == ["L8"]
    assert m.AuditEntry.objects.count() == before


def test_nothing_of_another_site(planning: PlanningStudy) -> None:
    p = planning.patient_a
    other = client_of(planning.investigator_b)
    for response in (
        other.get(f"/api/patients/{p.pk}/planner"),
        other.get(f"/api/patients/{p.pk}/plans"),
        post(other, f"/api/patients/{p.pk}/plans", {"lesions": PROPOSAL, "planned_date": iso(2)}),
        post(other, f"/api/patients/{p.pk}/plans/check", {"lesions": PROPOSAL}),
    ):
        assert response.status_code == 404
        assert b"SA-101" not in response.content and b"L8" not in response.content
    assert not SessionPlan.objects.exists()


def test_the_session_recorded_through_the_api_closes_the_plan(planning: PlanningStudy) -> None:
    p = planning.patient_a
    investigator = client_of(planning.investigator)
    saved = post(
        investigator,
        f"/api/patients/{p.pk}/plans",
        {"lesions": PROPOSAL, "planned_date": iso(0), "confirm": True},
    )
    assert saved.status_code == 201, saved.content
    done = post(
        investigator,
        f"/api/patients/{p.pk}/records/rfa_session",
        {"data": rfa(0, ["L8", "L7", "L6", "L4"])},
    )
    assert done.status_code == 201, done.content
    [plan] = investigator.get(f"/api/patients/{p.pk}/plans").json()
    assert plan["status"] == "done" and plan["differs"] is True
    assert plan["rfa_session_seq"] == done.json()["seq"]
    assert plan["performed_lesions"] == ["L8", "L7", "L6", "L4"]


def test_a_plan_is_cancelled_with_the_version_and_a_reason(planning: PlanningStudy) -> None:
    p = planning.patient_a
    client = client_of(planning.coordinator)
    plan = post(client, f"/api/patients/{p.pk}/plans", {"lesions": PROPOSAL}).json()["plan"]
    url = f"/api/patients/{p.pk}/plans/{plan['id']}/cancel"
    assert post(client, url, {"version": plan["version"], "reason": ""}).status_code == 422
    cancelled = post(client, url, {"version": plan["version"], "reason": "patient declined"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert post(client, url, {"version": 2, "reason": "again"}).status_code == 422
