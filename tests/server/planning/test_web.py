"""The planner page: who sees it, the proposal, the refusal with the rule, the reasons, the plan
on the patient page and the link from the worklist."""

from __future__ import annotations

import re
from typing import Any

from django.test import Client

from rfatrial.server.planning.models import PlanStatus, SessionPlan
from rfatrial.server.study.audit import Actor
from rfatrial.server.study.services import record_event
from tests.server.planning.conftest import PlanningStudy, iso, rfa

SEVEN = [f"L{k}" for k in range(1, 8)]
PROPOSAL = ["L8", "L7", "L6", "L5"]


def client_of(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(p: Any, suffix: str = "") -> str:
    return f"/patients/{p.pk}/planner/{suffix}"


def test_the_page_shows_each_lesion_judged_and_the_proposal(planning: PlanningStudy) -> None:
    response = client_of(planning.investigator).get(url(planning.patient_a))
    assert response.status_code == 200
    html = response.content.decode()
    for label in ("L1", "L8", "S8", "27.2", "ablatable"):
        assert label in html
    assert 'id="proposed-set">L8, L7, L6, L5<' in html
    assert "Session 2: L4, L3, L2, L1" in html
    for lesion in PROPOSAL:  # the proposal is ticked
        assert f'value="{lesion}" id="lesion-{lesion}" checked' in html
    assert 'value="L1" id="lesion-L1">' in html  # not ticked
    assert "The plan keeps every rule." in html


def test_only_the_sites_planners_open_it(planning: PlanningStudy) -> None:
    p = planning.patient_a
    assert client_of(planning.coordinator).get(url(p)).status_code == 200
    assert client_of(planning.monitor).get(url(p)).status_code == 403
    assert client_of(planning.investigator_b).get(url(p)).status_code == 404
    other = client_of(planning.investigator_b).post(url(p, "check/"), {"lesion": PROPOSAL})
    assert other.status_code == 404
    assert Client().get(url(p)).status_code == 302  # to the sign-in page


def test_seven_lesions_are_refused_with_the_rule(planning: PlanningStudy) -> None:
    p = planning.patient_a
    response = client_of(planning.investigator).post(
        url(p),
        {
            "lesion": SEVEN,
            "planned_date": iso(2),
            "reasons": "all at once",
            "action": "confirm",
            "version": "",
        },
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="refusal" role="alert"' in html
    assert "7 lesions planned for session 1 (at most 6)" in html
    assert "rfa.max_lesions_per_session = 6 (protocol 1.0)" in html
    assert not SessionPlan.objects.exists()
    for lesion in SEVEN:  # what was typed is kept on the page
        assert f'value="{lesion}" id="lesion-{lesion}" checked' in html


def test_a_coordinator_drafts_but_does_not_confirm(planning: PlanningStudy) -> None:
    p = planning.patient_a
    coordinator = client_of(planning.coordinator)
    draft = {"lesion": PROPOSAL, "planned_date": iso(2), "action": "draft", "version": ""}
    assert coordinator.post(url(p), draft).status_code == 302
    plan = SessionPlan.objects.get()
    assert plan.status == PlanStatus.DRAFT and plan.drafted_by == "coordinator_a"
    page = coordinator.get(url(p)).content.decode()
    assert "Confirm plan" not in page and "An investigator confirms the plan." in page
    confirm = {**draft, "action": "confirm", "version": str(plan.version)}
    assert coordinator.post(url(p), confirm).status_code == 403
    plan.refresh_from_db()
    assert plan.status == PlanStatus.DRAFT


def test_three_lesions_with_a_reason_show_on_the_patient_page(planning: PlanningStudy) -> None:
    p = planning.patient_a
    investigator = client_of(planning.investigator)
    choice = {"lesion": ["L8", "L7", "L6"], "planned_date": iso(2), "version": ""}
    no_reason = investigator.post(url(p), {**choice, "action": "confirm"})
    assert no_reason.status_code == 422
    assert "Confirm it with a reason." in no_reason.content.decode()
    done = investigator.post(
        url(p), {**choice, "action": "confirm", "reasons": "L5 with the next session"}
    )
    assert done.status_code == 302 and done["Location"] == f"/patients/{p.pk}/"
    page = investigator.get(done["Location"]).content.decode()
    assert 'id="session-plan"' in page and "L8, L7, L6" in page
    assert "L5 with the next session" in page and "Confirmed" in page


def test_a_session_done_otherwise_is_shown_as_a_deviation(planning: PlanningStudy) -> None:
    p = planning.patient_a
    investigator = client_of(planning.investigator)
    investigator.post(
        url(p), {"lesion": PROPOSAL, "planned_date": iso(0), "action": "confirm", "version": ""}
    )
    record_event(p, rfa(0, ["L8", "L7", "L6", "L4"]), actor=Actor("an investigator"))
    page = investigator.get(f"/patients/{p.pk}/").content.decode()
    assert "Deviation from the confirmed plan: done L8, L7, L6, L4" in page
    assert "not ablated: L5" in page and "not planned: L4" in page


def test_live_validation_answers_from_the_server(planning: PlanningStudy) -> None:
    p = planning.patient_a
    client = client_of(planning.coordinator)
    answer = client.post(url(p, "check/"), {"lesion": SEVEN, "planned_date": iso(2)}).json()
    assert answer["refused"] and not answer["confirmable"]
    codes = {f["code"] for f in answer["findings"]}
    assert {"rfa_too_many_lesions", "changed_from_proposal"} <= codes
    ok = client.post(url(p, "check/"), {"lesion": PROPOSAL, "planned_date": iso(2)}).json()
    assert ok == {
        "findings": [],
        "added": [],
        "removed": [],
        "refused": False,
        "needs_reason": False,
        "confirmable": True,
    }
    assert client.get(url(p, "check/")).status_code == 405
    assert not SessionPlan.objects.exists()


def test_a_form_without_its_csrf_token_is_refused(planning: PlanningStudy) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(planning.investigator)
    response = client.post(
        url(planning.patient_a), {"lesion": PROPOSAL, "planned_date": iso(2), "action": "draft"}
    )
    assert response.status_code == 403 and not SessionPlan.objects.exists()


def test_a_stale_form_is_refused(planning: PlanningStudy) -> None:
    p = planning.patient_a
    investigator = client_of(planning.investigator)
    form = {"lesion": PROPOSAL, "planned_date": iso(2), "action": "draft", "version": ""}
    investigator.post(url(p), form)
    plan = SessionPlan.objects.get()
    investigator.post(url(p), {**form, "version": str(plan.version), "planned_date": iso(3)})
    stale = investigator.post(url(p), {**form, "version": str(plan.version)})
    assert stale.status_code == 409 and "reload it" in stale.content.decode()
    plan.refresh_from_db()
    assert plan.planned_date.isoformat() == iso(3)


def test_the_worklist_links_the_rfa_action_to_the_planner(planning: PlanningStudy) -> None:
    from rfatrial.server.study.services import evaluate_patient

    evaluate_patient(planning.patient_a)
    html = client_of(planning.investigator).get("/worklist/").content.decode()
    assert f'href="/patients/{planning.patient_a.pk}/planner/"' in html


def test_an_open_plan_is_cancelled_with_a_reason(planning: PlanningStudy) -> None:
    p = planning.patient_a
    coordinator = client_of(planning.coordinator)
    coordinator.post(
        url(p), {"lesion": PROPOSAL, "planned_date": iso(2), "action": "draft", "version": ""}
    )
    plan = SessionPlan.objects.get()
    cancel = {"action": "cancel", "version": str(plan.version)}
    no_reason = coordinator.post(url(p), {**cancel, "cancel_reason": " "})
    assert no_reason.status_code == 422
    assert "a reason is required to cancel a plan" in no_reason.content.decode()
    done = coordinator.post(url(p), {**cancel, "cancel_reason": "the patient asked to wait"})
    assert done.status_code == 302
    plan.refresh_from_db()
    assert plan.status == PlanStatus.CANCELLED
    page = coordinator.get(url(p)).content.decode()
    assert "Earlier plans" in page and "Cancelled" in page


def _row_lesions(page: str) -> list[str]:
    """The lesion ids the session form's rows start with."""
    tags = re.findall(r'<input[^>]*name="rows-\d+-lesion_id"[^>]*>', page)
    return [m.group(1) for t in tags if (m := re.search(r'value="([^"]*)"', t))]


def test_the_session_form_starts_from_the_confirmed_plan(planning: PlanningStudy) -> None:
    p = planning.patient_a
    form_url = f"/patients/{p.pk}/record/rfa_session/"
    coordinator = client_of(planning.coordinator)
    before = coordinator.get(form_url).content.decode()
    assert 'id="from-plan"' not in before
    assert set(PROPOSAL) < set(_row_lesions(before))  # without a plan: every lesion remaining
    client_of(planning.investigator).post(
        url(p), {"lesion": PROPOSAL, "planned_date": iso(0), "action": "confirm", "version": ""}
    )
    page = coordinator.get(form_url).content.decode()
    assert 'id="from-plan"' in page and "confirmed by" in page
    assert _row_lesions(page) == PROPOSAL
    assert f'value="{iso(0)}"' in page  # the planned date


def test_the_planner_speaks_the_users_language(planning: PlanningStudy) -> None:
    p = planning.patient_a
    investigator = client_of(planning.investigator)
    investigator.post("/language/", {"language": "zh-hans"})
    refused = investigator.post(
        url(p),
        {
            "lesion": SEVEN,
            "planned_date": iso(2),
            "reasons": "",
            "action": "confirm",
            "version": "",
        },
    ).content.decode()
    assert "第 1 次计划消融 7 个病灶（最多 6 个）" in refused
    assert "7 lesions planned" not in refused
    live = investigator.post(url(p, "check/"), {"lesion": SEVEN, "planned_date": iso(2)}).json()
    messages = [f["message"] for f in live["findings"]]
    assert "第 1 次计划消融 7 个病灶（最多 6 个）" in messages
    assert any(m.startswith("所选病灶与规划建议（L8, L7, L6, L5）不同：") for m in messages)
