"""The study report page: who opens it, for which sites, generated once per data snapshot and
served from the data folder; new data, a new report."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from rfatrial.analysis.study_database import database_cohort
from rfatrial.server.study.services import record_event
from rfatrial.server.web import report_view
from tests.server.web.conftest import ADMIN, PASSWORD, Study, day, make_user

pytestmark = pytest.mark.django_db


def client_for(user: Any) -> Client:
    c = Client()
    assert c.login(username=user.get_username(), password=PASSWORD)
    return c


def state_of(response: Any) -> str:
    found = re.search(r'data-state="(\w+)"', response.content.decode())
    assert found, response.content.decode()[:2000]
    return found.group(1)


def wait_until_ready(c: Client, timeout: float = 300.0) -> Any:
    """Poll the page as the browser does, until the report is ready (or failed)."""
    deadline = time.monotonic() + timeout
    while True:
        r = c.get("/report/")
        assert r.status_code == 200
        state = state_of(r)
        if state in ("ready", "failed") or time.monotonic() > deadline:
            assert state == "ready", r.content.decode()
            return r
        assert state == "generating"
        assert r["Refresh"] == str(report_view.REFRESH_SECONDS)
        time.sleep(0.5)


def test_a_statistician_generates_then_opens_the_report_of_his_site(
    study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    stat = make_user("stat_a", {"SA": ["statistician"]})
    c = client_for(stat)
    first = c.get("/report/")
    assert first.status_code == 200 and state_of(first) == "generating"
    assert "Generating the report" in first.content.decode()
    ready = wait_until_ready(c)
    digest = database_cohort(["SA"]).data_hash  # the patients of site A only
    page = ready.content.decode()
    assert f'<code id="snapshot">{digest}</code>' in page
    assert "Patients of SA." in page

    folder = Path(settings.DATA_DIR) / "reports" / digest
    assert (folder / "report.html").exists() and (folder / "report.pdf").exists()
    html = c.get(f"/report/{digest}/report.html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    text = b"".join(html.streaming_content).decode()
    assert f"<td>Data snapshot SHA-256</td><td>{digest}</td>" in text
    assert "<td>Data source</td><td>study database (site SA)</td>" in text
    assert "<td>Patients</td><td>1</td>" in text
    pdf = c.get(f"/report/{digest}/report.pdf")
    assert pdf.status_code == 200
    assert pdf["Content-Disposition"].startswith("attachment")
    assert b"".join(pdf.streaming_content).startswith(b"%PDF")

    # cached for this snapshot: ready at once, nothing generated again
    written = (folder / "report.html").stat().st_mtime_ns
    again = c.get("/report/")
    assert state_of(again) == "ready" and digest not in report_view._jobs
    assert (folder / "report.html").stat().st_mtime_ns == written

    # new data: a new snapshot, a new report (and only the newest kept, here)
    monkeypatch.setattr(report_view, "KEEP_REPORTS", 1)
    record_event(
        study.patient_a,
        {"type": "systemic_cycle", "date": day(-1), "regimen": "FOLFOX", "agents": []},
        actor=ADMIN,
    )
    new = c.get("/report/")
    assert state_of(new) == "generating"
    fresh = database_cohort(["SA"]).data_hash
    assert fresh != digest and f'<code id="snapshot">{fresh}</code>' in new.content.decode()
    wait_until_ready(c)
    assert (folder.parent / fresh / "report.html").exists() and not folder.exists()
    assert c.get(f"/report/{digest}/report.html").status_code == 404


def test_who_opens_the_report_and_for_which_sites(study: Study) -> None:
    # clinical roles do not see outcomes by arm: no report, no link
    for user in (study.coordinator, study.monitor):
        c = client_for(user)
        assert c.get("/report/").status_code == 403
        assert 'href="/report/"' not in c.get("/worklist/").content.decode()
    assert Client().get("/report/").status_code == 302  # to the sign-in page

    manager = make_user("dm_ab", {"SA": ["data_manager"], "SB": ["data_manager"]})
    c = client_for(manager)
    assert 'href="/report/"' in c.get("/worklist/").content.decode()
    both = wait_until_ready(c)
    digest_ab = database_cohort(["SA", "SB"]).data_hash
    assert f'<code id="snapshot">{digest_ab}</code>' in both.content.decode()
    assert "Patients of SA, SB." in both.content.decode()
    # the site selector narrows the report to one site
    c.post("/sites/", {"site": "SB"})
    only_b = wait_until_ready(c)
    digest_b = database_cohort(["SB"]).data_hash
    assert f'<code id="snapshot">{digest_b}</code>' in only_b.content.decode()

    # a statistician of site B alone: B's report, never one that covers site A
    stat_b = client_for(make_user("stat_b", {"SB": ["statistician"]}))
    assert stat_b.get(f"/report/{digest_b}/report.html").status_code == 200
    assert stat_b.get(f"/report/{digest_ab}/report.html").status_code == 404
    assert stat_b.get(f"/report/{digest_ab}/report.pdf").status_code == 404
    # a coordinator of site B does not get B's report file either
    assert client_for(study.coordinator_b).get(f"/report/{digest_b}/report.pdf").status_code == 404
    # nor anything that is not a report
    assert stat_b.get(f"/report/{digest_b}/report.txt").status_code == 404
    assert stat_b.get("/report/../secret_key/report.html").status_code == 404


def test_a_site_without_patients(study: Study) -> None:
    from rfatrial.server.study.audit import audited
    from rfatrial.server.study.services import ensure_site

    with audited(ADMIN, "site opened") as audit:
        ensure_site(audit, "SC", "Site C")
    admin = client_for(make_user("admin_c", {"SC": ["administrator"]}))
    r = admin.get("/report/")
    assert r.status_code == 200 and state_of(r) == "empty"
    assert "nothing to report" in r.content.decode()
    # sites B and C hold the patients of B only: the same snapshot as B alone, one report,
    # which a statistician of B alone reads too
    both = client_for(make_user("stat_bc", {"SB": ["statistician"], "SC": ["statistician"]}))
    page = wait_until_ready(both).content.decode()
    digest = database_cohort(["SB"]).data_hash
    assert f'<code id="snapshot">{digest}</code>' in page
    stat_b = client_for(make_user("stat_b_only", {"SB": ["statistician"]}))
    assert stat_b.get(f"/report/{digest}/report.html").status_code == 200
