"""The study's write operations: each one transaction of audited writes and the engine's verdict.

Every write of clinical data is an explicit call here (no signals): the event is validated with the
kernel's schema, the whole history with the new event is validated again (an event that may occur
once, twice, is refused), the kernel evaluates the patient, the rows are written through the audit
trail, and the derived tables (:class:`~m.PatientState`, :class:`~m.NextAction`,
:class:`~m.Deviation`) are replaced by the new evaluation, all in the same transaction.

What happened is always recordable: an event that breaks a protocol rule is stored and flagged as
a deviation, but only with a justification (:class:`JustificationRequiredError` otherwise, with the
rule's explanation).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.db import transaction
from django.utils import timezone
from pydantic import ValidationError

from rfatrial.kernel.evaluation import Deviation as KernelDeviation
from rfatrial.kernel.evaluation import Evaluation, to_json_dict
from rfatrial.kernel.history import Event, PatientHistory, Record
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import Protocol, default_protocol, format_validation_error
from rfatrial.server.monitoring.edit_checks import run_edit_checks
from rfatrial.server.monitoring.signing import check_unlocked, void_signatures
from rfatrial.server.planning.services import follow_corrected_session, mark_plan_done
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, Audit, audited
from rfatrial.server.study.convert import (
    EVENT_ADAPTER,
    StoredEvent,
    delete_event_rows,
    read_events,
    replace_event,
    store_history,
    write_event,
)

__all__ = [
    "SYSTEM",
    "EventError",
    "EventNotFoundError",
    "JustificationRequiredError",
    "WriteResult",
    "amend_event",
    "delete_event",
    "ensure_site",
    "evaluate_all",
    "evaluate_patient",
    "grant_role",
    "load_history",
    "record_event",
    "register_patient",
    "revoke_role",
    "roles_of",
    "store_evaluation",
]

SYSTEM = Actor("system")


class EventError(ValueError):
    """An event (or the history it makes) that breaks the kernel's schema; one line per field."""


class EventNotFoundError(LookupError):
    """No event with that ``seq`` for the patient."""


class JustificationRequiredError(ValueError):
    """The event breaks protocol rules: it is stored only with a justification."""

    def __init__(self, deviations: Sequence[KernelDeviation]) -> None:
        self.deviations = tuple(deviations)
        lines = "\n".join(f"  {d.code}: {d.description} ({d.rule})" for d in self.deviations)
        super().__init__(
            "this event breaks the protocol; record it with a justification:\n" + lines
        )


@dataclass(frozen=True, slots=True)
class WriteResult:
    """The patient after a write: the event's row, the evaluation, this event's deviations."""

    patient: m.Patient
    row: m.EventRecord | None
    evaluation: Evaluation
    flagged: tuple[KernelDeviation, ...]


def validate_event(event: Event | Mapping[str, Any]) -> Event:
    """The event checked against the kernel's schema (:class:`EventError` with each bad path)."""
    data = event.model_dump() if isinstance(event, Record) else event
    try:
        return EVENT_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise EventError(format_validation_error(exc, source="event")) from None


def _history(patient: m.Patient, events: list[Event]) -> PatientHistory:
    try:
        return PatientHistory(
            patient_id=patient.study_id,
            site=patient.site.code,
            sex=patient.sex,
            age_at_screening=patient.age_at_screening,
            events=events,
        )
    except ValidationError as exc:
        raise EventError(format_validation_error(exc, source="history")) from None


def _locked(patient: m.Patient) -> m.Patient:
    """The patient re-read and locked for the transaction: writes to one patient queue."""
    return m.Patient.objects.select_for_update().select_related("site").get(pk=patient.pk)


def _with_justification(event: Event, justification: str | None) -> Event:
    if justification and event.type == "rfa_session" and event.justification is None:
        return validate_event({**event.model_dump(), "justification": justification})
    return event


