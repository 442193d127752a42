"""Every kind of record of a patient that a query, a signature or a lock may refer to.

The events of the kernel's history (``lab_panel``, ``imaging``, ...: found by their ``seq``, as the
API names them) and the server's own records (``vital_signs``, ``ecg``: found by their id).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from django.utils.translation import gettext_noop

from rfatrial.server.study import models as m
from rfatrial.server.study.convert import EVENT_TYPES
from rfatrial.server.web.summaries import KIND_NAMES

__all__ = [
    "KIND_LABELS",
    "RECORD_KINDS",
    "PatientRecord",
    "RecordNotFoundError",
    "find_record",
    "model_label",
    "patient_records",
    "record_ref",
]

RECORD_KINDS: dict[str, type[m.StudyRecord]] = {
    **{kind: spec.model for kind, spec in EVENT_TYPES.items()},
    m.VitalSigns.kind: m.VitalSigns,
    m.Ecg.kind: m.Ecg,
}
KIND_OF_LABEL = {model._meta.label_lower: kind for kind, model in RECORD_KINDS.items()}

KIND_LABELS = {**KIND_NAMES, "vital_signs": gettext_noop("Vital signs"), "ecg": gettext_noop("ECG")}


class RecordNotFoundError(LookupError):
    """No record of that kind and number for the patient."""


def model_label(obj: m.StudyRecord) -> str:
    """The record's table as ``app.model`` (``study.labpanel``)."""
    return obj._meta.label_lower


def record_ref(obj: m.StudyRecord) -> int:
    """The record's number as the API names it: ``seq`` for an event, the id otherwise."""
    return int(obj.seq) if isinstance(obj, m.EventRecord) else int(obj.pk)


def find_record(patient: m.Patient, kind: str, ref: int) -> m.StudyRecord:
    """The patient's record of ``kind`` numbered ``ref`` (:class:`RecordNotFoundError`)."""
    model = RECORD_KINDS.get(kind)
    if model is None:
        raise RecordNotFoundError(
            f"'{kind}' is not a kind of record (one of {', '.join(RECORD_KINDS)})"
        )
    key = "seq" if issubclass(model, m.EventRecord) else "pk"
    obj = model._default_manager.filter(patient=patient, **{key: ref}).first()
    if obj is None:
        raise RecordNotFoundError(f"no {kind} record {ref} for this patient")
    return obj


@dataclass(frozen=True, slots=True)
class PatientRecord:
    kind: str
    ref: int
    row: m.StudyRecord
    date: date

    @property
    def label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


def patient_records(patient: m.Patient) -> list[PatientRecord]:
    """Every record of the patient, by date (events in history order within a day)."""
    out: list[PatientRecord] = []
    for kind, model in RECORD_KINDS.items():
        for row in model._default_manager.filter(patient=patient):
            out.append(PatientRecord(kind, record_ref(row), row, row.date))
    out.sort(key=lambda r: (r.date, 0 if isinstance(r.row, m.EventRecord) else 1, r.ref))
    return out
