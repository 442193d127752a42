"""The study report in the web application, for the people who analyse and clean the data.

Who: statisticians, administrators and data managers of a site open the report on the patients
of the sites where they hold one of these roles (the site selector narrows it to one of them).
Investigators, coordinators and monitors work patient by patient and do not see the report:
it shows outcomes by arm, which the people treating and monitoring patients should not follow
while the study runs. Nobody sees a report that covers a site where he holds no such role.

How: the page reads the patients' histories from the database (the same converter as
``rfatrial report``), computes the data snapshot's hash, and serves the report cached for that
hash in ``<data folder>/reports/<hash>/``. When there is none, one background thread builds it
(one report at a time: the statistics and figures take the processor for several seconds) and
the page says "generating" with the steps done, refreshing itself until the report is ready.
A report never changes once written: new data give a new hash, so a new report; the 20 most
recent reports are kept.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path
from django.utils.translation import gettext as _

from rfatrial.server.study import models as m
from rfatrial.server.web.access import current_site, post_only, signed_in, user_roles

__all__ = ["REPORT_ROLES", "report_sites", "urlpatterns"]

#: The roles that open the study report (at the sites where they are held).
REPORT_ROLES = frozenset({m.Role.STATISTICIAN, m.Role.ADMINISTRATOR, m.Role.DATA_MANAGER})
_HASH = re.compile(r"^[0-9a-f]{64}$")
_FILES = {"html": ("report.html", "text/html; charset=utf-8"), "pdf": ("report.pdf", None)}
#: Seconds between two refreshes of the page while the report is being generated.
REFRESH_SECONDS = 2
#: Reports kept in the data folder (the most recent ones; each data change makes a new one).
KEEP_REPORTS = 20


@dataclass
class _Job:
    """A report being generated (or that failed): its steps so far, or the error."""

    sites: list[str]
    steps: list[str] = field(default_factory=list)
    error: str | None = None
    done: bool = False


_jobs: dict[str, _Job] = {}
_jobs_lock = threading.Lock()
_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="study-report")
# (sites, audit chain head) -> snapshot hash: every change of study data appends to the audit
# trail, so while the chain's head is the same the hash has not changed and the histories need
# not be read again (the page refreshes every few seconds while a report is generated).
_known: dict[tuple[tuple[str, ...], int, str], str] = {}


def report_sites(request: HttpRequest) -> list[str]:
    """The sites the user's report covers: where he holds a report role (the chosen one only,
    when the site selector names one of them)."""
    mine = sorted(code for code, roles in user_roles(request.user).items() if roles & REPORT_ROLES)
    chosen = current_site(request)
    return [chosen] if chosen in mine else mine


def _report_dir() -> Path:
    return Path(settings.DATA_DIR) / "reports"


def _audit_head() -> tuple[int, str]:
    head = m.AuditHead.objects.first()
    return (head.seq, head.hash) if head is not None else (0, "")


def _snapshot(sites: list[str]) -> tuple[str, Any]:
    """The snapshot hash of the sites' patients, and their cohort when it had to be read."""
    from rfatrial.analysis.study_database import database_cohort

    key = (tuple(sites), *_audit_head())
    digest = _known.get(key)
    if digest is not None:
        return digest, None
    cohort = database_cohort(sites)
    if len(_known) > 1000:  # old chain lengths are never asked again
        _known.clear()
    _known[key] = cohort.data_hash
    return cohort.data_hash, cohort


