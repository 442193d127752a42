"""The dashboard: enrollment by site and arm, where every patient is (CONSORT-style), overdue
actions, deviations and the serious adverse events of the last 30 days, for the user's sites.

Every figure is an aggregate query (``GROUP BY`` in the database), so the page runs the same
number of SQL queries whatever the number of patients.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.db.models import Count, Min, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from rfatrial.server.monitoring.models import Query, QueryStatus
from rfatrial.server.study import models as m
from rfatrial.server.web import views
from rfatrial.server.web.access import selected_sites, signed_in

ARMS = ["control", "experimental"]
#: The phases of the engine in the order a patient goes through them (CONSORT rows).
PRE_RANDOMIZATION = ["not_screened", "screening", "screen_failure"]
ON_STUDY = ["induction", "rfa_preparation", "consolidation", "follow_up"]
OFF_STUDY = ["withdrawn", "lost_to_follow_up", "deceased"]
PHASES = PRE_RANDOMIZATION + ON_STUDY + OFF_STUDY
RECENT_DAYS = 30
MAX_LISTED = 100


def _column(arm: str | None) -> str:
    return arm if arm in ARMS else "none"


def enrollment(sites: list[str]) -> dict[str, Any]:
    """Registered, screened, eligible and randomized (per arm) patients of each site."""
    rows: dict[str, dict[str, int]] = {
        s: {"registered": 0, "screened": 0, "eligible": 0, "control": 0, "experimental": 0}
        for s in sites
    }
    for r in (
        m.Patient.objects.filter(site__code__in=sites).values("site__code").annotate(n=Count("id"))
    ):
        rows[r["site__code"]]["registered"] = r["n"]
    for r in (
        m.Screening.objects.filter(patient__site__code__in=sites)
        .values("patient__site__code")
        .annotate(
            n=Count("patient", distinct=True),
            eligible=Count("patient", distinct=True, filter=Q(eligible=True)),
        )
    ):
        rows[r["patient__site__code"]].update(screened=r["n"], eligible=r["eligible"])
    for r in (
        m.Randomization.objects.filter(patient__site__code__in=sites)
        .values("patient__site__code", "arm")
        .annotate(n=Count("patient", distinct=True))
    ):
        if r["arm"] in ARMS:
            rows[r["patient__site__code"]][r["arm"]] = r["n"]
    table: list[dict[str, Any]] = [
        {"site": s, **v, "randomized": v["control"] + v["experimental"]} for s, v in rows.items()
    ]
    keys = ["registered", "screened", "eligible", "control", "experimental", "randomized"]
    total = {k: sum(row[k] for row in table) for k in keys}
    return {"rows": table, "total": total}


def consort(sites: list[str]) -> dict[str, Any]:
    """How many patients are in each phase, by arm (``none``: not randomized)."""
    counts: dict[str, dict[str, int]] = {}
    for r in (
        m.PatientState.objects.filter(patient__site__code__in=sites)
        .values("phase", "arm")
        .annotate(n=Count("id"))
    ):
        row = counts.setdefault(r["phase"], {"control": 0, "experimental": 0, "none": 0})
        row[_column(r["arm"])] += r["n"]
    # Patients registered but never evaluated have no state: they are not screened yet.
    evaluated = sum(sum(v.values()) for v in counts.values())
    registered = m.Patient.objects.filter(site__code__in=sites).count()
    if registered > evaluated:
        row = counts.setdefault("not_screened", {"control": 0, "experimental": 0, "none": 0})
        row["none"] += registered - evaluated
    order = PHASES + sorted(set(counts) - set(PHASES))

    def group(phase: str) -> str:
        if phase in OFF_STUDY:
            return "off study"
        if phase in PRE_RANDOMIZATION:
            return "not randomized"
        return "on study"

    rows: list[dict[str, Any]] = [
        {
            "phase": p,
            "group": group(p),
            **counts[p],
            "total": sum(counts[p].values()),
        }
        for p in order
        if p in counts
    ]
    columns = ["control", "experimental", "none", "total"]
    total = {c: sum(r[c] for r in rows) for c in columns}
    withdrawals = {
        r["initiated_by"]: r["n"]
        for r in m.Withdrawal.objects.filter(patient__site__code__in=sites)
        .values("initiated_by")
        .annotate(n=Count("patient", distinct=True))
    }
    return {"rows": rows, "total": total, "withdrawals": withdrawals}


def overdue(sites: list[str]) -> dict[str, Any]:
    """The overdue actions by kind, and the longest overdue of them."""
    rows = m.NextAction.objects.filter(patient__site__code__in=sites).filter(
        Q(overdue=True) | Q(latest__lt=views.today())
    )
    by_kind = list(
        rows.values("kind")
        .annotate(n=Count("id"), patients=Count("patient", distinct=True))
        .order_by("-n", "kind")
    )
    oldest = list(
        rows.select_related("patient", "patient__site").order_by("latest", "patient__study_id")[:20]
    )
    return {"by_kind": by_kind, "oldest": oldest, "total": sum(r["n"] for r in by_kind)}


def deviations(sites: list[str]) -> dict[str, Any]:
    """The deviations by code: all of them and those of the last 30 days."""
    since = views.today() - timedelta(days=RECENT_DAYS)
    by_code = list(
        m.Deviation.objects.filter(patient__site__code__in=sites)
        .values("code")
        .annotate(
            n=Count("id"),
            patients=Count("patient", distinct=True),
            recent=Count("id", filter=Q(date__gte=since)),
        )
        .order_by("-n", "code")
    )
    return {
        "by_code": by_code,
        "total": sum(r["n"] for r in by_code),
        "recent": sum(r["recent"] for r in by_code),
    }


def serious_adverse_events(sites: list[str]) -> list[m.AdverseEvent]:
    """The serious adverse events with an onset in the last 30 days, the latest first."""
    since = views.today() - timedelta(days=RECENT_DAYS)
    return list(
        m.AdverseEvent.objects.filter(
            patient__site__code__in=sites, serious=True, date__gte=since, date__lte=views.today()
        )
        .select_related("patient", "patient__site")
        .order_by("-date", "patient__study_id", "seq")[:MAX_LISTED]
    )


def open_queries(sites: list[str]) -> dict[str, Any]:
    """The data queries not closed yet, by site: waiting for the site (new) or for the monitor."""
    by_site = list(
        Query.objects.filter(patient__site__code__in=sites)
        .exclude(status=QueryStatus.CLOSED)
        .values("patient__site__code")
        .annotate(
            new=Count("id", filter=Q(status=QueryStatus.NEW)),
            answered=Count("id", filter=Q(status=QueryStatus.ANSWERED)),
            automatic=Count("id", filter=Q(automatic=True)),
            oldest=Min("opened_at"),
        )
        .order_by("patient__site__code")
    )
    rows = [{"site": r.pop("patient__site__code"), **r} for r in by_site]
    return {
        "rows": rows,
        "total": sum(r["new"] + r["answered"] for r in rows),
        "new": sum(r["new"] for r in rows),
        "answered": sum(r["answered"] for r in rows),
    }


def dashboard_data(sites: list[str]) -> dict[str, Any]:
    return {
        "sites": sites,
        "enrollment": enrollment(sites),
        "consort": consort(sites),
        "overdue": overdue(sites),
        "deviations": deviations(sites),
        "queries": open_queries(sites),
        "saes": serious_adverse_events(sites),
        "recent_days": RECENT_DAYS,
        "today": views.today(),
    }


@signed_in
def dashboard(request: HttpRequest) -> HttpResponse:
    return render(request, "web/dashboard.html", dashboard_data(selected_sites(request)))
