"""The REST API: ``api`` is mounted at ``/api/`` (OpenAPI document at ``/api/openapi.json``).

Every operation authenticates (a bearer token, else the session with CSRF on writes: 401 when
neither) and checks the caller's roles at the patient's site (:mod:`.access`). Errors of the
kernel and of the services are answered, never raised: a bad field 422 with its path, a stale
version 409, an unknown or hidden patient or record 404, a missing role 403, a busy database 503.

The records of the history have one set of routes per kind, made from the kernel's models:
``/patients/{id}/records/{kind}`` (list, create) and ``/patients/{id}/records/{kind}/{seq}``
(read, amend with the version read, delete with the version and a reason), and
``.../{seq}/audit``. A randomization is created only by ``POST /patients/{id}/randomize``.
"""

# No ``from __future__ import annotations`` here: django-ninja reads the views' annotations at
# run time, and the record routes are made in a loop with types built there.

import datetime as dt
import json
import typing
from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.utils import timezone
from ninja import NinjaAPI, Schema, Status
from ninja.errors import HttpError
from pydantic import create_model

from rfatrial.kernel import history as kernel
from rfatrial.server.api import monitoring, planning
from rfatrial.server.api import schemas as s
from rfatrial.server.api.access import (
    AUDIT,
    MANAGE,
    RANDOMIZE,
    READ,
    WRITE,
    Access,
    pseudonym,
    request_access,
    request_actor,
    study_today,
)
from rfatrial.server.api.auth import SessionAuth, TokenAuth, create_token
from rfatrial.server.api.models import ApiToken
from rfatrial.server.api.randomize import RandomizationError, randomize
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import ReasonRequiredError, StaleRecordError
from rfatrial.server.study.convert import EVENT_TYPES, StoredEvent, read_events
from rfatrial.server.study.services import (
    EventError,
    EventNotFoundError,
    JustificationRequiredError,
    amend_event,
    delete_event,
    grant_role,
    record_event,
    register_patient,
    revoke_role,
)

__all__ = ["api"]

api = NinjaAPI(
    title="rfatrial study server",
    version="1",
    description=__doc__,
    auth=[TokenAuth(), SessionAuth()],
    urls_namespace="api",
    docs_url=None,
)

E = s.ErrorOut
V = s.ValidationErrorOut
# 422: a path or query parameter that is not of its type (``/patients/abc``, ``?limit=x``).
READ_CODES: dict[int, Any] = {401: E, 404: E, 422: V}
SITE_CODES: dict[int, Any] = {401: E, 403: E, 404: E, 422: V}
# 400: a body that is not JSON at all.
WRITE_CODES: dict[int, Any] = {400: E, 401: E, 403: E, 404: E, 409: E, 422: V, 503: E}


# --- errors of the kernel and the services, answered -------------------------------------------


def _detail(request: HttpRequest, status: int, detail: Any) -> HttpResponse:
    return api.create_response(request, {"detail": detail}, status=status)


def _field_errors(message: str, base: list[str | int]) -> list[dict[str, Any]]:
    """The lines of a kernel validation message (``path: problem``) as 422 items."""
    items = []
    for line in message.splitlines()[1:] or [message]:
        path, _, msg = line.strip().partition(": ")
        if not msg:
            items.append({"loc": base, "msg": line.strip(), "type": "value_error"})
            continue
        parts: list[str | int] = [int(p) if p.isdigit() else p for p in path.split(".")]
        if path in ("(top level)", "event", "history"):
            parts = []
        items.append({"loc": base + parts, "msg": msg, "type": "value_error"})
    return items


def _data_loc(request: HttpRequest) -> list[str | int]:
    return ["body", "payload", "data"] if request.method in ("POST", "PUT") else ["query"]


@api.exception_handler(StaleRecordError)
def _stale(request: HttpRequest, exc: StaleRecordError) -> HttpResponse:
    return _detail(request, 409, str(exc))


@api.exception_handler(EventError)
def _event_error(request: HttpRequest, exc: EventError) -> HttpResponse:
    text = str(exc)
    if text.startswith("event: date "):
        items = [{"loc": [*_data_loc(request), "date"], "msg": text[7:], "type": "date_future"}]
    else:
        items = _field_errors(text, _data_loc(request))
    return _detail(request, 422, items)


