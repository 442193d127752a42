"""Data entry of every kind of record through the pages: enrolment, randomization, the forms of
the events after a session, adverse events, the end of participation, and corrections."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from rfatrial.server.api.randomize import open_study
from rfatrial.server.study import models as m
from rfatrial.server.study.convert import read_events
from rfatrial.server.study.services import record_event, register_patient
from tests.server.web.conftest import ADMIN, Study, cycle, day, labs, make_user, scan

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def why(response: Any) -> str:
    """The error summary and the deviations of a refused form (the assertion's message)."""
    text = response.content.decode()
    start = text.find("error-summary")
    return text[start : start + 1500] + text[text.find('id="deviations"') :][:1500]


def enrol_form(**changes: Any) -> dict[str, Any]:
    return {
        "site": "SA",
        "study_id": "SA-201",
        "sex": "M",
        "age_at_screening": 58,
        "diagnosis_date": "2023-04",
        "liver_surgery_date": "2024",
        "date": day(0),
        "consent_date": day(0),
        "eligible": "true",
        "liver_lesion_count": 4,
        "ras_status": "wild_type",
        "ecog": "0",
    } | changes


def after_a_session(study: Study) -> m.Patient:
    """A patient of site A whose first session (L1, L2, L3) was 30 days ago: the 1-month scan
    is due today."""
    p = register_patient(study.site_a, "SA-002", sex="M", age_at_screening=66, actor=ADMIN)
    events = [
        {
            "type": "screening",
            "date": day(-110),
            "consent_date": day(-110),
            "eligible": True,
            "liver_lesion_count": 4,
        },
        scan(-110, purpose="baseline"),
        {"type": "randomization", "date": day(-107), "arm": "experimental"},
        cycle(-100),
        labs(-87),
        cycle(-86),
        scan(-72, shrink=0.7),
        labs(-32),
        {
            "type": "rfa_session",
            "date": day(-30),
            "lesions": [{"lesion_id": x} for x in ("L1", "L2", "L3")],
        },
    ]
    for e in events:
        record_event(p, e, actor=ADMIN)
    return p


# --- enrolment ----------------------------------------------------------------------------------


def test_a_coordinator_enrols_a_patient_with_his_screening(study: Study) -> None:
    client = signed_in(study.coordinator)
    page = client.get(reverse("web:enrol"))
    assert page.status_code == 200 and 'name="study_id"' in page.content.decode()
    response = client.post(reverse("web:enrol"), enrol_form())
    assert response.status_code == 302
    patient = m.Patient.objects.get(study_id="SA-201")
    assert response["Location"] == reverse("web:patient", args=[patient.pk])
    assert patient.site.code == "SA" and patient.diagnosis_date == "2023-04"
    screening = m.Screening.objects.get(patient=patient)
    assert screening.eligible and screening.liver_lesion_count == 4
    assert m.AuditEntry.objects.filter(table="study_patient", reason="patient enrolled").exists()


def test_enrolment_errors_stand_beside_their_field_and_store_nothing(study: Study) -> None:
    client = signed_in(study.coordinator)
    response = client.post(reverse("web:enrol"), enrol_form(age_at_screening=17))
    assert response.status_code == 422
    text = response.content.decode()
    assert 'href="#id_age_at_screening"' in text  # the error summary links to the field
    assert 'class="field invalid"' in text and "18" in text
    response = client.post(reverse("web:enrol"), enrol_form(diagnosis_date="2023-13"))
    assert response.status_code == 422 and "partial date" in response.content.decode()
    response = client.post(reverse("web:enrol"), enrol_form(liver_lesion_count=0))
    assert response.status_code == 422 and 'href="#id_liver_lesion_count"' in (
        response.content.decode()
    )
    assert not m.Patient.objects.filter(study_id="SA-201").exists()  # neither patient nor half
    response = client.post(reverse("web:enrol"), enrol_form(study_id="SA-001"))
    assert response.status_code == 422 and "already used" in response.content.decode()
    assert m.Patient.objects.filter(study_id="SA-001").count() == 1


def test_a_monitor_does_not_enrol_and_nobody_enrols_at_another_site(study: Study) -> None:
    assert signed_in(study.monitor).get(reverse("web:enrol")).status_code == 403
    response = signed_in(study.coordinator).post(reverse("web:enrol"), enrol_form(site="SB"))
    assert response.status_code == 403
    assert not m.Patient.objects.filter(study_id="SA-201").exists()


# --- randomization ------------------------------------------------------------------------------


def test_an_investigator_randomizes_an_eligible_patient_and_sees_the_arm_after(
    study: Study,
) -> None:
    investigator = make_user("investigator_a", {"SA": ["investigator"]})
    open_study(7, actor=ADMIN, slots_per_stratum=8)
    signed_in(study.coordinator).post(reverse("web:enrol"), enrol_form())
    patient = m.Patient.objects.get(study_id="SA-201")
    client = signed_in(investigator)
    page = client.get(reverse("web:patient", args=[patient.pk]))
    assert reverse("web:randomize", args=[patient.pk]) in page.content.decode()
    confirm = client.get(reverse("web:randomize", args=[patient.pk])).content.decode()
    assert "experimental" not in confirm and "control" not in confirm  # nothing before
    response = client.post(reverse("web:randomize", args=[patient.pk]))
    assert response.status_code == 302, why(response)
    arm = m.Randomization.objects.get(patient=patient).arm
    shown = client.get(response["Location"]).content.decode()
    assert f"randomized to the {arm} arm" in shown
    # once only: the button is gone and a second try is refused
    assert reverse("web:randomize", args=[patient.pk]) not in shown
    again = client.post(reverse("web:randomize", args=[patient.pk]))
    assert again.status_code == 409 and m.Randomization.objects.filter(patient=patient).count() == 1


def test_randomization_needs_an_investigator_and_a_confirmed_eligibility(study: Study) -> None:
    investigator = make_user("investigator_a", {"SA": ["investigator"]})
    open_study(7, actor=ADMIN, slots_per_stratum=8)
    coordinator = signed_in(study.coordinator)
    coordinator.post(reverse("web:enrol"), enrol_form(eligible="false"))
    patient = m.Patient.objects.get(study_id="SA-201")
    assert coordinator.get(reverse("web:randomize", args=[patient.pk])).status_code == 403
    assert coordinator.post(reverse("web:randomize", args=[patient.pk])).status_code == 403
    client = signed_in(investigator)
    page = client.get(reverse("web:randomize", args=[patient.pk]))
    assert "did not confirm" in page.content.decode()
    assert client.post(reverse("web:randomize", args=[patient.pk])).status_code == 409
    assert not m.Randomization.objects.filter(patient=patient).exists()


def test_randomization_before_the_study_opens_says_so(study: Study) -> None:
    investigator = make_user("investigator_a", {"SA": ["investigator"]})
    signed_in(study.coordinator).post(reverse("web:enrol"), enrol_form())
    patient = m.Patient.objects.get(study_id="SA-201")
    response = signed_in(investigator).post(reverse("web:randomize", args=[patient.pk]))
    assert response.status_code == 409 and "not open" in response.content.decode()


# --- the forms of every other kind ----------------------------------------------------------------


def test_a_post_rfa_scan_judges_each_ablated_lesion_and_notes_a_new_one(study: Study) -> None:
    p = after_a_session(study)
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[p.pk, "post_rfa_scan"])
    page = client.get(url).content.decode()
    assert 'value="L1"' in page and 'value="L3"' in page and 'value="L4"' not in page
    form = {
        "date": day(0),
        "modality": "MRI",
        "rows-TOTAL_FORMS": 4,
        "rows-INITIAL_FORMS": 0,
        "rows-0-lesion_id": "L1",
        "rows-0-outcome": "complete",
        "rows-1-lesion_id": "L2",
        "rows-1-outcome": "complete",
        "rows-2-lesion_id": "L3",
        "rows-2-outcome": "residual",
        "rows-3-lesion_id": "L9",
        "rows-3-outcome": "new",
        "rows-3-diameter_mm": 9,
        "rows-3-segment": "S3",
    }
    response = client.post(url, form)
    assert response.status_code == 302, why(response)
    scan = m.PostRfaScan.objects.get(patient=p)
    outcomes = {r.lesion.label: r.outcome for r in scan.results.select_related("lesion")}
    assert outcomes == {"L1": "complete", "L2": "complete", "L3": "residual"}
    assert m.LesionMeasurement.objects.get(post_rfa_scan=scan).lesion.label == "L9"


