"""A user switches the interface to Simplified Chinese in the browser; the choice follows them."""

from __future__ import annotations

from typing import Any

from rfatrial.server.language.models import LanguagePreference
from tests.server.web import test_browser as harness
from tests.server.web.conftest import PASSWORD, Study
from tests.server.web.test_browser import shot, sign_in, sync_api

# The browser, the server and the study of the browser tests (pytest finds fixtures by name).
browser = harness.browser
server = harness.server
page = harness.page
study = harness.study
pytestmark = harness.pytestmark


def test_a_coordinator_switches_to_chinese_and_keeps_it_at_the_next_sign_in(
    page: Any, study: Study, browser: Any, server: str
) -> None:
    expect = sync_api.expect
    sign_in(page, "coord_a")
    expect(page.get_by_role("heading", name="Worklist")).to_be_visible()

    # the language menu is in the header of every page, reachable by keyboard
    page.get_by_label("Language").select_option("zh-hans")
    page.get_by_role("button", name="Change language").click()
    expect(page.locator("html")).to_have_attribute("lang", "zh-hans")
    expect(page.get_by_role("heading", name="工作清单")).to_be_visible()
    expect(page.get_by_role("button", name="退出登录")).to_be_visible()
    # the engine's own texts too: what is due, and why
    expect(page.locator("main")).to_contain_text("RFA 前实验室检查：血常规、生化、凝血")
    expect(page.locator("main")).to_contain_text("第 1 次 RFA 前实验室检查，须在其前 7 天内")
    shot(page, "language-01-worklist-zh")

    page.get_by_role("link", name="SA-001", exact=True).first.click()
    expect(page.get_by_role("heading", name="受试者 SA-001")).to_be_visible()
    expect(page.locator("#next-actions h2")).to_have_text("下一步")
    expect(page.locator("#phase")).to_have_attribute("data-phase", "rfa_preparation")
    expect(page.locator("#phase")).to_have_text("射频消融准备")
    expect(page.locator("#next-actions")).to_contain_text("随访 M3：超声 / 超声造影, CT / MRI")
    shot(page, "language-02-patient-zh")
    assert LanguagePreference.objects.get(user=study.coordinator).language == "zh-hans"

    # another browser, in English: after sign-in the user's own choice wins
    context = browser.new_context(base_url=server, locale="en-US")
    other = context.new_page()
    try:
        other.goto("/login/")
        expect(other.get_by_role("heading", name="Sign in")).to_be_visible()
        other.get_by_label("User name").fill("coord_a")
        other.get_by_label("Password").fill(PASSWORD)
        other.get_by_role("button", name="Sign in").click()
        expect(other.get_by_role("heading", name="工作清单")).to_be_visible()
    finally:
        context.close()