@api.exception_handler(JustificationRequiredError)
def _justify(request: HttpRequest, exc: JustificationRequiredError) -> HttpResponse:
    items = [
        {
            "loc": ["body", "payload", "justification"],
            "msg": f"{d.code}: {d.description} ({d.rule}); give a justification to record it",
            "type": "justification_required",
        }
        for d in exc.deviations
    ]
    return _detail(request, 422, items)


@api.exception_handler(ReasonRequiredError)
def _reason(request: HttpRequest, exc: ReasonRequiredError) -> HttpResponse:
    loc: list[str | int] = (
        ["query", "reason"] if request.method == "DELETE" else ["body", "payload", "reason"]
    )
    return _detail(request, 422, [{"loc": loc, "msg": str(exc), "type": "reason_required"}])


@api.exception_handler(DjangoValidationError)
def _django_invalid(request: HttpRequest, exc: DjangoValidationError) -> HttpResponse:
    items = [
        {"loc": ["body", "payload"], "msg": msg, "type": "value_error"} for msg in exc.messages
    ]
    return _detail(request, 422, items)


@api.exception_handler(EventNotFoundError)
def _not_found(request: HttpRequest, exc: EventNotFoundError) -> HttpResponse:
    return _detail(request, 404, str(exc))


@api.exception_handler(RandomizationError)
def _randomization(request: HttpRequest, exc: RandomizationError) -> HttpResponse:
    return _detail(request, 409, str(exc))


@api.exception_handler(IntegrityError)
def _conflict(request: HttpRequest, exc: IntegrityError) -> HttpResponse:
    return _detail(request, 409, "this conflicts with a stored record (it exists already)")


@api.exception_handler(OperationalError)
def _busy(request: HttpRequest, exc: OperationalError) -> HttpResponse:
    response = _detail(request, 503, "the database is busy: try again")
    response["Retry-After"] = "1"
    return response


# --- helpers ----------------------------------------------------------------------------------


def _patient_out(p: m.Patient, access: Access) -> dict[str, Any]:
    hidden = access.pseudonymized(p.site_id)
    state = m.PatientState.objects.filter(patient=p).only("phase", "arm").first()
    return {
        "id": p.pk,
        "site": p.site.code,
        "study_id": pseudonym(p.pk) if hidden else p.study_id,
        "pseudonymized": hidden,
        "sex": p.sex,
        "age_at_screening": p.age_at_screening,
        "diagnosis_date": p.diagnosis_date[:4] if hidden else p.diagnosis_date,
        "liver_surgery_date": p.liver_surgery_date[:4] if hidden else p.liver_surgery_date,
        "version": p.version,
        "phase": state.phase if state else None,
        "arm": state.arm if state else None,
    }


WITHHELD = "[withheld]"


def _record_out(stored: StoredEvent, hidden: bool) -> dict[str, Any]:
    event: kernel.Record = stored.event
    justification = stored.row.justification
    if hidden:
        justification = None
        update: dict[str, Any] = {}
        if stored.kind == "withdrawal":
            update["reason"] = WITHHELD
        elif stored.kind == "death":
            update["cause"] = WITHHELD
        elif stored.kind == "rfa_session":
            update["justification"] = None
        event = event.model_copy(update=update)
    return {
        "kind": stored.kind,
        "seq": stored.row.seq,
        "version": stored.row.version,
        "date": stored.row.date,
        "justification": justification,
        "data": event,
    }


def _find(patient: m.Patient, kind: str, seq: int) -> StoredEvent:
    for stored in read_events(patient):
        if stored.kind == kind and stored.row.seq == seq:
            return stored
    raise HttpError(404, f"no {kind} record {seq} for this patient")


_LESION_REFERENCES = {
    "rfa_session": ("lesions",),
    "post_rfa_scan": ("results",),
    "imaging": ("local_progression",),
}


def _check_input(patient: m.Patient, event: kernel.Record, today: dt.date) -> None:
    """422 for each date after today and each lesion that is not this patient's."""
    errors: list[dict[str, Any]] = []

    def walk(value: Any, loc: list[str | int]) -> None:
        if isinstance(value, dt.date) and value > today:
            errors.append(
                {"loc": loc, "msg": f"{value} is after today ({today})", "type": "date_future"}
            )
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, [*loc, k])
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, [*loc, i])

    data = event.model_dump()
    walk(data, ["body", "payload", "data"])
    attrs = _LESION_REFERENCES.get(data["type"], ())
    if attrs:
        known = set(m.Lesion.objects.filter(patient=patient).values_list("label", flat=True))
        if data["type"] == "imaging":
            known |= {x["lesion_id"] for x in data["lesions"] + data["new_lesions"]}
        for attr in attrs:
            for i, item in enumerate(data[attr]):
                label = item if isinstance(item, str) else item["lesion_id"]
                if label not in known:
                    loc: list[str | int] = ["body", "payload", "data", attr, i]
                    if not isinstance(item, str):
                        loc.append("lesion_id")
                    names = ", ".join(sorted(known)) or "none yet"
                    errors.append(
                        {
                            "loc": loc,
                            "msg": f"lesion '{label}' is not a lesion of this patient"
                            f" (known: {names})",
                            "type": "unknown_lesion",
                        }
                    )
    if errors:
        raise _Invalid(errors)