def test_a_post_rfa_scan_without_a_result_is_refused_beside_the_table(study: Study) -> None:
    p = after_a_session(study)
    url = reverse("web:record", args=[p.pk, "post_rfa_scan"])
    response = signed_in(study.coordinator).post(
        url, {"date": day(0), "modality": "CT", "rows-TOTAL_FORMS": 0, "rows-INITIAL_FORMS": 0}
    )
    assert response.status_code == 422 and "results" in response.content.decode()
    assert not m.PostRfaScan.objects.filter(patient=p).exists()


def test_a_follow_up_visit_with_its_components(study: Study) -> None:
    p = after_a_session(study)  # randomized 107 days ago: the 3-month visit was due 16 days ago
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[p.pk, "follow_up_visit"])
    form = {"date": day(-10), "visit_id": "M3", "components": ["us_ceus", "labs"]}
    incomplete = client.post(url, form)  # the protocol asks for five components at M3
    assert (
        incomplete.status_code == 422
        and "without CT / MRI, Tumour markers, ECG" in incomplete.content.decode()
    )
    assert "justification-box" in incomplete.content.decode()
    everything = ["us_ceus", "ct_mri", "labs", "tumour_markers", "ecg"]
    response = client.post(url, form | {"components": everything})
    assert response.status_code == 302, why(response)
    visit = m.FollowUpVisit.objects.get(patient=p)
    assert visit.visit_id == "M3" and visit.components == everything
    response = client.post(url, {"date": day(0), "visit_id": ""})
    assert response.status_code == 422 and 'href="#id_visit_id"' in response.content.decode()


