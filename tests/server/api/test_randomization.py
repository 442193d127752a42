"""Randomization through the API: who, when, concealed, and atomic under parallel requests."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.kernel.randomization import allocation_list, minimization_arm
from rfatrial.server.api import randomize as r
from rfatrial.server.api.models import AllocationSlot, RandomizationList, StudySettings
from rfatrial.server.study import models as m
from rfatrial.server.study.services import record_event, register_patient
from tests.server.api.conftest import ADMIN, World, bearer, client_of, make_world, screening


def randomize(client: Client, patient: m.Patient) -> Any:
    return client.post(f"/api/patients/{patient.pk}/randomize", "{}", "application/json")


def test_only_after_eligible_screening_with_consent(world: World) -> None:
    api = bearer(world.users["investigator"])
    fresh = register_patient(world.s1, "S01-002", sex="M", age_at_screening=70, actor=ADMIN)
    refused = randomize(api, fresh)
    assert refused.status_code == 409 and "no screening" in refused.json()["detail"]
    record_event(fresh, screening(eligible=False), actor=ADMIN)
    refused = randomize(api, fresh)
    assert refused.status_code == 409 and "not eligible" in refused.json()["detail"]
    done = randomize(api, world.p1)
    assert done.status_code == 201, done.content
    body = done.json()
    assert body["arm"] in ("control", "experimental")
    assert body["stratum"] == {"site": "S01", "liver_lesions": "<=5", "ras_status": "wild_type"}
    assert randomize(api, world.p1).status_code == 409  # once
    assert bearer(world.other).get(f"/api/patients/{world.p1.pk}").status_code == 404
    evaluation = api.get(f"/api/patients/{world.p1.pk}/evaluation").json()
    assert evaluation["arm"] == body["arm"] and evaluation["phase"] != "screening"
    assert r.verify_lists() == []


def test_nothing_reveals_the_next_assignment(world: World) -> None:
    paths = client_of(world.users["investigator"]).get("/api/openapi.json").json()["paths"]
    assert not [p for p in paths if re.search(r"slot|allocation|(?<!work)list", p)]
    study = StudySettings.objects.get()
    expected = {
        stratum: allocation_list(default_protocol(), seed=2026, stratum=stratum, length=12)
        for stratum in r.strata_of_study(default_protocol(), ["S01", "S02"])
    }
    from rfatrial.kernel.randomization import list_hash

    assert study.list_hash == list_hash(expected) and study.seed == 2026
    with pytest.raises(r.RandomizationError, match="already open"):
        r.open_study(1, actor=ADMIN)


def test_the_list_is_checked_against_its_seed(world: World) -> None:
    slot = AllocationSlot.objects.order_by("pk").first()
    assert slot is not None
    AllocationSlot.objects.filter(pk=slot.pk).update(
        arm="control" if slot.arm == "experimental" else "experimental"
    )
    problems = r.verify_lists()
    assert any("not the seed's list" in p for p in problems)


@pytest.mark.django_db(transaction=True)
def test_parallel_randomizations_use_each_slot_once_and_skip_none() -> None:
    world = make_world()
    patients = [
        register_patient(world.s1, f"S01-1{k:02d}", sex="F", age_at_screening=60, actor=ADMIN)
        for k in range(10)
    ]
    for p in patients:
        record_event(p, screening(), actor=ADMIN)
    token_client = bearer(world.users["investigator"])
    headers = {"authorization": token_client.defaults["HTTP_AUTHORIZATION"]}
    start = threading.Barrier(len(patients))
    results: list[Any] = [None] * len(patients)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = randomize(Client(headers=headers), patients[i]).status_code
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(patients))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [201] * len(patients)
    lst = RandomizationList.objects.get(key="site=S01|liver_lesions=<=5|ras_status=wild_type")
    used = list(lst.slots.filter(patient__isnull=False).order_by("slot"))
    assert [s.slot for s in used] == list(range(10)) and lst.next_slot == 10
    for s in used:
        assert m.Randomization.objects.get(patient_id=s.patient_id).arm == s.arm
    assert r.verify_lists() == []


def _minimization() -> Protocol:
    data = default_protocol().model_dump()
    data["randomization"]["method"] = "minimization"
    return Protocol.model_validate(data)


@pytest.mark.django_db
def test_minimization_when_the_protocol_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    protocol = _minimization()
    monkeypatch.setattr(r, "default_protocol", lambda: protocol)
    world = make_world(open_the_study=False)
    r.open_study(7, actor=ADMIN, protocol=protocol)
    assert not RandomizationList.objects.exists()
    api = bearer(world.users["investigator"])
    patients = [world.p1] + [
        register_patient(world.s1, f"S01-2{k}", sex="F", age_at_screening=60, actor=ADMIN)
        for k in range(5)
    ]
    for p in patients[1:]:
        record_event(p, screening(lesions=3 + 2 * len(p.study_id) % 5), actor=ADMIN)
    previous: list[Any] = []
    for k, p in enumerate(patients):
        body = randomize(api, p).json()
        stratum = tuple(body["stratum"].items())
        expected = minimization_arm(
            protocol, seed=7, sequence=k, stratum=stratum, previous=previous
        )
        assert body["arm"] == expected
        previous.append((stratum, body["arm"]))
