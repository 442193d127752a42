"""The kernel's history format <-> the study tables, with no loss.

:func:`history_from_db` reads a patient's records back as a :class:`PatientHistory` whose
``model_dump()`` equals the one that was stored; :func:`write_event` stores one kernel event as an
event row and its child rows (through an :class:`~rfatrial.server.study.audit.Audit`), and
:func:`store_history` stores a whole history for a new patient.

The mapping is declared once per event type (:data:`EVENT_TYPES`): the event table, the fields
copied as they are, and the lists stored as ordered child rows (:class:`ChildSpec`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from rfatrial.kernel.history import Event, PatientHistory
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Audit

__all__ = [
    "EVENT_TYPES",
    "ChildSpec",
    "EventType",
    "StoredEvent",
    "delete_event_rows",
    "event_rows",
    "history_from_db",
    "read_events",
    "replace_event",
    "store_history",
    "write_event",
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


@dataclass(frozen=True, slots=True)
class ChildSpec:
    """One list of an event stored as child rows ordered by ``position``.

    ``lesion`` names the item's lesion id key (stored as a :class:`~m.Lesion` reference);
    ``bare_lesion_ids`` is a list of lesion ids rather than objects; ``fixed`` are column values
    that tell this list apart from another stored in the same table.
    """

    attr: str
    model: type[m.StudyRecord]
    parent: str
    fields: tuple[str, ...] = ()
    lesion: bool = False
    bare_lesion_ids: bool = False
    fixed: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class EventType:
    model: type[m.EventRecord]
    fields: tuple[str, ...]
    children: tuple[ChildSpec, ...] = ()


_MEASUREMENT = (
    "organ",
    "segment",
    "diameter_mm",
    "is_node",
    "too_small_to_measure",
    "us_visible",
    "distance_to_vessel_mm",
    "distance_to_critical_mm",
    "margin_achievable_mm",
)

EVENT_TYPES: dict[str, EventType] = {
    "screening": EventType(
        m.Screening,
        (
            "consent_date",
            "eligible",
            "liver_lesion_count",
            "ras_status",
            "braf_status",
            "ecog",
            "extrahepatic_disease",
        ),
    ),
    "randomization": EventType(m.Randomization, ("arm", "stratum")),
    "systemic_cycle": EventType(
        m.SystemicCycle,
        ("regimen", "line"),
        (ChildSpec("agents", m.CycleAgent, "cycle", ("name", "dose", "unit")),),
    ),
    "imaging": EventType(
        m.ImagingAssessment,
        ("modality", "purpose", "non_target_progression", "extrahepatic_progression", "visit_id"),
        (
            ChildSpec(
                "lesions",
                m.LesionMeasurement,
                "imaging",
                _MEASUREMENT,
                True,
                fixed={"is_new": False},
            ),
            ChildSpec(
                "new_lesions",
                m.LesionMeasurement,
                "imaging",
                _MEASUREMENT,
                True,
                fixed={"is_new": True},
            ),
            ChildSpec("local_progression", m.LocalProgression, "imaging", bare_lesion_ids=True),
        ),
    ),
    "lab_panel": EventType(
        m.LabPanel,
        ("ascites", "encephalopathy"),
        (ChildSpec("results", m.LabResult, "panel", ("analyte", "value", "unit", "lln", "uln")),),
    ),
    "rfa_session": EventType(
        m.RfaSession,
        ("justification",),
        (
            ChildSpec(
                "lesions",
                m.AblationRecord,
                "session",
                ("technical_success", "margin_mm", "electrode", "power_w", "time_min"),
                True,
            ),
            ChildSpec(
                "complications",
                m.RfaComplication,
                "session",
                ("description", "cirse_grade", "clavien_dindo", "onset_date"),
            ),
        ),
    ),
    "post_rfa_scan": EventType(
        m.PostRfaScan,
        ("modality", "extrahepatic_progression"),
        (
            ChildSpec("results", m.PostRfaResult, "scan", ("outcome",), True),
            ChildSpec(
                "new_lesions",
                m.LesionMeasurement,
                "post_rfa_scan",
                _MEASUREMENT,
                True,
                fixed={"is_new": True},
            ),
        ),
    ),
    "follow_up_visit": EventType(m.FollowUpVisit, ("visit_id", "components")),
    "adverse_event": EventType(
        m.AdverseEvent, ("term", "grade", "serious", "related_to", "end_date", "outcome")
    ),
    "withdrawal": EventType(m.Withdrawal, ("reason", "initiated_by")),
    "death": EventType(m.Death, ("cause",)),
    "lost_to_follow_up": EventType(m.LostToFollowUp, ()),
}

KIND_OF_MODEL: dict[type[m.EventRecord], str] = {t.model: k for k, t in EVENT_TYPES.items()}


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One stored event: its row (``seq``, ``version``, ``justification``) and the kernel event."""

    kind: str
    row: m.EventRecord
    event: Event


class _Lesions:
    """The patient's lesions by label, created on first reference."""

    def __init__(self, audit: Audit, patient: m.Patient) -> None:
        self.audit, self.patient = audit, patient
        self.by_label = {x.label: x for x in m.Lesion.objects.filter(patient=patient)}

    def get(self, label: str) -> m.Lesion:
        lesion = self.by_label.get(label)
        if lesion is None:
            lesion = self.audit.create(m.Lesion, patient=self.patient, label=label)
            self.by_label[label] = lesion
        return lesion