def test_an_adverse_event_with_grade_seriousness_relatedness_and_outcome(study: Study) -> None:
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[study.patient_a.pk, "adverse_event"])
    page = client.get(url).content.decode()
    assert 'list="ctcae-terms"' in page and "Platelet count decreased" in page
    form = {
        "date": day(-5),
        "term": "Abdominal pain",
        "grade": "3",
        "serious": "on",
        "related_to": ["rfa"],
        "end_date": day(-1),
        "outcome": "recovered",
    }
    assert client.post(url, form).status_code == 302
    ae = m.AdverseEvent.objects.get(patient=study.patient_a)
    assert (ae.grade, ae.serious, ae.related_to, ae.outcome) == (3, True, ["rfa"], "recovered")
    assert ae.end_date == date.today() - timedelta(days=1)
    # an end before the onset, a grade out of the scale: said, nothing stored
    bad = client.post(url, form | {"end_date": day(-9)})
    assert bad.status_code == 422 and "end_date is before the onset date" in bad.content.decode()
    bad = client.post(url, form | {"grade": "6"})
    assert bad.status_code == 422 and 'href="#id_grade"' in bad.content.decode()
    assert m.AdverseEvent.objects.filter(patient=study.patient_a).count() == 1


@pytest.mark.parametrize(
    ("kind", "form", "model"),
    [
        ("withdrawal", {"reason_given": "Wishes to stop", "initiated_by": "patient"}, m.Withdrawal),
        ("death", {"cause": "progression"}, m.Death),
        ("lost_to_follow_up", {}, m.LostToFollowUp),
    ],
)
def test_the_end_of_participation_is_recorded(
    study: Study, kind: str, form: dict[str, str], model: type[m.EventRecord]
) -> None:
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[study.patient_a.pk, kind])
    assert client.get(url).status_code == 200
    response = client.post(url, {"date": day(0), **form})
    assert response.status_code == 302, why(response)
    assert model.objects.filter(patient=study.patient_a).count() == 1
    # once in a history: a second one is refused with the kernel's words
    again = client.post(url, {"date": day(0), **form})
    assert again.status_code == 422 and "at most one" in again.content.decode()


def test_a_withdrawal_needs_its_reason_beside_the_field(study: Study) -> None:
    url = reverse("web:record", args=[study.patient_a.pk, "withdrawal"])
    response = signed_in(study.coordinator).post(url, {"date": day(0), "initiated_by": "patient"})
    assert response.status_code == 422 and 'href="#id_reason_given"' in response.content.decode()


