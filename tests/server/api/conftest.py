"""The REST API's fixtures: two sites, one user per role at the first, patients screened."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import Client

from rfatrial.server.api.auth import create_token
from rfatrial.server.api.randomize import open_study
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited
from rfatrial.server.study.services import ensure_site, grant_role, record_event, register_patient

ADMIN = Actor("setup")
ROLES = [r.value for r in m.Role]


def day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


def screening(offset: int = -10, *, eligible: bool = True, lesions: int = 4) -> dict[str, Any]:
    return {
        "type": "screening",
        "date": day(offset),
        "consent_date": day(offset),
        "eligible": eligible,
        "liver_lesion_count": lesions,
        "ras_status": "wild_type",
    }


def adverse_event(offset: int = -2, **extra: Any) -> dict[str, Any]:
    return {"type": "adverse_event", "date": day(offset), "term": "Nausea", "grade": 1, **extra}


def new_user(name: str) -> Any:
    user = get_user_model().objects.create_user(name)  # no password: logged in by the tests
    return user


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bearer(user: Any) -> Client:
    _, raw = create_token(user, "script")
    return Client(headers={"authorization": f"Bearer {raw}"})


@dataclass
class World:
    s1: m.Site
    s2: m.Site
    users: dict[str, Any]  # role -> a user holding only that role at S01
    other: Any  # an investigator of S02
    p1: m.Patient  # S01, screened, one adverse event
    p2: m.Patient  # S02, screened, one adverse event


def make_world(*, open_the_study: bool = True) -> World:
    with audited(ADMIN, "sites opened") as audit:
        s1, s2 = ensure_site(audit, "S01", "Hospital A"), ensure_site(audit, "S02", "Hospital B")
    users = {}
    for role in ROLES:
        users[role] = new_user(f"{role}1")
        grant_role(users[role], s1, role, actor=ADMIN)
    other = new_user("investigator2")
    grant_role(other, s2, "investigator", actor=ADMIN)
    patients = []
    for site, sid in ((s1, "S01-001"), (s2, "S02-001")):
        p = register_patient(site, sid, sex="F", age_at_screening=61, actor=ADMIN)
        record_event(p, screening(), actor=ADMIN)
        record_event(p, adverse_event(), actor=ADMIN)
        patients.append(p)
    if open_the_study:
        open_study(2026, actor=ADMIN, slots_per_stratum=12)
    return World(s1, s2, users, other, patients[0], patients[1])


@pytest.fixture
def world(db: Any) -> World:
    return make_world()