def _child_values(spec: ChildSpec, item: Any, lesions: _Lesions) -> dict[str, Any]:
    if spec.bare_lesion_ids:
        return {"lesion": lesions.get(item)}
    values = {name: item[name] for name in spec.fields}
    if spec.lesion:
        values["lesion"] = lesions.get(item["lesion_id"])
    return values


def event_rows(event: Event) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """The event's own fields (with its date) and its lists, as plain values."""
    data = event.model_dump()
    spec = EVENT_TYPES[event.type]
    head = {"date": data["date"], **{name: data[name] for name in spec.fields}}
    return head, {c.attr: data[c.attr] for c in spec.children}


def write_event(
    audit: Audit,
    patient: m.Patient,
    seq: int,
    event: Event,
    *,
    justification: str | None = None,
    lesions: _Lesions | None = None,
) -> m.EventRecord:
    """Store one event as the patient's ``seq``-th (its row and its child rows)."""
    lesions = lesions or _Lesions(audit, patient)
    spec = EVENT_TYPES[event.type]
    head, lists = event_rows(event)
    if "justification" not in spec.fields:
        head["justification"] = justification
    row = audit.create(spec.model, patient=patient, seq=seq, **head)
    for child in spec.children:
        audit.create_many(
            child.model,
            [
                {child.parent: row, "position": position, **child.fixed}
                | _child_values(child, item, lesions)
                for position, item in enumerate(lists[child.attr])
            ],
        )
    return row


def replace_event(
    audit: Audit,
    stored: StoredEvent,
    event: Event,
    *,
    expected_version: int,
    reason: str,
    justification: str | None = None,
) -> m.EventRecord:
    """Make the stored event say ``event`` (same type): changed fields and child rows only."""
    spec = EVENT_TYPES[event.type]
    row = stored.row
    head, lists = event_rows(event)
    if "justification" not in spec.fields:
        head["justification"] = justification
    lesions = _Lesions(audit, row.patient)
    changed = audit.update(row, reason=reason, expected_version=expected_version, **head)
    for child in spec.children:
        old = list(
            child.model._default_manager.filter(**{child.parent: row}, **child.fixed).order_by(
                "position"
            )
        )
        new = [_child_values(child, item, lesions) for item in lists[child.attr]]
        for position, values in enumerate(new):
            if position < len(old):
                changed |= audit.update(old[position], reason=reason, **values)
            else:
                audit.create(
                    child.model, **{child.parent: row}, position=position, **child.fixed, **values
                )
                changed = True
        for extra in old[len(new) :]:
            audit.delete(extra, reason=reason)
            changed = True
    if changed and row.version == expected_version:
        # A change of child rows only is still a change of the event: its version moves on.
        audit.touch(row, reason=reason)
    return row


def delete_event_rows(
    audit: Audit, stored: StoredEvent, *, expected_version: int, reason: str
) -> None:
    """Delete the stored event and its child rows (lesions stay: they are the patient's)."""
    spec = EVENT_TYPES[stored.kind]
    row = stored.row
    audit.check_version(row, expected_version)
    for child in spec.children:
        for obj in child.model._default_manager.filter(**{child.parent: row}, **child.fixed):
            audit.delete(obj, reason=reason)
    audit.delete(row, reason=reason)


def _children_of(patient: m.Patient, child: ChildSpec) -> dict[int, list[Any]]:
    qs = child.model._default_manager.filter(**{f"{child.parent}__patient": patient}, **child.fixed)
    if child.lesion or child.bare_lesion_ids:
        qs = qs.select_related("lesion")
    out: dict[int, list[Any]] = {}
    for obj in qs.order_by(f"{child.parent}_id", "position"):
        if child.bare_lesion_ids:
            item: Any = obj.lesion.label
        else:
            item = {name: getattr(obj, name) for name in child.fields}
            if child.lesion:
                item = {"lesion_id": obj.lesion.label, **item}
        out.setdefault(getattr(obj, f"{child.parent}_id"), []).append(item)
    return out


def read_events(patient: m.Patient) -> list[StoredEvent]:
    """The patient's stored events in history order (``seq``)."""
    stored: list[StoredEvent] = []
    for kind, spec in EVENT_TYPES.items():
        rows = list(spec.model._default_manager.filter(patient=patient))
        if not rows:
            continue
        children = {c.attr: _children_of(patient, c) for c in spec.children}
        for row in rows:
            data: dict[str, Any] = {"type": kind, "date": row.date}
            data.update({name: getattr(row, name) for name in spec.fields})
            for attr, by_parent in children.items():
                data[attr] = by_parent.get(row.pk, [])
            stored.append(StoredEvent(kind, row, EVENT_ADAPTER.validate_python(data)))
    stored.sort(key=lambda s: s.row.seq)
    return stored


def history_from_db(patient: m.Patient) -> PatientHistory:
    """The patient's history in the kernel's format, exactly as it was stored."""
    return PatientHistory(
        patient_id=patient.study_id,
        site=patient.site.code,
        sex=patient.sex,
        age_at_screening=patient.age_at_screening,
        events=[s.event for s in read_events(patient)],
    )


def store_history(
    audit: Audit, history: PatientHistory, site: m.Site
) -> tuple[m.Patient, list[StoredEvent]]:
    """Store a whole history as a new patient of ``site`` (events keep their order)."""
    patient = audit.create(
        m.Patient,
        site=site,
        study_id=history.patient_id,
        sex=history.sex,
        age_at_screening=history.age_at_screening,
    )
    lesions = _Lesions(audit, patient)
    stored = [
        StoredEvent(event.type, write_event(audit, patient, seq, event, lesions=lesions), event)
        for seq, event in enumerate(history.events)
    ]
    return patient, stored