def test_an_rfa_complication_without_a_cirse_grade_is_named_beside_the_grade(study: Study) -> None:
    p = study.patient_a
    record_event(p, labs(-1), actor=ADMIN)
    url = reverse("web:record", args=[p.pk, "rfa_session"])
    form = {
        "date": day(0),
        "rows-TOTAL_FORMS": 2,
        "rows-INITIAL_FORMS": 0,
        "rows-0-ablated": "on",
        "rows-0-lesion_id": "L1",
        "rows-1-ablated": "on",
        "rows-1-lesion_id": "L2",
        "complication": "Subcapsular hematoma",
        "clavien_dindo": "I",
    }
    client = signed_in(study.coordinator)
    response = client.post(url, form)
    assert response.status_code == 422 and 'href="#id_cirse_grade"' in response.content.decode()
    response = client.post(url, form | {"cirse_grade": "2", "complication_onset": day(0)})
    assert response.status_code == 302, why(response)
    c = m.RfaComplication.objects.get(session__patient=p)
    assert (c.cirse_grade, c.clavien_dindo, c.onset_date) == (2, "I", date.today())


# --- corrections --------------------------------------------------------------------------------


def _last(patient: m.Patient, kind: str) -> Any:
    return [s for s in read_events(patient) if s.kind == kind][-1]


def test_a_correction_needs_a_reason_and_is_audited(study: Study) -> None:
    p = study.patient_a
    client = signed_in(study.coordinator)
    cycle = _last(p, "systemic_cycle")
    url = reverse("web:amend", args=[p.pk, cycle.row.seq])
    timeline = client.get(reverse("web:patient", args=[p.pk])).content.decode()
    assert f'href="{url}"' in timeline  # the timeline offers the correction
    randomization = _last(p, "randomization").row.seq
    assert f'href="{reverse("web:amend", args=[p.pk, randomization])}"' not in timeline
    page = client.get(url).content.decode()
    assert 'value="FOLFOX"' in page and 'value="oxaliplatin"' in page  # as recorded
    assert f'name="version" value="{cycle.row.version}"' in page
    form = {
        "date": cycle.event.date.isoformat(),
        "regimen": "FOLFOX",
        "line": 1,
        "version": cycle.row.version,
        "rows-TOTAL_FORMS": 1,
        "rows-INITIAL_FORMS": 0,
        "rows-0-name": "oxaliplatin",
        "rows-0-dose": 80,
        "rows-0-unit": "mg/m2",
    }
    response = client.post(url, form)
    assert response.status_code == 422 and 'href="#id_reason"' in response.content.decode()
    response = client.post(url, form | {"reason": "Dose misread from the chart"})
    assert response.status_code == 302
    assert m.CycleAgent.objects.get(cycle_id=cycle.row.pk).dose == 80
    entry = m.AuditEntry.objects.filter(table="study_cycleagent").order_by("-seq").first()
    assert entry is not None and entry.reason == "Dose misread from the chart"
    assert '"dose": [85.0, 80.0]' in entry.changes or '"dose":[85.0,80.0]' in entry.changes


def test_a_stale_correction_is_refused_and_says_so(study: Study) -> None:
    p = study.patient_a
    scan = _last(p, "imaging")
    url = reverse("web:amend", args=[p.pk, scan.row.seq])
    form: dict[str, Any] = {
        "date": scan.event.date.isoformat(),
        "modality": "MRI",
        "purpose": "response",
        "version": scan.row.version,
        "reason": "Modality corrected",
        "rows-TOTAL_FORMS": 4,
        "rows-INITIAL_FORMS": 0,
    }
    for i, x in enumerate(scan.event.lesions):
        form |= {f"rows-{i}-lesion_id": x.lesion_id, f"rows-{i}-diameter_mm": x.diameter_mm}
    first = signed_in(study.coordinator).post(url, form)
    assert first.status_code == 302
    # a second user who opened the same version before the first saved
    other = make_user("coord_a2", {"SA": ["coordinator"]})
    stale = signed_in(other).post(url, form | {"modality": "CT", "reason": "Back to CT"})
    assert stale.status_code == 409
    assert "Someone else changed this record" in stale.content.decode()
    assert m.ImagingAssessment.objects.get(pk=scan.row.pk).modality == "MRI"


def test_randomization_is_not_corrected_through_a_form(study: Study) -> None:
    p = study.patient_a
    seq = _last(p, "randomization").row.seq
    response = signed_in(study.coordinator).get(reverse("web:amend", args=[p.pk, seq]))
    assert response.status_code == 404


