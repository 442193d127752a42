"""Records through the API: typed bodies, 422 with the path of each bad field, 409 for a stale
version, the audit trail of a record, token and session (CSRF) authentication."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rfatrial.server.study import models as m
from tests.server.api.conftest import World, adverse_event, bearer, client_of, day, screening


def post(client: Client, url: str, body: Any) -> Any:
    return client.post(url, json.dumps(body), content_type="application/json")


def put(client: Client, url: str, body: Any) -> Any:
    return client.put(url, json.dumps(body), content_type="application/json")


def locs(response: Any) -> list[list[Any]]:
    assert response.status_code == 422, response.content
    return [item["loc"] for item in response.json()["detail"]]


def test_record_amend_delete_with_a_token_and_the_audit_trail(world: World) -> None:
    api = bearer(world.users["coordinator"])
    base = f"/api/patients/{world.p1.pk}/records/adverse_event"
    made = post(api, base, {"data": adverse_event(-1), "reason": ""})
    assert made.status_code == 201, made.content
    record = made.json()
    assert record["data"]["term"] == "Nausea" and record["version"] == 1
    url = f"{base}/{record['seq']}"
    changed = put(
        api, url, {"version": 1, "data": adverse_event(-1, grade=2), "reason": "graded again"}
    )
    assert changed.status_code == 200 and changed.json()["version"] == 2
    stale = put(api, url, {"version": 1, "data": adverse_event(-1, grade=3), "reason": "again"})
    assert stale.status_code == 409
    assert "now version 2, your copy is version 1" in stale.json()["detail"]
    trail = api.get(f"{url}/audit").json()
    assert [e["action"] for e in trail] == ["create", "update"]
    assert trail[1]["changes"]["grade"] == [1, 2] and trail[1]["reason"] == "graded again"
    assert trail[1]["actor"] == "coordinator1"
    no_reason = api.delete(f"{url}?version=2&reason=")
    assert locs(no_reason) == [["query", "reason"]]
    assert api.delete(f"{url}?version=1&reason=error").status_code == 409
    assert api.delete(f"{url}?version=2&reason=entered+in+error").status_code == 204
    assert api.get(url).status_code == 404
    assert api.get(f"{base}/999").status_code == 404


def test_bad_input_is_answered_422_with_the_path_of_each_field(world: World) -> None:
    api = bearer(world.users["investigator"])
    base = f"/api/patients/{world.p1.pk}/records"
    unknown_unit = {
        "type": "lab_panel",
        "date": day(-1),
        "results": [
            {"analyte": "bilirubin", "value": 12, "unit": "umol/L"},
            {"analyte": "albumin", "value": 40, "unit": "furlongs"},
        ],
    }
    assert locs(post(api, f"{base}/lab_panel", {"data": unknown_unit})) == [
        ["body", "payload", "data", "results", 1]
    ]
    impossible = {**adverse_event(-1), "grade": 9}
    assert locs(post(api, f"{base}/adverse_event", {"data": impossible})) == [
        ["body", "payload", "data", "grade"]
    ]
    future = adverse_event(3, end_date=day(5))
    assert locs(post(api, f"{base}/adverse_event", {"data": future})) == [
        ["body", "payload", "data", "date"],
        ["body", "payload", "data", "end_date"],
    ]
    # L1 is a lesion of the other patient (and only of him)
    other = bearer(world.other)
    baseline = {
        "type": "imaging",
        "date": day(-5),
        "modality": "CT",
        "purpose": "baseline",
        "lesions": [{"lesion_id": "L7", "segment": "S6", "diameter_mm": 18}],
    }
    assert post(other, f"/api/patients/{world.p2.pk}/records/imaging", {"data": baseline})
    session = {"type": "rfa_session", "date": day(-1), "lesions": [{"lesion_id": "L7"}]}
    refused = post(api, f"{base}/rfa_session", {"data": session, "justification": "x"})
    assert locs(refused) == [["body", "payload", "data", "lesions", 0, "lesion_id"]]
    assert "not a lesion of this patient" in refused.json()["detail"][0]["msg"]
    twice = post(api, f"{base}/screening", {"data": screening()})
    assert locs(twice) == [["body", "payload", "data"]]
    assert m.AdverseEvent.objects.filter(patient=world.p1).count() == 1  # nothing stored


def test_junk_is_never_a_server_error(world: World) -> None:
    api = bearer(world.users["investigator"])
    base = f"/api/patients/{world.p1.pk}/records/adverse_event"
    bodies: list[Any] = [
        "not json",
        "[]",
        "{}",
        json.dumps({"data": None}),
        json.dumps({"data": {"type": "death", "date": day(-1)}}),
        json.dumps({"data": {**adverse_event(-1), "extra": 1}}),
        json.dumps({"data": adverse_event(-1), "reason": 5}),
    ]
    for body in bodies:
        response = api.post(base, body, content_type="application/json")
        assert response.status_code in (400, 422), (body, response.content)
    assert api.put(f"{base}/0", "{}", content_type="application/json").status_code == 422
    assert api.delete(f"{base}/0").status_code == 422  # version and reason missing
    assert api.get("/api/patients/abc").status_code == 422


def test_the_session_needs_csrf_for_writes_and_tokens_can_be_revoked(world: World) -> None:
    user = world.users["investigator"]
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(user)
    assert browser.get(f"/api/patients/{world.p1.pk}").status_code == 200
    url = f"/api/patients/{world.p1.pk}/records/adverse_event"
    body = json.dumps({"data": adverse_event(-1)})
    assert browser.post(url, body, content_type="application/json").status_code == 403
    browser.get(f"/api/patients/{world.p1.pk}")
    token = browser.cookies["csrftoken"].value if "csrftoken" in browser.cookies else None
    if token is None:  # the CSRF cookie comes with a page; take one the way the web pages do
        from django.middleware.csrf import get_token
        from django.test import RequestFactory

        request = RequestFactory().get("/")
        token = get_token(request)
        browser.cookies["csrftoken"] = request.META["CSRF_COOKIE"]
    ok = browser.post(url, body, content_type="application/json", headers={"X-CSRFToken": token})
    assert ok.status_code == 201, ok.content

    made = post(client_of(user), "/api/tokens", {"name": "nightly export"})
    assert made.status_code == 201
    raw = made.json()["token"]
    script = Client(headers={"authorization": f"Bearer {raw}"})
    assert script.get("/api/me").json()["roles"] == {"S01": ["investigator"]}
    assert raw not in json.dumps(client_of(user).get("/api/tokens").json())
    assert client_of(user).delete(f"/api/tokens/{made.json()['id']}").status_code == 204
    assert script.get("/api/me").status_code == 401
    assert Client(headers={"authorization": "Bearer rfa_guess"}).get("/api/me").status_code == 401


def test_the_evaluation_gives_phase_next_actions_and_deviations(world: World) -> None:
    api = bearer(world.users["monitor"])
    evaluation = api.get(f"/api/patients/{world.p1.pk}/evaluation").json()
    assert evaluation["phase"] == "screening"
    assert evaluation["next_actions"] and "deviations" in evaluation
