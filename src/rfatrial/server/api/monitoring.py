"""The API of monitoring: data queries, signatures, record locks, vital signs and ECG.

Registered on the study's API by :func:`register`. Roles at the patient's site decide, as for
every endpoint (:mod:`.access`): queries are read by the site team and the monitors (not by a
statistician), opened, replied to, closed and re-opened by monitors and data managers, answered by
investigators and coordinators; a record is signed by an investigator (password re-entered) and
locked by a data manager; vital signs and ECGs are written by investigators and coordinators.
A locked record refuses a change with 423; nothing here is ever deleted but a vital signs or ECG
record entered in error.
"""

# No ``from __future__ import annotations``: django-ninja reads the annotations at run time.

import datetime as dt
from collections.abc import Callable
from typing import Any, Literal

from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Router, Schema, Status
from ninja.errors import HttpError
from pydantic import Field

from rfatrial.server.api import schemas as s
from rfatrial.server.api.access import READ, WRITE, Access, request_access, request_actor
from rfatrial.server.monitoring import queries as q
from rfatrial.server.monitoring import signing, vitals
from rfatrial.server.monitoring.models import Query, QueryStatus, RecordLock, Signature
from rfatrial.server.monitoring.records import (
    RECORD_KINDS,
    RecordNotFoundError,
    find_record,
    patient_records,
)
from rfatrial.server.study import models as m

__all__ = ["register", "router"]

router = Router()
E = s.ErrorOut
V = s.ValidationErrorOut
# 422: a path or query parameter not of its type (``/queries/abc``, ``?status=lost``).
READ_CODES: dict[int, Any] = {401: E, 403: E, 404: E, 422: V}
WRITE_CODES: dict[int, Any] = {400: E, 401: E, 403: E, 404: E, 409: E, 422: V, 503: E}
LOCKED_CODES: dict[int, Any] = {**WRITE_CODES, 423: E}
QUERY_READ = frozenset(q.QUERY_ROLES["read"])
Kind = Literal[tuple(RECORD_KINDS)]  # type: ignore[valid-type]


# --- bodies -----------------------------------------------------------------------------------


class MessageOut(Schema):
    position: int
    author: str
    action: str
    text: str
    at: dt.datetime


class QueryOut(Schema):
    id: int
    version: int
    patient_id: int
    site: str
    study_id: str
    kind: str
    record: int = Field(description="The record's seq (events) or id (vital signs, ECG).")
    field: str
    status: str
    subject: str
    automatic: bool
    check_id: str
    opened_by: str
    opened_at: dt.datetime
    updated_at: dt.datetime
    closed_by: str


class QueryDetailOut(QueryOut):
    messages: list[MessageOut]


class QueryIn(Schema):
    kind: Kind  # type: ignore[valid-type]
    record: int
    field: str = Field("", max_length=64)
    text: str = Field(min_length=1, max_length=5000)


class QueryStepIn(Schema):
    version: int
    text: str = Field("", max_length=5000)


class SignatureOut(Schema):
    id: int
    kind: str
    record: int
    record_version: int
    signer: str
    signer_name: str
    meaning: str
    signed_at: dt.datetime
    casebook: bool
    valid: bool
    status: str


class SignIn(Schema):
    kind: Kind  # type: ignore[valid-type]
    record: int
    password: str = Field(min_length=1, max_length=256)


class CasebookIn(Schema):
    password: str = Field(min_length=1, max_length=256)


class LockIn(Schema):
    kind: Kind  # type: ignore[valid-type]
    record: int
    locked: bool
    reason: str = Field("", max_length=1000)


class LockOut(Schema):
    kind: str
    record: int
    locked: bool
    changed_by: str
    changed_at: dt.datetime
    version: int


class RecordStatusOut(Schema):
    kind: str
    record: int
    date: dt.date
    version: int
    locked: bool
    signature: str = Field(description="'unsigned', 'signed' or the reason it was voided.")
    open_queries: int


