"""The coordinator's journey in a real browser (Playwright driving Debian's Chromium against the
production WSGI stack on 127.0.0.1), as in the issue: a new coordinator enrols a patient, an
investigator randomizes him (experimental arm), the coordinator records the induction cycles, a
scan whose response is computed, labs that fail the pre-RFA gate and then labs that pass, an RFA
session of 3 lesions, and finds the 1-month CT/MRI in the worklist; the dashboard counts him; a
user of another site cannot open him.

The server works as of the real today, so the weeks between the steps pass by moving the recorded
history back in time through the audited correction service (what a clock would do); the steps
themselves are the pages'. The arm is known in advance because the test chooses the seed of the
allocation lists (from the kernel's list generator), not by reading a slot through the pages.
Site A writes dates DD/MM/YYYY, so every date typed and shown goes through the site's format.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Any

import pytest

from tests.server.web.test_browser import (  # the browser, the server, the page, screenshots
    browser,
    page,
    server,
    shot,
    sign_in,
    study,
    sync_api,
)

__all__ = ["browser", "page", "server", "study"]  # fixtures, imported for pytest

pytestmark = pytest.mark.django_db(transaction=True)

SLOTS = 8
SHRUNK = {"L1": (21.0, "S7"), "L2": (16.8, "S6"), "L3": (12.6, "S2"), "L4": (10.5, "S8")}
BASELINE = {"L1": (30.0, "S7"), "L2": (24.0, "S6"), "L3": (18.0, "S2"), "L4": (15.0, "S8")}


def dmy(offset: int = 0) -> str:
    return (date.today() + timedelta(days=offset)).strftime("%d/%m/%Y")


def experimental_seed(site: str) -> int:
    """A seed whose list for the journey's stratum starts with the experimental arm."""
    from rfatrial.kernel.protocol import default_protocol
    from rfatrial.kernel.randomization import allocation_list, stratum_of

    protocol = default_protocol()
    stratum = stratum_of(protocol, site=site, liver_lesion_count=4, ras_status="wild_type")
    for seed in range(1, 1000):
        first = allocation_list(protocol, seed=seed, stratum=stratum, length=SLOTS)[0]
        if first.arm == "experimental":
            return seed
    raise AssertionError("no seed starts the list with the experimental arm")


def time_passes(study_id: str, days: int) -> None:
    """Move every recorded event of the patient ``days`` earlier (oldest first, so the order of
    the history never changes), through the audited correction service."""
    from rfatrial.server.study import models as m
    from rfatrial.server.study.audit import Actor
    from rfatrial.server.study.convert import read_events
    from rfatrial.server.study.services import amend_event

    patient = m.Patient.objects.get(study_id=study_id)
    for stored in read_events(patient):
        data = stored.event.model_dump(mode="json")
        for key in ("date", "consent_date", "end_date"):
            if data.get(key):
                data[key] = (date.fromisoformat(data[key]) - timedelta(days=days)).isoformat()
        amend_event(
            patient,
            stored.row.seq,
            data,
            expected_version=stored.row.version,
            actor=Actor("test clock"),
            reason=f"{days} days pass in the journey",
            justification="the test's clock moves the history back",
        )


def fill_lesions(page: Any, sizes: dict[str, tuple[float, str]]) -> None:
    for i, (lesion, (size, segment)) in enumerate(sizes.items()):
        page.locator(f"#id_rows-{i}-lesion_id").fill(lesion)
        page.locator(f"#id_rows-{i}-segment").select_option(segment)
        page.locator(f"#id_rows-{i}-diameter_mm").fill(str(size))


def fill_labs(page: Any, **values: str) -> None:
    normal = {
        "platelets": "180",
        "neutrophils": "3.1",
        "hemoglobin": "12.4",
        "inr": "1.05",
        "bilirubin": "12",
        "alt": "30",
        "ast": "28",
        "albumin": "41",
        "creatinine": "76",
    }
    for analyte, value in (normal | values).items():
        page.locator(f"#id_{analyte}").fill(value)
    page.locator("#id_ascites").select_option("none")
    page.locator("#id_encephalopathy").select_option("none")


