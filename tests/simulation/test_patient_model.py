"""The patient model file: every parameter sourced, validated with errors naming the key."""

from __future__ import annotations

import random
import statistics
import tomllib

import pytest

from rfatrial.simulation.patient_model import (
    CourseTimes,
    PatientModelError,
    default_patient_model,
    default_patient_model_path,
    load_patient_model,
    parse_patient_model,
)


def raw() -> dict:
    return tomllib.loads(default_patient_model_path().read_text("utf-8"))


def test_the_shipped_model_loads_and_every_table_names_its_sources() -> None:
    model = default_patient_model()
    assert model.rfa.size_bands_mm == (30.0, 50.0, 500.0)
    for table in ("baseline", "systemic", "toxicity", "labs", "rfa", "disease"):
        sources = raw()[table]["sources"]
        assert all(isinstance(v, str) and v for v in sources.values())
    assert all(t.source for t in model.toxicity.terms)


def test_unknown_key_is_named() -> None:
    data = raw()
    data["rfa"]["bogus"] = 1
    with pytest.raises(PatientModelError, match=r"rfa\.bogus: unknown key"):
        parse_patient_model(data)


def test_a_parameter_without_source_is_refused() -> None:
    data = raw()
    del data["labs"]["sources"]["gate_failure"]
    with pytest.raises(PatientModelError, match="no source given for gate_failure"):
        parse_patient_model(data)


def test_inconsistent_values_are_refused_with_their_key() -> None:
    data = raw()
    data["rfa"]["residual"] = [0.1]
    with pytest.raises(PatientModelError, match="residual: give one value per size band"):
        parse_patient_model(data)
    data = raw()
    data["baseline"]["female_fraction"] = 1.5
    with pytest.raises(PatientModelError, match=r"baseline\.female_fraction"):
        parse_patient_model(data)


def test_missing_or_broken_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(PatientModelError, match="cannot read"):
        load_patient_model(tmp_path / "none.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("version = ", encoding="utf-8")
    with pytest.raises(PatientModelError, match="not valid TOML"):
        load_patient_model(bad)


@pytest.mark.parametrize(("name", "os_hr", "pfs_hr"), [("clocc", 0.58, 0.63), ("null", 1.0, 1.0)])
def test_course_times_follow_the_scenario_exactly(name: str, os_hr: float, pfs_hr: float) -> None:
    t = CourseTimes.from_scenario(name)
    assert t.median_os_months("control") == pytest.approx(40.5)
    assert t.median_pfs_months("control") == pytest.approx(9.9)
    assert t.death["experimental"] / t.death["control"] == pytest.approx(os_hr)
    pfs = {arm: t.death[arm] + t.progression[arm] for arm in t.death}
    assert pfs["experimental"] / pfs["control"] == pytest.approx(pfs_hr)
    # drawn times: medians of death and of min(death, progression), in days
    rng = random.Random(3)
    draws = [t.draw("control", rng) for _ in range(20_000)]
    days = 365.25 / 12
    assert statistics.median(d for d, _, _ in draws) / days == pytest.approx(40.5, rel=0.05)
    assert statistics.median(min(d, p) for d, p, _ in draws) / days == pytest.approx(9.9, rel=0.05)


def test_unknown_scenario() -> None:
    with pytest.raises(KeyError, match="unknown scenario"):
        CourseTimes.from_scenario("nope")
