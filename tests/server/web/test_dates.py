"""Dates in the site's format: the formatting and reading functions, the template tag and filter,
the site's choice, and the pages and forms that use them."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory
from django.urls import reverse

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import audited, verify_audit_trail
from rfatrial.server.web.dates import format_date, format_for_request, parse_date
from rfatrial.server.web.models import SiteSettings
from tests.server.web.conftest import ADMIN, Study, make_user

DAY = date(2026, 3, 4)


@pytest.mark.parametrize(
    ("code", "text"),
    [
        ("iso", "2026-03-04"),
        ("dmy_slash", "04/03/2026"),
        ("mdy_slash", "03/04/2026"),
        ("dmy_dot", "04.03.2026"),
        ("no_such_format", "2026-03-04"),
    ],
)
def test_each_format_writes_and_reads_the_same_day(code: str, text: str) -> None:
    assert format_date(DAY, code) == text
    assert parse_date(text, code) == DAY
    assert parse_date("2026-03-04", code) == DAY  # ISO is always understood


def test_format_date_takes_datetimes_iso_text_and_nothing() -> None:
    assert format_date(datetime(2026, 3, 4, 23, 59), "dmy_dot") == "04.03.2026"
    assert format_date("2026-03-04", "mdy_slash") == "03/04/2026"
    assert format_date(None, "dmy_dot") == "" and format_date("", "iso") == ""
    assert format_date("not a date", "dmy_dot") == "not a date"


def test_a_date_in_another_format_is_refused_with_the_expected_form() -> None:
    with pytest.raises(ValueError, match="DD/MM/YYYY"):
        parse_date("03/31/2026", "dmy_slash")  # month 31
    with pytest.raises(ValueError, match="MM/DD/YYYY"):
        parse_date("31/03/2026", "mdy_slash")
    with pytest.raises(ValueError, match=r"DD\.MM\.YYYY"):
        parse_date("2026.03.04", "dmy_dot")
    assert parse_date(" 31.12.2026 ", "dmy_dot") == date(2026, 12, 31)


def test_the_filter_writes_a_date_in_a_named_format() -> None:
    t = Template('{% load site_dates %}{{ d|date_as:"dmy_dot" }} {{ d|date_as:"iso" }}')
    assert t.render(Context({"d": DAY})) == "04.03.2026 2026-03-04"


# --- with the database --------------------------------------------------------------------------


def set_format(site: m.Site, code: str) -> None:
    with audited(ADMIN, "date format") as audit:
        audit.create(SiteSettings, site=site, date_format=code)


def signed_in(user: object) -> Client:
    client = Client()
    client.force_login(user)
    return client


def show(offset: int, code: str) -> str:
    return format_date(date.today() + timedelta(days=offset), code)


@pytest.mark.django_db
def test_the_tag_uses_the_patients_site_else_the_users_sites(study: Study) -> None:
    set_format(study.site_a, "dmy_slash")
    set_format(study.site_b, "mdy_slash")
    request = RequestFactory().get("/")
    request.user = study.monitor  # sites A and B: they disagree, so ISO
    request.session = {}
    t = Template("{% load site_dates %}{% site_date d %}")
    assert t.render(Context({"d": DAY, "request": request})) == "2026-03-04"
    context = Context({"d": DAY, "request": request, "patient": study.patient_b})
    assert t.render(context) == "03/04/2026"
    request.session = {"web_site": "SA"}  # the selector chose site A
    request.__dict__.pop("_date_formats", None)
    assert format_for_request(request) == "dmy_slash"
    request = RequestFactory().get("/")
    request.user, request.session = study.coordinator, {}  # site A only
    assert t.render(Context({"d": DAY, "request": request})) == "04/03/2026"


@pytest.mark.django_db
def test_the_patient_page_and_the_worklist_show_the_sites_format(study: Study) -> None:
    set_format(study.site_a, "dmy_dot")
    client = signed_in(study.coordinator)
    page = client.get(reverse("web:patient", args=[study.patient_a.pk])).content.decode()
    screening = show(-60, "dmy_dot")
    assert f"{screening}</time>" in page  # the timeline
    assert f">{show(-60, 'iso')}</time>" not in page
    action = m.NextAction.objects.filter(patient=study.patient_a).order_by("position").first()
    assert action is not None
    worklist = client.get(reverse("web:worklist")).content.decode()
    assert format_date(action.target, "dmy_dot") in worklist
    assert f"<td>{action.target.isoformat()}</td>" not in worklist
    # the worklist's filter reads and shows days in the site's format (ISO is understood too)
    far = client.get(reverse("web:worklist"), {"to": show(400, "dmy_dot")}).content.decode()
    assert f'value="{show(400, "dmy_dot")}"' in far and 'placeholder="DD.MM.YYYY"' in far
    iso = client.get(reverse("web:worklist"), {"to": show(400, "iso")}).content.decode()
    assert f'value="{show(400, "dmy_dot")}"' in iso
    # site B keeps ISO: its coordinator sees ISO
    other = signed_in(study.coordinator_b).get(reverse("web:patient", args=[study.patient_b.pk]))
    assert f"{show(-60, 'iso')}</time>" in other.content.decode()


@pytest.mark.django_db
def test_date_fields_read_the_sites_format_and_say_how_to_write_it(study: Study) -> None:
    set_format(study.site_a, "dmy_slash")
    client = signed_in(study.coordinator)
    url = reverse("web:record", args=[study.patient_a.pk, "adverse_event"])
    page = client.get(url).content.decode()
    assert 'placeholder="DD/MM/YYYY"' in page and f'value="{show(0, "dmy_slash")}"' in page
    form = {"term": "Fatigue", "grade": "1", "date": show(-3, "dmy_slash")}
    bad = client.post(url, form | {"date": (date.today() - timedelta(days=3)).strftime("%Y/%m/%d")})
    assert bad.status_code == 422 and "Enter a date as DD/MM/YYYY" in bad.content.decode()
    assert client.post(url, form | {"end_date": show(-1, "dmy_slash")}).status_code == 302
    ae = m.AdverseEvent.objects.get(patient=study.patient_a)
    assert ae.date == date.today() - timedelta(days=3)
    assert ae.end_date == date.today() - timedelta(days=1)


@pytest.mark.django_db
def test_an_investigator_chooses_the_sites_format_and_it_is_audited(study: Study) -> None:
    investigator = make_user("investigator_a", {"SA": ["investigator"]})
    url = reverse("web:site_settings", args=["SA"])
    assert signed_in(study.coordinator).post(url, {"date_format": "dmy_dot"}).status_code == 403
    assert signed_in(investigator).get(reverse("web:site_settings", args=["SB"])).status_code == 404
    client = signed_in(investigator)
    sites = client.get(reverse("web:sites")).content.decode()
    assert url in sites and show(0, "iso") in sites  # ISO until the site chooses
    assert url not in signed_in(study.coordinator).get(reverse("web:sites")).content.decode()
    assert client.post(url, {"date_format": "dmy_dot"}).status_code == 302
    assert show(0, "dmy_dot") in client.get(reverse("web:sites")).content.decode()
    assert client.post(url, {"date_format": "mdy_slash"}).status_code == 302
    assert client.post(url, {"date_format": "yyyy"}).status_code == 200  # not a choice
    settings = SiteSettings.objects.get(site=study.site_a)
    assert (settings.date_format, settings.version) == ("mdy_slash", 2)
    entries = m.AuditEntry.objects.filter(table="web_sitesettings").order_by("seq")
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].actor == "investigator_a" and "dmy_dot" in entries[1].changes
    assert verify_audit_trail().ok