def _check_justified(
    evaluation: Evaluation, index: int, event: Event, justification: str | None
) -> tuple[KernelDeviation, ...]:
    flagged = tuple(d for d in evaluation.deviations if d.event_index == index)
    given = event.justification if event.type == "rfa_session" else justification
    if flagged and not (given and given.strip()):
        raise JustificationRequiredError(flagged)
    return flagged


def _json_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters of an engine text as JSON values (dates in ISO format)."""
    return {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}


def store_evaluation(
    patient: m.Patient, evaluation: Evaluation, stored: Sequence[StoredEvent]
) -> None:
    """Replace the patient's derived rows by ``evaluation`` (``stored`` in history order)."""
    m.PatientState.objects.update_or_create(
        patient=patient,
        defaults={
            "evaluated_on": evaluation.today,
            "evaluated_at": timezone.now(),
            "protocol_version": evaluation.protocol_version,
            "arm": evaluation.arm,
            "phase": evaluation.phase,
            "cycles_given": evaluation.cycles_given,
            "rfa_sessions_done": evaluation.rfa_sessions_done,
            "rfa_stopped": evaluation.rfa_stopped,
            "liver_ned": evaluation.liver_ned,
            "evaluation": to_json_dict(evaluation),
        },
    )
    m.NextAction.objects.filter(patient=patient).delete()
    m.NextAction.objects.bulk_create(
        m.NextAction(
            patient=patient,
            position=i,
            kind=a.kind,
            what=a.what,
            why=a.why,
            what_key=a.what_key,
            why_key=a.why_key,
            params=_json_params(a.params),
            rule=a.rule,
            earliest=a.earliest,
            target=a.target,
            latest=a.latest,
            overdue=a.overdue,
            session=a.session,
            visit_id=a.visit_id,
            lesions=list(a.lesions),
        )
        for i, a in enumerate(evaluation.next_actions)
    )
    m.Deviation.objects.filter(patient=patient).delete()
    rows = []
    for i, d in enumerate(evaluation.deviations):
        source = stored[d.event_index] if d.event_index is not None else None
        rows.append(
            m.Deviation(
                patient=patient,
                position=i,
                code=d.code,
                date=d.date,
                description=d.description,
                description_key=d.description_key,
                params=_json_params(d.params),
                rule=d.rule,
                event_kind=source.kind if source else None,
                event_seq=source.row.seq if source else None,
                justification=d.justification or (source.row.justification if source else None),
            )
        )
    m.Deviation.objects.bulk_create(rows)


def _evaluate_and_store(
    patient: m.Patient,
    stored: list[StoredEvent],
    history: PatientHistory,
    today: date,
    protocol: Protocol,
) -> Evaluation:
    evaluation = evaluate(history, protocol, today)
    store_evaluation(patient, evaluation, stored)
    return evaluation


def evaluate_patient(
    patient: m.Patient, *, today: date | None = None, protocol: Protocol | None = None
) -> Evaluation:
    """Re-evaluate the patient (e.g. on a new day) and store the derived rows."""
    with transaction.atomic():
        patient = _locked(patient)
        stored = read_events(patient)
        history = _history(patient, [s.event for s in stored])
        return _evaluate_and_store(
            patient, stored, history, today or date.today(), protocol or default_protocol()
        )


def evaluate_all(*, today: date | None = None, protocol: Protocol | None = None) -> int:
    """Re-evaluate every patient as of ``today`` (next actions become due or overdue by the
    calendar alone); returns the number of patients. One transaction per patient."""
    today = today or date.today()
    protocol = protocol or default_protocol()
    count = 0
    for patient in m.Patient.objects.order_by("pk").iterator():
        evaluate_patient(patient, today=today, protocol=protocol)
        count += 1
    return count


