"""The web pages of monitoring: the queries list and a query's thread, opening a query on a record,
the signature dialog, locking, and the vital signs and ECG forms.

Roles are those of the patient's site (:func:`~rfatrial.server.web.access.user_roles`); a patient
of another site is a 404, a missing role a 403. Every write goes through the services of this app.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _

from rfatrial.server.monitoring import queries as q
from rfatrial.server.monitoring import signing, vitals
from rfatrial.server.monitoring.models import Query, QueryStatus
from rfatrial.server.monitoring.records import (
    KIND_LABELS,
    RecordNotFoundError,
    find_record,
    model_label,
)
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import StaleRecordError
from rfatrial.server.study.services import EventError
from rfatrial.server.web.access import (
    actor_of,
    patient_or_404,
    post_only,
    selected_sites,
    signed_in,
    user_roles,
)
from rfatrial.server.web.terms import term

__all__ = [
    "lock_view",
    "open_query_view",
    "queries_page",
    "query_page",
    "sign_view",
    "vitals_view",
]


def _roles(request: HttpRequest, patient: m.Patient) -> set[str]:
    return user_roles(request.user).get(patient.site.code, set())


def _record(patient: m.Patient, kind: str, ref: int) -> m.StudyRecord:
    try:
        return find_record(patient, kind, ref)
    except RecordNotFoundError:
        raise Http404("no such record") from None


def _version(request: HttpRequest) -> int:
    """The version the form was read at (a tampered value is a stale one: refused, not a 500)."""
    value = request.POST.get("version", "")
    return int(value) if value.isdigit() else 0


def _back(patient: m.Patient) -> str:
    return reverse("web:patient", args=[patient.pk]) + "#monitoring"


# --- the queries list and a query ---------------------------------------------------------------


@signed_in
def queries_page(request: HttpRequest) -> HttpResponse:
    """The queries of the user's sites where he reads them; filters: status, site, patient."""
    roles = user_roles(request.user)
    readable = [c for c in selected_sites(request) if may_read(roles.get(c, set()))]
    status = request.GET.get("status", "open")
    site = request.GET.get("site", "")
    patient = request.GET.get("patient", "").strip()
    qs = Query.objects.select_related("patient__site").filter(patient__site__code__in=readable)
    if status == "open":
        qs = qs.exclude(status=QueryStatus.CLOSED)
    elif status in QueryStatus.values:
        qs = qs.filter(status=status)
    if site in readable:
        qs = qs.filter(patient__site__code=site)
    if patient:
        qs = qs.filter(patient__study_id__icontains=patient)
    rows = list(qs.order_by("-updated_at", "-pk")[:500])
    return render(
        request,
        "monitoring/queries.html",
        {
            "rows": rows,
            "kind_labels": KIND_LABELS,
            "statuses": [
                ("open", _("open (new or answered)")),
                *((value, term(value)) for value in QueryStatus.values),
                ("", _("all")),
            ],
            "status": status,
            "sites": readable,
            "site": site,
            "patient": patient,
        },
    )


def may_read(roles: set[str]) -> bool:
    return q.may("read", roles)


def _query_or_404(request: HttpRequest, pk: int) -> Query:
    x = Query.objects.select_related("patient__site").filter(pk=pk).first()
    if x is None:
        raise Http404("no such query")
    patient_or_404(request, x.patient_id)  # another site's query does not exist for him
    if not may_read(_roles(request, x.patient)):
        raise PermissionDenied("your role at this site does not read data queries")
    return x


STEPS: dict[str, Callable[..., Query]] = {
    "answer": q.answer_query,
    "reply": q.reply_to_query,
    "close": q.close_query,
    "reopen": q.reopen_query,
}


@signed_in
def query_page(request: HttpRequest, pk: int) -> HttpResponse:
    """A query's thread, and what the user may do with it now."""
    x = _query_or_404(request, pk)
    roles = _roles(request, x.patient)
    error = ""
    if request.method == "POST":
        action = request.POST.get("action", "")
        if action not in STEPS:
            raise Http404("no such action")
        try:
            STEPS[action](
                x,
                text=request.POST.get("text", ""),
                actor=actor_of(request),
                roles=roles,
                expected_version=_version(request),
            )
        except q.QueryPermissionError as exc:
            raise PermissionDenied(str(exc)) from None
        except (q.QueryStateError, q.QueryTextError, StaleRecordError) as exc:
            error = str(exc).removeprefix("text: ")
        else:
            messages.success(request, _("The query is %(status)s.") % {"status": _status(action)})
            return redirect("monitoring:query", pk=x.pk)
        x.refresh_from_db()
    open_now = x.status != QueryStatus.CLOSED
    actions = [
        a
        for a, ok in (
            ("answer", open_now and q.may("answer", roles)),
            ("reply", open_now and q.may("reply", roles)),
            ("close", open_now and q.may("close", roles)),
            ("reopen", not open_now and q.may("reopen", roles)),
        )
        if ok
    ]
    return render(
        request,
        "monitoring/query.html",
        {
            "query": x,
            "patient": x.patient,
            "record_label": KIND_LABELS.get(x.record_kind, x.record_kind),
            "thread": list(x.messages.order_by("position")),
            "actions": actions,
            "error": error,
        },
        status=422 if error else 200,
    )


