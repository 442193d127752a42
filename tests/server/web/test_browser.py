"""The web application in a real browser: Playwright drives Debian's Chromium against the
production WSGI stack (waitress, WhiteNoise) serving the test database on 127.0.0.1.

A screenshot of each page is kept in ``output/screenshots/`` (git-ignored; CI keeps it).
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connections

from tests.server.web.conftest import PASSWORD, Study, build_study

# Playwright's sync API keeps an event loop in the test's thread; the ORM calls of the test
# itself (setting up and checking the data) are plain synchronous calls.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = Path(__file__).resolve().parents[3] / "output" / "screenshots"

if not CHROMIUM.exists():
    if os.environ.get("CI"):
        raise RuntimeError("the browser tests need Debian's Chromium: bash .ci/install-browser.sh")
    pytest.skip("Debian's Chromium is not installed", allow_module_level=True)

sync_api = pytest.importorskip("playwright.sync_api")

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    playwright = sync_api.sync_playwright().start()
    browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
    try:
        yield browser
    finally:
        browser.close()
        playwright.stop()


@pytest.fixture
def server(transactional_db: None) -> Iterator[str]:
    """The study server (waitress, as in the demo) on a free port of 127.0.0.1."""
    from waitress.server import create_server  # type: ignore[import-untyped]

    from rfatrial.server.wsgi import application

    def app(environ: dict[str, Any], start_response: Any) -> Iterator[bytes]:
        # each request closes its thread's database connection when done: the connections kept
        # between requests (CONN_MAX_AGE) would otherwise outlive the test database
        response = application(environ, start_response)
        try:
            yield from response
        finally:
            response.close()
            connections.close_all()

    httpd = create_server(app, host="127.0.0.1", port=0, threads=4, ident="rfatrial")
    thread = threading.Thread(target=httpd.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.effective_port}"
    finally:
        httpd.close()
        httpd.task_dispatcher.shutdown()


@pytest.fixture
def study(transactional_db: None) -> Study:
    return build_study()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(10_000)
    # Only the local server: any other address is refused.
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/).*"), lambda route: route.abort())
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()


def shot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def sign_in(page: Any, username: str) -> None:
    page.goto("/login/")
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_a_new_coordinator_records_a_cycle_and_labs_that_postpone_the_session(
    page: Any, study: Study
) -> None:
    expect = sync_api.expect
    page.goto("/worklist/")
    expect(page).to_have_url(re.compile(r"/login/\?next="))
    shot(page, "01-login")
    sign_in(page, "coord_a")

    # the worklist: the patient's pre-RFA labs are due, with their window and rule
    expect(page).to_have_url(re.compile(r"/worklist/$"))
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()
    row = page.locator("#worklist tbody tr", has_text="SA-001").first
    expect(row).to_contain_text("lab_gate")
    expect(page.locator("#worklist")).not_to_contain_text("SB-001")
    shot(page, "02-worklist")

    # the patient page
    row.get_by_role("link", name="SA-001", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("Patient SA-001"))).to_be_visible()
    expect(page.locator("#phase")).to_have_attribute("data-phase", "rfa_preparation")
    expect(page.locator("#lesions")).to_contain_text("L1")
    expect(page.locator("#responses")).to_contain_text("PR")
    expect(page.locator("#labs svg").first).to_be_visible()
    shot(page, "03-patient")

    # a systemic cycle: a dose left out is shown beside its field, then recorded
    page.get_by_role("link", name="Cycle", exact=True).click()
    expect(page.get_by_role("heading", name=re.compile("Systemic cycle"))).to_be_visible()
    page.locator("#id_rows-0-dose").fill("85")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("td.invalid .field-error").first).to_be_visible()
    shot(page, "04-cycle-validation")
    page.locator("#id_rows-1-dose").fill("400")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".msg-success")).to_contain_text("Systemic cycle")
    expect(page.locator("#timeline li").first).to_contain_text("FOLFOX")

    # a lab panel with low platelets: the gate fails and the session is postponed
    page.get_by_role("link", name="Lab panel", exact=True).click()
    values = {
        "platelets": "38",
        "neutrophils": "3.1",
        "hemoglobin": "12.2",
        "inr": "1.1",
        "bilirubin": "14",
        "alt": "35",
        "ast": "33",
        "albumin": "39",
        "creatinine": "80",
    }
    for analyte, value in values.items():
        page.locator(f"#id_{analyte}").fill(value)
    page.locator("#id_ascites").select_option("none")
    page.locator("#id_encephalopathy").select_option("none")
    shot(page, "05-lab-entry")
    page.get_by_role("button", name="Record").click()
    expect(page.get_by_role("heading", name=re.compile("Pre-RFA lab gate"))).to_be_visible()
    until = (date.today() + timedelta(days=7)).isoformat()
    expect(page.locator("#gate-decision")).to_contain_text("Postpone")
    expect(page.locator("#gate-decision")).to_contain_text(until)
    expect(page.locator("#gate-criteria tr.crit-fail")).to_contain_text("platelets")
    shot(page, "06-lab-gate")

    # the worklist now asks for the labs again on the postponement date
    page.goto("/worklist/?kind=pre_rfa_labs")
    expect(page.locator("#worklist tbody tr", has_text="SA-001")).to_contain_text(until)


def test_a_user_of_site_b_cannot_open_a_patient_of_site_a(page: Any, study: Study) -> None:
    expect = sync_api.expect
    sign_in(page, "coord_b")
    expect(page).to_have_url(re.compile(r"/worklist/$"))
    response = page.goto(f"/patients/{study.patient_a.pk}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    shot(page, "07-other-site-404")
    response = page.goto(f"/patients/{study.patient_b.pk}/")
    assert response is not None and response.status == 200


def test_a_monitor_of_two_sites_chooses_one(page: Any, study: Study) -> None:
    expect = sync_api.expect
    sign_in(page, "monitor_ab")
    expect(page.get_by_role("heading", name="Choose a site")).to_be_visible()
    shot(page, "08-site-selector")
    page.get_by_role("button", name=re.compile("^SB")).click()
    expect(page).to_have_url(re.compile(r"/worklist/$"))
    expect(page.locator("#worklist")).to_contain_text("SB-001")
    expect(page.locator("#worklist")).not_to_contain_text("SA-001")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
