"""The monitoring API end to end over HTTP: statuses answered as documented (409, 422, 423)."""

from __future__ import annotations

import json
from typing import Any

from django.test import Client

from rfatrial.server.study import models as m
from tests.server.api.conftest import World, adverse_event, client_of

JSON = "application/json"


def _post(client: Client, url: str, body: dict[str, Any]) -> Any:
    return client.post(url, json.dumps(body), content_type=JSON)


def _ae_seq(world: World) -> int:
    row = m.AdverseEvent.objects.filter(patient=world.p1).first()
    assert row is not None
    return row.seq


def test_a_query_through_the_api(world: World) -> None:
    monitor, coordinator = client_of(world.users["monitor"]), client_of(world.users["coordinator"])
    base = f"/api/patients/{world.p1.pk}"
    unknown = _post(
        monitor, f"{base}/queries", {"kind": "adverse_event", "record": 99, "text": "?"}
    )
    assert unknown.status_code == 404
    bad_kind = _post(monitor, f"{base}/queries", {"kind": "shoe", "record": 1, "text": "?"})
    assert bad_kind.status_code == 422 and bad_kind.json()["detail"][0]["loc"][-1] == "kind"
    body = {"kind": "adverse_event", "record": _ae_seq(world), "field": "grade", "text": "Grade?"}
    opened = _post(monitor, f"{base}/queries", body)
    assert opened.status_code == 201
    x = opened.json()
    assert (x["status"], x["record"], x["field"], x["study_id"]) == ("new", 1, "grade", "S01-001")
    url = f"/api/queries/{x['id']}"
    blank = _post(coordinator, f"{url}/answer", {"version": 1, "text": " "})
    assert blank.status_code == 422
    assert blank.json()["detail"][0]["loc"] == ["body", "payload", "text"]
    answered = _post(coordinator, f"{url}/answer", {"version": 1, "text": "Grade 1."})
    assert answered.status_code == 200 and answered.json()["status"] == "answered"
    stale = _post(monitor, f"{url}/close", {"version": 1})
    assert stale.status_code == 409
    closed = _post(monitor, f"{url}/close", {"version": 2, "text": "Thanks."})
    assert closed.json()["status"] == "closed" and len(closed.json()["messages"]) == 3
    again = _post(monitor, f"{url}/close", {"version": 3})
    assert again.status_code == 409 and "closed" in again.json()["detail"]
    assert monitor.delete(url).status_code == 405  # a query is never deleted
    listed = monitor.get(f"/api/queries?status=closed&patient_id={world.p1.pk}").json()
    assert [q["id"] for q in listed] == [x["id"]]


def test_signature_lock_and_423_through_the_api(world: World) -> None:
    investigator = world.users["investigator"]
    investigator.set_password("sign here")
    investigator.save()
    inv = client_of(investigator)
    dm = client_of(world.users["data_manager"])
    coordinator = client_of(world.users["coordinator"])
    base = f"/api/patients/{world.p1.pk}"
    seq = _ae_seq(world)
    wrong = _post(
        inv, f"{base}/signatures", {"kind": "adverse_event", "record": seq, "password": "x"}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"][-1] == "password"
    signed = _post(
        inv, f"{base}/signatures", {"kind": "adverse_event", "record": seq, "password": "sign here"}
    )
    assert signed.status_code == 201 and signed.json()["status"] == "signed"
    twice = _post(
        inv, f"{base}/signatures", {"kind": "adverse_event", "record": seq, "password": "sign here"}
    )
    assert twice.status_code == 409
    update = {"version": 1, "data": adverse_event(-2, grade=2), "reason": "grade corrected"}
    url = f"{base}/records/adverse_event/{seq}"
    assert coordinator.put(url, json.dumps(update), content_type=JSON).status_code == 200
    [sig] = inv.get(f"{base}/signatures").json()
    assert not sig["valid"] and sig["status"].startswith("signature voided by change on")
    lock = {"kind": "adverse_event", "record": seq, "locked": True, "reason": "database lock"}
    assert dm.put(f"{base}/locks", json.dumps(lock), content_type=JSON).json()["locked"]
    update = {"version": 2, "data": adverse_event(-2, grade=3), "reason": "again"}
    refused = coordinator.put(url, json.dumps(update), content_type=JSON)
    assert refused.status_code == 423 and "locked" in refused.json()["detail"]
    deleted = coordinator.delete(f"{url}?version=2&reason=duplicate")
    assert deleted.status_code == 423
    status = {r["kind"]: r for r in dm.get(f"{base}/record-status").json()}
    assert status["adverse_event"]["locked"] and not status["screening"]["locked"]
    casebook = _post(inv, f"{base}/casebook-signature", {"password": "sign here"})
    assert casebook.status_code == 201 and len(casebook.json()) == 2  # AE (again) and screening


def test_vital_signs_and_ecg_through_the_api(world: World) -> None:
    coordinator = client_of(world.users["coordinator"])
    base = f"/api/patients/{world.p1.pk}"
    bad = _post(
        coordinator,
        f"{base}/ecg",
        {"data": {"date": "2026-01-05", "rhythm": "sinus", "heart_rate_per_min": 400}},
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["body", "payload", "data", "heart_rate_per_min"]
    ok = _post(
        coordinator,
        f"{base}/ecg",
        {
            "data": {
                "date": "2026-01-05",
                "rhythm": "sinus",
                "heart_rate_per_min": 64,
                "qtcf_ms": 430,
            }
        },
    )
    assert ok.status_code == 201 and ok.json()["qtcf_ms"] == 430
    row = ok.json()
    stale = {
        "version": 9,
        "data": {**{k: row[k] for k in ("date", "rhythm", "heart_rate_per_min")}},
        "reason": "x",
    }
    assert (
        coordinator.put(f"{base}/ecg/{row['id']}", json.dumps(stale), content_type=JSON).status_code
        == 409
    )
    gone = coordinator.delete(f"{base}/ecg/{row['id']}?version=1&reason=wrong+patient")
    assert gone.status_code == 204 and coordinator.get(f"{base}/ecg").json() == []
