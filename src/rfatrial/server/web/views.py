"""Sign-in, site selector, worklist (with its CSV and iCalendar exports), patients, lab gate."""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.contrib import messages
from django.contrib.auth import authenticate, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from rfatrial.kernel.lab_gate import check_panel
from rfatrial.kernel.protocol import default_protocol
from rfatrial.server.study import models as m
from rfatrial.server.study.convert import read_events
from rfatrial.server.web import throttle
from rfatrial.server.web.access import (
    SESSION_SITE,
    WRITER_ROLES,
    can_write,
    client_ip,
    current_site,
    patient_or_404,
    post_only,
    selected_sites,
    signed_in,
    user_roles,
    user_sites,
)
from rfatrial.server.web.charts import (
    DERIVED,
    TREND_ANALYTES,
    age_on,
    derived_values,
    gate_limits,
    sparkline,
)
from rfatrial.server.web.dates import DEFAULT_FORMAT, format_date, format_for_request, parse_date
from rfatrial.server.web.engine_texts import engine_text
from rfatrial.server.web.enrol import can_randomize
from rfatrial.server.web.entry import FORM_OF_ACTION
from rfatrial.server.web.models import SiteSettings
from rfatrial.server.web.summaries import event_summary

ACTION_KINDS = [
    "randomize",
    "systemic_cycle",
    "response_scan",
    "pre_rfa_labs",
    "rfa_session",
    "post_rfa_scan",
    "follow_up_visit",
    "confirm_withdrawal",
]


def today() -> date:
    return date.today()


# --- sign-in ----------------------------------------------------------------------------------