def test_a_new_coordinator_takes_a_patient_from_enrolment_to_his_first_session(
    browser: Any, server: str, page: Any, study: Any
) -> None:
    from rfatrial.server.api.randomize import open_study
    from rfatrial.server.study import models as m
    from rfatrial.server.study.audit import Actor, audited
    from rfatrial.server.web.models import SiteSettings
    from tests.server.web.conftest import make_user

    expect = sync_api.expect
    admin = Actor("admin")
    make_user("new_coordinator", {"SA": ["coordinator"]})
    make_user("investigator_a", {"SA": ["investigator"]})
    with audited(admin, "site A writes dates day first") as audit:
        audit.create(SiteSettings, site=study.site_a, date_format="dmy_slash")
    open_study(experimental_seed("SA"), actor=admin, slots_per_stratum=SLOTS)

    # --- a new coordinator enrols a patient; a mistake is named and reached from the summary
    sign_in(page, "new_coordinator")
    expect(page).to_have_url(re.compile(r"/worklist/$"))
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="Enrol a patient").click()
    expect(page.get_by_role("heading", name="Enrol a patient")).to_be_visible()
    expect(page.locator("#id_date")).to_have_value(dmy(0))  # today, in the site's format
    page.get_by_label("Sex").select_option("F")
    page.get_by_label("Age at screening (years)").fill("59")
    page.get_by_label("Date of written consent").fill(dmy(0))
    page.get_by_label("Liver lesions").fill("4")
    page.get_by_label("RAS status").select_option("wild_type")
    page.get_by_role("button", name="Enrol").click()  # the study id is missing
    summary = page.locator("#error-summary")
    expect(summary).to_be_focused()
    shot(page, "journey-01-enrol-error-summary")
    summary.get_by_role("link", name=re.compile("Study id")).click()
    expect(page.locator("#id_study_id")).to_be_focused()
    page.keyboard.type("SA-101")
    page.get_by_role("button", name="Enrol").click()
    expect(page.locator(".msg-success")).to_contain_text("SA-101 enrolled")
    expect(page.get_by_role("heading", name=re.compile("Patient SA-101"))).to_be_visible()
    expect(page.locator("#randomize")).to_have_count(0)  # a coordinator does not randomize
    shot(page, "journey-02-enrolled")

    # the baseline scan of the four lesions
    page.get_by_role("link", name="Imaging", exact=True).click()
    page.get_by_label("Purpose").select_option("baseline")
    fill_lesions(page, BASELINE)
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".msg-success")).to_contain_text("Imaging")
    expect(page.locator("#lesions")).to_contain_text("L4")
    page.get_by_role("button", name="Sign out").click()

    # --- an investigator randomizes: nothing of the arm is shown before
    sign_in(page, "investigator_a")
    page.get_by_role("link", name="Patients", exact=True).click()
    page.get_by_role("link", name="SA-101").click()
    page.locator("#randomize").click()
    expect(page.get_by_role("heading", name=re.compile("Randomize"))).to_be_visible()
    expect(page.locator("main")).not_to_contain_text("experimental")
    expect(page.locator("main")).not_to_contain_text("control")
    shot(page, "journey-03-randomize")
    page.get_by_role("button", name="Randomize now").click()
    expect(page.locator(".msg-success")).to_contain_text("randomized to the experimental arm")
    expect(page.locator(".facts")).to_contain_text("experimental")
    expect(page.locator("#randomize")).to_have_count(0)
    shot(page, "journey-04-randomized")
    page.get_by_role("button", name="Sign out").click()
    patient = m.Patient.objects.get(study_id="SA-101")

    # --- the coordinator records the induction cycles, a week and then two weeks later
    sign_in(page, "new_coordinator")
    for weeks_after, number in ((7, 1), (14, 2)):
        time_passes("SA-101", weeks_after)
        page.goto(f"/patients/{patient.pk}/")
        page.get_by_role("link", name="Cycle", exact=True).click()
        page.locator("#id_rows-0-dose").fill("85")
        page.locator("#id_rows-1-dose").fill("400")
        page.get_by_role("button", name="Record").click()
        expect(page.locator(".msg-success")).to_contain_text(f"Systemic cycle {dmy(0)}")
        expect(page.locator(".facts")).to_contain_text(f"Cycles: {number}")
    shot(page, "journey-05-induction")

    # --- the response scan two weeks later: the response is computed
    time_passes("SA-101", 14)
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Imaging", exact=True).click()
    expect(page.locator("#id_rows-0-lesion_id")).to_have_value("L1")  # the known lesions
    for i, (_lesion, (size, _segment)) in enumerate(SHRUNK.items()):
        page.locator(f"#id_rows-{i}-diameter_mm").fill(str(size))
    page.get_by_role("button", name="Record").click()
    responses = page.locator("#responses tbody tr")
    expect(responses.last).to_contain_text("PR")
    expect(responses.last).to_contain_text("−30.0 %")
    expect(responses.last).to_contain_text(dmy(0))
    shot(page, "journey-06-response")

    # --- labs that fail the gate: the session is postponed a week
    page.get_by_role("link", name="Lab panel", exact=True).click()
    fill_labs(page, platelets="41")
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#gate-decision")).to_contain_text("Postpone")
    expect(page.locator("#gate-decision")).to_contain_text(dmy(7))
    expect(page.locator("#gate-criteria tr.crit-fail")).to_contain_text("platelets")
    shot(page, "journey-07-gate-postponed")

    # --- a week later, labs that pass
    time_passes("SA-101", 7)
    page.goto(f"/patients/{patient.pk}/")
    page.get_by_role("link", name="Lab panel", exact=True).click()
    fill_labs(page)
    page.get_by_role("button", name="Record").click()
    expect(page.locator("#gate-decision")).to_contain_text("Proceed")
    shot(page, "journey-08-gate-proceed")

    # --- an RFA session of three lesions, recorded at tablet width
    page.set_viewport_size({"width": 768, "height": 1024})
    page.goto(f"/patients/{patient.pk}/record/rfa_session/")
    for i, lesion in enumerate(BASELINE):  # the lesions remaining, none ticked yet
        expect(page.locator(f"#id_rows-{i}-lesion_id")).to_have_value(lesion)
        expect(page.locator(f"#id_rows-{i}-ablated")).not_to_be_checked()
    for i in range(3):
        page.locator(f"#id_rows-{i}-ablated").check()
        page.locator(f"#id_rows-{i}-margin_mm").fill("6")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    shot(page, "journey-09-rfa-tablet")
    page.get_by_role("button", name="Record").click()
    expect(page.locator(".msg-success")).to_contain_text("RFA session")
    expect(page.locator(".facts")).to_contain_text("RFA sessions: 1")
    shot(page, "journey-10-after-session")
    page.set_viewport_size({"width": 1280, "height": 900})

    # --- the 1-month CT/MRI in the worklist, in the site's format
    page.get_by_role("link", name="Worklist", exact=True).click()
    page.locator("select[name=kind]").select_option("post_rfa_scan")
    expect(page.locator("input[name=to]")).to_have_attribute("placeholder", "DD/MM/YYYY")
    page.locator("input[name=to]").fill(dmy(60))
    page.get_by_role("button", name="Filter").click()
    row = page.locator("#worklist tbody tr", has_text="SA-101")
    expect(row).to_contain_text(dmy(30))
    record = row.get_by_role("link", name=re.compile("^Record: "))
    expect(record).to_have_attribute("href", f"/patients/{patient.pk}/record/post_rfa_scan/")
    shot(page, "journey-11-worklist-post-rfa-scan")

    # --- the dashboard counts the patient in the experimental arm at site A
    page.get_by_role("link", name="Dashboard", exact=True).click()
    enrollment = page.locator("#enrollment")
    expect(enrollment).to_contain_text("SA")
    site_a = page.locator("#enrollment tbody tr", has_text="SA").first
    expect(site_a.locator("td").nth(5)).to_have_text("2")  # experimental: SA-001 and SA-101
    shot(page, "journey-12-dashboard")
    page.get_by_role("button", name="Sign out").click()

    # --- a coordinator of site B cannot open him
    sign_in(page, "coord_b")
    response = page.goto(f"/patients/{patient.pk}/")
    assert response is not None and response.status == 404
    response = page.goto(f"/patients/{patient.pk}/record/lab_panel/")
    assert response is not None and response.status == 404