def record_event(
    patient: m.Patient,
    event: Event | Mapping[str, Any],
    *,
    actor: Actor,
    justification: str | None = None,
    reason: str = "",
    today: date | None = None,
    protocol: Protocol | None = None,
) -> WriteResult:
    """Record what happened to the patient, re-evaluate, store it all in one transaction.

    Raises
    ------
    EventError
        The event breaks the schema, is dated after ``today``, or would make an impossible history.
    JustificationRequiredError
        The event breaks a protocol rule and no justification was given (nothing is stored).
    """
    today = today or date.today()
    protocol = protocol or default_protocol()
    event = _with_justification(validate_event(event), justification)
    if event.date > today:
        raise EventError(f"event: date {event.date} is after today ({today})")
    with audited(actor, reason) as audit:
        patient = _locked(patient)
        stored = read_events(patient)
        history = _history(patient, [*(s.event for s in stored), event])
        evaluation = evaluate(history, protocol, today)
        flagged = _check_justified(evaluation, len(stored), event, justification)
        seq = stored[-1].row.seq + 1 if stored else 0
        extra = None if event.type == "rfa_session" else justification
        row = write_event(audit, patient, seq, event, justification=extra)
        mark_plan_done(audit, patient, row, event)
        stored.append(StoredEvent(event.type, row, event))
        store_evaluation(patient, evaluation, stored)
        run_edit_checks(audit, patient, stored=stored, protocol=protocol)
    return WriteResult(patient, row, evaluation, flagged)


def _find(stored: list[StoredEvent], seq: int) -> int:
    for i, s in enumerate(stored):
        if s.row.seq == seq:
            return i
    raise EventNotFoundError(f"no event {seq} for this patient")


def amend_event(
    patient: m.Patient,
    seq: int,
    event: Event | Mapping[str, Any],
    *,
    expected_version: int,
    actor: Actor,
    reason: str,
    justification: str | None = None,
    today: date | None = None,
    protocol: Protocol | None = None,
) -> WriteResult:
    """Correct the patient's event ``seq`` (read at ``expected_version``), with a reason.

    Raises :class:`~rfatrial.server.study.audit.StaleRecordError` when the event changed since it
    was read, and the errors of :func:`record_event`.
    """
    today = today or date.today()
    protocol = protocol or default_protocol()
    event = _with_justification(validate_event(event), justification)
    if event.date > today:
        raise EventError(f"event: date {event.date} is after today ({today})")
    with audited(actor, reason) as audit:
        patient = _locked(patient)
        stored = read_events(patient)
        i = _find(stored, seq)
        if stored[i].kind != event.type:
            raise EventError(
                f"event {seq} is a {stored[i].kind}, not a {event.type}: delete it and record the"
                " right event"
            )
        audit.check_version(stored[i].row, expected_version)
        check_unlocked(stored[i].row)  # a locked record refuses every change
        events = [s.event for s in stored]
        events[i] = event
        history = _history(patient, events)
        evaluation = evaluate(history, protocol, today)
        flagged = _check_justified(evaluation, i, event, justification)
        extra = None if event.type == "rfa_session" else justification
        row = replace_event(
            audit,
            stored[i],
            event,
            expected_version=expected_version,
            reason=reason,
            justification=extra,
        )
        if row.version != expected_version:  # it changed: its signature no longer holds
            void_signatures(audit, row, reason=reason)
        follow_corrected_session(audit, patient, row.seq, event)
        stored[i] = StoredEvent(event.type, row, event)
        store_evaluation(patient, evaluation, stored)
        run_edit_checks(audit, patient, stored=stored, protocol=protocol)
    return WriteResult(patient, row, evaluation, flagged)


