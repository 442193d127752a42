"""Edit checks: after each clinical write, automatic queries are opened for what the data lacks
or what looks wrong, and closed by the system once the data is corrected.

The checks are data (``data/edit_checks.toml``), validated when the server starts
(:func:`edit_checks`): *missing* values (a lab-gate analyte not reported on a gate panel, a lesion
without a diameter), values *out of* a plausible *range* (labs in any unit the kernel converts,
vital signs, ECG intervals), and records *out of* the protocol's *window* (the engine's own
deviations, so the window is the protocol's). Each finding has a key (check, record, field): a
finding with no open query opens one; an open automatic query whose finding is gone is closed with
a system message. A query that a monitor closed by hand is not re-opened by the same finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from functools import cache
from importlib import resources
from typing import Annotated, Literal

from django.utils import timezone
from pydantic import BaseModel, ConfigDict, Field, model_validator

from rfatrial.kernel import units
from rfatrial.kernel._data_file import load_model
from rfatrial.kernel.history import LabPanel
from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.server.monitoring.models import Query, QueryStatus
from rfatrial.server.monitoring.queries import SYSTEM_AUTHOR, add_message, create_query
from rfatrial.server.monitoring.records import KIND_LABELS, RECORD_KINDS, model_label
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Audit
from rfatrial.server.study.convert import StoredEvent, read_events

__all__ = ["EditCheckError", "EditChecks", "Finding", "edit_checks", "find", "run_edit_checks"]

CLOSED_TEXT = "The data was corrected: the edit check no longer finds this. Closed by the system."


class EditCheckError(ValueError):
    """The edit checks file breaks its format."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _Check(_Model):
    id: Annotated[str, Field(pattern=r"^[a-z0-9-]{1,48}$")]
    message: Annotated[str, Field(min_length=1, max_length=300)]


class MissingAnalytes(_Check):
    record: Literal["lab_panel"]
    analytes: Literal["lab_gate"]
    only_when: Literal["rfa_preparation"] | None = None


class MissingValue(_Check):
    record: Literal["imaging"]
    list: Literal["lesions", "new_lesions"]
    field: Literal["diameter_mm", "segment"]
    unless: Literal["too_small_to_measure"] | None = None
    only_organ: str | None = None


class Range(_Model):
    analyte: str | None = None
    field: str | None = None
    unit: Annotated[str, Field(min_length=1)]
    low: float
    high: float

    @model_validator(mode="after")
    def _sound(self) -> Range:
        if (self.analyte is None) == (self.field is None):
            raise ValueError("give exactly one of 'analyte' (labs) or 'field' (other records)")
        if self.low >= self.high:
            raise ValueError(f"low ({self.low}) must be below high ({self.high})")
        if self.analyte is not None:
            units.normalize_unit(units.normalize_analyte(self.analyte), self.unit)
        return self


class OutOfRange(_Check):
    record: Literal["lab_panel", "vital_signs", "ecg"]
    ranges: Annotated[list[Range], Field(min_length=1)]

    @model_validator(mode="after")
    def _fields_exist(self) -> OutOfRange:
        model = RECORD_KINDS[self.record]
        names = {f.name for f in model._meta.concrete_fields}
        for r in self.ranges:
            if self.record == "lab_panel" and r.analyte is None:
                raise ValueError("a lab range names its 'analyte'")
            if self.record != "lab_panel" and (r.field is None or r.field not in names):
                raise ValueError(f"'{r.field}' is not a field of {self.record} records")
        return self


class OutOfWindow(_Check):
    deviations: Annotated[list[str], Field(min_length=1)]


class EditChecks(_Model):
    version: int
    missing_analytes: list[MissingAnalytes] = []
    missing_value: list[MissingValue] = []
    out_of_range: list[OutOfRange] = []
    out_of_window: list[OutOfWindow] = []

    @model_validator(mode="after")
    def _unique_ids(self) -> EditChecks:
        ids = [
            c.id
            for group in (
                self.missing_analytes,
                self.missing_value,
                self.out_of_range,
                self.out_of_window,
            )
            for c in group
        ]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"check ids must be unique; repeated: {dupes}")
        return self


@cache
def edit_checks() -> EditChecks:
    """The package's edit checks, validated (:class:`EditCheckError` names each bad key)."""
    path = resources.files("rfatrial.server.monitoring") / "data" / "edit_checks.toml"
    return load_model(EditChecks, str(path), error=EditCheckError)


@dataclass(frozen=True, slots=True)
class Finding:
    """What one check found on one record (or field of it)."""

    check_id: str
    record: m.StudyRecord
    field: str
    text: str

    @property
    def key(self) -> str:
        return f"{self.check_id}|{model_label(self.record)}|{self.record.pk}|{self.field}"


def _fmt(value: float) -> str:
    return f"{value:g}"


def _gate_analytes(protocol: Protocol) -> list[str]:
    return [c.analyte for c in protocol.lab_gate.criteria if hasattr(c, "analyte")]


def _gate_panels(stored: list[StoredEvent], phase: str | None, protocol: Protocol) -> set[int]:
    """The seqs of the lab panels that are pre-RFA gate panels."""
    fresh = timedelta(days=protocol.lab_gate.freshness_days)
    sessions = [s.event.date for s in stored if s.kind == "rfa_session"]
    panels = [s for s in stored if s.kind == "lab_panel"]
    out = {
        s.row.seq
        for s in panels
        if any(timedelta(0) <= d - s.event.date <= fresh for d in sessions)
    }
    if phase == "rfa_preparation" and panels:
        last = panels[-1]
        if not any(d >= last.event.date for d in sessions):
            out.add(last.row.seq)
    return out


