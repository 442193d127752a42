"""The pages through Django's test client: sign-in, access by site, worklist, patient, entry."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from django.test import Client
from django.urls import reverse

from rfatrial.server.study import models as m
from rfatrial.server.web import throttle
from tests.server.web.conftest import PASSWORD, Study, day

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_pages_need_a_sign_in(study: Study) -> None:
    response = Client().get(reverse("web:worklist"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_sign_in_one_site_goes_to_the_worklist_several_to_the_selector(study: Study) -> None:
    client = Client()
    response = client.post(reverse("web:login"), {"username": "coord_a", "password": PASSWORD})
    assert response.status_code == 302 and response["Location"] == reverse("web:home")
    assert client.session["web_site"] == "SA"
    response = Client().post(reverse("web:login"), {"username": "monitor_ab", "password": PASSWORD})
    assert response["Location"] == reverse("web:sites")


def test_sign_in_is_locked_after_five_failures_even_with_the_right_password(study: Study) -> None:
    client = Client()
    url = reverse("web:login")
    for _ in range(throttle.MAX_FAILURES - 1):
        response = client.post(url, {"username": "coord_a", "password": "wrong"})
        assert response.status_code == 200
        assert "wrong" in response.content.decode()
    response = client.post(url, {"username": "coord_a", "password": "wrong"})
    assert response.status_code == 429 and "locked" in response.content.decode()
    response = client.post(url, {"username": "coord_a", "password": PASSWORD})
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    # another user name from the same address is not locked
    response = client.post(url, {"username": "coord_b", "password": PASSWORD})
    assert response.status_code == 302


def test_the_lock_ends_after_the_window() -> None:
    t0 = 1_000_000.0
    for i in range(throttle.MAX_FAILURES):
        throttle.record_failure("x", "1.2.3.4", now=t0 + i)
    assert throttle.locked_for("x", "1.2.3.4", now=t0 + 10) > 0
    assert throttle.locked_for("x", "5.6.7.8", now=t0 + 10) == 0
    assert throttle.locked_for("x", "1.2.3.4", now=t0 + throttle.WINDOW_SECONDS + 5) == 0


def test_a_patient_of_another_site_is_a_404(study: Study) -> None:
    client = signed_in(study.coordinator)
    for name in ("web:patient", "web:gate"):
        assert client.get(reverse(name, args=[study.patient_a.pk])).status_code == 200
        assert client.get(reverse(name, args=[study.patient_b.pk])).status_code == 404
    url = reverse("web:record", args=[study.patient_b.pk, "lab_panel"])
    assert client.get(url).status_code == 404
    assert client.post(url, {"date": day(0)}).status_code == 404
    assert "SB-001" not in client.get(reverse("web:worklist")).content.decode()
    assert "SB-001" not in client.get(reverse("web:patients")).content.decode()


def test_the_site_selector_narrows_the_lists(study: Study) -> None:
    client = signed_in(study.monitor)
    page = client.get(reverse("web:worklist")).content.decode()
    assert "SA-001" in page and "SB-001" in page
    client.post(reverse("web:sites"), {"site": "SB"})
    page = client.get(reverse("web:worklist")).content.decode()
    assert "SA-001" not in page and "SB-001" in page
    # a site where the user has no role cannot be chosen
    client.post(reverse("web:sites"), {"site": "ZZ"})
    assert client.session["web_site"] == "SB"


def test_worklist_filters_and_exports(study: Study) -> None:
    client = signed_in(study.monitor)
    page = client.get(reverse("web:worklist"), {"kind": "pre_rfa_labs"}).content.decode()
    assert "pre_rfa_labs" in page or "labs" in page.lower()
    assert "lab_gate" in page  # the rule of the action
    response = client.get(reverse("web:worklist_csv"), {"kind": "pre_rfa_labs", "site": "SA"})
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert [r["patient"] for r in rows] == ["SA-001"]
    assert {r["kind"] for r in rows} == {"pre_rfa_labs"}
    assert rows[0]["earliest"] <= rows[0]["target"] <= rows[0]["latest"]
    # a date range that ends before every window
    long_ago = (date.today() - timedelta(days=400)).isoformat()
    response = client.get(reverse("web:worklist_csv"), {"to": long_ago})
    assert len(response.content.decode().splitlines()) == 1  # the header only
    ics = client.get(reverse("web:worklist_ics"), {"site": "SB"}).content.decode()
    assert ics.startswith("BEGIN:VCALENDAR\r\n") and ics.endswith("END:VCALENDAR\r\n")
    assert "SUMMARY:SB-001" in ics and "SA-001" not in ics
    assert all(len(line.encode()) <= 75 for line in ics.split("\r\n"))
    assert ics.count("BEGIN:VEVENT") == ics.count("END:VEVENT") >= 1


def test_patient_page_shows_lesions_responses_trends_and_actions(study: Study) -> None:
    page = signed_in(study.coordinator).get(reverse("web:patient", args=[study.patient_a.pk]))
    text = page.content.decode()
    for expected in ("L1", "S7", "PR", "rfa_preparation", "<svg", "oxaliplatin", "Lab trends"):
        assert expected in text, expected
    assert "Next actions" in text and "Deviations" in text


def test_the_lab_trends_show_egfr_and_albi_computed_by_the_kernel(study: Study) -> None:
    from rfatrial.kernel.albi import albi
    from rfatrial.kernel.egfr import egfr_ckd_epi_2021
    from rfatrial.server.web.charts import derived_values

    p = study.patient_a  # every panel: creatinine 78 µmol/L, bilirubin 12 µmol/L, albumin 41 g/L
    screened = m.Screening.objects.get(patient=p).date
    panels = list(
        m.LabPanel.objects.filter(patient=p).order_by("date").values_list("date", flat=True)
    )
    assert panels
    score = round(albi(12, "µmol/L", 41, "g/L").score, 2)
    text = signed_in(study.coordinator).get(reverse("web:patient", args=[p.pk])).content.decode()
    assert '<th class="num">eGFR</th><th class="num">ALBI</th>' in text
    for drawn in panels:  # eGFR at the age on the day of each panel
        age = p.age_at_screening + (drawn - screened).days / 365.25
        egfr = round(egfr_ckd_epi_2021(78, "µmol/L", age, p.sex), 1)
        assert f'<td class="num">{egfr:g}</td><td class="num">{score:g}</td>' in text
    assert "<title>eGFR: " in text and "<title>ALBI: " in text
    # a value the calculators refuse gives no estimate, never a guess
    refused = derived_values({"creatinine": (78, "furlongs")}, age_years=60, sex="F")
    assert refused == {}
    assert derived_values({"creatinine": (78, "µmol/L")}, age_years=60, sex="X") == {}


def test_egfr_is_estimated_at_the_age_on_the_day_of_the_panel() -> None:
    from rfatrial.server.web.charts import age_on, derived_values

    screened = date(2026, 1, 10)
    assert age_on(screened, 70, screened) == 70
    assert age_on(date(2028, 1, 10), 70, screened) == pytest.approx(72, abs=0.01)
    assert age_on(date(2028, 1, 10), 70, None) == 70  # no screening date: the age recorded
    # CKD-EPI 2021 falls with age: the same creatinine two years later gives a lower estimate
    at_screening = derived_values({"creatinine": (78, "µmol/L")}, age_years=70, sex="F")
    later = derived_values(
        {"creatinine": (78, "µmol/L")}, age_years=age_on(date(2028, 1, 10), 70, screened), sex="F"
    )
    assert later["egfr"] < at_screening["egfr"]


def test_a_lab_panel_that_fails_the_gate_postpones_the_session(study: Study) -> None:
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[study.patient_a.pk, "lab_panel"])
    form = {
        "date": day(0),
        "platelets": 40,
        "neutrophils": 3,
        "hemoglobin": 12,
        "inr": 1.0,
        "bilirubin": 10,
        "bilirubin_uln": 21,
        "alt": 30,
        "alt_uln": 40,
        "ast": 30,
        "ast_uln": 40,
        "albumin": 40,
        "creatinine": 70,
        "creatinine_uln": 106,
        "ascites": "none",
        "encephalopathy": "none",
    }
    response = client.post(url, form)
    assert response.status_code == 302
    assert response["Location"] == reverse("web:gate", args=[study.patient_a.pk])
    text = client.get(response["Location"]).content.decode()
    until = (date.today() + timedelta(days=7)).isoformat()
    assert "Postpone" in text and until in text
    assert "platelets" in text and "fail" in text
    state = m.PatientState.objects.get(patient=study.patient_a)
    assert state.evaluation["lab_gate"]["decision"] == "postpone"


def test_validation_messages_stand_beside_their_field(study: Study) -> None:
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[study.patient_a.pk, "lab_panel"])
    response = client.post(url, {"date": day(0), "platelets": -5})
    assert response.status_code == 422
    text = response.content.decode()
    assert 'class="field-error"' in text and "platelets" in text.lower()
    response = client.post(url, {"date": day(3), "platelets": 100})
    assert response.status_code == 422 and "after today" in response.content.decode()
    assert not m.LabPanel.objects.filter(patient=study.patient_a, date=day(0)).exists()


def test_a_rule_breaking_event_asks_for_a_justification(study: Study) -> None:
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[study.patient_a.pk, "rfa_session"])
    form = {
        "date": day(0),
        "rows-TOTAL_FORMS": 2,
        "rows-INITIAL_FORMS": 0,
        "rows-0-ablated": "on",
        "rows-0-lesion_id": "L1",
        "rows-0-technical_success": "on",
        "rows-1-ablated": "on",
        "rows-1-lesion_id": "L2",
        "rows-1-technical_success": "on",
    }
    response = client.post(url, form)  # no passing gate: a deviation
    assert response.status_code == 422
    text = response.content.decode()
    assert "justification-box" in text and "breaks the protocol" in text
    assert not m.RfaSession.objects.filter(patient=study.patient_a).exists()
    response = client.post(url, {**form, "justification": "Labs drawn elsewhere the same day."})
    assert response.status_code == 302
    assert m.RfaSession.objects.filter(patient=study.patient_a).count() == 1
    assert m.Deviation.objects.filter(patient=study.patient_a).exclude(justification=None).exists()


def test_imaging_with_measurements_and_a_cycle_are_recorded(study: Study) -> None:
    client = signed_in(study.coordinator)
    page = client.get(reverse("web:record", args=[study.patient_a.pk, "imaging"]))
    assert 'value="L4"' in page.content.decode()  # the known lesions are offered
    form = {
        "date": day(0),
        "modality": "CT",
        "purpose": "response",
        "rows-TOTAL_FORMS": 5,
        "rows-INITIAL_FORMS": 0,
    }
    for i, (lesion, size) in enumerate([("L1", 15), ("L2", 12), ("L3", 9), ("L4", 8)]):
        form |= {f"rows-{i}-lesion_id": lesion, f"rows-{i}-diameter_mm": size}
    form |= {"rows-4-lesion_id": "L5", "rows-4-diameter_mm": 11, "rows-4-is_new": "on"}
    response = client.post(reverse("web:record", args=[study.patient_a.pk, "imaging"]), form)
    assert response.status_code == 302, response.content.decode()[:2000]
    scan = m.ImagingAssessment.objects.get(patient=study.patient_a, date=day(0))
    assert m.LesionMeasurement.objects.filter(imaging=scan, is_new=True).count() == 1
    state = m.PatientState.objects.get(patient=study.patient_a)
    assert state.evaluation["responses"][-1]["overall"] == "PD"  # a new lesion


def test_a_monitor_reads_but_does_not_write(study: Study) -> None:
    client = signed_in(study.monitor)
    assert client.get(reverse("web:patient", args=[study.patient_b.pk])).status_code == 200
    url = reverse("web:record", args=[study.patient_b.pk, "systemic_cycle"])
    assert client.get(url).status_code == 403


def test_codes_and_fractions_read_as_words_and_percentages() -> None:
    from rfatrial.server.web.templatetags.web_extras import percent, spaced

    assert spaced("withdrawal_proposed") == "withdrawal proposed"
    assert percent(-0.3) == "−30.0 %" and percent(0.125) == "+12.5 %" and percent(None) == "—"


def test_the_worklist_shows_one_page_at_a_time_and_exports_everything(
    study: Study, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rfatrial.server.web import views

    client = signed_in(study.monitor)
    everything = {"to": "2999-12-31"}
    rows = list(
        csv.DictReader(
            io.StringIO(client.get(reverse("web:worklist_csv"), everything).content.decode())
        )
    )
    assert len(rows) >= 2
    monkeypatch.setattr(views, "WORKLIST_PAGE", 1)
    first = client.get(reverse("web:worklist"), everything).content.decode()
    assert f"Rows 1–1 of {len(rows)}" in first and "page=2" in first
    second = client.get(reverse("web:worklist"), {**everything, "page": "2"}).content.decode()
    assert f"Rows 2–2 of {len(rows)}" in second and "Previous" in second
    beyond = client.get(reverse("web:worklist"), {**everything, "page": "999"}).content.decode()
    assert f"Page {len(rows)} of {len(rows)}" in beyond
    assert client.get(reverse("web:worklist"), {"page": "x"}).status_code == 200
