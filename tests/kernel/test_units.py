"""Tests of the analyte and unit table (rfatrial.kernel.units)."""

from __future__ import annotations

import doctest
import math
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from rfatrial.kernel import units
from rfatrial.kernel.units import (
    ANALYTES,
    ClinicalValueError,
    UnitError,
    canonical_unit,
    check_value,
    convert,
    exact_decimal,
    normalize_unit,
    to_canonical,
    to_canonical_exact,
)


def test_doctests() -> None:
    result = doctest.testmod(units)
    assert result.attempted > 0
    assert result.failed == 0


def test_error_hierarchy() -> None:
    assert issubclass(ClinicalValueError, ValueError)
    assert issubclass(UnitError, ClinicalValueError)


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        ("alt", "U/L"),
        ("ast", "U/L"),
        ("alp", "U/L"),
        ("ggt", "U/L"),
        ("bilirubin", "µmol/L"),
        ("albumin", "g/L"),
        ("creatinine", "µmol/L"),
        ("platelets", "10^9/L"),
        ("neutrophils", "10^9/L"),
        ("wbc", "10^9/L"),
        ("lymphocytes", "10^9/L"),
        ("hemoglobin", "g/dL"),
        ("inr", "ratio"),
        ("cea", "ng/mL"),
        ("ca19_9", "U/mL"),
    ],
)
def test_canonical_units(analyte: str, unit: str) -> None:
    assert canonical_unit(analyte) == unit
    assert ANALYTES[analyte].canonical_unit == unit
    assert ANALYTES[analyte].units[unit] == 1.0
    assert ANALYTES[analyte].name == analyte


@pytest.mark.parametrize(
    ("analyte", "value", "unit", "expected"),
    [
        ("alt", 40, "IU/L", 40.0),
        ("bilirubin", 1, "mg/dL", 17.1),
        ("bilirubin", 2, "mg/dL", 34.2),
        ("bilirubin", 3, "mg/dL", 51.3),
        ("bilirubin", 1.3, "mg/dL", 22.23),
        ("albumin", 3.5, "g/dL", 35.0),
        ("albumin", 2.8, "g/dL", 28.0),
        ("creatinine", 1, "mg/dL", 88.4),
        ("creatinine", 0.7, "mg/dL", 61.88),
        ("platelets", 75_000, "/mm³", 75.0),
        ("platelets", 50_000, "/mm3", 50.0),
        ("platelets", 150_000, "/µL", 150.0),
        ("neutrophils", 1500, "cells/uL", 1.5),
        ("wbc", 3000, "/mm3", 3.0),
        ("lymphocytes", 800, "/mm3", 0.8),
        ("hemoglobin", 100, "g/L", 10.0),
        ("hemoglobin", 80, "g/L", 8.0),
        ("hemoglobin", 6.206, "mmol/L", 10.0),
        ("inr", 1.5, "", 1.5),
        ("inr", 1.5, "1", 1.5),
        ("cea", 5, "µg/L", 5.0),
        ("ca19_9", 37, "kU/L", 37.0),
    ],
)
def test_to_canonical_exact_values(analyte: str, value: float, unit: str, expected: float) -> None:
    assert to_canonical(analyte, value, unit) == expected


def test_conversion_is_exact_decimal_arithmetic() -> None:
    # 3 × 17.1 in binary floating point is 51.300000000000004; the exact decimal is 51.3, the
    # Child-Pugh cut-off of 3 mg/dL.
    assert 3 * 17.1 != 51.3
    assert to_canonical("bilirubin", 3, "mg/dL") == 51.3
    assert to_canonical_exact("bilirubin", 3, "mg/dL") == Fraction("51.3")
    assert to_canonical_exact("creatinine", 0.7, "mg/dL") == Fraction("61.88")
    assert to_canonical_exact("platelets", 75_000, "/mm3") == 75


