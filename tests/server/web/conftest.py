"""A small study for the web pages: two sites, users with roles, patients at known points.

Dates are relative to the real today, since the pages (like ``record_event``) work as of today.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited
from rfatrial.server.study.services import ensure_site, grant_role, record_event, register_patient

ADMIN = Actor("admin")
PASSWORD = "correct horse battery"


def day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


BASELINE = {"L1": (30.0, "S7"), "L2": (24.0, "S6"), "L3": (18.0, "S2"), "L4": (15.0, "S8")}


def scan(offset: int, shrink: float = 1.0, purpose: str = "response") -> dict[str, Any]:
    return {
        "type": "imaging",
        "date": day(offset),
        "modality": "CT",
        "purpose": purpose,
        "lesions": [
            {"lesion_id": k, "diameter_mm": round(v * shrink, 1), "segment": s}
            for k, (v, s) in BASELINE.items()
        ],
    }


def cycle(offset: int) -> dict[str, Any]:
    return {
        "type": "systemic_cycle",
        "date": day(offset),
        "regimen": "FOLFOX",
        "agents": [{"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"}],
    }


def labs(offset: int, **values: float) -> dict[str, Any]:
    base = {
        "platelets": (180, "10^9/L", None),
        "neutrophils": (3.2, "10^9/L", None),
        "hemoglobin": (12.5, "g/dL", None),
        "inr": (1.05, "ratio", None),
        "bilirubin": (12, "µmol/L", 21),
        "alt": (32, "U/L", 40),
        "ast": (30, "U/L", 40),
        "albumin": (41, "g/L", None),
        "creatinine": (78, "µmol/L", 106),
    }
    results = []
    for analyte, (value, unit, uln) in base.items():
        item: dict[str, Any] = {"analyte": analyte, "value": values.get(analyte, value)}
        item["unit"] = unit
        if uln is not None:
            item["uln"] = uln
        results.append(item)
    return {
        "type": "lab_panel",
        "date": day(offset),
        "results": results,
        "ascites": "none",
        "encephalopathy": "none",
    }


def make_user(username: str, roles: dict[str, list[str]]) -> Any:
    user = get_user_model().objects.create_user(username, password=PASSWORD)
    for code, names in roles.items():
        site = m.Site.objects.get(code=code)
        for role in names:
            grant_role(user, site, role, actor=ADMIN)
    return user


def prepared_patient(site: m.Site, study_id: str) -> m.Patient:
    """An experimental patient after induction and a partial response: the first RFA session
    is being prepared and its labs are due."""
    p = register_patient(site, study_id, sex="F", age_at_screening=61, actor=ADMIN)
    events = [
        {
            "type": "screening",
            "date": day(-60),
            "consent_date": day(-60),
            "eligible": True,
            "liver_lesion_count": 4,
        },
        scan(-60, purpose="baseline"),
        {"type": "randomization", "date": day(-57), "arm": "experimental"},
        cycle(-50),
        labs(-37),
        cycle(-36),
        scan(-22, shrink=0.7),
    ]
    for e in events:
        record_event(p, e, actor=ADMIN)
    return p


@dataclass
class Study:
    site_a: m.Site
    site_b: m.Site
    patient_a: m.Patient
    patient_b: m.Patient
    coordinator: Any  # site A only
    monitor: Any  # sites A and B, read-only
    coordinator_b: Any  # site B only


def build_study() -> Study:
    with audited(ADMIN, "sites opened") as audit:
        a = ensure_site(audit, "SA", "Site A")
        b = ensure_site(audit, "SB", "Site B")
    return Study(
        a,
        b,
        prepared_patient(a, "SA-001"),
        prepared_patient(b, "SB-001"),
        make_user("coord_a", {"SA": ["coordinator"]}),
        make_user("monitor_ab", {"SA": ["monitor"], "SB": ["monitor"]}),
        make_user("coord_b", {"SB": ["coordinator"]}),
    )


@pytest.fixture
def study(db: None) -> Study:
    return build_study()


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    from django.core.cache import cache

    cache.clear()
