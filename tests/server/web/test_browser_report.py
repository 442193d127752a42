"""The study report in a real browser: a statistician of three sites opens the Report page, sees
it generating, then opens the report and downloads the PDF (Playwright, Debian's Chromium,
waitress on 127.0.0.1; screenshots in ``output/screenshots/``)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rfatrial.analysis.study_database import database_cohort
from rfatrial.server.study.services import load_history
from tests.server.conftest import TODAY, simulated_histories
from tests.server.web.conftest import make_user
from tests.server.web.test_browser import (  # the browser, the server and their helpers
    browser,
    page,
    server,
    shot,
    sign_in,
    sync_api,
)

__all__ = ["browser", "page", "server"]  # fixtures used by name

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def statistician(transactional_db: None) -> Any:
    for history in simulated_histories(12):
        load_history(history, today=TODAY)
    return make_user(
        "stat_all", {"S01": ["statistician"], "S02": ["statistician"], "S03": ["statistician"]}
    )


def test_a_statistician_opens_the_study_report(page: Any, statistician: Any) -> None:
    expect = sync_api.expect
    sign_in(page, "stat_all")
    page.get_by_role("button", name="All my sites").click()
    # the Report link of the navigation
    page.get_by_role("link", name="Report", exact=True).click()
    expect(page).to_have_url(re.compile(r"/report/$"))
    # the report is generated in the background; the page says so, with its progress
    expect(page.get_by_role("heading", name="Generating the report…")).to_be_visible()
    expect(page.locator("#report-progress")).to_be_visible()
    shot(page, "report-01-generating")

    # the page refreshes itself until the report is ready
    page.wait_for_selector(
        '#report-state[data-state="ready"], #report-state[data-state="failed"]', timeout=300_000
    )
    expect(page.get_by_role("heading", name="The report is ready")).to_be_visible()
    digest = database_cohort(["S01", "S02", "S03"]).data_hash
    expect(page.locator("#snapshot")).to_have_text(digest)
    shot(page, "report-02-ready")

    # the report opens in a new tab: the first page names the snapshot and the protocol
    with page.context.expect_page() as opened:
        page.get_by_role("link", name="Open the report").click()
    report = opened.value
    report.wait_for_load_state()
    expect(report.get_by_role("heading", name="Study report", exact=True)).to_be_visible()
    expect(report.locator("#title")).to_contain_text(digest)
    expect(report.locator("#title")).to_contain_text("study database (sites S01, S02, S03)")
    expect(report.get_by_role("heading", name="Efficacy: time-to-event endpoints")).to_be_visible()
    expect(report.locator("#safety")).to_contain_text("worst Clavien-Dindo grade")
    report.screenshot(path=str(shot_path("report-03-first-page")))

    # the PDF downloads
    with page.expect_download() as downloaded:
        page.get_by_role("link", name=re.compile("Download the PDF")).click()
    assert downloaded.value.suggested_filename == f"rfatrial-report-{digest[:12]}.pdf"
    with open(downloaded.value.path(), "rb") as f:
        assert f.read(4) == b"%PDF"


def shot_path(name: str) -> Any:
    from tests.server.web.test_browser import SCREENSHOTS

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"