@pytest.mark.parametrize(
    ("analyte", "unit", "spelled"),
    [
        ("bilirubin", "umol/L", "µmol/L"),
        ("bilirubin", "μmol/L", "µmol/L"),  # Greek mu
        ("bilirubin", " µmol / L ", "µmol/L"),
        ("bilirubin", "umol/l", "µmol/L"),
        ("bilirubin", "mg/dl", "mg/dL"),
        ("creatinine", "umol/L", "µmol/L"),
        ("platelets", "10^9/L", "10^9/L"),
        ("platelets", "10*9/L", "10^9/L"),
        ("platelets", "x10^9/L", "10^9/L"),
        ("platelets", "× 10^9/L", "10^9/L"),
        ("platelets", "G/L", "10^9/L"),
        ("platelets", "10⁹/L", "10^9/L"),
        ("platelets", "/uL", "/µL"),
        ("neutrophils", "cells/µL", "cells/uL"),
        ("albumin", "g/dl", "g/dL"),
        ("hemoglobin", "mmol/l", "mmol/L"),
        ("cea", "ug/L", "µg/L"),
        ("inr", "  ", ""),
    ],
)
def test_unit_aliases(analyte: str, unit: str, spelled: str) -> None:
    assert normalize_unit(analyte, unit) == spelled


@pytest.mark.parametrize(
    ("analyte", "unit"),
    [
        ("albumin", "mg/dL"),
        ("bilirubin", "mmol/L"),
        ("platelets", "10^3/L"),
        ("platelets", "g/L"),  # "g/L" is not "G/L"; never guessed
        ("hemoglobin", "mg/dL"),
        ("inr", "s"),
        ("alt", "µkat/L"),
        ("creatinine", "MG/DL"),
    ],
)
def test_unknown_unit_is_unit_error(analyte: str, unit: str) -> None:
    with pytest.raises(UnitError, match=analyte):
        to_canonical(analyte, 1, unit)


def test_unit_error_message_names_unit_and_accepted() -> None:
    with pytest.raises(UnitError, match=r"'mg/L'.*accepted.*'g/dL'"):
        to_canonical("albumin", 40, "mg/L")


def test_analyte_names_are_case_insensitive_but_never_guessed() -> None:
    assert to_canonical(" ALT ", 10, "U/L") == 10.0
    with pytest.raises(ClinicalValueError, match="'sgpt'"):
        to_canonical("sgpt", 10, "U/L")
    with pytest.raises(ClinicalValueError):
        canonical_unit("ca19-9")


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_rejected(bad: float) -> None:
    with pytest.raises(ClinicalValueError, match="not finite"):
        to_canonical("alt", bad, "U/L")


@pytest.mark.parametrize("bad", [True, "12", None])
def test_non_numbers_rejected(bad: object) -> None:
    with pytest.raises(ClinicalValueError, match="not a number"):
        to_canonical("alt", bad, "U/L")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("analyte", "low", "high"),
    [
        ("platelets", 0, 5000),
        ("hemoglobin", 0, 30),
        ("inr", 0.5, 20),
        ("albumin", 0, 80),
        ("bilirubin", 0, 1500),
        ("creatinine", 0, 3000),
        ("alt", 0, 100_000),
    ],
)
def test_plausible_range_inclusive_bounds(analyte: str, low: float, high: float) -> None:
    unit = canonical_unit(analyte)
    assert ANALYTES[analyte].plausible_min == low
    assert ANALYTES[analyte].plausible_max == high
    assert to_canonical(analyte, low, unit) == low
    assert to_canonical(analyte, high, unit) == high
    with pytest.raises(ClinicalValueError, match="plausible range"):
        to_canonical(analyte, math.nextafter(float(low), -math.inf), unit)
    with pytest.raises(ClinicalValueError, match="plausible range"):
        to_canonical(analyte, math.nextafter(float(high), math.inf), unit)


def test_every_analyte_range_is_finite() -> None:
    for spec in ANALYTES.values():
        assert math.isfinite(spec.plausible_min) and math.isfinite(spec.plausible_max)
        assert 0 <= spec.plausible_min < spec.plausible_max
        assert all(factor > 0 for factor in spec.units.values())


def test_negative_values_rejected_with_message() -> None:
    with pytest.raises(ClinicalValueError, match=r"platelets: -1 .*plausible range 0-5000"):
        to_canonical("platelets", -1, "10^9/L")