def _status(action: str) -> str:
    return {
        "answer": _("answered"),
        "reply": _("new (waiting for the site)"),
        "close": _("closed"),
        "reopen": _("re-opened"),
    }[action]


class OpenQueryForm(forms.Form):
    field = forms.CharField(
        max_length=64,
        required=False,
        help_text="The field the question is about (leave empty for the whole record).",
    )
    text = forms.CharField(widget=forms.Textarea(attrs={"rows": 4}), max_length=5000)


@signed_in
def open_query_view(request: HttpRequest, pk: int, kind: str, ref: int) -> HttpResponse:
    """A monitor or a data manager opens a query on one of the patient's records."""
    patient = patient_or_404(request, pk)
    roles = _roles(request, patient)
    if not q.may("open", roles):
        raise PermissionDenied("your role at this site does not open data queries")
    record = _record(patient, kind, ref)
    form = OpenQueryForm(request.POST or None, initial={"field": request.GET.get("field", "")})
    if request.method == "POST" and form.is_valid():
        try:
            x = q.open_query(
                record,
                text=form.cleaned_data["text"],
                field=form.cleaned_data["field"],
                actor=actor_of(request),
                roles=roles,
            )
        except q.QueryTextError as exc:
            form.add_error("text", str(exc).removeprefix("text: "))
        else:
            messages.success(request, _("Query opened."))
            return redirect("monitoring:query", pk=x.pk)
    return render(
        request,
        "monitoring/open_query.html",
        {
            "patient": patient,
            "form": form,
            "record_label": KIND_LABELS.get(kind, kind),
            "record": record,
        },
        status=422 if request.method == "POST" else 200,
    )


# --- signature and lock -------------------------------------------------------------------------


@signed_in
def sign_view(request: HttpRequest, pk: int, kind: str, ref: int = 0) -> HttpResponse:
    """The signature dialog: the meaning, the signer, the password re-entered."""
    patient = patient_or_404(request, pk)
    roles = _roles(request, patient)
    if not roles & signing.SIGN_ROLES:
        raise PermissionDenied("only an investigator of the patient's site signs")
    casebook = kind == "casebook"
    record = None if casebook else _record(patient, kind, ref)
    error = ""
    if request.method == "POST":
        try:
            if record is None:
                done = signing.sign_casebook(
                    patient,
                    user=request.user,
                    password=request.POST.get("password", ""),
                    actor=actor_of(request),
                    roles=roles,
                )
                messages.success(request, _("Casebook signed: %(n)d record(s).") % {"n": len(done)})
            else:
                signing.sign_record(
                    record,
                    user=request.user,
                    password=request.POST.get("password", ""),
                    actor=actor_of(request),
                    roles=roles,
                )
                messages.success(request, _("Record signed."))
        except (signing.PasswordError, signing.AlreadySignedError) as exc:
            error = str(exc).removeprefix("password: ")
        else:
            return redirect(_back(patient))
    return render(
        request,
        "monitoring/sign.html",
        {
            "patient": patient,
            "casebook": casebook,
            "record_label": KIND_LABELS.get(kind, kind),
            "record": record,
            "meaning": signing.SIGNATURE_MEANING,
            "signer": request.user.get_full_name() or request.user.get_username(),
            "error": error,
        },
        status=422 if error else 200,
    )


@signed_in
@post_only
def lock_view(request: HttpRequest, pk: int, kind: str, ref: int) -> HttpResponse:
    """The data manager locks or unlocks a record."""
    patient = patient_or_404(request, pk)
    roles = _roles(request, patient)
    if not roles & signing.LOCK_ROLES:
        raise PermissionDenied("only a data manager of the patient's site locks records")
    record = _record(patient, kind, ref)
    locked = request.POST.get("locked") == "1"
    signing.set_lock(record, locked=locked, actor=actor_of(request), roles=roles)
    label = KIND_LABELS.get(kind, kind)
    if locked:
        messages.success(request, _("%(record)s locked.") % {"record": label})
    else:
        messages.success(request, _("%(record)s unlocked.") % {"record": label})
    return redirect(_back(patient))