class _Invalid(Exception):
    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("invalid input")
        self.errors = errors


@api.exception_handler(_Invalid)
def _invalid(request: HttpRequest, exc: _Invalid) -> HttpResponse:
    return _detail(request, 422, exc.errors)


# --- who am I, sites, patients ----------------------------------------------------------------


@api.get("/health", response={200: s.HealthOut}, auth=None, tags=["access"])
def health(request: HttpRequest) -> Any:
    """The server answers (no database read, no sign-in): for load balancers and monitoring."""
    return {"status": "ok"}


@api.get("/me", response={200: s.MeOut, 401: E}, tags=["access"])
def me(request: HttpRequest) -> Any:
    """The caller and his roles by site."""
    roles: dict[str, list[str]] = {}
    for code, role in m.SiteRole.objects.filter(user=request.auth).values_list(
        "site__code", "role"
    ):
        roles.setdefault(code, []).append(role)
    return {"username": request.auth.get_username(), "roles": roles}


@api.get("/sites", response={200: list[s.SiteOut], 401: E}, tags=["access"])
def sites(request: HttpRequest) -> Any:
    """The sites where the caller holds a role."""
    access = request_access(request)
    rows = m.Site.objects.filter(pk__in=list(access.by_site)).order_by("code")
    return [{"code": x.code, "name": x.name, "roles": sorted(access.by_site[x.pk])} for x in rows]


@api.get("/patients", response={200: list[s.PatientOut], 401: E, 422: V}, tags=["patients"])
def patients(
    request: HttpRequest, site: str | None = None, limit: int = 100, offset: int = 0
) -> Any:
    """The patients of every site where the caller may read (``site`` to choose one)."""
    access = request_access(request)
    qs = access.readable_patients().order_by("site__code", "study_id")
    if site is not None:
        qs = qs.filter(site__code=site)
    limit, offset = max(0, min(limit, 1000)), max(0, offset)
    return [_patient_out(p, access) for p in qs[offset : offset + limit]]


@api.get(
    "/sites/{code}/patients", response={200: list[s.PatientOut], **SITE_CODES}, tags=["patients"]
)
def site_patients(request: HttpRequest, code: str, limit: int = 100, offset: int = 0) -> Any:
    """The patients of one site."""
    access = request_access(request)
    site = access.site(code, READ)
    qs = m.Patient.objects.filter(site=site).select_related("site").order_by("study_id")
    limit, offset = max(0, min(limit, 1000)), max(0, offset)
    return [_patient_out(p, access) for p in qs[offset : offset + limit]]


WORKLIST_FIELDS = (
    "kind",
    "what",
    "why",
    "what_key",
    "why_key",
    "params",
    "rule",
    "earliest",
    "target",
    "latest",
    "overdue",
    "session",
    "visit_id",
    "lesions",
)


@api.get(
    "/sites/{code}/worklist",
    response={200: list[s.WorklistItemOut], **SITE_CODES},
    tags=["patients"],
)
def site_worklist(request: HttpRequest, code: str) -> Any:
    """Every action due for the site's patients, by target date (the engine's next actions)."""
    access = request_access(request)
    site = access.site(code, READ)
    hidden = access.pseudonymized(site.pk)
    # Plain rows, not model instances: a site's worklist has thousands of them.
    rows = (
        m.NextAction.objects.filter(patient__site=site)
        .order_by("target", "patient__study_id", "position")
        .values("patient_id", "patient__study_id", *WORKLIST_FIELDS)
    )
    out = []
    for row in rows:
        study_id = row.pop("patient__study_id")
        row["study_id"] = pseudonym(row["patient_id"]) if hidden else study_id
        out.append(row)
    return out


