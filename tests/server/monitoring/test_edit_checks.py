"""Automatic queries: opened by the edit checks after a clinical write, closed by the system when
the data is corrected; the checks are data, validated when they are read."""

from __future__ import annotations

from pathlib import Path

import pytest

from rfatrial.kernel._data_file import load_model
from rfatrial.server.monitoring import queries as q
from rfatrial.server.monitoring.edit_checks import (
    CLOSED_TEXT,
    EditCheckError,
    EditChecks,
    edit_checks,
)
from rfatrial.server.monitoring.models import Query
from rfatrial.server.study import models as m
from rfatrial.server.study.services import amend_event, record_event, register_patient
from tests.server.api.conftest import World
from tests.server.monitoring.helpers import MONITOR, SITE_TEAM, day, labs, record
from tests.server.web.conftest import prepared_patient


def _auto(patient: m.Patient, check: str) -> list[Query]:
    return list(
        Query.objects.filter(patient=patient, automatic=True, check_id=check).order_by("pk")
    )


@pytest.mark.parametrize(("alt", "queried"), [(2000, False), (2001, True), (2, False), (1.9, True)])
def test_a_lab_value_at_and_beyond_the_plausible_range(
    world: World, alt: float, queried: bool
) -> None:
    record(world.p1, labs(alt=alt))
    found = _auto(world.p1, "lab-value-implausible")
    assert bool(found) == queried
    if queried:
        assert found[0].field == "results.alt" and found[0].status == "new"
        assert "2–2000 U/L" in found[0].subject and found[0].opened_by == q.SYSTEM_AUTHOR


def test_a_range_reads_the_value_in_its_own_unit(world: World) -> None:
    event = labs()
    for r in event["results"]:
        if r["analyte"] == "bilirubin":
            r["value"], r["unit"] = 30, "mg/dL"  # 513 µmol/L
    record(world.p1, event)
    [found] = _auto(world.p1, "lab-value-implausible")
    assert found.field == "results.bilirubin" and "513" in found.subject


def test_the_correction_closes_the_query_with_a_system_message(world: World) -> None:
    row = record(world.p1, labs(alt=2500))
    [x] = _auto(world.p1, "lab-value-implausible")
    amend_event(
        world.p1,
        row.seq,
        labs(alt=25),
        expected_version=row.version,
        actor=SITE_TEAM,
        reason="typo",
    )
    x.refresh_from_db()
    assert (x.status, x.closed_by) == ("closed", q.SYSTEM_AUTHOR)
    assert x.messages.order_by("position").last().text == CLOSED_TEXT  # type: ignore[union-attr]
    # the same mistake again opens a new query (the system closed the first one)
    row.refresh_from_db()
    amend_event(
        world.p1,
        row.seq,
        labs(alt=2600),
        expected_version=row.version,
        actor=SITE_TEAM,
        reason="re-read",
    )
    assert [y.status for y in _auto(world.p1, "lab-value-implausible")] == ["closed", "new"]


def test_a_query_a_monitor_closed_is_not_opened_again_by_the_same_finding(world: World) -> None:
    record(world.p1, labs(alt=2500))
    [x] = _auto(world.p1, "lab-value-implausible")
    q.close_query(x, actor=MONITOR, roles={"monitor"}, text="Confirmed on the source.")
    record(world.p1, labs(-1))
    assert [y.status for y in _auto(world.p1, "lab-value-implausible")] == ["closed"]


def test_a_gate_panel_without_a_gate_analyte_is_queried_until_it_is_reported(world: World) -> None:
    record(world.p1, labs(-4, leave_out=("platelets",)))  # not a gate panel: no query
    assert _auto(world.p1, "lab-gate-analyte-missing") == []
    patient = prepared_patient(world.s1, "S01-002")  # preparing RFA: the gate labs are due
    assert m.PatientState.objects.get(patient=patient).phase == "rfa_preparation"
    row = record(patient, labs(-2, leave_out=("platelets", "inr")))
    found = _auto(patient, "lab-gate-analyte-missing")
    assert sorted(x.field for x in found) == ["results.inr", "results.platelets"]
    assert all(x.record_id == row.pk for x in found)
    amend_event(
        patient,
        row.seq,
        labs(-2, leave_out=("inr",)),
        expected_version=row.version,
        actor=SITE_TEAM,
        reason="platelets added",
    )
    status = {x.field: x.status for x in _auto(patient, "lab-gate-analyte-missing")}
    assert status == {"results.platelets": "closed", "results.inr": "new"}


def test_a_lesion_without_a_diameter_is_queried(world: World) -> None:
    scan = {
        "type": "imaging",
        "date": day(-5),
        "modality": "CT",
        "purpose": "baseline",
        "lesions": [
            {"lesion_id": "L1", "diameter_mm": 20, "segment": "S7"},
            {"lesion_id": "L2", "segment": "S6"},
            {"lesion_id": "L3", "segment": "S2", "too_small_to_measure": True},
        ],
    }
    record(world.p1, scan)
    [x] = _auto(world.p1, "lesion-diameter-missing")
    assert x.field == "lesions.L2.diameter_mm" and "L2" in x.subject


def test_a_visit_out_of_its_window_is_queried_from_the_engine_deviation(world: World) -> None:
    patient = register_patient(world.s1, "S01-003", sex="M", age_at_screening=70, actor=SITE_TEAM)
    screening = {"type": "screening", "date": day(-130), "consent_date": day(-130)}
    record(patient, {**screening, "eligible": True, "liver_lesion_count": 3})
    record(patient, {"type": "randomization", "date": day(-120), "arm": "control"})
    visit = {"type": "follow_up_visit", "date": day(-1), "visit_id": "M3", "components": []}
    result = record_event(patient, visit, actor=SITE_TEAM, justification="patient away")
    assert any(d.code == "visit_out_of_window" for d in result.flagged)
    [x] = _auto(patient, "out-of-window")
    assert x.record_kind == "follow_up_visit" and "window" in x.subject
    assert x.field == "date.visit_out_of_window"


def test_the_package_checks_are_valid_and_a_bad_file_is_refused(tmp_path: Path) -> None:
    checks = edit_checks()
    assert {c.id for c in checks.out_of_range} >= {
        "lab-value-implausible",
        "vital-sign-implausible",
    }
    bad = tmp_path / "checks.toml"
    bad.write_text(
        'version = 1\n[[out_of_range]]\nid = "x"\nrecord = "lab_panel"\nmessage = "m"\n'
        'ranges = [{ analyte = "alt", unit = "furlongs", low = 1, high = 2 }]\n'
        '[[out_of_range]]\nid = "y"\nrecord = "vital_signs"\nmessage = "m"\n'
        'ranges = [{ field = "shoe_size", unit = "EU", low = 30, high = 50 }]\n'
    )
    with pytest.raises(EditCheckError) as caught:
        load_model(EditChecks, bad, error=EditCheckError)
    text = str(caught.value)
    assert "out_of_range.0.ranges.0" in text and "furlongs" in text
    assert "shoe_size" in text
    bad.write_text(
        'version = 1\n[[out_of_window]]\nid = "a"\nmessage = "m"\ndeviations = ["x"]\neval = "1"\n'
    )
    with pytest.raises(EditCheckError, match="unknown key"):
        load_model(EditChecks, bad, error=EditCheckError)