class VitalSignsOut(vitals.VitalSignsIn):
    id: int
    version: int


class EcgOut(vitals.EcgIn):
    id: int
    version: int


class VitalSignsCreate(Schema):
    data: vitals.VitalSignsIn


class EcgCreate(Schema):
    data: vitals.EcgIn


class VitalSignsUpdate(Schema):
    version: int
    data: vitals.VitalSignsIn
    reason: str


class EcgUpdate(Schema):
    version: int
    data: vitals.EcgIn
    reason: str


# --- helpers ----------------------------------------------------------------------------------


def _roles(access: Access, site_id: int) -> set[str]:
    return access.by_site.get(site_id, set())


def _record(patient: m.Patient, kind: str, ref: int) -> m.StudyRecord:
    try:
        return find_record(patient, kind, ref)
    except RecordNotFoundError as exc:
        raise HttpError(404, str(exc)) from None


def _ref_of(kind: str, record_id: int, seqs: dict[tuple[str, int], int]) -> int:
    return seqs.get((kind, record_id), record_id)


def _seqs(rows: list[Any]) -> dict[tuple[str, int], int]:
    """The seq of each event record the rows refer to (vital signs and ECG: their id)."""
    wanted: dict[str, set[int]] = {}
    for r in rows:
        wanted.setdefault(r.record_kind, set()).add(r.record_id)
    out: dict[tuple[str, int], int] = {}
    for kind, ids in wanted.items():
        model = RECORD_KINDS.get(kind)
        if model is not None and issubclass(model, m.EventRecord):
            for pk, seq in model._default_manager.filter(pk__in=ids).values_list("pk", "seq"):
                out[(kind, pk)] = seq
    return out


def _query_out(x: Query, seqs: dict[tuple[str, int], int]) -> dict[str, Any]:
    return {
        "id": x.pk,
        "version": x.version,
        "patient_id": x.patient_id,
        "site": x.patient.site.code,
        "study_id": x.patient.study_id,
        "kind": x.record_kind,
        "record": _ref_of(x.record_kind, x.record_id, seqs),
        "field": x.field,
        "status": x.status,
        "subject": x.subject,
        "automatic": x.automatic,
        "check_id": x.check_id,
        "opened_by": x.opened_by,
        "opened_at": x.opened_at,
        "updated_at": x.updated_at,
        "closed_by": x.closed_by,
    }


def _detail_out(x: Query) -> dict[str, Any]:
    out = _query_out(x, _seqs([x]))
    out["messages"] = list(x.messages.order_by("position"))
    return out


def _visible_query(access: Access, query_id: int) -> Query:
    x = (
        Query.objects.select_related("patient__site")
        .filter(pk=query_id, patient__site_id__in=access.sites_with(READ))
        .first()
    )
    if x is None:
        raise HttpError(404, f"no query {query_id}")
    access.require(x.patient.site_id, QUERY_READ, "data queries")
    return x


def _signature_out(x: Signature, seqs: dict[tuple[str, int], int]) -> dict[str, Any]:
    return {
        "id": x.pk,
        "kind": x.record_kind,
        "record": _ref_of(x.record_kind, x.record_id, seqs),
        "record_version": x.record_version,
        "signer": x.signer,
        "signer_name": x.signer_name,
        "meaning": x.meaning,
        "signed_at": x.signed_at,
        "casebook": x.casebook,
        "valid": x.voided_at is None,
        "status": "signed" if x.voided_at is None else x.void_reason,
    }


# --- data queries -----------------------------------------------------------------------------