@api.post("/sites/{code}/patients", response={201: s.PatientOut, **WRITE_CODES}, tags=["patients"])
def create_patient(request: HttpRequest, code: str, payload: s.PatientIn) -> Any:
    """Register a patient at the site (investigator or coordinator)."""
    access = request_access(request)
    site = access.site(code, WRITE)
    patient = register_patient(
        site,
        payload.study_id,
        sex=payload.sex,
        age_at_screening=payload.age_at_screening,
        diagnosis_date=payload.diagnosis_date,
        liver_surgery_date=payload.liver_surgery_date,
        actor=request_actor(request),
    )
    return Status(201, _patient_out(patient, access))


@api.get("/patients/{patient_id}", response={200: s.PatientOut, **READ_CODES}, tags=["patients"])
def patient(request: HttpRequest, patient_id: int) -> Any:
    access = request_access(request)
    return _patient_out(access.patient(patient_id), access)


@api.get(
    "/patients/{patient_id}/lesions",
    response={200: list[s.LesionOut], **READ_CODES},
    tags=["patients"],
)
def lesions(request: HttpRequest, patient_id: int) -> Any:
    """The patient's lesions (their persistent ids)."""
    p = request_access(request).patient(patient_id)
    return list(m.Lesion.objects.filter(patient=p).order_by("pk").values("id", "label"))


@api.get(
    "/patients/{patient_id}/evaluation",
    response={200: s.EvaluationOut, **READ_CODES},
    tags=["patients"],
)
def evaluation(request: HttpRequest, patient_id: int) -> Any:
    """The engine's verdict after the last write: phase, next actions, deviations."""
    access = request_access(request)
    p = access.patient(patient_id)
    state = m.PatientState.objects.filter(patient=p).first()
    deviations = list(
        m.Deviation.objects.filter(patient=p)
        .order_by("position")
        .values(
            "code",
            "date",
            "description",
            "description_key",
            "params",
            "rule",
            "event_kind",
            "event_seq",
            "justification",
        )
    )
    if access.pseudonymized(p.site_id):
        for d in deviations:
            d["justification"] = None
    return {
        "patient_id": p.pk,
        "evaluated_on": state.evaluated_on if state else None,
        "protocol_version": state.protocol_version if state else None,
        "phase": state.phase if state else None,
        "arm": state.arm if state else None,
        "cycles_given": state.cycles_given if state else 0,
        "rfa_sessions_done": state.rfa_sessions_done if state else 0,
        "rfa_stopped": state.rfa_stopped if state else None,
        "liver_ned": state.liver_ned if state else False,
        "next_actions": list(m.NextAction.objects.filter(patient=p).order_by("position")),
        "deviations": deviations,
    }


@api.get(
    "/patients/{patient_id}/records",
    response={200: list[s.AnyRecordOut], **READ_CODES},
    tags=["records"],
)
def all_records(request: HttpRequest, patient_id: int) -> Any:
    """The patient's whole history, in order."""
    access = request_access(request)
    p = access.patient(patient_id)
    hidden = access.pseudonymized(p.site_id)
    out = []
    for stored in read_events(p):
        record = _record_out(stored, hidden)
        record["data"] = record["data"].model_dump(mode="json")
        out.append(record)
    return out


# --- randomization -----------------------------------------------------------------------------


@api.post(
    "/patients/{patient_id}/randomize",
    response={201: s.RandomizeOut, **WRITE_CODES},
    tags=["randomization"],
)
def randomize_patient(request: HttpRequest, patient_id: int, payload: s.RandomizeIn) -> Any:
    """Allocate the patient's arm (an investigator of his site; after eligible screening with
    consent). The arm is known only once it is given: nothing reveals the next one."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, RANDOMIZE, "randomization")
    result = randomize(
        p, actor=request_actor(request), justification=payload.justification, today=study_today()
    )
    row = result.row
    assert isinstance(row, m.Randomization)
    return Status(
        201,
        {
            "patient_id": p.pk,
            "seq": row.seq,
            "version": row.version,
            "date": row.date,
            "arm": row.arm,
            "stratum": row.stratum,
        },
    )


# --- the records of the history, one set of routes per kind ------------------------------------


def _event_classes() -> dict[str, type[kernel.Record]]:
    union = typing.get_args(kernel.Event)[0]
    return {c.model_fields["type"].default: c for c in typing.get_args(union)}


def _audit_entries(stored: StoredEvent) -> list[dict[str, Any]]:
    """The audit entries of the event's row and of its child rows (also those deleted since)."""
    row = stored.row
    spec = EVENT_TYPES[stored.kind]
    wanted: list[tuple[str, list[int]]] = [(row._meta.db_table, [row.pk])]
    for child in spec.children:
        table = child.model._meta.db_table
        attname = child.model._meta.get_field(child.parent).attname
        marker = f'"{attname}":[null,{row.pk}]'
        ids = list(
            m.AuditEntry.objects.filter(
                table=table, action="create", changes__contains=marker
            ).values_list("record_id", flat=True)
        )
        wanted.append((table, ids))
    entries: list[m.AuditEntry] = []
    for table, ids in wanted:
        if ids:
            entries.extend(m.AuditEntry.objects.filter(table=table, record_id__in=ids))
    entries.sort(key=lambda e: e.seq)
    return [
        {
            "seq": e.seq,
            "at": e.at,
            "actor": e.actor,
            "ip": e.ip,
            "action": e.action,
            "table": e.table,
            "record_id": e.record_id,
            "reason": e.reason,
            "changes": json.loads(e.changes),
        }
        for e in entries
    ]


