"""Shared steps of the monitoring tests."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor
from rfatrial.server.study.services import record_event

SITE_TEAM = Actor("a coordinator")
MONITOR = Actor("a monitor")
LAB_UNITS = {
    "platelets": ("10^9/L", 180),
    "neutrophils": ("10^9/L", 3.2),
    "hemoglobin": ("g/dL", 12.5),
    "inr": ("ratio", 1.05),
    "bilirubin": ("µmol/L", 12),
    "alt": ("U/L", 32),
    "ast": ("U/L", 30),
    "albumin": ("g/L", 41),
    "creatinine": ("µmol/L", 78),
}


def day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


def labs(offset: int = -3, *, leave_out: tuple[str, ...] = (), **values: float) -> dict[str, Any]:
    results = [
        {"analyte": a, "value": values.get(a, v), "unit": u}
        for a, (u, v) in LAB_UNITS.items()
        if a not in leave_out
    ]
    return {"type": "lab_panel", "date": day(offset), "results": results}


def adverse_event(offset: int = -2, **extra: Any) -> dict[str, Any]:
    return {"type": "adverse_event", "date": day(offset), "term": "Nausea", "grade": 1, **extra}


def record(patient: m.Patient, event: dict[str, Any], **kwargs: Any) -> m.EventRecord:
    row = record_event(patient, event, actor=SITE_TEAM, **kwargs).row
    assert row is not None
    return row


def roles_of(role: str) -> set[str]:
    return {role}