def test_a_locked_record_shows_it_and_refuses_a_correction(study: Study) -> None:
    from rfatrial.server.monitoring.signing import set_lock

    p = study.patient_a
    cycle = _last(p, "systemic_cycle")
    set_lock(cycle.row, locked=True, actor=ADMIN, roles={"data_manager"})
    client = signed_in(study.coordinator)
    url = reverse("web:amend", args=[p.pk, cycle.row.seq])
    assert 'id="locked-badge"' in client.get(url).content.decode()
    form = {
        "date": cycle.event.date.isoformat(),
        "regimen": "FOLFIRI",
        "line": 1,
        "version": cycle.row.version,
        "reason": "Regimen misread",
        "rows-TOTAL_FORMS": 0,
        "rows-INITIAL_FORMS": 0,
    }
    response = client.post(url, form)
    assert response.status_code == 423 and "is locked" in response.content.decode()
    assert m.SystemicCycle.objects.get(pk=cycle.row.pk).regimen == "FOLFOX"


def test_a_correction_keeps_what_the_form_does_not_show(study: Study) -> None:
    p = study.patient_a
    panel = labs(0)
    panel["results"] = [
        r if r["analyte"] != "albumin" else {"analyte": "albumin", "value": 4.1, "unit": "g/dL"}
        for r in panel["results"]
    ] + [{"analyte": "alp", "value": 95, "unit": "U/L", "lln": 40, "uln": 130}]
    panel["results"][0] |= {"lln": 150}  # platelets with the site's lower limit
    record_event(p, panel, actor=ADMIN)
    stored = _last(p, "lab_panel")
    client = signed_in(study.coordinator)
    url = reverse("web:amend", args=[p.pk, stored.row.seq])
    page = client.get(url).content.decode()
    assert 'id="kept-results"' in page and "alp 95 U/L" in page and "albumin 4.1 g/dL" in page
    assert 'name="albumin"' in page and "disabled" in page  # not typed again in g/L
    form = {"date": day(0), "version": stored.row.version, "reason": "Platelets misread"}
    form |= {"ascites": "none", "encephalopathy": "none"}
    for r in stored.event.results:
        if r.analyte not in {"albumin", "alp"}:
            form[r.analyte] = r.value if r.analyte != "platelets" else 190
            if r.uln is not None:
                form[f"{r.analyte}_uln"] = r.uln
    response = client.post(url, form)
    assert response.status_code == 302, why(response)
    after = {r.analyte: r for r in _last(p, "lab_panel").event.results}
    assert after["platelets"].value == 190 and after["platelets"].lln == 150
    assert (after["albumin"].value, after["albumin"].unit) == (4.1, "g/dL")
    assert (after["alp"].value, after["alp"].lln, after["alp"].uln) == (95, 40, 130)


def test_a_correction_keeps_the_planner_features_and_later_complications(study: Study) -> None:
    p = study.patient_a
    record_event(p, labs(-1), actor=ADMIN)
    session = {
        "type": "rfa_session",
        "date": day(0),
        "lesions": [{"lesion_id": "L1"}, {"lesion_id": "L2"}],
        "complications": [
            {"description": "Pain", "cirse_grade": 1},
            {"description": "Fever", "cirse_grade": 1, "clavien_dindo": "I"},
        ],
    }
    record_event(p, session, actor=ADMIN)
    stored = _last(p, "rfa_session")
    form = {
        "date": day(0),
        "version": stored.row.version,
        "reason": "Pain was grade 2",
        "complication": "Pain",
        "cirse_grade": "2",
        "rows-TOTAL_FORMS": 2,
        "rows-INITIAL_FORMS": 0,
        "rows-0-ablated": "on",
        "rows-0-lesion_id": "L1",
        "rows-0-technical_success": "on",
        "rows-1-ablated": "on",
        "rows-1-lesion_id": "L2",
        "rows-1-technical_success": "on",
    }
    client = signed_in(study.coordinator)
    response = client.post(reverse("web:amend", args=[p.pk, stored.row.seq]), form)
    assert response.status_code == 302, why(response)
    complications = _last(p, "rfa_session").event.complications
    assert [(c.description, c.cirse_grade) for c in complications] == [("Pain", 2), ("Fever", 1)]