def _register(kind: str, cls: type[kernel.Record]) -> None:
    name = cls.__name__
    out = create_model(
        f"{name}Record",
        __base__=Schema,
        kind=(str, ...),
        seq=(int, ...),
        version=(int, ...),
        date=(dt.date, ...),
        justification=(str | None, None),
        data=(cls, ...),
    )
    written = create_model(
        f"{name}Written",
        __base__=out,
        flagged=(list[s.DeviationOut], []),
    )
    create_in = create_model(
        f"{name}Create",
        __base__=Schema,
        data=(cls, ...),
        justification=(str | None, None),
        reason=(str, ""),
    )
    update_in = create_model(
        f"{name}Update",
        __base__=Schema,
        version=(int, ...),
        data=(cls, ...),
        reason=(str, ...),
        justification=(str | None, None),
    )
    base = f"/patients/{{patient_id}}/records/{kind}"
    tags = ["records"]

    def written_out(stored: StoredEvent, result: Any) -> dict[str, Any]:
        body = _record_out(stored, hidden=False)
        body["flagged"] = [
            {"code": d.code, "date": d.date, "description": d.description, "rule": d.rule}
            for d in result.flagged
        ]
        return body

    def list_view(request: HttpRequest, patient_id: int) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        hidden = access.pseudonymized(p.site_id)
        return [_record_out(x, hidden) for x in read_events(p) if x.kind == kind]

    def read_view(request: HttpRequest, patient_id: int, seq: int) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        return _record_out(_find(p, kind, seq), access.pseudonymized(p.site_id))

    def audit_view(request: HttpRequest, patient_id: int, seq: int) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, AUDIT, "the audit trail")
        return _audit_entries(_find(p, kind, seq))

    def create_view(request: HttpRequest, patient_id: int, payload: Any) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, WRITE, "recording")
        today = study_today()
        _check_input(p, payload.data, today)
        result = record_event(
            p,
            payload.data,
            actor=request_actor(request),
            justification=payload.justification,
            reason=payload.reason,
            today=today,
        )
        assert result.row is not None
        return Status(201, written_out(_find(p, kind, result.row.seq), result))

    def update_view(request: HttpRequest, patient_id: int, seq: int, payload: Any) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, WRITE, "correcting a record")
        _find(p, kind, seq)
        today = study_today()
        _check_input(p, payload.data, today)
        result = amend_event(
            p,
            seq,
            payload.data,
            expected_version=payload.version,
            actor=request_actor(request),
            reason=payload.reason,
            justification=payload.justification,
            today=today,
        )
        return written_out(_find(p, kind, seq), result)

    def delete_view(
        request: HttpRequest, patient_id: int, seq: int, version: int, reason: str
    ) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, WRITE, "deleting a record")
        _find(p, kind, seq)
        delete_event(
            p,
            seq,
            expected_version=version,
            actor=request_actor(request),
            reason=reason,
            today=study_today(),
        )
        return Status(204, None)

    create_view.__annotations__["payload"] = create_in
    update_view.__annotations__["payload"] = update_in
    views: list[tuple[str, str, Callable[..., Any], dict[int, Any], str]] = [
        ("GET", base, list_view, {200: list[out], **READ_CODES}, f"list {kind} records"),
        ("GET", base + "/{seq}", read_view, {200: out, **READ_CODES}, f"read a {kind} record"),
        (
            "GET",
            base + "/{seq}/audit",
            audit_view,
            {200: list[s.AuditEntryOut], **SITE_CODES},
            f"the audit trail of a {kind} record",
        ),
    ]
    if kind != "randomization":  # allocated only by /randomize, never entered nor changed
        views += [
            ("POST", base, create_view, {201: written, **WRITE_CODES}, f"record a {kind}"),
            (
                "PUT",
                base + "/{seq}",
                update_view,
                {200: written, **WRITE_CODES, 423: E},  # 423: the record is locked
                f"correct a {kind} record (version read, reason)",
            ),
            (
                "DELETE",
                base + "/{seq}",
                delete_view,
                {204: None, **WRITE_CODES, 423: E},
                f"delete a {kind} record entered in error (version, reason)",
            ),
        ]
    for method, path, view, response, summary in views:
        view.__name__ = f"{view.__name__.removesuffix('_view')}_{kind}"
        api.default_router.add_api_operation(
            path,
            [method],
            view,
            response=response,
            operation_id=view.__name__,
            summary=summary,
            tags=tags,
        )


