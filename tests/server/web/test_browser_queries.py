"""Monitoring in a real browser (Playwright, Debian's Chromium, the production WSGI stack): a
monitor's query answered by the coordinator and closed; an investigator's signature voided by a
coordinator's change; a locked record that refuses an edit. Screenshots in output/screenshots/."""

from __future__ import annotations

import re
from typing import Any

from rfatrial.server.monitoring import vitals
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor
from tests.server.web import test_browser as harness
from tests.server.web.conftest import Study, day, make_user
from tests.server.web.test_browser import shot, sign_in, sync_api

# The browser, the server and the study of the browser tests (pytest finds fixtures by name).
browser = harness.browser
server = harness.server
page = harness.page
study = harness.study
pytestmark = harness.pytestmark


def sign_out(page: Any) -> None:
    page.get_by_role("button", name="Sign out").click()


def test_a_monitor_opens_a_query_the_coordinator_answers_the_monitor_closes(
    page: Any, study: Study
) -> None:
    expect = sync_api.expect
    sign_in(page, "monitor_ab")
    page.goto(f"/patients/{study.patient_a.pk}/")
    cycle = m.SystemicCycle.objects.filter(patient=study.patient_a).order_by("seq").first()
    assert cycle is not None
    row = page.locator(f"#rec-systemic_cycle-{cycle.seq}")
    row.get_by_role("link", name="Query").click()
    expect(page.get_by_role("heading", name=re.compile("Open a query"))).to_be_visible()
    page.get_by_label("Field (optional)").fill("agents")
    page.get_by_label("Question").fill("Please confirm the oxaliplatin dose.")
    page.get_by_role("button", name="Open query").click()
    expect(page.locator("#query-status")).to_have_text("New")
    shot(page, "q01-query-opened")
    sign_out(page)

    sign_in(page, "coord_a")
    page.get_by_role("link", name="Queries").click()
    expect(page.locator("#queries")).to_contain_text("Please confirm the oxaliplatin dose.")
    page.get_by_role("link", name="Please confirm the oxaliplatin dose.").click()
    page.get_by_label("Message").fill("85 mg/m2, as in the source.")
    page.get_by_role("button", name="Answer").click()
    expect(page.locator("#query-status")).to_have_text("Answered")
    expect(page.locator("#thread")).to_contain_text("85 mg/m2, as in the source.")
    expect(page.get_by_role("button", name="Close query")).to_have_count(0)
    shot(page, "q02-query-answered")
    sign_out(page)

    sign_in(page, "monitor_ab")
    page.goto("/queries/?status=answered")
    page.get_by_role("link", name="Please confirm the oxaliplatin dose.").click()
    page.get_by_role("button", name="Close query").click()
    expect(page.locator("#query-status")).to_have_text("Closed")
    page.goto("/queries/?status=open")
    expect(page.locator("#queries")).not_to_contain_text("oxaliplatin")
    shot(page, "q03-queries-list")


def test_a_signature_is_voided_by_a_change_and_a_locked_record_refuses_an_edit(
    page: Any, study: Study
) -> None:
    expect = sync_api.expect
    make_user("inv_a", {"SA": ["investigator"]})
    make_user("dm_a", {"SA": ["data_manager"]})
    values = {"date": day(-1), "systolic_bp_mmhg": 128, "diastolic_bp_mmhg": 80, "weight_kg": 70}
    vs = vitals.record(study.patient_a, "vital_signs", values, actor=Actor("coord_a"))

    sign_in(page, "inv_a")
    page.goto(f"/patients/{study.patient_a.pk}/")
    row = page.locator(f"#rec-vital_signs-{vs.pk}")
    row.get_by_role("link", name="Sign", exact=True).click()
    expect(page.locator("#signature-meaning")).to_contain_text("complete and accurate")
    page.get_by_label("Your password").fill("not my password")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("password is wrong")
    shot(page, "q04-signature-dialog")
    page.get_by_label("Your password").fill("correct horse battery")
    page.get_by_role("button", name="Sign", exact=True).click()
    expect(row.locator(".signature")).to_contain_text("signed")
    sign_out(page)

    # the coordinator corrects the weight: the signature is voided, visibly
    sign_in(page, "coord_a")
    page.goto(f"/patients/{study.patient_a.pk}/")
    row.get_by_role("link", name="Vital signs").click()
    page.get_by_label("Weight (kg)").fill("72")
    page.get_by_label("Reason for change").fill("scale recalibrated")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.locator(".msg-success")).to_contain_text("Vital signs corrected")
    expect(row.locator(".signature")).to_contain_text("signature voided by change on")
    expect(row.locator(".signature")).to_contain_text("scale recalibrated")
    shot(page, "q05-signature-voided")
    sign_out(page)

    # the data manager locks it; the coordinator's next edit is refused with a message
    sign_in(page, "dm_a")
    page.goto(f"/patients/{study.patient_a.pk}/")
    row.get_by_role("button", name="Lock").click()
    expect(row.locator(".lock")).to_contain_text("locked")
    sign_out(page)

    sign_in(page, "coord_a")
    page.goto(f"/patients/{study.patient_a.pk}/")
    row.get_by_role("link", name="Vital signs").click()
    expect(page.locator("#locked-badge")).to_be_visible()
    page.get_by_label("Weight (kg)").fill("75")
    page.get_by_label("Reason for change").fill("another reading")
    page.get_by_role("button", name="Save the correction").click()
    expect(page.locator("#form-errors")).to_contain_text("is locked")
    shot(page, "q06-locked-refused")
    vs.refresh_from_db()
    assert vs.weight_kg == 72 and vs.version == 2