UNLABELLED = """() => Array.from(
        document.querySelectorAll("main input, main select, main textarea"))
    .filter((e) => e.type !== "hidden")
    .filter((e) => !(e.labels && e.labels.length) && !e.getAttribute("aria-label"))
    .map((e) => e.name)"""


def test_every_entry_form_is_labelled_and_fits_a_tablet(
    browser: Any, server: str, page: Any, study: Any
) -> None:
    from rfatrial.server.web.entry import ENTRY_KINDS
    from tests.server.web.conftest import make_user

    expect = sync_api.expect
    make_user("investigator_a", {"SA": ["investigator"]})
    page.set_viewport_size({"width": 768, "height": 1024})
    sign_in(page, "investigator_a")
    pk = study.patient_a.pk
    urls = [f"/patients/{pk}/record/{kind}/" for kind in ENTRY_KINDS]
    urls += ["/patients/new/", f"/patients/{pk}/events/0/", "/sites/SA/settings/"]
    for url in urls:
        response = page.goto(url)
        assert response is not None and response.status == 200, url
        expect(page.get_by_role("heading", level=1)).to_be_visible()
        assert page.evaluate(UNLABELLED) == [], url
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), url
        name = url.strip("/").replace("/", "-").replace(str(pk), "p")
        shot(page, f"entry-tablet-{name}")
    # the keyboard moves through a form's fields in reading order
    page.goto(f"/patients/{pk}/record/adverse_event/")
    page.locator("#id_date").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#id_term")).to_be_focused()
    page.keyboard.press("Tab")
    expect(page.locator("#id_grade")).to_be_focused()
