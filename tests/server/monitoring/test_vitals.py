"""Vital signs and ECG: impossible values refused naming the field, unusual ones queried, changes
audited, locks and signatures respected."""

from __future__ import annotations

from typing import Any

import pytest

from rfatrial.server.monitoring import signing, vitals
from rfatrial.server.monitoring.models import Query
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, StaleRecordError
from rfatrial.server.study.services import EventError
from tests.server.api.conftest import World
from tests.server.monitoring.helpers import SITE_TEAM, day


def _vitals(**values: Any) -> dict[str, Any]:
    return {"date": day(-1), "systolic_bp_mmhg": 128, "diastolic_bp_mmhg": 80, **values}


def _ecg(**values: Any) -> dict[str, Any]:
    return {"date": day(-1), "rhythm": "sinus", "heart_rate_per_min": 72, "qtcf_ms": 420, **values}


@pytest.mark.parametrize(
    ("field", "ok", "bad"),
    [
        ("systolic_bp_mmhg", 300, 301),
        ("heart_rate_per_min", 20, 19),
        ("temperature_c", 45.0, 45.1),
        ("spo2_percent", 100, 101),
        ("weight_kg", 20, 19.9),
        ("height_cm", 250, 251),
    ],
)
def test_impossible_vital_signs_are_refused_naming_the_field(
    world: World, field: str, ok: float, bad: float
) -> None:
    values: dict[str, Any] = {"systolic_bp_mmhg": None, "diastolic_bp_mmhg": None}
    vitals.record(world.p1, "vital_signs", _vitals(**{**values, field: ok}), actor=SITE_TEAM)
    with pytest.raises(EventError, match=rf"{field}: .* is impossible"):
        vitals.record(world.p1, "vital_signs", _vitals(**{**values, field: bad}), actor=SITE_TEAM)
    assert m.VitalSigns.objects.count() == 1


def test_more_rules_of_vital_signs_and_ecg(world: World) -> None:
    with pytest.raises(EventError, match="diastolic_bp_mmhg: 90 must be below the systolic"):
        vitals.record(
            world.p1,
            "vital_signs",
            _vitals(systolic_bp_mmhg=90, diastolic_bp_mmhg=90),
            actor=SITE_TEAM,
        )
    with pytest.raises(EventError, match="at least one measurement"):
        vitals.record(world.p1, "vital_signs", {"date": day(-1)}, actor=SITE_TEAM)
    with pytest.raises(EventError, match=r"date: .* is after today"):
        vitals.record(world.p1, "vital_signs", _vitals(date=day(1)), actor=SITE_TEAM)
    with pytest.raises(EventError, match="rhythm: 'wobbly' is not one of"):
        vitals.record(world.p1, "ecg", _ecg(rhythm="wobbly"), actor=SITE_TEAM)
    with pytest.raises(EventError, match="abnormality: describe"):
        vitals.record(world.p1, "ecg", _ecg(clinically_significant=True), actor=SITE_TEAM)
    with pytest.raises(EventError, match="qtcf_ms: 801 ms is impossible"):
        vitals.record(world.p1, "ecg", _ecg(qtcf_ms=801), actor=SITE_TEAM)
    with pytest.raises(EventError, match="pulse"):
        vitals.record(world.p1, "ecg", _ecg(pulse=3), actor=SITE_TEAM)
    row = vitals.record(
        world.p1, "ecg", _ecg(clinically_significant=True, abnormality=" LBBB "), actor=SITE_TEAM
    )
    assert isinstance(row, m.Ecg) and row.abnormality == "LBBB"
    assert m.VitalSigns.objects.count() == 0


def test_an_unusual_value_is_queried_and_its_correction_closes_the_query(world: World) -> None:
    row = vitals.record(world.p1, "ecg", _ecg(qtcf_ms=520), actor=SITE_TEAM)
    [x] = Query.objects.filter(automatic=True, check_id="ecg-interval-implausible")
    assert x.field == "qtcf_ms" and x.record_kind == "ecg" and "QTcF 520 ms" in x.subject
    vitals.amend_record(
        row, _ecg(qtcf_ms=452), expected_version=1, actor=SITE_TEAM, reason="re-read"
    )
    x.refresh_from_db()
    assert x.status == "closed"


def test_a_correction_is_audited_voids_the_signature_and_respects_the_lock(world: World) -> None:
    investigator = world.users["investigator"]
    investigator.set_password("pw-for-signing")
    investigator.save()
    row = vitals.record(world.p1, "vital_signs", _vitals(weight_kg=70), actor=SITE_TEAM)
    sig = signing.sign_record(
        row,
        user=investigator,
        password="pw-for-signing",
        actor=Actor("investigator1"),
        roles={"investigator"},
    )
    vitals.amend_record(
        row, _vitals(weight_kg=72), expected_version=1, actor=SITE_TEAM, reason="scale"
    )
    sig.refresh_from_db()
    assert sig.void_reason.startswith("signature voided by change on")
    change = m.AuditEntry.objects.filter(table="study_vitalsigns", action="update").get()
    assert '"weight_kg":[70.0,72.0]' in change.changes and change.reason == "scale"
    with pytest.raises(StaleRecordError):
        vitals.amend_record(
            row, _vitals(weight_kg=73), expected_version=1, actor=SITE_TEAM, reason="x"
        )
    signing.set_lock(row, locked=True, actor=Actor("a data manager"), roles={"data_manager"})
    with pytest.raises(signing.RecordLockedError):
        vitals.amend_record(
            row, _vitals(weight_kg=73), expected_version=2, actor=SITE_TEAM, reason="x"
        )
    with pytest.raises(signing.RecordLockedError):
        vitals.delete_record(row, expected_version=2, actor=SITE_TEAM, reason="x")
    signing.set_lock(row, locked=False, actor=Actor("a data manager"), roles={"data_manager"})
    vitals.delete_record(row, expected_version=2, actor=SITE_TEAM, reason="entered in error")
    assert not m.VitalSigns.objects.exists()
    assert m.AuditEntry.objects.filter(table="study_vitalsigns", action="delete").count() == 1