for _kind, _cls in _event_classes().items():
    _register(_kind, _cls)


# --- the caller's tokens -----------------------------------------------------------------------


@api.get("/tokens", response={200: list[s.TokenOut], 401: E}, tags=["access"])
def tokens(request: HttpRequest) -> Any:
    """The caller's API tokens (never the tokens themselves)."""
    return list(ApiToken.objects.filter(user=request.auth).order_by("pk"))


@api.post("/tokens", response={201: s.NewTokenOut, 400: E, 401: E, 403: E, 422: V}, tags=["access"])
def new_token(request: HttpRequest, payload: s.TokenIn) -> Any:
    """A new token for scripts (``Authorization: Bearer <token>``), shown this once."""
    token, raw = create_token(request.auth, payload.name)
    return Status(201, {**s.TokenOut.from_orm(token).dict(), "token": raw})


@api.delete(
    "/tokens/{token_id}", response={204: None, 401: E, 403: E, 404: E, 422: V}, tags=["access"]
)
def revoke_token(request: HttpRequest, token_id: int) -> Any:
    """Revoke one of the caller's tokens."""
    updated = ApiToken.objects.filter(
        pk=token_id,
        user=request.auth,
        revoked_at__isnull=True,
    ).update(revoked_at=timezone.now())
    if not updated:
        raise HttpError(404, f"no token {token_id}")
    return Status(204, None)


# --- roles (administrators of the site) --------------------------------------------------------


def _role_out(r: m.SiteRole) -> dict[str, Any]:
    return {"id": r.pk, "username": r.user.get_username(), "role": r.role, "version": r.version}


@api.get("/sites/{code}/roles", response={200: list[s.RoleOut], **SITE_CODES}, tags=["access"])
def site_roles(request: HttpRequest, code: str) -> Any:
    """Who holds which role at the site (its administrators)."""
    site = request_access(request).site(code, MANAGE)
    return [_role_out(r) for r in site.roles.select_related("user").order_by("pk")]


@api.post("/sites/{code}/roles", response={201: s.RoleOut, **WRITE_CODES}, tags=["access"])
def give_role(request: HttpRequest, code: str, payload: s.RoleIn) -> Any:
    """Give a user a role at the site (its administrators)."""
    site = request_access(request).site(code, MANAGE)
    if payload.role not in m.Role.values:
        raise _Invalid(
            [
                {
                    "loc": ["body", "payload", "role"],
                    "msg": f"unknown role (one of {', '.join(m.Role.values)})",
                    "type": "value_error",
                }
            ]
        )
    user = get_user_model().objects.filter(username=payload.username, is_active=True).first()
    if user is None:
        raise _Invalid(
            [{"loc": ["body", "payload", "username"], "msg": "no such user", "type": "value_error"}]
        )
    grant = grant_role(user, site, payload.role, actor=request_actor(request))
    return Status(201, _role_out(grant))


@api.delete("/sites/{code}/roles/{role_id}", response={204: None, **WRITE_CODES}, tags=["access"])
def take_role(request: HttpRequest, code: str, role_id: int, reason: str) -> Any:
    """Take a role away, with a reason (its administrators)."""
    site = request_access(request).site(code, MANAGE)
    grant = m.SiteRole.objects.filter(pk=role_id, site=site).first()
    if grant is None:
        raise HttpError(404, f"no role {role_id} at site {code}")
    revoke_role(grant, actor=request_actor(request), reason=reason)
    return Status(204, None)


# --- data queries, signatures, locks, vital signs and ECG (their own router) -------------------

monitoring.register(api)
planning.register(api)