# --- vital signs and ECG --------------------------------------------------------------------------

DateInput = forms.DateInput(attrs={"type": "date"})


class VitalSignsForm(forms.Form):
    date = forms.DateField(widget=DateInput)
    systolic_bp_mmhg = forms.IntegerField(required=False, label="Systolic BP (mmHg)")
    diastolic_bp_mmhg = forms.IntegerField(required=False, label="Diastolic BP (mmHg)")
    heart_rate_per_min = forms.IntegerField(required=False, label="Heart rate (/min)")
    temperature_c = forms.FloatField(required=False, label="Temperature (°C)")
    weight_kg = forms.FloatField(required=False, label="Weight (kg)")
    height_cm = forms.FloatField(required=False, label="Height (cm)")
    spo2_percent = forms.IntegerField(required=False, label="SpO2 (%)")


class EcgForm(forms.Form):
    date = forms.DateField(widget=DateInput)
    rhythm = forms.ChoiceField(choices=m.ECG_RHYTHMS)
    heart_rate_per_min = forms.IntegerField(label="Heart rate (/min)")
    qtcf_ms = forms.IntegerField(required=False, label="QTcF (ms)")
    pr_ms = forms.IntegerField(required=False, label="PR (ms)")
    qrs_ms = forms.IntegerField(required=False, label="QRS (ms)")
    clinically_significant = forms.BooleanField(
        required=False, label="Clinically significant abnormality"
    )
    abnormality = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 2}), label="Abnormality"
    )


FORMS: dict[str, type[forms.Form]] = {"vital_signs": VitalSignsForm, "ecg": EcgForm}


def _place(message: str, form: forms.Form) -> None:
    for line in message.splitlines()[1:] or [message]:
        name, _sep, text = line.strip().partition(": ")
        form.add_error(name if name in form.fields else None, text or line.strip())


@signed_in
def vitals_view(request: HttpRequest, pk: int, kind: str, ref: int | None = None) -> HttpResponse:
    """Record vital signs or an ECG, or correct one (version read, reason)."""
    patient = patient_or_404(request, pk)
    if kind not in FORMS:
        raise Http404("no such form")
    roles = _roles(request, patient)
    if not roles & {m.Role.INVESTIGATOR, m.Role.COORDINATOR}:
        raise PermissionDenied("your role at this site does not record clinical data")
    row = _record(patient, kind, ref) if ref is not None else None
    form_class = FORMS[kind]
    initial: dict[str, Any] = {}
    if row is not None:
        initial = {name: getattr(row, name) for name in form_class.base_fields}
    form = form_class(request.POST or None, initial=initial)
    locked = row is not None and signing.is_locked(row)
    status = 200
    if request.method == "POST":
        status = 422
        reason = request.POST.get("reason", "").strip()
        if form.is_valid():
            data = {k: v for k, v in form.cleaned_data.items()}
            data["date"] = data["date"].isoformat()
            if kind == "ecg":
                data["abnormality"] = data.get("abnormality") or ""
            try:
                if row is None:
                    vitals.record(patient, kind, data, actor=actor_of(request))
                    messages.success(request, _("%(record)s recorded.") % {"record": _label(kind)})
                else:
                    if not reason:
                        raise EventError("reason: give the reason for the change")
                    vitals.amend_record(
                        row,
                        data,
                        expected_version=_version(request),
                        actor=actor_of(request),
                        reason=reason,
                    )
                    messages.success(request, _("%(record)s corrected.") % {"record": _label(kind)})
                return redirect(_back(patient))
            except signing.RecordLockedError as exc:
                form.add_error(None, str(exc))
                status = 423
            except StaleRecordError as exc:
                form.add_error(None, str(exc))
                status = 409
            except EventError as exc:
                if str(exc).startswith("reason: "):
                    form.add_error(None, str(exc).removeprefix("reason: "))
                else:
                    _place(str(exc), form)
    open_queries = []
    if row is not None:
        open_queries = list(
            Query.objects.filter(record_model=model_label(row), record_id=row.pk)
            .exclude(status=QueryStatus.CLOSED)
            .order_by("pk")
        )
    return render(
        request,
        "monitoring/vitals_form.html",
        {
            "patient": patient,
            "kind": kind,
            "label": _label(kind),
            "form": form,
            "row": row,
            "locked": locked,
            "signature": signing.signature_of(row) if row is not None else None,
            "open_queries": open_queries,
            "reason": request.POST.get("reason", "") if request.method == "POST" else "",
        },
        status=status,
    )


def _label(kind: str) -> str:
    return KIND_LABELS.get(kind, kind)
