"""The ablation planner in a real browser (Playwright driving Debian's Chromium against waitress):
an investigator opens the planner from the worklist for a patient with eight remaining lesions,
sees the proposal, is refused a plan of seven lesions with the rule, confirms three with a reason,
and finds the plan on the patient page. Screenshots in ``output/screenshots/`` (git-ignored).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from tests.server.planning.conftest import PlanningStudy, build_planning_study
from tests.server.web import test_browser as harness
from tests.server.web.test_browser import shot, sign_in, sync_api

# The browser and the server of the browser tests (pytest finds fixtures by name).
browser = harness.browser
server = harness.server
pytestmark = harness.pytestmark


@pytest.fixture
def planning(transactional_db: None) -> PlanningStudy:
    return build_planning_study()


@pytest.fixture
def context(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(
        base_url=server, viewport={"width": 1280, "height": 900}, locale="en-US"
    )
    context.set_default_timeout(15_000)
    # Only the local server: any other address is refused.
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:\d+/).*"), lambda route: route.abort())
    try:
        yield context
    finally:
        context.close()


def test_an_investigator_plans_the_next_session(context: Any, planning: PlanningStudy) -> None:
    expect = sync_api.expect
    page = context.new_page()
    sign_in(page, "investigator_a")
    expect(page).to_have_url(re.compile(r"/worklist/$"))

    # from the worklist's RFA action to the planner
    row = page.locator("#worklist tbody tr", has_text="SA-101").filter(has_text="RFA")
    row.get_by_role("link", name="Plan the session").first.click()
    expect(page.get_by_role("heading", name=re.compile("Ablation batch planner"))).to_be_visible()

    # every remaining lesion judged; the proposal of four, largest first, and its split
    lesions = page.locator("#planner-lesions tbody tr")
    expect(lesions).to_have_count(8)
    expect(page.locator("#proposed-set")).to_have_text("L8, L7, L6, L5")
    expect(page.locator("#proposed-split li")).to_have_count(2)
    expect(page.locator("#proposed-split")).to_contain_text("Session 2: L4, L3, L2, L1")
    for lesion in ("L8", "L7", "L6", "L5"):
        expect(page.get_by_label(lesion, exact=True)).to_be_checked()
    expect(page.locator("#live-summary")).to_have_text("The plan keeps every rule.")
    shot(page, "planner-01-proposal")

    # seven lesions: the server's live check names the rule before anything is sent
    page.get_by_label("L4", exact=True).check()
    page.get_by_label("L3", exact=True).check()
    page.get_by_label("L2", exact=True).focus()
    page.keyboard.press("Space")  # the keyboard ticks a lesion as well as the mouse
    expect(page.get_by_label("L2", exact=True)).to_be_checked()
    expect(page.locator("#live-findings")).to_contain_text("(at most 6)")
    expect(page.locator("#live-summary")).to_have_text(
        "The plan breaks a rule: it cannot be confirmed."
    )
    page.get_by_label("Reasons for every change from the proposal").fill("all in one session")

    # confirming seven lesions is refused with the rule and its place in the protocol
    page.get_by_role("button", name="Confirm plan").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text("This plan cannot be confirmed")
    expect(refusal).to_contain_text("7 lesions planned for session 1 (at most 6)")
    expect(refusal).to_contain_text("rfa.max_lesions_per_session = 6 (protocol 1.0)")
    expect(page.get_by_label("L2", exact=True)).to_be_checked()  # nothing typed is lost
    shot(page, "planner-02-refused")
    assert _plans(planning) == []  # nothing stored

    # three lesions, with the reason for leaving L5 to the next session
    reasons = page.get_by_label("Reasons for every change from the proposal")
    expect(reasons).to_have_value("all in one session")
    reasons.fill("")
    for lesion in ("L5", "L4", "L3", "L2"):
        page.get_by_label(lesion, exact=True).uncheck()
    expect(page.locator("#live-summary")).to_have_text("The plan needs a reason to be confirmed.")
    expect(page.locator("#live-findings")).to_contain_text("left out L5")
    reasons.fill("L5 lies under the dome: with the next session")
    expect(page.locator("#live-summary")).to_have_text("The plan keeps every rule.")
    page.get_by_role("button", name="Confirm plan").click()

    # the plan on the patient page
    expect(page).to_have_url(re.compile(rf"/patients/{planning.patient_a.pk}/$"))
    expect(page.locator(".msg-success")).to_contain_text("The plan of session 1 is confirmed.")
    plan = page.locator("#session-plan")
    expect(plan).to_contain_text("L8, L7, L6")
    expect(plan).to_contain_text("Confirmed")
    expect(plan).to_contain_text("L5 lies under the dome")
    plan.scroll_into_view_if_needed()
    shot(page, "planner-03-patient-page")
    [saved] = _plans(planning)
    assert saved == ("confirmed", ["L8", "L7", "L6"], "investigator_a")


def test_the_planner_fits_a_tablet(context: Any, planning: PlanningStudy) -> None:
    expect = sync_api.expect
    page = context.new_page()
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, "coordinator_a")
    page.goto(f"/patients/{planning.patient_a.pk}/planner/")
    expect(page.locator("#proposed-set")).to_have_text("L8, L7, L6, L5")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, overflow
    expect(page.get_by_role("button", name="Save draft")).to_be_visible()
    expect(page.get_by_role("button", name="Confirm plan")).to_have_count(0)
    shot(page, "planner-04-tablet")


def _plans(planning: PlanningStudy) -> list[tuple[str, list[str], str]]:
    from rfatrial.server.planning.models import SessionPlan

    return [
        (p.status, p.lesions, p.confirmed_by)
        for p in SessionPlan.objects.filter(patient=planning.patient_a)
    ]
