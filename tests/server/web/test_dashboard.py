"""The dashboard: figures of the user's sites only, in a constant number of SQL queries."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from rfatrial.server.study import models as m
from rfatrial.server.study.services import record_event, register_patient
from rfatrial.server.web.dashboard import dashboard_data
from tests.server.web.conftest import ADMIN, Study, day, prepared_patient

pytestmark = pytest.mark.django_db


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def serious_ae(offset: int, term: str = "Liver abscess") -> dict[str, Any]:
    return {
        "type": "adverse_event",
        "date": day(offset),
        "term": term,
        "grade": 3,
        "serious": True,
        "related_to": ["rfa"],
    }


def add_patients(site: m.Site, prefix: str, count: int) -> None:
    """``count`` more patients: prepared for RFA, with a serious AE, one withdrawn, one screened."""
    for i in range(count):
        p = prepared_patient(site, f"{prefix}-{i:03d}")
        record_event(p, serious_ae(-3, f"Event {prefix}-{i}"), actor=ADMIN)
        if i == 0:
            record_event(
                p,
                {
                    "type": "withdrawal",
                    "date": day(-1),
                    "reason": "moved",
                    "initiated_by": "patient",
                },
                actor=ADMIN,
            )
    screened = register_patient(site, f"{prefix}-S", sex="M", age_at_screening=70, actor=ADMIN)
    record_event(
        screened,
        {
            "type": "screening",
            "date": day(-2),
            "consent_date": day(-2),
            "eligible": False,
            "liver_lesion_count": 2,
        },
        actor=ADMIN,
    )


def test_the_dashboard_is_in_the_navigation(study: Study) -> None:
    page = signed_in(study.coordinator).get(reverse("web:worklist")).content.decode()
    assert reverse("web:dashboard") in page


def test_the_dashboard_needs_a_sign_in(study: Study) -> None:
    response = Client().get(reverse("web:dashboard"))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_dashboard_counts_where_every_patient_is(study: Study) -> None:
    add_patients(study.site_a, "SA-X", 3)
    record_event(study.patient_a, serious_ae(-40, "Old event"), actor=ADMIN)
    response = signed_in(study.coordinator).get(reverse("web:dashboard"))
    assert response.status_code == 200
    ctx = response.context
    (row,) = ctx["enrollment"]["rows"]
    assert row == {
        "site": "SA",
        "registered": 5,
        "screened": 5,
        "eligible": 4,
        "control": 0,
        "experimental": 4,
        "randomized": 4,
    }
    phases = {r["phase"]: r for r in ctx["consort"]["rows"]}
    assert phases["screen_failure"]["none"] == 1
    assert phases["withdrawn"]["experimental"] == 1
    assert phases["withdrawn"]["group"] == "off study"
    assert ctx["consort"]["total"]["total"] == 5
    assert ctx["consort"]["total"]["experimental"] == 4
    assert ctx["consort"]["withdrawals"] == {"patient": 1}
    on_study = sum(r["total"] for r in ctx["consort"]["rows"] if r["group"] == "on study")
    assert on_study == 3
    # the serious AEs of the last 30 days only, the one of 40 days ago is not listed
    terms = {ae.term for ae in ctx["saes"]}
    assert terms == {"Event SA-X-0", "Event SA-X-1", "Event SA-X-2"}
    page = response.content.decode()
    assert "Event SA-X-1" in page and "Old event" not in page
    assert 'id="consort"' in page and "screen failure" in page


def test_overdue_actions_and_deviations_are_counted(study: Study) -> None:
    for p in (study.patient_a, study.patient_b):
        m.NextAction.objects.filter(patient=p).update(overdue=True)
        m.Deviation.objects.create(
            patient=p, position=99, code="late_visit", date=day(-2), description="x", rule="r"
        )
    ctx = signed_in(study.coordinator).get(reverse("web:dashboard")).context
    expected = m.NextAction.objects.filter(patient=study.patient_a).count()
    assert expected > 0
    assert ctx["overdue"]["total"] == expected
    assert {a.patient.study_id for a in ctx["overdue"]["oldest"]} == {"SA-001"}
    late = next(r for r in ctx["deviations"]["by_code"] if r["code"] == "late_visit")
    assert late == {"code": "late_visit", "n": 1, "patients": 1, "recent": 1}


def test_a_user_of_site_a_does_not_see_site_b(study: Study) -> None:
    add_patients(study.site_b, "SB-X", 4)
    m.NextAction.objects.filter(patient__site=study.site_b).update(overdue=True)
    response = signed_in(study.coordinator).get(reverse("web:dashboard"))
    ctx = response.context
    assert ctx["sites"] == ["SA"]
    assert [r["site"] for r in ctx["enrollment"]["rows"]] == ["SA"]
    assert ctx["enrollment"]["total"]["registered"] == 1
    assert ctx["consort"]["total"]["total"] == 1
    assert ctx["saes"] == []
    assert ctx["overdue"]["total"] == 0
    page = response.content.decode()
    assert "SB-X" not in page and "SB" not in page.replace("SB-", "")
    # the monitor of both sites sees both, and the site selector narrows to one
    monitor = signed_in(study.monitor)
    ctx = monitor.get(reverse("web:dashboard")).context
    assert [r["site"] for r in ctx["enrollment"]["rows"]] == ["SA", "SB"]
    assert ctx["enrollment"]["total"]["registered"] == 7
    assert len(ctx["saes"]) == 4
    monitor.post(reverse("web:sites"), {"site": "SA"})
    ctx = monitor.get(reverse("web:dashboard")).context
    assert ctx["enrollment"]["total"]["registered"] == 1 and ctx["saes"] == []


def _queries(client: Client) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(reverse("web:dashboard")).status_code == 200
    return len(queries)


def test_the_number_of_queries_does_not_grow_with_the_patients(
    study: Study, django_assert_max_num_queries: Any
) -> None:
    client = signed_in(study.monitor)
    # The first page of a session also reads the user's language choice into the session.
    client.get(reverse("web:dashboard"))
    add_patients(study.site_a, "SA-X", 1)
    few = _queries(client)
    add_patients(study.site_a, "SA-Y", 6)
    add_patients(study.site_b, "SB-Y", 6)
    m.NextAction.objects.update(overdue=True)
    assert m.Patient.objects.count() > 15
    many = _queries(client)
    assert many == few
    with django_assert_max_num_queries(few):
        client.get(reverse("web:dashboard"))


def _open(sites: list[str]) -> dict[str, dict[str, Any]]:
    rows = dashboard_data(sites)["queries"]["rows"]
    zero = {"new": 0, "answered": 0, "automatic": 0}
    return {code: next((r for r in rows if r["site"] == code), zero) for code in sites}


def test_open_data_queries_by_site_waiting_for_the_site_or_for_the_monitor(study: Study) -> None:
    from rfatrial.server.monitoring import queries
    from rfatrial.server.study.audit import Actor

    monitor, roles = Actor("monitor_ab"), {"monitor"}
    before = _open(["SA", "SB"])  # the edit checks may already have asked something
    cycles = list(m.SystemicCycle.objects.filter(patient=study.patient_a).order_by("seq"))
    first = queries.open_query(cycles[0], text="Dose?", actor=monitor, roles=roles)
    queries.open_query(cycles[1], text="Date?", actor=monitor, roles=roles)
    closed = queries.open_query(cycles[1], text="Agent?", actor=monitor, roles=roles)
    queries.answer_query(
        first, text="As prescribed.", actor=Actor("coord_a"), roles={"coordinator"}
    )
    queries.close_query(closed, text="Seen.", actor=monitor, roles=roles)

    after = _open(["SA", "SB"])
    assert after["SA"]["new"] - before["SA"]["new"] == 1  # "Date?" waits for the site
    assert after["SA"]["answered"] - before["SA"]["answered"] == 1  # "Dose?" waits for the monitor
    assert after["SA"]["automatic"] == before["SA"]["automatic"]
    assert after["SB"] == before["SB"]
    totals = dashboard_data(["SA", "SB"])["queries"]
    assert totals["total"] == sum(r["new"] + r["answered"] for r in after.values())
    # a user of site B only counts none of site A's queries
    assert [r["site"] for r in dashboard_data(["SB"])["queries"]["rows"]] in ([], ["SB"])
    page = signed_in(study.monitor).get(reverse("web:dashboard")).content.decode()
    assert 'id="open-queries"' in page and "Open the data queries" in page