def delete_event(
    patient: m.Patient,
    seq: int,
    *,
    expected_version: int,
    actor: Actor,
    reason: str,
    today: date | None = None,
    protocol: Protocol | None = None,
) -> WriteResult:
    """Delete the patient's event ``seq`` (entered in error), with a reason; re-evaluate."""
    today = today or date.today()
    protocol = protocol or default_protocol()
    with audited(actor, reason) as audit:
        patient = _locked(patient)
        stored = read_events(patient)
        i = _find(stored, seq)
        check_unlocked(stored[i].row)
        delete_event_rows(audit, stored[i], expected_version=expected_version, reason=reason)
        void_signatures(audit, stored[i].row, reason=reason, deleted=True)
        if stored[i].kind == "rfa_session":
            follow_corrected_session(audit, patient, stored[i].row.seq, None)
        del stored[i]
        history = _history(patient, [s.event for s in stored])
        evaluation = _evaluate_and_store(patient, stored, history, today, protocol)
        run_edit_checks(audit, patient, stored=stored, protocol=protocol)
    return WriteResult(patient, None, evaluation, ())


def ensure_site(audit: Audit, code: str, name: str = "") -> m.Site:
    """The site with ``code``, created (and audited) when it is new."""
    site = m.Site.objects.filter(code=code).first()
    return site if site is not None else audit.create(m.Site, code=code, name=name)


def grant_role(
    user: Any, site: m.Site, role: str, *, actor: Actor, reason: str = "role granted"
) -> m.SiteRole:
    """Give ``user`` a role at ``site`` (idempotent); a person may hold roles at several sites."""
    if role not in m.Role.values:
        raise ValueError(f"unknown role '{role}' (one of {', '.join(m.Role.values)})")
    with audited(actor, reason) as audit:
        existing = m.SiteRole.objects.filter(user=user, site=site, role=role).first()
        return existing or audit.create(m.SiteRole, user=user, site=site, role=role)


def revoke_role(grant: m.SiteRole, *, actor: Actor, reason: str) -> None:
    """Take a role away (audited, with a reason)."""
    with audited(actor) as audit:
        audit.delete(grant, reason=reason)


def roles_of(user: Any) -> dict[str, set[str]]:
    """The user's roles by site code."""
    out: dict[str, set[str]] = {}
    for code, role in m.SiteRole.objects.filter(user=user).values_list("site__code", "role"):
        out.setdefault(code, set()).add(role)
    return out


def register_patient(
    site: m.Site,
    study_id: str,
    *,
    sex: str,
    age_at_screening: int,
    actor: Actor,
    diagnosis_date: str = "",
    liver_surgery_date: str = "",
    reason: str = "patient registered",
) -> m.Patient:
    """A new patient of ``site`` with no events yet (checked as the kernel checks a history)."""
    try:
        PatientHistory.model_validate(
            {
                "patient_id": study_id,
                "site": site.code,
                "sex": sex,
                "age_at_screening": age_at_screening,
            }
        )
    except ValidationError as exc:
        raise EventError(format_validation_error(exc, source="patient")) from None
    for value in (diagnosis_date, liver_surgery_date):
        if value:
            m.validate_partial_date(value)
    with audited(actor, reason) as audit:
        return audit.create(
            m.Patient,
            site=site,
            study_id=study_id,
            sex=sex,
            age_at_screening=age_at_screening,
            diagnosis_date=diagnosis_date,
            liver_surgery_date=liver_surgery_date,
        )


def load_history(
    history: PatientHistory,
    site: m.Site | None = None,
    *,
    actor: Actor = SYSTEM,
    reason: str = "history imported",
    today: date | None = None,
    protocol: Protocol | None = None,
) -> m.Patient:
    """Store a whole history as a new patient (of ``site``, by default the history's site).

    Imported data is what happened: deviations are stored as they are, without asking for
    justifications. The patient is evaluated in the same transaction.
    """
    if site is not None and site.code != history.site:
        raise ValueError(f"the history is of site {history.site}, not {site.code}")
    with audited(actor, reason) as audit:
        site = site or ensure_site(audit, history.site)
        patient, stored = store_history(audit, history, site)
        _evaluate_and_store(
            patient, stored, history, today or date.today(), protocol or default_protocol()
        )
    return patient