def _meta(digest: str) -> dict[str, Any] | None:
    try:
        data = json.loads((_report_dir() / digest / "meta.json").read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _build(digest: str, cohort: Any, job: _Job) -> None:
    """Write the report of ``cohort`` into ``reports/<digest>/`` (in the background thread)."""
    from rfatrial.analysis.report import build_report

    final = _report_dir() / digest
    try:
        _report_dir().mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{digest[:12]}-", dir=_report_dir()))
        try:
            result = build_report(cohort, work, progress=job.steps.append)
            meta = {
                "hash": digest,
                # the sites whose patients the report holds (who may read it), which may be
                # fewer than those asked for: a site without patients adds nothing
                "sites": sorted({h.site for h in cohort.histories}),
                "asked_for": job.sites,
                "patients": result.patients,
                "randomized": result.randomized,
                "protocol_version": result.protocol_version,
                "pdf_pages": result.pdf_pages,
                "seconds": round(result.seconds, 1),
                "generated": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
            }
            (work / "meta.json").write_text(json.dumps(meta, indent=2), "utf-8")
            if not final.exists():
                work.rename(final)  # the report appears whole or not at all
        finally:
            shutil.rmtree(work, ignore_errors=True)
        job.done = True
        _prune(keep=digest)
    except Exception as exc:  # shown on the page; the next visit may try again
        job.error = f"{type(exc).__name__}: {exc}"
    finally:
        if job.error is None:
            with _jobs_lock:
                _jobs.pop(digest, None)


def _prune(keep: str) -> None:
    """Remove the oldest reports beyond :data:`KEEP_REPORTS` (a removed one is made again when
    asked for: its data snapshot is in the database, if it is still the current one)."""
    reports = [d for d in _report_dir().iterdir() if d.is_dir() and _HASH.match(d.name)]
    reports.sort(key=lambda d: d.stat().st_mtime, reverse=True)
    for old in reports[KEEP_REPORTS:]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def _start(digest: str, cohort: Any, sites: list[str]) -> _Job:
    """The job generating the report of ``digest``, started unless it runs or the report exists
    (then the job returned is ``done``)."""
    with _jobs_lock:
        if _meta(digest) is not None:  # written meanwhile (the job is gone once it is)
            return _Job(sites, done=True)
        job = _jobs.get(digest)
        if job is None or job.error is not None:
            job = _Job(sites)
            _jobs[digest] = job
            _worker.submit(_build, digest, cohort, job)
        return job


def _context(request: HttpRequest) -> tuple[list[str], str | None, Any]:
    sites = report_sites(request)
    if not sites:
        raise PermissionDenied(
            _("The study report is for statisticians, administrators and data managers.")
        )
    try:
        digest, cohort = _snapshot(sites)
    except ValueError:  # no patient at these sites yet
        return sites, None, None
    return sites, digest, cohort


@signed_in
def report_page(request: HttpRequest) -> HttpResponse:
    """The report of the user's sites: ready (links), generating (steps), or failed (retry)."""
    from rfatrial.analysis.report import REPORT_STEPS

    sites, digest, cohort = _context(request)
    context: dict[str, Any] = {"sites": sites, "digest": digest, "total_steps": len(REPORT_STEPS)}
    if digest is None:
        return render(request, "web/report.html", {**context, "state": "empty"})
    meta = _meta(digest)
    if meta is not None:
        return render(request, "web/report.html", {**context, "state": "ready", "meta": meta})
    with _jobs_lock:
        job = _jobs.get(digest)
    if job is not None and job.error is not None:
        return render(request, "web/report.html", {**context, "state": "failed", "job": job})
    if job is None:
        if cohort is None:  # the hash was known, the histories were not read: read them now
            from rfatrial.analysis.study_database import database_cohort

            cohort = database_cohort(sites)
        job = _start(digest, cohort, sites)
    meta = _meta(digest)
    if job.done and meta is not None:
        return render(request, "web/report.html", {**context, "state": "ready", "meta": meta})
    response = render(
        request,
        "web/report.html",
        {
            **context,
            "state": "generating",
            "job": job,
            "step": job.steps[-1] if job.steps else "",
            "done_steps": max(0, len(job.steps) - 1),
            "refresh": REFRESH_SECONDS,
        },
    )
    response["Refresh"] = str(REFRESH_SECONDS)
    return response


@post_only
@signed_in
def report_retry(request: HttpRequest) -> HttpResponse:
    """Generate again a report whose generation failed."""
    sites, digest, cohort = _context(request)
    if digest is not None and _meta(digest) is None:
        if cohort is None:
            from rfatrial.analysis.study_database import database_cohort

            cohort = database_cohort(sites)
        _start(digest, cohort, sites)
    return redirect("web:report")


@signed_in
def report_file(request: HttpRequest, digest: str, kind: str) -> HttpResponse:
    """A cached report's HTML (shown) or PDF (downloaded), if it covers only the user's sites.

    A report of a site where the user holds no report role does not exist for him (404).
    """
    if not _HASH.match(digest) or kind not in _FILES:
        raise Http404("no such report")
    meta = _meta(digest)
    allowed = {code for code, roles in user_roles(request.user).items() if roles & REPORT_ROLES}
    if meta is None or not allowed or not set(meta.get("sites", [])) <= allowed:
        raise Http404("no such report")
    name, content_type = _FILES[kind]
    source = _report_dir() / digest / name
    if kind == "pdf":
        return FileResponse(
            source.open("rb"),
            as_attachment=True,
            filename=f"rfatrial-report-{digest[:12]}.pdf",
            content_type="application/pdf",
        )
    return FileResponse(source.open("rb"), content_type=content_type)


urlpatterns = [
    path("", report_page, name="report"),
    path("retry/", report_retry, name="report_retry"),
    path("<str:digest>/report.<str:kind>", report_file, name="report_file"),
]