@router.get("/queries", response={200: list[QueryOut], 401: E, 422: V}, tags=["queries"])
def list_queries(
    request: HttpRequest,
    status: QueryStatus | None = None,
    site: str | None = None,
    patient_id: int | None = None,
    limit: int = 200,
    offset: int = 0,
) -> Any:
    """The data queries of every site where the caller reads them (filters: status, site,
    patient)."""
    access = request_access(request)
    qs = Query.objects.select_related("patient__site").filter(
        patient__site_id__in=access.sites_with(QUERY_READ)
    )
    if status is not None:
        qs = qs.filter(status=status)
    if site is not None:
        qs = qs.filter(patient__site__code=site)
    if patient_id is not None:
        qs = qs.filter(patient_id=patient_id)
    limit, offset = max(0, min(limit, 1000)), max(0, offset)
    rows = list(qs.order_by("-updated_at", "-pk")[offset : offset + limit])
    seqs = _seqs(rows)
    return [_query_out(x, seqs) for x in rows]


@router.get("/queries/{query_id}", response={200: QueryDetailOut, **READ_CODES}, tags=["queries"])
def read_query(request: HttpRequest, query_id: int) -> Any:
    """One query with its thread of messages."""
    return _detail_out(_visible_query(request_access(request), query_id))


@router.post(
    "/patients/{patient_id}/queries",
    response={201: QueryDetailOut, **WRITE_CODES},
    tags=["queries"],
)
def create_query(request: HttpRequest, patient_id: int, payload: QueryIn) -> Any:
    """Open a query on one of the patient's records, or one field of it (monitor, data
    manager)."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, q.QUERY_ROLES["open"], "opening a query")
    record = _record(p, payload.kind, payload.record)
    x = q.open_query(
        record,
        text=payload.text,
        field=payload.field,
        actor=request_actor(request),
        roles=_roles(access, p.site_id),
    )
    return Status(201, _detail_out(Query.objects.select_related("patient__site").get(pk=x.pk)))


def _step(action: str) -> None:
    steps: dict[str, Callable[..., Query]] = {
        "answer": q.answer_query,
        "reply": q.reply_to_query,
        "close": q.close_query,
        "reopen": q.reopen_query,
    }
    summary = {
        "answer": "Answer a query (investigator, coordinator): → answered.",
        "reply": "Reply to an answer (monitor, data manager): → new.",
        "close": "Close a query (monitor, data manager).",
        "reopen": "Re-open a closed query with a message (monitor, data manager): → new.",
    }

    def view(request: HttpRequest, query_id: int, payload: QueryStepIn) -> Any:
        access = request_access(request)
        x = _visible_query(access, query_id)
        access.require(x.patient.site_id, q.QUERY_ROLES[action], f"to {action} a query")
        steps[action](
            x,
            text=payload.text,
            actor=request_actor(request),
            roles=_roles(access, x.patient.site_id),
            expected_version=payload.version,
        )
        return _detail_out(Query.objects.select_related("patient__site").get(pk=x.pk))

    view.__name__ = f"{action}_query"
    view.__doc__ = summary[action]
    router.add_api_operation(
        f"/queries/{{query_id}}/{action}",
        ["POST"],
        view,
        response={200: QueryDetailOut, **WRITE_CODES},
        operation_id=view.__name__,
        summary=summary[action],
        tags=["queries"],
    )


for _action in ("answer", "reply", "close", "reopen"):
    _step(_action)


# --- signatures and locks ---------------------------------------------------------------------


@router.get(
    "/patients/{patient_id}/signatures",
    response={200: list[SignatureOut], **READ_CODES},
    tags=["signatures"],
)
def list_signatures(request: HttpRequest, patient_id: int) -> Any:
    """Every signature of the patient's records, valid or voided (newest first)."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, QUERY_READ, "signatures")
    rows = list(Signature.objects.filter(patient=p).order_by("-signed_at", "-pk"))
    seqs = _seqs(rows)
    return [_signature_out(x, seqs) for x in rows]


