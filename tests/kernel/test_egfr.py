"""Tests of the CKD-EPI 2021 creatinine equation (Inker LA et al., NEJM 2021;385:1737-49)."""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel import egfr as egfr_module
from rfatrial.kernel.egfr import Sex, egfr_ckd_epi_2021
from rfatrial.kernel.units import ClinicalValueError, UnitError


def test_doctests() -> None:
    result = doctest.testmod(egfr_module)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("scr", "age", "sex", "hand", "published"),
    [
        # male, Scr above κ = 0.9: 142 × (1.0/0.9)^-1.200 × 0.9938^50
        (1.0, 50, "M", 142 * (1.0 / 0.9) ** -1.2 * 0.9938**50, 91.6914786098333),
        # female, Scr = κ = 0.7: both ratio terms are 1; 142 × 0.9938^50 × 1.012
        (0.7, 50, "F", 142 * 0.9938**50 * 1.012, 105.29760114914401),
        # female, Scr below κ: 142 × (0.5/0.7)^-0.241 × 0.9938^40 × 1.012
        (0.5, 40, "F", 142 * (0.5 / 0.7) ** -0.241 * 0.9938**40 * 1.012, 121.51934217125232),
        # male, Scr below κ: 142 × (0.6/0.9)^-0.302 × 0.9938^30
        (0.6, 30, "M", 142 * (0.6 / 0.9) ** -0.302 * 0.9938**30, 133.17959102481765),
        # female, Scr above κ: 142 × (2.0/0.7)^-1.200 × 0.9938^70 × 1.012
        (2.0, 70, "F", 142 * (2.0 / 0.7) ** -1.2 * 0.9938**70 * 1.012, 26.38031510583189),
    ],
)
def test_hand_computed(scr: float, age: float, sex: Sex, hand: float, published: float) -> None:
    value = egfr_ckd_epi_2021(scr, "mg/dL", age, sex)
    assert value == pytest.approx(hand, abs=1e-6)
    assert value == pytest.approx(published, abs=1e-6)


def test_rounded_values_match_the_usual_calculators() -> None:
    assert round(egfr_ckd_epi_2021(1.0, "mg/dL", 50, "M")) == 92
    assert round(egfr_ckd_epi_2021(0.7, "mg/dL", 50, "F")) == 105


def test_micromolar_is_divided_by_88_4() -> None:
    assert egfr_ckd_epi_2021(88.4, "µmol/L", 50, "M") == pytest.approx(
        egfr_ckd_epi_2021(1.0, "mg/dL", 50, "M"), abs=1e-9
    )
    assert egfr_ckd_epi_2021(61.88, "umol/L", 50, "F") == pytest.approx(
        105.29760114914401, abs=1e-6
    )
    assert egfr_ckd_epi_2021(176.8, "µmol/L", 70, "F") == pytest.approx(26.38031510583189, abs=1e-6)


def test_continuous_at_kappa() -> None:
    kappas: tuple[tuple[Sex, float], ...] = (("F", 0.7), ("M", 0.9))
    for sex, kappa in kappas:
        below = egfr_ckd_epi_2021(math.nextafter(kappa, 0), "mg/dL", 60, sex)
        at = egfr_ckd_epi_2021(kappa, "mg/dL", 60, sex)
        assert below == pytest.approx(at, rel=1e-9)


def test_female_factor() -> None:
    # At the same Scr/κ ratio of 1, women get exactly the 1.012 factor.
    female = egfr_ckd_epi_2021(0.7, "mg/dL", 60, "F")
    male = egfr_ckd_epi_2021(0.9, "mg/dL", 60, "M")
    assert female / male == pytest.approx(1.012, abs=1e-12)


@pytest.mark.parametrize(("age", "ok"), [(18, True), (17.99, False), (120, True), (120.01, False)])
def test_age_limits(age: float, ok: bool) -> None:
    if ok:
        assert egfr_ckd_epi_2021(1.0, "mg/dL", age, "M") > 0
    else:
        with pytest.raises(ClinicalValueError, match="age_years"):
            egfr_ckd_epi_2021(1.0, "mg/dL", age, "M")


@pytest.mark.parametrize("sex", ["f", "male", "", "X", None])
def test_sex_must_be_f_or_m(sex: object) -> None:
    with pytest.raises(ClinicalValueError, match="sex"):
        egfr_ckd_epi_2021(1.0, "mg/dL", 50, sex)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("scr", "unit", "age", "error"),
    [
        (0, "mg/dL", 50, ClinicalValueError),
        (-1, "mg/dL", 50, ClinicalValueError),
        (math.nan, "mg/dL", 50, ClinicalValueError),
        (1.0, "mg/dL", math.nan, ClinicalValueError),
        (1.0, "mg/dL", math.inf, ClinicalValueError),
        (1.0, "mmol/L", 50, UnitError),
        (40, "mg/dL", 50, ClinicalValueError),  # 3536 µmol/L: implausible
    ],
)
def test_invalid_inputs(scr: float, unit: str, age: float, error: type[Exception]) -> None:
    with pytest.raises(error):
        egfr_ckd_epi_2021(scr, unit, age, "M")


_scr = st.floats(min_value=0.05, max_value=30, allow_nan=False)
_age = st.floats(min_value=18, max_value=120, allow_nan=False)


@given(s1=_scr, s2=_scr, age=_age, sex=st.sampled_from(["F", "M"]))
def test_decreasing_in_creatinine(s1: float, s2: float, age: float, sex: Sex) -> None:
    low, high = sorted((s1, s2))
    assert egfr_ckd_epi_2021(low, "mg/dL", age, sex) >= egfr_ckd_epi_2021(high, "mg/dL", age, sex)


@given(a1=_age, a2=_age, scr=_scr, sex=st.sampled_from(["F", "M"]))
def test_decreasing_in_age(a1: float, a2: float, scr: float, sex: Sex) -> None:
    low, high = sorted((a1, a2))
    assert egfr_ckd_epi_2021(scr, "mg/dL", low, sex) >= egfr_ckd_epi_2021(scr, "mg/dL", high, sex)
