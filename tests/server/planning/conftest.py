"""A patient ready for his first RFA session with eight liver lesions, at two sites.

Dates are relative to the real today, since the services (like ``record_event``) work as of today:
induction cycles 50 and 36 days ago, a partial response 20 days ago, passing labs yesterday.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pytest

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import audited
from rfatrial.server.study.services import ensure_site, record_event, register_patient

# The same users, cycles and labs as the web pages' tests.
from tests.server.web.conftest import ADMIN, cycle, labs, make_user

# L1 (13 mm) ... L8 (34 mm): eight lesions fit in two sessions of four, the largest first.
SIZES = {f"L{k}": 10.0 + 3 * k for k in range(1, 9)}
SEGMENTS = ["S2", "S3", "S4a", "S4b", "S5", "S6", "S7", "S8"]


def day(offset: int) -> date:
    return date.today() + timedelta(days=offset)


def iso(offset: int) -> str:
    return day(offset).isoformat()


def measured(shrink: float, **override: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for (k, v), segment in zip(SIZES.items(), SEGMENTS, strict=True):
        item: dict[str, Any] = {
            "lesion_id": k,
            "segment": segment,
            "diameter_mm": round(v * shrink, 1),
            "us_visible": True,
            "distance_to_vessel_mm": 12.0,
            "distance_to_critical_mm": 15.0,
            "margin_achievable_mm": 10.0,
        }
        item.update(override.get(k, {}))
        out.append(item)
    return out


def rfa(offset: int, lesions: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "type": "rfa_session",
        "date": iso(offset),
        "lesions": [{"lesion_id": x, "technical_success": True, "margin_mm": 8} for x in lesions],
        **extra,
    }


def ready_patient(site: m.Site, study_id: str, **override: dict[str, Any]) -> m.Patient:
    """An experimental patient after induction and a partial response, labs passing yesterday."""
    p = register_patient(site, study_id, sex="M", age_at_screening=64, actor=ADMIN)
    events = [
        {
            "type": "screening",
            "date": iso(-60),
            "consent_date": iso(-60),
            "eligible": True,
            "liver_lesion_count": len(SIZES),
        },
        {
            "type": "imaging",
            "date": iso(-60),
            "modality": "CT",
            "purpose": "baseline",
            "lesions": measured(1.0),
        },
        {"type": "randomization", "date": iso(-57), "arm": "experimental"},
        cycle(-50),
        cycle(-36),
        {
            "type": "imaging",
            "date": iso(-20),
            "modality": "CT",
            "purpose": "response",
            "lesions": measured(0.8, **override),
        },
        labs(-1),
    ]
    for e in events:
        record_event(p, e, actor=ADMIN)
    return p


@dataclass
class PlanningStudy:
    site_a: m.Site
    site_b: m.Site
    patient_a: m.Patient
    patient_b: m.Patient
    investigator: Any  # site A
    coordinator: Any  # site A
    monitor: Any  # site A, read-only
    investigator_b: Any  # site B only


def build_planning_study() -> PlanningStudy:
    with audited(ADMIN, "sites opened") as audit:
        a = ensure_site(audit, "SA", "Site A")
        b = ensure_site(audit, "SB", "Site B")
    return PlanningStudy(
        a,
        b,
        ready_patient(a, "SA-101"),
        ready_patient(b, "SB-101"),
        make_user("investigator_a", {"SA": ["investigator"]}),
        make_user("coordinator_a", {"SA": ["coordinator"]}),
        make_user("monitor_a", {"SA": ["monitor"]}),
        make_user("investigator_b", {"SB": ["investigator"]}),
    )


@pytest.fixture
def planning(db: None) -> PlanningStudy:
    return build_planning_study()