@router.post(
    "/patients/{patient_id}/signatures",
    response={201: SignatureOut, **WRITE_CODES},
    tags=["signatures"],
)
def sign(request: HttpRequest, patient_id: int, payload: SignIn) -> Any:
    """Sign one record (investigator of the site, password re-entered)."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, signing.SIGN_ROLES, "signing")
    record = _record(p, payload.kind, payload.record)
    x = signing.sign_record(
        record,
        user=request.auth,
        password=payload.password,
        actor=request_actor(request),
        roles=_roles(access, p.site_id),
    )
    return Status(201, _signature_out(x, _seqs([x])))


@router.post(
    "/patients/{patient_id}/casebook-signature",
    response={201: list[SignatureOut], **WRITE_CODES},
    tags=["signatures"],
)
def sign_casebook(request: HttpRequest, patient_id: int, payload: CasebookIn) -> Any:
    """Sign every record of the patient not signed at its current version (the casebook)."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, signing.SIGN_ROLES, "signing")
    rows = signing.sign_casebook(
        p,
        user=request.auth,
        password=payload.password,
        actor=request_actor(request),
        roles=_roles(access, p.site_id),
    )
    seqs = _seqs(rows)
    return Status(201, [_signature_out(x, seqs) for x in rows])


@router.put(
    "/patients/{patient_id}/locks", response={200: LockOut, **WRITE_CODES}, tags=["signatures"]
)
def lock(request: HttpRequest, patient_id: int, payload: LockIn) -> Any:
    """Lock or unlock one record (data manager of the site)."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, signing.LOCK_ROLES, "locking a record")
    record = _record(p, payload.kind, payload.record)
    x = signing.set_lock(
        record,
        locked=payload.locked,
        reason=payload.reason,
        actor=request_actor(request),
        roles=_roles(access, p.site_id),
    )
    return {
        "kind": x.record_kind,
        "record": payload.record,
        "locked": x.locked,
        "changed_by": x.changed_by,
        "changed_at": x.changed_at,
        "version": x.version,
    }


@router.get(
    "/patients/{patient_id}/record-status",
    response={200: list[RecordStatusOut], **READ_CODES},
    tags=["signatures"],
)
def record_status(request: HttpRequest, patient_id: int) -> Any:
    """Each record of the patient: locked or not, its signature, its open queries."""
    access = request_access(request)
    p = access.patient(patient_id)
    access.require(p.site_id, QUERY_READ, "the status of records")
    return status_rows(p)


def status_rows(p: m.Patient) -> list[dict[str, Any]]:
    """Each record of the patient with its lock, signature and open queries (a few queries)."""
    locks = {
        (x.record_model, x.record_id)
        for x in RecordLock.objects.filter(patient=p, locked=True).only("record_model", "record_id")
    }
    signatures: dict[tuple[str, int], Signature] = {}
    for x in Signature.objects.filter(patient=p).order_by("signed_at", "pk"):
        signatures[(x.record_model, x.record_id)] = x
    open_counts = {
        (row["record_model"], row["record_id"]): row["n"]
        for row in Query.objects.filter(patient=p)
        .exclude(status=QueryStatus.CLOSED)
        .values("record_model", "record_id")
        .annotate(n=Count("pk"))
    }
    out = []
    for r in patient_records(p):
        key = (r.row._meta.label_lower, r.row.pk)
        sig = signatures.get(key)
        if sig is None:
            text = "unsigned"
        elif sig.voided_at is not None:
            text = sig.void_reason
        else:
            text = "signed"
        out.append(
            {
                "kind": r.kind,
                "record": r.ref,
                "label": r.label,
                "row": r.row,
                "date": r.date,
                "version": r.row.version,
                "locked": key in locks,
                "signature": text,
                "signed": sig is not None and sig.voided_at is None,
                "signature_row": sig,
                "open_queries": open_counts.get(key, 0),
            }
        )
    return out


# --- vital signs and ECG ----------------------------------------------------------------------


def _vitals_routes(kind: str, path: str, out: Any, create_in: Any, update_in: Any) -> None:
    model, _ = vitals.MODELS[kind]
    base = f"/patients/{{patient_id}}/{path}"
    label = "vital signs" if kind == "vital_signs" else "ECG"

    names = [f for f in out.model_fields if f not in ("id", "version")]

    def row_out(row: Any) -> dict[str, Any]:
        return {"id": row.pk, "version": row.version, **{f: getattr(row, f) for f in names}}

    def row_of(p: m.Patient, record_id: int) -> Any:
        row = model._default_manager.filter(patient=p, pk=record_id).first()
        if row is None:
            raise HttpError(404, f"no {label} record {record_id} for this patient")
        return row

    def list_view(request: HttpRequest, patient_id: int) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        return [row_out(x) for x in model._default_manager.filter(patient=p).order_by("date", "pk")]

    def read_view(request: HttpRequest, patient_id: int, record_id: int) -> Any:
        return row_out(row_of(request_access(request).patient(patient_id), record_id))

    def create_view(request: HttpRequest, patient_id: int, payload: Any) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, WRITE, f"recording {label}")
        row = vitals.record(p, kind, payload.data.model_dump(), actor=request_actor(request))
        return Status(201, row_out(row))

    def update_view(request: HttpRequest, patient_id: int, record_id: int, payload: Any) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, WRITE, f"correcting {label}")
        row = vitals.amend_record(
            row_of(p, record_id),
            payload.data.model_dump(),
            expected_version=payload.version,
            actor=request_actor(request),
            reason=payload.reason,
        )
        return row_out(row)

    def delete_view(
        request: HttpRequest, patient_id: int, record_id: int, version: int, reason: str
    ) -> Any:
        access = request_access(request)
        p = access.patient(patient_id)
        access.require(p.site_id, WRITE, f"deleting {label}")
        vitals.delete_record(
            row_of(p, record_id),
            expected_version=version,
            actor=request_actor(request),
            reason=reason,
        )
        return Status(204, None)

    create_view.__annotations__["payload"] = create_in
    update_view.__annotations__["payload"] = update_in
    item = base + "/{record_id}"
    views: list[tuple[str, str, Callable[..., Any], dict[int, Any], str]] = [
        ("GET", base, list_view, {200: list[out], **READ_CODES}, f"list {label}"),
        ("GET", item, read_view, {200: out, **READ_CODES}, f"read {label}"),
        ("POST", base, create_view, {201: out, **WRITE_CODES}, f"record {label}"),
        ("PUT", item, update_view, {200: out, **LOCKED_CODES}, f"correct {label}"),
        ("DELETE", item, delete_view, {204: None, **LOCKED_CODES}, f"delete {label}"),
    ]
    for method, route, view, response, summary in views:
        view.__name__ = f"{view.__name__.removesuffix('_view')}_{kind}"
        router.add_api_operation(
            route,
            [method],
            view,
            response=response,
            operation_id=view.__name__,
            summary=summary,
            tags=["vital signs and ECG"],
        )


_vitals_routes("vital_signs", "vital-signs", VitalSignsOut, VitalSignsCreate, VitalSignsUpdate)
_vitals_routes("ecg", "ecg", EcgOut, EcgCreate, EcgUpdate)


# --- registration -----------------------------------------------------------------------------


def register(api: NinjaAPI) -> None:
    """Add these routes and the answers to the monitoring errors to ``api``."""

    def answer(status: int) -> Any:
        def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
            return api.create_response(request, {"detail": str(exc)}, status=status)

        return handler

    def field_error(field: str) -> Any:
        def handler(request: HttpRequest, exc: Exception) -> HttpResponse:
            text = str(exc).removeprefix(f"{field}: ")
            item = {"loc": ["body", "payload", field], "msg": text, "type": "value_error"}
            return api.create_response(request, {"detail": [item]}, status=422)

        return handler

    api.add_exception_handler(q.QueryPermissionError, answer(403))
    api.add_exception_handler(signing.SigningPermissionError, answer(403))
    api.add_exception_handler(q.QueryStateError, answer(409))
    api.add_exception_handler(signing.AlreadySignedError, answer(409))
    api.add_exception_handler(signing.RecordLockedError, answer(423))
    api.add_exception_handler(q.QueryTextError, field_error("text"))
    api.add_exception_handler(signing.PasswordError, field_error("password"))
    api.add_router("/", router)
