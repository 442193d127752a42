"""``GET /api/sites/{code}/worklist``: the engine's next actions of a site's patients, by target
date; pseudonymized for a statistician; another site's worklist does not exist for a reader. Also
the two things a busy server needs: ``/api/health`` and a token that does not write at each call."""

from __future__ import annotations

from typing import Any

from rfatrial.server.study import models as m
from tests.server.api.conftest import World, bearer


def test_the_worklist_lists_every_action_of_the_site_by_target_date(world: World) -> None:
    actions = m.NextAction.objects.filter(patient__site=world.s1)
    assert actions.exists()
    response = bearer(world.users["coordinator"]).get("/api/sites/S01/worklist")
    assert response.status_code == 200
    rows: list[dict[str, Any]] = response.json()
    assert len(rows) == actions.count()
    assert [r["target"] for r in rows] == sorted(r["target"] for r in rows)
    first = actions.order_by("target", "position").first()
    assert first is not None
    assert rows[0]["patient_id"] == first.patient_id and rows[0]["study_id"] == "S01-001"
    assert rows[0]["kind"] == first.kind and rows[0]["rule"] == first.rule
    assert {r["patient_id"] for r in rows} == {world.p1.pk}


def test_a_statistician_sees_pseudonyms_and_another_site_is_not_found(world: World) -> None:
    rows = bearer(world.users["statistician"]).get("/api/sites/S01/worklist").json()
    assert rows and all(r["study_id"].startswith("P-") for r in rows)
    assert bearer(world.users["coordinator"]).get("/api/sites/S02/worklist").status_code == 404
    assert bearer(world.other).get("/api/sites/S01/worklist").status_code == 404
    assert bearer(world.users["administrator"]).get("/api/sites/S01/worklist").status_code == 403


def test_the_health_endpoint_needs_no_sign_in(world: World) -> None:
    from django.test import Client

    response = Client().get("/api/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_a_token_records_its_last_use_to_the_minute_without_a_write_per_request(
    world: World,
) -> None:
    from datetime import timedelta

    from rfatrial.server.api.models import ApiToken

    client = bearer(world.users["monitor"])
    token = ApiToken.objects.get(user=world.users["monitor"])
    assert token.last_used_at is None
    assert client.get("/api/me").status_code == 200
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    assert client.get("/api/me").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at == first  # the second request wrote nothing
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=first - timedelta(minutes=2))
    assert client.get("/api/me").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None and token.last_used_at > first
