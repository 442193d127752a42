"""The monitoring pages through the real URL routes: roles per site, forms, errors beside fields."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from rfatrial.server.monitoring.models import Query, RecordLock, Signature
from rfatrial.server.study import models as m
from tests.server.web.conftest import PASSWORD, Study, day


def _client(username: str) -> Client:
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def _cycle(study: Study) -> m.SystemicCycle:
    row = m.SystemicCycle.objects.filter(patient=study.patient_a).order_by("seq").first()
    assert row is not None
    return row


def test_a_monitor_opens_a_query_from_the_patient_page(study: Study) -> None:
    monitor = _client("monitor_ab")
    page = monitor.get(f"/patients/{study.patient_a.pk}/")
    assert page.status_code == 200 and b'id="records-status"' in page.content
    cycle = _cycle(study)
    url = f"/patients/{study.patient_a.pk}/records/systemic_cycle/{cycle.seq}/query/"
    assert url.encode() in page.content
    empty = monitor.post(url, {"field": "agents", "text": ""})
    assert empty.status_code == 422 and b"field-error" in empty.content
    done = monitor.post(url, {"field": "agents", "text": "Dose of oxaliplatin?"})
    x = Query.objects.get()
    assert done.status_code == 302 and done["Location"] == f"/queries/{x.pk}/"
    listing = monitor.get("/queries/?status=open&patient=SA-001")
    assert b"Dose of oxaliplatin?" in listing.content
    assert b"Dose of oxaliplatin?" not in monitor.get("/queries/?status=closed").content
    # the coordinator of site A answers; the one of site B does not see the query at all
    assert _client("coord_b").get(f"/queries/{x.pk}/").status_code == 404
    assert b"Dose of oxaliplatin?" not in _client("coord_b").get("/queries/").content
    coord = _client("coord_a")
    assert coord.post(url, {"text": "?"}).status_code == 403
    answered = coord.post(
        f"/queries/{x.pk}/", {"action": "answer", "version": x.version, "text": "85 mg/m2."}
    )
    assert answered.status_code == 302
    x.refresh_from_db()
    assert x.status == "answered"
    refused = coord.post(f"/queries/{x.pk}/", {"action": "close", "version": x.version})
    assert refused.status_code == 403
    closed = monitor.post(f"/queries/{x.pk}/", {"action": "close", "version": x.version})
    assert closed.status_code == 302
    x.refresh_from_db()
    assert x.status == "closed"
    tampered = monitor.post(f"/queries/{x.pk}/", {"action": "reopen", "version": "v", "text": "x"})
    assert tampered.status_code == 422 and b"version" in tampered.content
    late = coord.post(f"/queries/{x.pk}/", {"action": "answer", "version": x.version, "text": "x"})
    assert late.status_code == 422 and b"cannot be answered" in late.content


def _investigator(study: Study) -> Any:
    from tests.server.web.conftest import make_user

    return make_user("inv_a", {"SA": ["investigator"]})


def test_the_signature_dialog_and_the_lock_buttons(study: Study) -> None:
    _investigator(study)
    inv = _client("inv_a")
    cycle = _cycle(study)
    url = f"/patients/{study.patient_a.pk}/records/systemic_cycle/{cycle.seq}/sign/"
    dialog = inv.get(url)
    assert dialog.status_code == 200 and b"complete and accurate" in dialog.content
    wrong = inv.post(url, {"password": "nope"})
    assert wrong.status_code == 422 and b"password is wrong" in wrong.content
    assert inv.post(url, {"password": PASSWORD}).status_code == 302
    assert Signature.objects.get().record_id == cycle.pk
    assert _client("coord_a").get(url).status_code == 403
    casebook = inv.post(f"/patients/{study.patient_a.pk}/casebook/sign/", {"password": PASSWORD})
    assert casebook.status_code == 302
    assert Signature.objects.filter(casebook=True).count() == 6  # the 7 records, one signed before
    from tests.server.web.conftest import make_user

    make_user("dm_a", {"SA": ["data_manager"]})
    dm = _client("dm_a")
    lock_url = f"/patients/{study.patient_a.pk}/records/systemic_cycle/{cycle.seq}/lock/"
    assert dm.get(lock_url).status_code == 405
    assert inv.post(lock_url, {"locked": "1"}).status_code == 403
    assert dm.post(lock_url, {"locked": "1"}).status_code == 302
    assert RecordLock.objects.get().locked
    page = dm.get(f"/patients/{study.patient_a.pk}/")
    assert b"Unlock" in page.content


@pytest.mark.parametrize("kind", ["vital_signs", "ecg"])
def test_vital_signs_and_ecg_forms(study: Study, kind: str) -> None:
    coord = _client("coord_a")
    url = f"/patients/{study.patient_a.pk}/monitoring/{kind}/new/"
    assert coord.get(url).status_code == 200
    assert _client("monitor_ab").get(url).status_code == 403
    assert _client("coord_b").get(url).status_code == 404
    if kind == "vital_signs":
        bad = {"date": day(-1), "systolic_bp_mmhg": "400", "diastolic_bp_mmhg": "80"}
        good = {"date": day(-1), "systolic_bp_mmhg": "128", "diastolic_bp_mmhg": "80"}
        field = "systolic_bp_mmhg"
    else:
        bad = {"date": day(-1), "rhythm": "sinus", "heart_rate_per_min": "70", "qtcf_ms": "900"}
        good = {"date": day(-1), "rhythm": "sinus", "heart_rate_per_min": "70", "qtcf_ms": "430"}
        field = "qtcf_ms"
    refused = coord.post(url, bad)
    assert refused.status_code == 422 and b"is impossible" in refused.content
    assert f'id="id_{field}"'.encode() in refused.content
    assert coord.post(url, good).status_code == 302
    row: Any = (m.VitalSigns if kind == "vital_signs" else m.Ecg).objects.get()
    edit = f"/patients/{study.patient_a.pk}/monitoring/{kind}/{row.pk}/"
    no_reason = coord.post(edit, {**good, "version": "1"})
    assert no_reason.status_code == 422 and b"reason for the change" in no_reason.content
    changed = coord.post(
        edit, {**good, field: good[field][:-1] + "2", "version": "1", "reason": "re-read"}
    )
    assert changed.status_code == 302
    row.refresh_from_db()
    assert row.version == 2


def test_a_data_entry_form_shows_its_record_status(study: Study) -> None:
    from django.template import Context, Template
    from django.test import RequestFactory

    from rfatrial.server.monitoring import queries
    from rfatrial.server.monitoring.signing import set_lock
    from rfatrial.server.study.audit import Actor

    cycle = _cycle(study)
    queries.open_query(cycle, text="Dose?", actor=Actor("monitor_ab"), roles={"monitor"})
    set_lock(cycle, locked=True, actor=Actor("a data manager"), roles={"data_manager"})
    template = Template(
        '{% load monitoring_tags %}{% record_monitoring patient "systemic_cycle" ref %}'
    )

    def render(user: Any) -> str:
        request = RequestFactory().get("/")
        request.user = user
        context = {"request": request, "patient": study.patient_a, "ref": cycle.seq}
        return template.render(Context(context))

    seen = render(study.monitor)
    assert "locked" in seen and "Dose?" in seen and "/query/" in seen
    seen = render(study.coordinator)
    assert "Dose?" in seen and "/query/" not in seen  # the site answers; it does not ask
    assert render(study.coordinator_b).strip() == ""  # another site's record: nothing at all


def test_the_monitoring_pages_name_record_kinds_and_dates_as_the_user_reads_them(
    study: Study,
) -> None:
    from rfatrial.server.study.audit import audited
    from rfatrial.server.web.models import SiteSettings
    from tests.server.web.conftest import ADMIN

    with audited(ADMIN, "date format") as audit:
        audit.create(SiteSettings, site=study.site_a, date_format="dmy_dot")
    monitor = _client("monitor_ab")
    cycle = _cycle(study)
    url = f"/patients/{study.patient_a.pk}/records/systemic_cycle/{cycle.seq}/query/"
    assert monitor.post(url, {"field": "agents", "text": "Dose?"}).status_code == 302
    x = Query.objects.get()
    on = cycle.date.strftime("%d.%m.%Y")
    listing = monitor.get("/queries/?patient=SA-001").content.decode()
    assert "<td>Systemic cycle <code>agents</code>" in listing
    # a list of several sites' rows is in ISO format; the site's coordinator reads A's format
    assert x.opened_at.date().isoformat() in listing
    mine = _client("coord_a").get("/queries/?patient=SA-001").content.decode()
    assert x.opened_at.date().strftime("%d.%m.%Y") in mine
    assert on in monitor.get(url).content.decode()  # the record's date in the site's format
    assert on in monitor.get(f"/patients/{study.patient_a.pk}/").content.decode()
    monitor.post("/language/", {"language": "zh-hans"})
    listing = monitor.get("/queries/?patient=SA-001").content.decode()
    assert "<td>系统治疗周期 <code>agents</code>" in listing
    assert "系统治疗周期" in monitor.get(f"/queries/{x.pk}/").content.decode()