def test_a_scan_corrected_keeps_the_planner_features_of_its_lesions(study: Study) -> None:
    p = study.patient_a
    features = {"distance_to_critical_mm": 4.0, "margin_achievable_mm": 6.0}
    record_event(
        p,
        scan(0, shrink=0.6)
        | {
            "lesions": [
                {"lesion_id": k, "diameter_mm": v * 0.6, "segment": s} | features
                for k, (v, s) in {"L1": (30.0, "S7"), "L2": (24.0, "S6")}.items()
            ]
            + [{"lesion_id": "L3", "diameter_mm": 10.0}, {"lesion_id": "L4", "diameter_mm": 9.0}]
        },
        actor=ADMIN,
    )
    stored = _last(p, "imaging")
    form: dict[str, Any] = {
        "date": day(0),
        "modality": "CT",
        "purpose": "response",
        "version": stored.row.version,
        "reason": "L1 remeasured",
        "rows-TOTAL_FORMS": 4,
        "rows-INITIAL_FORMS": 0,
    }
    for i, x in enumerate(stored.event.lesions):
        size = 17.0 if x.lesion_id == "L1" else x.diameter_mm
        form |= {f"rows-{i}-lesion_id": x.lesion_id, f"rows-{i}-diameter_mm": size}
    client = signed_in(study.coordinator)
    response = client.post(reverse("web:amend", args=[p.pk, stored.row.seq]), form)
    assert response.status_code == 302, why(response)
    after = {x.lesion_id: x for x in _last(p, "imaging").event.lesions}
    assert after["L1"].diameter_mm == 17.0 and after["L1"].distance_to_critical_mm == 4.0
    assert after["L2"].margin_achievable_mm == 6.0 and after["L3"].margin_achievable_mm is None


def test_the_worklist_links_each_action_to_its_form_for_those_who_record(study: Study) -> None:
    form = reverse("web:record", args=[study.patient_a.pk, "lab_panel"])
    worklist = signed_in(study.coordinator).get(reverse("web:worklist")).content.decode()
    assert f'href="{form}"' in worklist  # the pre-RFA labs are due
    monitor = signed_in(study.monitor).get(reverse("web:worklist")).content.decode()
    assert "SA-001" in monitor and f'href="{form}"' not in monitor


@pytest.mark.parametrize(
    ("grade", "outcome", "serious", "refused_field"),
    [
        ("4", "not_recovered", "on", None),
        ("4", "fatal", "on", "grade"),
        ("5", "recovered", "on", "outcome"),
        ("5", "", "on", "outcome"),
        ("5", "fatal", "", "serious"),
        ("5", "fatal", "on", None),
    ],
)
def test_a_fatal_adverse_event_is_grade_5_and_serious(
    study: Study, grade: str, outcome: str, serious: str, refused_field: str | None
) -> None:
    url = reverse("web:record", args=[study.patient_a.pk, "adverse_event"])
    form = {"date": day(-2), "term": "Hepatic failure", "grade": grade, "outcome": outcome}
    if serious:
        form["serious"] = serious
    response = signed_in(study.coordinator).post(url, form)
    stored = m.AdverseEvent.objects.filter(patient=study.patient_a).exists()
    if refused_field is None:
        assert response.status_code == 302 and stored, why(response)
    else:
        assert response.status_code == 422 and not stored
        assert f'href="#id_{refused_field}"' in response.content.decode()


def test_the_screening_records_ras_and_braf_status_named_in_the_users_language(
    study: Study,
) -> None:
    client = signed_in(study.coordinator)
    form = enrol_form(ras_status="wild_type", braf_status="mutant")
    assert client.post(reverse("web:enrol"), form).status_code == 302
    patient = m.Patient.objects.get(study_id="SA-201")
    screening = m.Screening.objects.get(patient=patient)
    assert (screening.ras_status, screening.braf_status) == ("wild_type", "mutant")
    page = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    assert "RAS wild type, BRAF mutant" in page
    client.post(reverse("set_language"), {"language": "zh-hans"})
    chinese = client.get(reverse("web:enrol")).content.decode()
    assert ">野生型</option>" in chinese and ">突变型</option>" in chinese
    page = client.get(reverse("web:patient", args=[patient.pk])).content.decode()
    assert "RAS 野生型, BRAF 突变型" in page
