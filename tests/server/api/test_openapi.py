"""The OpenAPI document lists every status code each operation answers, and the operations answer
nothing else: each is called without credentials, and with an empty body by a reader, an
administrator and an investigator."""

from __future__ import annotations

import re
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client

from rfatrial.server.api.models import StudySettings
from rfatrial.server.study import models as m
from tests.server.api.conftest import World, bearer


def _fill(path: str, world: World) -> str:
    ae = m.AdverseEvent.objects.filter(patient=world.p1).first()
    assert ae is not None
    values = {"patient_id": world.p1.pk, "seq": ae.seq, "code": "S01", "token_id": 1, "role_id": 1}
    values |= {"query_id": 1, "record_id": 1}  # data queries, vital signs and ECG
    values |= {"plan_id": 1}  # session plans
    return re.sub(r"\{(\w+)\}", lambda g: str(values[g.group(1)]), path)


def test_every_operation_answers_only_documented_codes(world: World) -> None:
    doc = Client().get("/api/openapi.json")
    assert doc.status_code == 200
    paths: dict[str, Any] = doc.json()["paths"]
    assert len(paths) >= 30
    kinds = ["screening", "adverse_event", "lab_panel", "rfa_session", "imaging", "death"]
    assert all(f"/api/patients/{{patient_id}}/records/{k}" in paths for k in kinds)
    clients = {"anonymous": Client()} | {
        role: bearer(world.users[role]) for role in ("statistician", "administrator")
    }
    clients["investigator"] = bearer(world.users["investigator"])  # writes last
    seen = 0
    for who, client in clients.items():
        for path, operations in paths.items():
            url = _fill(path, world)
            for method, op in operations.items():
                documented = {int(code) for code in op["responses"]}
                assert {401, 200 if method == "get" else 422} & documented, path
                if method in ("post", "put"):
                    response = getattr(client, method)(url, "{}", "application/json")
                else:
                    response = getattr(client, method)(url)
                assert response.status_code in documented, (who, method, path, response.content)
                seen += 1
    assert seen > 150


def test_a_body_that_is_not_json_is_a_documented_400(world: World) -> None:
    paths: dict[str, Any] = Client().get("/api/openapi.json").json()["paths"]
    client = bearer(world.users["investigator"])
    tried = 0
    for path, operations in paths.items():
        for method, op in operations.items():
            if "requestBody" not in op:
                continue
            assert "400" in op["responses"], (method, path)
            response = getattr(client, method)(_fill(path, world), "{not json", "application/json")
            assert response.status_code in {int(c) for c in op["responses"]}, (method, path)
            tried += 1
    assert tried > 20
    response = client.post(
        _fill("/api/patients/{patient_id}/records/lab_panel", world), "{", "application/json"
    )
    assert response.status_code == 400 and response.json()["detail"]


@pytest.mark.django_db
def test_the_study_opens_once_from_the_command_line() -> None:
    out = StringIO()
    call_command("open_study", "99", "--slots-per-stratum", "4", stdout=out)
    assert "seed recorded" in out.getvalue() and StudySettings.objects.get().seed == 99
    with pytest.raises(Exception, match="already open"):
        call_command("open_study", "100")