def login_view(request: HttpRequest) -> HttpResponse:
    """Sign in; 5 failures per 15 minutes for one user name from one address lock it for a while."""
    next_url = request.POST.get("next") or request.GET.get("next") or ""
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()}):
        next_url = ""
    error = ""
    username = ""
    status = 200
    if request.method == "POST":
        username = request.POST.get("username", "").strip()
        password = request.POST.get("password", "")
        ip = client_ip(request)
        wait = throttle.locked_for(username, ip)
        if wait:
            error = _(
                "Too many failed sign-ins for this user name from this computer. Try again in"
                " %(minutes)d minute(s), or ask the study administrator."
            ) % {"minutes": max(1, round(wait / 60))}
            status = 429
        else:
            user = authenticate(request, username=username, password=password)
            if user is None:
                failures = throttle.record_failure(username, ip)
                left = throttle.MAX_FAILURES - failures
                error = _("The user name or the password is wrong.")
                if left <= 0:
                    error += " " + _(
                        "Sign-in is now locked for this user name from this computer for"
                        " %(minutes)d minutes."
                    ) % {"minutes": throttle.WINDOW_SECONDS // 60}
                    status = 429
                elif left <= 2:
                    error += " " + _(
                        "%(left)d attempt(s) left before sign-in is locked for a while."
                    ) % {"left": left}
            else:
                throttle.clear(username, ip)
                login(request, user)
                sites = user_sites(user)
                if len(sites) == 1:
                    request.session[SESSION_SITE] = sites[0]
                if len(sites) > 1 and not next_url:
                    return redirect("web:sites")
                return HttpResponseRedirect(next_url or reverse("web:home"))
    return render(
        request,
        "web/login.html",
        {"error": error, "username": username, "next": next_url},
        status=status,
    )


@post_only
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("web:login")


@signed_in
def sites_view(request: HttpRequest) -> HttpResponse:
    """The site selector: one of the user's sites, or all of them."""
    sites = list(
        m.Site.objects.filter(code__in=user_sites(request.user))
        .order_by("code")
        .values("code", "name")
    )
    if request.method == "POST":
        code = request.POST.get("site", "")
        if code and code not in {s["code"] for s in sites}:
            messages.error(request, _("You hold no role at that site."))
        else:
            request.session[SESSION_SITE] = code or None
            return redirect("web:worklist")
    roles: dict[str, list[str]] = {}
    for code, role in m.SiteRole.objects.filter(user=request.user).values_list(
        "site__code", "role"
    ):
        roles.setdefault(code, []).append(role.replace("_", " "))
    for s in sites:
        s["roles"] = ", ".join(sorted(roles.get(s["code"], [])))
    formats = dict(
        SiteSettings.objects.filter(site__code__in=[s["code"] for s in sites]).values_list(
            "site__code", "date_format"
        )
    )
    for s in sites:
        s["date_example"] = format_date(today(), formats.get(s["code"], DEFAULT_FORMAT))
        s["sets_dates"] = bool(
            user_roles(request.user).get(s["code"], set())
            & {m.Role.ADMINISTRATOR, m.Role.INVESTIGATOR}
        )
    return render(request, "web/sites.html", {"sites": sites, "current": current_site(request)})


@signed_in
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:worklist")


# --- worklist ---------------------------------------------------------------------------------


def _parse_day(text: str | None, code: str = DEFAULT_FORMAT) -> date | None:
    """A filter's day, typed in the site's format or ISO (anything else: no filter)."""
    try:
        return parse_date(text, code) if text else None
    except ValueError:
        return None


def _worklist(request: HttpRequest) -> tuple[list[m.NextAction], dict[str, Any]]:
    """The actions of the user's patients with the request's filters (site, kind, date range)."""
    day = today()
    sites = selected_sites(request)
    site = request.GET.get("site", "")
    if site in sites:
        sites = [site]
    else:
        site = ""
    kind = request.GET.get("kind", "")
    if kind not in ACTION_KINDS:
        kind = ""
    has_to = "to" in request.GET
    code = format_for_request(request)
    start = _parse_day(request.GET.get("from"), code)
    end = _parse_day(request.GET.get("to"), code) if has_to else day + timedelta(days=14)
    rows = m.NextAction.objects.select_related("patient", "patient__site").filter(
        patient__site__code__in=sites
    )
    if kind:
        rows = rows.filter(kind=kind)
    if start:
        rows = rows.filter(latest__gte=start)
    if end:
        rows = rows.filter(earliest__lte=end)
    actions = list(rows.order_by("target", "patient__study_id", "position")[:2000])
    for a in actions:
        a.record_kind = FORM_OF_ACTION.get(a.kind)
        a.status = (
            "overdue"
            if a.overdue or a.latest < day
            else ("due" if a.earliest <= day else "upcoming")
        )
    filters = {
        "site": site,
        "kind": kind,
        "from": format_date(start, code),
        "to": format_date(end, code),
    }
    return actions, filters


@signed_in
def worklist(request: HttpRequest) -> HttpResponse:
    actions, filters = _worklist(request)
    params = request.GET.copy()
    params.pop("page", None)
    query = params.urlencode()
    # One page of rows at a time: the whole list stays in the CSV and iCalendar exports.
    pages = -(-len(actions) // WORKLIST_PAGE) or 1
    try:
        page = min(max(int(request.GET.get("page", "1")), 1), pages)
    except ValueError:
        page = 1
    shown = actions[(page - 1) * WORKLIST_PAGE : page * WORKLIST_PAGE]
    return render(
        request,
        "web/worklist.html",
        {
            "actions": shown,
            "page": page,
            "pages": pages,
            "first_row": (page - 1) * WORKLIST_PAGE + 1 if shown else 0,
            "last_row": (page - 1) * WORKLIST_PAGE + len(shown),
            "total": len(actions),
            "filters": filters,
            "kinds": ACTION_KINDS,
            "sites": selected_sites(request),
            "today": today(),
            "counts": {
                s: sum(1 for a in actions if a.status == s) for s in ("overdue", "due", "upcoming")
            },
            "query": query,
            "writable": [c for c in selected_sites(request) if can_write(request.user, c)],
            "randomizing": [c for c in selected_sites(request) if can_randomize(request.user, c)],
        },
    )


WORKLIST_PAGE = 200

CSV_COLUMNS = [
    "site",
    "patient",
    "kind",
    "what",
    "earliest",
    "target",
    "latest",
    "status",
    "rule",
    "why",
]


@signed_in
def worklist_csv(request: HttpRequest) -> HttpResponse:
    actions, _ = _worklist(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="worklist-{today()}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_COLUMNS)
    for a in actions:
        writer.writerow(
            [
                a.patient.site.code,
                a.patient.study_id,
                a.kind,
                engine_text(a.what_key, a.params, a.what),
                a.earliest.isoformat(),
                a.target.isoformat(),
                a.latest.isoformat(),
                a.status,
                a.rule,
                engine_text(a.why_key, a.params, a.why),
            ]
        )
    return response


def _ics_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _ics_fold(line: str) -> list[str]:
    """RFC 5545 folding: lines of at most 75 octets, continuations start with a space."""
    out: list[str] = []
    current = ""
    for ch in line:
        limit = 75 if not out else 74
        if len((current + ch).encode()) > limit:
            out.append(current)
            current = ch
        else:
            current += ch
    out.append(current)
    return [out[0], *(" " + part for part in out[1:])]


def ics_calendar(actions: list[m.NextAction], *, host: str, stamp: datetime) -> str:
    """The actions as all-day events on their target date (window and rule in the description)."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//rfatrial//worklist//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    dtstamp = stamp.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
    for a in actions:
        p = a.patient
        what = engine_text(a.what_key, a.params, a.what)
        why = engine_text(a.why_key, a.params, a.why)
        description = (
            f"{what}\nWindow: {a.earliest.isoformat()} to {a.latest.isoformat()}"
            f" (target {a.target.isoformat()})\nWhy: {why}\nRule: {a.rule}"
        )
        lines += [
            "BEGIN:VEVENT",
            f"UID:{p.site.code}-{p.study_id}-{a.kind}-{a.position}-{a.target:%Y%m%d}@{host}",
            f"DTSTAMP:{dtstamp}",
            f"DTSTART;VALUE=DATE:{a.target:%Y%m%d}",
            f"DTEND;VALUE=DATE:{a.target + timedelta(days=1):%Y%m%d}",
            "SUMMARY:" + _ics_text(f"{p.study_id}: {what}"),
            "DESCRIPTION:" + _ics_text(description),
            "CATEGORIES:" + _ics_text(a.kind),
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "".join(part + "\r\n" for line in lines for part in _ics_fold(line))


@signed_in
def worklist_ics(request: HttpRequest) -> HttpResponse:
    actions, _ = _worklist(request)
    host = request.get_host().split(":")[0] or "rfatrial"
    body = ics_calendar(actions, host=host, stamp=datetime.now(UTC))
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="worklist-{today()}.ics"'
    return response


# --- patients ---------------------------------------------------------------------------------


@signed_in
def patients(request: HttpRequest) -> HttpResponse:
    rows = (
        m.Patient.objects.select_related("site", "state")
        .filter(site__code__in=selected_sites(request))
        .order_by("site__code", "study_id")
    )
    q = request.GET.get("q", "").strip()
    if q:
        rows = rows.filter(study_id__icontains=q)
    can_enrol = any(roles & WRITER_ROLES for roles in user_roles(request.user).values())
    return render(
        request,
        "web/patients.html",
        {"patients": list(rows[:1000]), "q": q, "can_enrol": can_enrol},
    )


def _lesion_table(evaluation: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    lesions = evaluation.get("lesions", [])
    dates = sorted({d for les in lesions for d, _ in les.get("sizes", [])})
    rows = []
    for les in lesions:
        sizes = dict(les.get("sizes", []))
        rows.append(
            {
                "id": les["lesion_id"],
                "organ": les.get("organ", ""),
                "segment": les.get("segment") or "",
                "status": les.get("status", ""),
                "sizes": [sizes.get(d) for d in dates],
                "sessions": ", ".join(str(s) for s in les.get("sessions", [])),
            }
        )
    return dates, rows


def _lab_trends(patient: m.Patient) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A row per panel with the trend analytes and the values derived from them (eGFR, ALBI),
    and a chart of each."""
    results = (
        m.LabResult.objects.filter(panel__patient=patient, analyte__in=TREND_ANALYTES)
        .select_related("panel")
        .order_by("panel__date", "panel__seq", "position")
    )
    by_panel: dict[int, dict[str, Any]] = {}
    columns = (*TREND_ANALYTES, *DERIVED)
    series: dict[str, list[tuple[date, float, float | None]]] = {a: [] for a in columns}
    for r in results:
        row = by_panel.setdefault(r.panel_id, {"date": r.panel.date, "values": {}, "raw": {}})
        row["values"][r.analyte] = f"{r.value:g} {r.unit}".strip()
        row["raw"][r.analyte] = (r.value, r.unit)
        series[r.analyte].append((r.panel.date, r.value, r.uln))
    screened = (
        m.Screening.objects.filter(patient=patient).order_by("date").values_list("date", flat=True)
    ).first()
    for row in by_panel.values():
        age = age_on(row["date"], patient.age_at_screening, screened)
        derived = derived_values(row["raw"], age_years=age, sex=patient.sex)
        for name, value in derived.items():
            row["values"][name] = f"{value:g}"
            series[name].append((row["date"], value, None))
    table = [
        {"date": row["date"], "values": [row["values"].get(a, "") for a in columns]}
        for row in by_panel.values()
    ]
    limits = gate_limits(default_protocol())
    charts = []
    for analyte in columns:
        points = series[analyte]
        if points:
            charts.append(
                {
                    "analyte": analyte,
                    "svg": sparkline(analyte, points, limits.get(analyte)),
                    "last": points[-1][1],
                }
            )
    return table, charts


@signed_in
def patient_page(request: HttpRequest, pk: int) -> HttpResponse:
    patient = patient_or_404(request, pk)
    state = m.PatientState.objects.filter(patient=patient).first()
    evaluation = state.evaluation if state else {}
    events = read_events(patient)
    timeline = [
        {"seq": s.row.seq, "date": s.event.date, "kind": s.kind, **event_summary(s.event)}
        for s in events
    ]
    timeline.reverse()
    dates, lesion_rows = _lesion_table(evaluation)
    lab_table, lab_charts = _lab_trends(patient)
    return render(
        request,
        "web/patient.html",
        {
            "patient": patient,
            "state": state,
            "evaluation": evaluation,
            "gate": evaluation.get("lab_gate"),
            "timeline": timeline,
            "lesion_dates": dates,
            "lesions": lesion_rows,
            "responses": evaluation.get("responses", []),
            "actions": patient.next_actions.order_by("position"),
            "deviations": patient.deviations.order_by("date", "position"),
            "trend_analytes": (*TREND_ANALYTES, *DERIVED),
            "lab_table": lab_table,
            "lab_charts": lab_charts,
            "can_write": can_write(request.user, patient.site.code),
            "can_randomize": can_randomize(request.user, patient.site.code)
            and not (state and state.arm),
            "today": today(),
        },
    )


@signed_in
def gate_page(request: HttpRequest, pk: int) -> HttpResponse:
    """The pre-RFA lab gate: each criterion with value, threshold and verdict, and the decision."""
    patient = patient_or_404(request, pk)
    state = m.PatientState.objects.filter(patient=patient).first()
    gate = state.evaluation.get("lab_gate") if state else None
    panel = gate.get("panel") if gate else None
    latest_check = None
    if panel is None:
        # Not preparing a session: the latest panel judged against the criteria, for information.
        last = next((s for s in reversed(read_events(patient)) if s.kind == "lab_panel"), None)
        if last is not None:
            result = check_panel(last.event, default_protocol().lab_gate.criteria)  # type: ignore[arg-type]
            latest_check = {
                "panel_date": result.panel_date,
                "passed": result.passed,
                "criteria": [
                    {
                        "key": c.key,
                        "status": c.status,
                        "value": c.value,
                        "unit": c.unit,
                        "threshold": c.threshold,
                    }
                    for c in result.criteria
                ],
            }
    return render(
        request,
        "web/gate.html",
        {
            "patient": patient,
            "state": state,
            "gate": gate,
            "panel": panel,
            "latest_check": latest_check,
            "protocol": default_protocol().lab_gate,
            "can_write": can_write(request.user, patient.site.code),
        },
    )