def test_range_is_checked_in_canonical_unit() -> None:
    assert to_canonical("bilirubin", 87, "mg/dL") == pytest.approx(1487.7)
    with pytest.raises(ClinicalValueError, match="plausible range"):
        to_canonical("bilirubin", 88, "mg/dL")  # 1504.8 µmol/L


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        ANALYTES["alt"] = ANALYTES["ast"]  # type: ignore[index]
    with pytest.raises(TypeError):
        ANALYTES["alt"].units["U/L"] = 2.0  # type: ignore[index]


def test_exact_decimal() -> None:
    assert exact_decimal("x", 0.1) == Fraction(1, 10)
    assert exact_decimal("x", np.float64(0.3)) == Fraction(3, 10)
    assert to_canonical("bilirubin", np.float64(3.0), "mg/dL") == 51.3
    assert exact_decimal("x", 7) == 7
    with pytest.raises(ClinicalValueError, match="x: nan"):
        exact_decimal("x", math.nan)


def test_convert_between_non_canonical_units() -> None:
    assert convert("platelets", 75_000, "/mm3", "G/L") == 75.0
    assert convert("bilirubin", 34.2, "µmol/L", "mg/dL") == 2.0
    assert convert("hemoglobin", 100, "g/L", "mmol/L") == pytest.approx(6.206)
    assert convert("creatinine", 88.4, "umol/L", "mg/dL") == 1.0
    with pytest.raises(UnitError):
        convert("creatinine", 1, "mg/dL", "mmol/L")


_PAIRS = [(name, u1, u2) for name, s in ANALYTES.items() for u1 in s.units for u2 in s.units]


@given(
    pair=st.sampled_from(_PAIRS),
    fraction=st.floats(min_value=0.0, max_value=1.0, allow_nan=False),
)
@example(pair=("bilirubin", "µmol/L", "mg/dL"), fraction=1.0)
def test_round_trip(pair: tuple[str, str, str], fraction: float) -> None:
    analyte, unit_a, unit_b = pair
    spec = ANALYTES[analyte]
    # Just inside the upper bound: 1500 µmol/L is 87.71929824561404 mg/dL once rounded, and that
    # decimal is exactly 1500.000000000000084 µmol/L, rightly outside the plausible range.
    span = (spec.plausible_max - spec.plausible_min) * (1 - 1e-9)
    canonical = spec.plausible_min + fraction * span
    value = convert(analyte, canonical, spec.canonical_unit, unit_a)
    there = convert(analyte, value, unit_a, unit_b)
    back = convert(analyte, there, unit_b, unit_a)
    assert back == pytest.approx(value, rel=1e-12, abs=1e-12)
    assert to_canonical(analyte, value, unit_a) == pytest.approx(canonical, rel=1e-12, abs=1e-12)


@given(
    value=st.floats(min_value=0, max_value=5000, allow_nan=False),
    other=st.floats(min_value=0, max_value=5000, allow_nan=False),
)
def test_conversion_is_monotone(value: float, other: float) -> None:
    low, high = sorted((value, other))
    assert convert("platelets", low, "10^9/L", "/mm3") <= convert(
        "platelets", high, "10^9/L", "/mm3"
    )


@given(
    analyte=st.sampled_from(sorted(ANALYTES)),
    value=st.one_of(
        st.floats(allow_nan=True, allow_infinity=True),
        st.integers(-10, 10**6),
        st.floats(-1, 6000),
    ),
    unit_index=st.integers(0, 8),
)
def test_check_value_raises_exactly_when_to_canonical_raises(
    analyte: str, value: float, unit_index: int
) -> None:
    units = [*ANALYTES[analyte].units, "furlongs"]
    unit = units[unit_index % len(units)]
    try:
        to_canonical(analyte, value, unit)
    except ClinicalValueError as expected:
        with pytest.raises(type(expected)) as got:
            check_value(analyte, value, unit)
        assert str(got.value) == str(expected)
    else:
        check_value(analyte, value, unit)


def test_a_value_beyond_a_float_once_converted_is_refused_with_the_rule() -> None:
    # the largest float in µmol/L is about 1.8e308; in mg/dL (÷ 17.1) it fits, but × 17.1 from
    # mg/dL it would overflow a float: the error names the range, it does not fail to format
    with pytest.raises(ClinicalValueError, match="outside the plausible range"):
        to_canonical("bilirubin", 1.7976931348623157e308, "mg/dL")
