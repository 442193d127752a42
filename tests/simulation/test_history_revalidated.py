"""A simulated history is what validating it afresh gives: the same records, of the same types,
the same JSON, and the same verdict of the engine on them.

The care team builds its records without validating each one (``simulation/_records.py``), so
these tests are what stands for the validation: every history must pass the schema strictly."""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

import pytest

from rfatrial.kernel.evaluation import to_json_dict
from rfatrial.kernel.history import (
    EVENT_ORDER,
    FollowUpVisit,
    LabResult,
    LesionMeasurement,
    PatientHistory,
    Record,
    parse_history,
)
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation._records import changer, maker
from rfatrial.simulation.care_team import Compliance, simulate_patient_detail

P = default_protocol()


def same(a: Any, b: Any, path: str = "history") -> None:
    """``a`` and ``b`` are equal and of the same types, down to each value (180 is not 180.0)."""
    assert type(a) is type(b), (path, type(a), type(b))
    if isinstance(a, Record):
        assert not hasattr(a, "__dict__"), path  # a record holds its fields and nothing else
        for name in a.model_fields:
            same(getattr(a, name), getattr(b, name), f"{path}.{name}")
    elif isinstance(a, list | tuple):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b, strict=True)):
            same(x, y, f"{path}[{k}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            same(a[k], b[k], f"{path}[{k!r}]")
    else:
        assert a == b, (path, a, b)


@pytest.mark.parametrize("rate", [0.0, 0.4])
def test_simulated_histories_evaluate_as_if_validated_afresh(rate: float) -> None:
    for k in range(40):
        sim = simulate_patient_detail(
            f"P{k}",
            "S01",
            "experimental" if k % 2 else "control",
            random.Random(k),
            P,
            start=date(2026, 1, 5),
            horizon_days=900,
            compliance=Compliance(rate=rate),
        )
        text = sim.history.model_dump_json()
        again = PatientHistory.model_validate_json(text, strict=True)
        assert again == sim.history
        same(sim.history, again)
        assert again.model_dump_json() == text
        # validated afresh from Python values, each value has the type validation gives
        same(sim.history, PatientHistory.model_validate(sim.history.model_dump()))
        assert parse_history(text) == sim.history
        last = max(e.date for e in sim.history.events)
        for today in (last, last - timedelta(days=60)):
            assert to_json_dict(evaluate(sim.history, P, today)) == to_json_dict(
                evaluate(again, P, today)
            )


def test_long_histories_of_both_arms_pass_the_schema_strictly() -> None:
    for k in range(200, 260):
        sim = simulate_patient_detail(
            f"P{k}",
            "S01",
            "experimental" if k % 2 else "control",
            random.Random(k),
            P,
            start=date(2026, 1, 5),
            horizon_days=2000,
            compliance=Compliance(rate=0.3 if k % 3 else 0.0),
        )
        strict = PatientHistory.model_validate_json(sim.history.model_dump_json(), strict=True)
        same(sim.history, strict)
        same(sim.history, PatientHistory.model_validate(sim.history.model_dump()))
        order = [(e.date, EVENT_ORDER[e.type]) for e in sim.history.events]
        assert order == sorted(order), "events in the engine's day order"


def test_the_record_maker_is_the_schema_without_the_checks() -> None:
    make = maker(LabResult)
    r = make(analyte="platelets", value=180.0, unit="10^9/L")
    same(r, LabResult(analyte="platelets", value=180.0, unit="10^9/L"))
    assert type(r) is LabResult and r.lln is None and r.uln is None
    values = {"analyte": "platelets", "value": 180.0, "unit": "10^9/L", "uln": 450.0}
    same(make(**values), LabResult(**values))
    # a default factory gives each record its own list
    visit = maker(FollowUpVisit)
    first, second = (
        visit(date=date(2026, 3, 2), visit_id="M3"),
        visit(date=date(2026, 6, 1), visit_id="M6"),
    )
    assert first.components == [] and first.components is not second.components
    with pytest.raises(TypeError, match="unit"):
        make(analyte="platelets", value=180.0)
    with pytest.raises(TypeError, match="colour"):
        make(analyte="platelets", value=180.0, unit="10^9/L", colour="red")
    with pytest.raises(Exception, match="cannot assign"):
        r.value = 1.0  # type: ignore[misc]


def test_a_changed_record_is_the_copy_with_the_new_value() -> None:
    make, change = maker(LesionMeasurement), changer(LesionMeasurement, "diameter_mm")
    first = make(lesion_id="L1", organ="liver", diameter_mm=20.0, segment="S2", us_visible=True)
    second = change(first, 12.5)
    expected = LesionMeasurement(
        lesion_id="L1", organ="liver", diameter_mm=12.5, segment="S2", us_visible=True
    )
    same(second, expected)
    assert first.diameter_mm == 20.0 and type(second) is LesionMeasurement
    same(change(make(lesion_id="L2"), 7.0), LesionMeasurement(lesion_id="L2", diameter_mm=7.0))
    with pytest.raises(ValueError, match="colour"):
        changer(LesionMeasurement, "colour")
