"""Vital signs and ECG: recorded, corrected and deleted through the audit trail.

They are the server's own records (not events of the kernel's history, so the engine does not
read them). Each value is checked against the impossible limits of ``data/vital_limits.toml``
(:class:`~rfatrial.server.study.services.EventError` naming the field otherwise); an unusual but
possible value is recorded and queried by the edit checks. A locked record refuses a change, and
a change voids the record's signature, as for every other record.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from datetime import date
from functools import cache
from importlib import resources
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from rfatrial.kernel.protocol import format_validation_error
from rfatrial.server.monitoring.edit_checks import run_edit_checks
from rfatrial.server.monitoring.signing import check_unlocked, void_signatures
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited
from rfatrial.server.study.services import EventError

__all__ = [
    "ECG_FIELDS",
    "VITAL_FIELDS",
    "EcgIn",
    "VitalSignsIn",
    "amend_record",
    "delete_record",
    "limits",
    "record",
    "validate",
]


class VitalSignsIn(BaseModel):
    """Vital signs as entered: every measurement optional, at least one given."""

    model_config = ConfigDict(extra="forbid")
    date: date
    systolic_bp_mmhg: int | None = None
    diastolic_bp_mmhg: int | None = None
    heart_rate_per_min: int | None = None
    temperature_c: float | None = None
    weight_kg: float | None = None
    height_cm: float | None = None
    spo2_percent: int | None = None


class EcgIn(BaseModel):
    """An ECG as entered: rhythm and rate required, intervals optional."""

    model_config = ConfigDict(extra="forbid")
    date: date
    rhythm: str
    heart_rate_per_min: int
    qtcf_ms: int | None = None
    pr_ms: int | None = None
    qrs_ms: int | None = None
    clinically_significant: bool = False
    abnormality: str = ""


MODELS: dict[str, tuple[type[m.StudyRecord], type[BaseModel]]] = {
    "vital_signs": (m.VitalSigns, VitalSignsIn),
    "ecg": (m.Ecg, EcgIn),
}
VITAL_FIELDS = [f for f in VitalSignsIn.model_fields if f != "date"]
ECG_FIELDS = [f for f in EcgIn.model_fields if f != "date"]
RHYTHMS = [value for value, _ in m.ECG_RHYTHMS]


@cache
def limits() -> dict[str, dict[str, dict[str, Any]]]:
    """The impossible limits by kind and field (``low``, ``high``, ``unit``)."""
    path = resources.files("rfatrial.server.monitoring") / "data" / "vital_limits.toml"
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    for kind, fields in data.items():
        model_fields = MODELS[kind][1].model_fields
        for name, rule in fields.items():
            if name not in model_fields or set(rule) != {"low", "high", "unit"}:
                raise ValueError(f"{path}: {kind}.{name}: not a field with low, high and unit")
    return data


def _fail(kind: str, problems: list[str]) -> EventError:
    return EventError(
        f"{kind}: {len(problems)} problem(s)\n" + "\n".join(f"  {p}" for p in problems)
    )


def validate(kind: str, data: Mapping[str, Any], today: date) -> dict[str, Any]:
    """The record's values, checked (:class:`EventError` with one ``field: problem`` line each)."""
    _, schema = MODELS[kind]
    try:
        values = schema.model_validate(dict(data)).model_dump()
    except ValidationError as exc:
        raise EventError(format_validation_error(exc, source=kind)) from None
    problems = []
    if values["date"] > today:
        problems.append(f"date: {values['date']} is after today ({today})")
    for name, rule in limits().get(kind, {}).items():
        value = values.get(name)
        if value is not None and not rule["low"] <= value <= rule["high"]:
            problems.append(
                f"{name}: {value:g} {rule['unit']} is impossible (allowed {rule['low']:g} to"
                f" {rule['high']:g} {rule['unit']})"
            )
    if kind == "vital_signs":
        if all(values[f] is None for f in VITAL_FIELDS):
            problems.append("(top level): give at least one measurement")
        sys, dia = values["systolic_bp_mmhg"], values["diastolic_bp_mmhg"]
        if sys is not None and dia is not None and dia >= sys:
            problems.append(f"diastolic_bp_mmhg: {dia} must be below the systolic pressure ({sys})")
    else:
        if values["rhythm"] not in RHYTHMS:
            problems.append(f"rhythm: '{values['rhythm']}' is not one of {', '.join(RHYTHMS)}")
        values["abnormality"] = (values["abnormality"] or "").strip()
        if values["clinically_significant"] and not values["abnormality"]:
            problems.append("abnormality: describe the clinically significant abnormality")
    if problems:
        raise _fail(kind, problems)
    return values


def record(
    patient: m.Patient,
    kind: str,
    data: Mapping[str, Any],
    *,
    actor: Actor,
    today: date | None = None,
) -> m.StudyRecord:
    """Record vital signs (``kind`` "vital_signs") or an ECG ("ecg") for the patient."""
    values = validate(kind, data, today or date.today())
    model, _ = MODELS[kind]
    with audited(actor) as audit:
        row = audit.create(model, patient=patient, **values)
        run_edit_checks(audit, patient)
    return row


def amend_record(
    row: m.StudyRecord,
    data: Mapping[str, Any],
    *,
    expected_version: int,
    actor: Actor,
    reason: str,
    today: date | None = None,
) -> m.StudyRecord:
    """Correct a vital signs or ECG record read at ``expected_version``, with a reason."""
    kind = type(row).kind
    values = validate(kind, data, today or date.today())
    with audited(actor, reason) as audit:
        row = type(row)._default_manager.select_for_update().get(pk=row.pk)
        audit.check_version(row, expected_version)
        check_unlocked(row)
        if audit.update(row, expected_version=expected_version, **values):
            void_signatures(audit, row, reason=reason)
        run_edit_checks(audit, row.patient)
    return row


def delete_record(row: m.StudyRecord, *, expected_version: int, actor: Actor, reason: str) -> None:
    """Delete a vital signs or ECG record entered in error (version read, reason)."""
    with audited(actor, reason) as audit:
        row = type(row)._default_manager.select_for_update().get(pk=row.pk)
        audit.check_version(row, expected_version)
        check_unlocked(row)
        patient = row.patient
        audit.delete(row, expected_version=expected_version)
        void_signatures(audit, row, reason=reason, deleted=True)
        run_edit_checks(audit, patient)
