"""Tests of the ALBI score and grade (Johnson PJ et al., JCO 2015;33:550-8)."""

from __future__ import annotations

import doctest
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel import albi as albi_module
from rfatrial.kernel.albi import (
    ALBUMIN_COEFFICIENT,
    ALBUMIN_COEFFICIENT_PAPER,
    BILIRUBIN_COEFFICIENT,
    albi,
    albi_grade,
)
from rfatrial.kernel.units import ClinicalValueError, UnitError


def test_doctests() -> None:
    result = doctest.testmod(albi_module)
    assert result.attempted > 0
    assert result.failed == 0


def test_coefficients_as_published() -> None:
    assert BILIRUBIN_COEFFICIENT == 0.66
    assert ALBUMIN_COEFFICIENT == -0.085
    assert ALBUMIN_COEFFICIENT_PAPER == -0.0852


@pytest.mark.parametrize(
    ("bilirubin", "albumin", "expected"),
    [
        # log10(17.1) × 0.66 + 40 × -0.085
        (17.1, 40.0, -2.5862225671411787),
        # log10(5) × 0.66 + 45 × -0.085
        (5.0, 45.0, -3.3636797971382277),
        # log10(50) × 0.66 + 25 × -0.085
        (50.0, 25.0, -1.0036797971382276),
        # log10(10) = 1: 0.66 - 3.4
        (10.0, 40.0, 0.66 - 3.4),
        # log10(1) = 0: the albumin term alone
        (1.0, 30.0, -2.55),
    ],
)
def test_score_hand_computed(bilirubin: float, albumin: float, expected: float) -> None:
    result = albi(bilirubin, "µmol/L", albumin, "g/L")
    assert result.score == pytest.approx(expected, abs=1e-12)
    assert result.score == pytest.approx(math.log10(bilirubin) * 0.66 + albumin * -0.085, abs=1e-12)
    assert result.bilirubin_umol_l == bilirubin
    assert result.albumin_g_l == albumin


def test_conventional_units_give_the_same_score() -> None:
    si = albi(17.1, "µmol/L", 40, "g/L")
    conventional = albi(1.0, "mg/dL", 4.0, "g/dL")
    assert conventional.score == si.score
    assert conventional.grade == si.grade == 2
    assert albi(17.1, "umol/L", 40, "g/L") == si


@pytest.mark.parametrize(
    ("score", "grade"),
    [
        (-2.60, 1),
        (math.nextafter(-2.60, math.inf), 2),
        (math.nextafter(-2.60, -math.inf), 1),
        (-1.39, 2),
        (math.nextafter(-1.39, -math.inf), 2),
        (math.nextafter(-1.39, math.inf), 3),
        (-10.0, 1),
        (0.0, 3),
    ],
)
def test_grade_boundaries(score: float, grade: int) -> None:
    assert albi_grade(score) == grade


@pytest.mark.parametrize(
    ("bilirubin", "albumin", "grade"),
    [(5.0, 45.0, 1), (17.1, 40.0, 2), (50.0, 25.0, 3)],
)
def test_grades_end_to_end(bilirubin: float, albumin: float, grade: int) -> None:
    assert albi(bilirubin, "µmol/L", albumin, "g/L").grade == grade


def test_grade_uses_unrounded_score() -> None:
    # albumin 30.6 g/L, bilirubin 1 µmol/L: score -2.601 (grade 1), which rounds to -2.60.
    result = albi(1.0, "µmol/L", 30.6, "g/L")
    assert result.score == pytest.approx(-2.601)
    assert result.grade == 1
    # albumin 30.5 g/L: score -2.5925 (grade 2), which also rounds to -2.59.
    assert albi(1.0, "µmol/L", 30.5, "g/L").grade == 2


def test_zero_bilirubin_rejected() -> None:
    with pytest.raises(ClinicalValueError, match=r"bilirubin: 0 .*above 0"):
        albi(0, "µmol/L", 40, "g/L")


@pytest.mark.parametrize(
    ("bilirubin", "bilirubin_unit", "albumin", "albumin_unit", "error"),
    [
        (10, "mmol/L", 40, "g/L", UnitError),
        (10, "µmol/L", 40, "mg/dL", UnitError),
        (-1, "µmol/L", 40, "g/L", ClinicalValueError),
        (10, "µmol/L", -1, "g/L", ClinicalValueError),
        (math.nan, "µmol/L", 40, "g/L", ClinicalValueError),
        (10, "µmol/L", math.inf, "g/L", ClinicalValueError),
        (10, "µmol/L", 81, "g/L", ClinicalValueError),
    ],
)
def test_invalid_inputs(
    bilirubin: float,
    bilirubin_unit: str,
    albumin: float,
    albumin_unit: str,
    error: type[Exception],
) -> None:
    with pytest.raises(error):
        albi(bilirubin, bilirubin_unit, albumin, albumin_unit)


@pytest.mark.parametrize("bad", [math.nan, math.inf, True])
def test_grade_of_invalid_score(bad: float) -> None:
    with pytest.raises(ClinicalValueError):
        albi_grade(bad)


_bili = st.floats(min_value=0.1, max_value=1500, allow_nan=False)
_alb = st.floats(min_value=0, max_value=80, allow_nan=False)


@given(b1=_bili, b2=_bili, alb=_alb)
def test_grade_monotone_in_bilirubin(b1: float, b2: float, alb: float) -> None:
    low, high = sorted((b1, b2))
    assert albi(low, "µmol/L", alb, "g/L").grade <= albi(high, "µmol/L", alb, "g/L").grade


@given(a1=_alb, a2=_alb, bili=_bili)
def test_grade_monotone_in_albumin(a1: float, a2: float, bili: float) -> None:
    low, high = sorted((a1, a2))
    assert albi(bili, "µmol/L", low, "g/L").grade >= albi(bili, "µmol/L", high, "g/L").grade