def _analyte(name: str) -> str:
    try:
        return units.normalize_analyte(name)
    except ValueError:
        return name.strip().lower()


def find(
    patient: m.Patient,
    *,
    checks: EditChecks | None = None,
    stored: list[StoredEvent] | None = None,
    protocol: Protocol | None = None,
) -> list[Finding]:
    """Everything the edit checks find in the patient's records now."""
    checks = checks or edit_checks()
    stored = read_events(patient) if stored is None else stored
    protocol = protocol or default_protocol()
    state = m.PatientState.objects.filter(patient=patient).only("phase").first()
    findings: list[Finding] = []

    for ma in checks.missing_analytes:
        wanted = _gate_analytes(protocol)
        gate = _gate_panels(stored, state.phase if state else None, protocol)
        for s in stored:
            if s.kind != ma.record or (ma.only_when and s.row.seq not in gate):
                continue
            assert isinstance(s.event, LabPanel)
            have = {_analyte(r.analyte) for r in s.event.results}
            for analyte in wanted:
                if analyte not in have:
                    text = ma.message.format(analyte=analyte)
                    findings.append(Finding(ma.id, s.row, f"results.{analyte}", text))

    for mv in checks.missing_value:
        for s in stored:
            if s.kind != mv.record:
                continue
            for item in getattr(s.event, mv.list):
                if mv.only_organ and item.organ != mv.only_organ:
                    continue
                if getattr(item, mv.field) is None and not (mv.unless and getattr(item, mv.unless)):
                    text = mv.message.format(item=item.lesion_id)
                    field = f"{mv.list}.{item.lesion_id}.{mv.field}"
                    findings.append(Finding(mv.id, s.row, field, text))

    for rc in checks.out_of_range:
        if rc.record == "lab_panel":
            findings += _lab_ranges(rc, stored)
        else:
            model = RECORD_KINDS[rc.record]
            for row in model._default_manager.filter(patient=patient).order_by("pk"):
                for r in rc.ranges:
                    assert r.field is not None
                    value = getattr(row, r.field)
                    if value is not None and not r.low <= value <= r.high:
                        label = model._meta.get_field(r.field).verbose_name
                        text = _range_text(rc, str(label), value, r)
                        findings.append(Finding(rc.id, row, r.field, text))

    by_seq = {s.row.seq: s for s in stored}
    for ow in checks.out_of_window:
        deviations = m.Deviation.objects.filter(
            patient=patient, code__in=ow.deviations, event_seq__isnull=False
        ).order_by("position")
        for d in deviations:
            source = by_seq.get(d.event_seq) if d.event_seq is not None else None
            if source is not None:
                text = ow.message.format(description=d.description)
                findings.append(Finding(ow.id, source.row, f"date.{d.code}", text))
    return findings


def _range_text(check: OutOfRange, label: str, value: float, r: Range) -> str:
    return check.message.format(
        label=label[:1].upper() + label[1:],
        value=_fmt(value),
        unit=r.unit,
        low=_fmt(r.low),
        high=_fmt(r.high),
    )


def _lab_ranges(check: OutOfRange, stored: list[StoredEvent]) -> list[Finding]:
    ranges = {_analyte(r.analyte): r for r in check.ranges if r.analyte}
    out = []
    for s in stored:
        if not isinstance(s.event, LabPanel):
            continue
        for result in s.event.results:
            analyte = _analyte(result.analyte)
            r = ranges.get(analyte)
            if r is None:
                continue
            try:
                value = units.convert(analyte, result.value, result.unit, r.unit)
            except ValueError:
                continue  # a unit the kernel cannot convert was refused at entry already
            if not r.low <= value <= r.high:
                text = _range_text(
                    check, analyte.upper() if len(analyte) <= 3 else analyte, value, r
                )
                out.append(Finding(check.id, s.row, f"results.{analyte}", text))
    return out


@dataclass(frozen=True, slots=True)
class EditCheckRun:
    opened: list[Query]
    closed: list[Query]


def run_edit_checks(
    audit: Audit,
    patient: m.Patient,
    *,
    stored: list[StoredEvent] | None = None,
    protocol: Protocol | None = None,
) -> EditCheckRun:
    """Open and close the patient's automatic queries after a write (inside the write's audit)."""
    findings = find(patient, stored=stored, protocol=protocol)
    latest: dict[str, Query] = {}
    for q in Query.objects.filter(patient=patient, automatic=True).order_by("pk"):
        latest[q.key] = q
    opened, closed = [], []
    keys = set()
    for f in findings:
        keys.add(f.key)
        q = latest.get(f.key)
        if q is None or (q.status == QueryStatus.CLOSED and q.closed_by == SYSTEM_AUTHOR):
            subject = f"{KIND_LABELS.get(_kind(f.record), '')}: {f.text}"
            opened.append(
                create_query(
                    audit,
                    f.record,
                    subject=subject,
                    text=f.text,
                    author=SYSTEM_AUTHOR,
                    field=f.field,
                    automatic=True,
                    check_id=f.check_id,
                    key=f.key,
                )
            )
            latest[f.key] = opened[-1]
    for key, q in latest.items():
        if key not in keys and q.status != QueryStatus.CLOSED:
            audit.update(
                q,
                reason="edit check: the data was corrected",
                status=QueryStatus.CLOSED,
                closed_by=SYSTEM_AUTHOR,
                updated_at=timezone.now(),
            )
            add_message(audit, q, SYSTEM_AUTHOR, "close", CLOSED_TEXT)
            closed.append(q)
    return EditCheckRun(opened, closed)


def _kind(record: m.StudyRecord) -> str:
    for kind, model in RECORD_KINDS.items():
        if isinstance(record, model):
            return kind
    return ""
