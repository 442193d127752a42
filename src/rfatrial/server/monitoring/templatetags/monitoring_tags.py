"""The monitoring panel of the patient page (each record with its queries, signature and lock),
and one record's status for its data-entry form."""

from __future__ import annotations

from typing import Any

from django import template
from django.utils.translation import gettext

from rfatrial.server.api.monitoring import status_rows
from rfatrial.server.monitoring import queries as q
from rfatrial.server.monitoring import signing
from rfatrial.server.monitoring.models import Query, QueryStatus
from rfatrial.server.monitoring.records import (
    KIND_LABELS,
    RECORD_KINDS,
    RecordNotFoundError,
    find_record,
    model_label,
)
from rfatrial.server.study import models as m
from rfatrial.server.web.access import user_roles

register = template.Library()


def monitoring_panel(context: Any, patient: m.Patient) -> dict[str, Any]:
    """The records of ``patient`` with what the signed-in user may do with each."""
    request = context["request"]
    roles = user_roles(request.user).get(patient.site.code, set())
    readable = q.may("read", roles)
    rows = status_rows(patient) if readable else []
    return {
        "request": request,
        "patient": patient,
        "rows": rows,
        "readable": readable,
        "open_total": sum(r["open_queries"] for r in rows),
        "can_query": q.may("open", roles),
        "can_sign": bool(roles & signing.SIGN_ROLES),
        "can_lock": bool(roles & signing.LOCK_ROLES),
        "can_write": bool(roles & {m.Role.INVESTIGATOR, m.Role.COORDINATOR}),
        "server_kinds": [
            k for k, model in RECORD_KINDS.items() if not issubclass(model, m.EventRecord)
        ],
        "csrf_token": context.get("csrf_token"),
    }


def record_monitoring(context: Any, patient: m.Patient, kind: str, ref: int) -> dict[str, Any]:
    """One record's signature, lock and open queries, for its data-entry form:
    ``{% record_monitoring patient "lab_panel" seq %}``."""
    request = context["request"]
    roles = user_roles(request.user).get(patient.site.code, set())
    out: dict[str, Any] = {"patient": patient, "kind": kind, "ref": ref, "record": None}
    if not q.may("read", roles):
        return out
    try:
        record = find_record(patient, kind, ref)
    except RecordNotFoundError:
        return out
    out.update(
        record=record,
        locked=signing.is_locked(record),
        signature=signing.signature_of(record),
        open_queries=list(
            Query.objects.filter(record_model=model_label(record), record_id=record.pk)
            .exclude(status=QueryStatus.CLOSED)
            .order_by("pk")
        ),
        can_query=q.may("open", roles),
    )
    return out


def record_kind(kind: str) -> str:
    """The name of a record kind in the user's language: ``lab_panel`` → "Lab panel"."""
    return gettext(KIND_LABELS.get(kind, kind))


# Registered by call, not as a decorator: Django's decorator is untyped.
register.inclusion_tag("monitoring/_patient_panel.html", takes_context=True)(monitoring_panel)
register.inclusion_tag("monitoring/_record_status.html", takes_context=True)(record_monitoring)
register.filter("record_kind", record_kind)
