"""Tests of CTCAE v5.0 lab grading (NCI CTCAE v5.0 (27 Nov 2017); references/clinical.md §6)."""

from __future__ import annotations

import doctest
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel import ctcae
from rfatrial.kernel.ctcae import (
    CTCAE_VERSION,
    CtcaeTable,
    CtcaeTableError,
    ctcae_table,
    grade_lab,
    supported_terms,
)
from rfatrial.kernel.units import ClinicalValueError, UnitError


def test_doctests() -> None:
    result = doctest.testmod(ctcae)
    assert result.attempted > 0
    assert result.failed == 0


def test_bundled_table() -> None:
    table = ctcae_table()
    assert table is ctcae_table()
    assert table.version == CTCAE_VERSION == "5.0"
    assert table.citation == "NCI CTCAE v5.0 (27 Nov 2017)"
    assert set(supported_terms()) == {
        "alt",
        "ast",
        "bilirubin",
        "alp",
        "ggt",
        "creatinine",
        "platelets",
        "neutrophils",
        "hemoglobin",
        "inr",
        "albumin",
        "wbc",
        "lymphocytes",
    }


@pytest.mark.parametrize(
    ("term", "name"),
    [
        ("alt", "Alanine aminotransferase increased"),
        ("ast", "Aspartate aminotransferase increased"),
        ("bilirubin", "Blood bilirubin increased"),
        ("alp", "Alkaline phosphatase increased"),
        ("ggt", "GGT increased"),
        ("creatinine", "Creatinine increased"),
        ("inr", "INR increased"),
        ("platelets", "Platelet count decreased"),
        ("neutrophils", "Neutrophil count decreased"),
        ("wbc", "White blood cell decreased"),
        ("lymphocytes", "Lymphocyte count decreased"),
        ("hemoglobin", "Anemia"),
        ("albumin", "Hypoalbuminemia"),
    ],
)
def test_term_names(term: str, name: str) -> None:
    assert ctcae_table().terms[term].name == name


# (value, expected grade): each cut-off is tested on both sides.
Case = tuple[float, int]


def _cases(term: str, unit: str, kwargs: dict[str, Any], cases: list[Case]) -> list[Any]:
    return [
        pytest.param(term, value, unit, kwargs, grade, id=f"{term}-{value}{unit}-{kwargs}")
        for value, grade in cases
    ]


_ALT_NORMAL: list[Case] = [
    (0, 0),
    (40, 0),
    (40.01, 1),
    (120, 1),
    (120.01, 2),
    (200, 2),
    (200.01, 3),
    (800, 3),
    (800.01, 4),
]
# abnormal baseline 60 (ULN 40): 1.5 × 60 = 90 inclusive; 3 × 60 = 180; 5 × 60 = 300; 20 × 60
_ALT_ABNORMAL: list[Case] = [
    (70, 0),  # above ULN but below 1.5 × baseline
    (89.99, 0),
    (90, 1),
    (180, 1),
    (180.01, 2),
    (300, 2),
    (300.01, 3),
    (1200, 3),
    (1200.01, 4),
]
_BILI_NORMAL: list[Case] = [
    (20, 0),
    (20.01, 1),
    (30, 1),
    (30.01, 2),
    (60, 2),
    (60.01, 3),
    (200, 3),
    (200.01, 4),
]
# abnormal baseline 30 (ULN 20): > 1.0 × 30; 1.5 × 30 = 45; 3 × 30 = 90; 10 × 30 = 300
_BILI_ABNORMAL: list[Case] = [
    (25, 0),
    (30, 0),
    (30.01, 1),
    (45, 1),
    (45.01, 2),
    (90, 2),
    (90.01, 3),
    (300, 3),
    (300.01, 4),
]
_ALP_NORMAL: list[Case] = [
    (100, 0),
    (100.01, 1),
    (250, 1),
    (250.01, 2),
    (500, 2),
    (500.01, 3),
    (2000, 3),
    (2000.01, 4),
]
# abnormal baseline 150 (ULN 100): 2.0 × 150 = 300 inclusive; 2.5 × 150 = 375; 750; 3000
_ALP_ABNORMAL: list[Case] = [
    (200, 0),
    (299.99, 0),
    (300, 1),
    (375, 1),
    (375.01, 2),
    (750, 2),
    (750.01, 3),
    (3000, 3),
    (3000.01, 4),
]
_CREATININE_ULN: list[Case] = [
    (100, 0),
    (100.01, 1),
    (150, 1),
    (150.01, 2),
    (300, 2),
    (300.01, 3),
    (600, 3),
    (600.01, 4),
]
# baseline 50, ULN 100: baseline multiples 75 (> G2) and 150 (> G3) beat the ULN grades
_CREATININE_BASELINE: list[Case] = [
    (75, 0),
    (75.01, 2),
    (100.01, 2),
    (150, 2),
    (150.01, 3),
    (600, 3),
    (600.01, 4),
]
_INR_OFF: list[Case] = [
    (0.9, 0),
    (1.2, 0),
    (1.21, 1),
    (1.5, 1),
    (1.51, 2),
    (2.5, 2),
    (2.51, 3),
    (20, 3),  # no grade 4
]
# on anticoagulation, baseline 2.0: > 1 × 2.0; 1.5 × 2.0 = 3.0; 2.5 × 2.0 = 5.0
_INR_ON: list[Case] = [
    (1.5, 0),
    (2.0, 0),
    (2.01, 1),
    (3.0, 1),
    (3.01, 2),
    (5.0, 2),
    (5.01, 3),
    (20, 3),
]
_PLATELETS: list[Case] = [
    (400, 0),
    (150, 0),
    (149.99, 1),
    (75, 1),
    (74.99, 2),
    (50, 2),
    (49.99, 3),
    (25, 3),
    (24.99, 4),
    (0, 4),
]
_PLATELETS_MM3: list[Case] = [
    (150_000, 0),
    (149_999, 1),
    (75_000, 1),
    (74_999, 2),
    (50_000, 2),
    (49_999, 3),
    (25_000, 3),
    (24_999, 4),
]
_NEUTROPHILS: list[Case] = [
    (2.0, 0),
    (1.99, 1),
    (1.5, 1),
    (1.49, 2),
    (1.0, 2),
    (0.99, 3),
    (0.5, 3),
    (0.49, 4),
]
_NEUTROPHILS_MM3: list[Case] = [(1500, 1), (1499, 2), (1000, 2), (999, 3), (500, 3), (499, 4)]
_WBC: list[Case] = [
    (4.0, 0),
    (3.99, 1),
    (3.0, 1),
    (2.99, 2),
    (2.0, 2),
    (1.99, 3),
    (1.0, 3),
    (0.99, 4),
]
_LYMPHOCYTES: list[Case] = [
    (1.0, 0),
    (0.99, 1),
    (0.8, 1),
    (0.79, 2),
    (0.5, 2),
    (0.49, 3),
    (0.2, 3),
    (0.19, 4),
]
_HB_G_DL: list[Case] = [
    (12, 0),
    (11.99, 1),
    (10, 1),
    (9.99, 2),
    (8, 2),
    (7.99, 3),
    (2, 3),  # no grade 4 from a value
]
_HB_G_L: list[Case] = [(120, 0), (119, 1), (100, 1), (99.9, 2), (80, 2), (79.9, 3)]
# CTCAE's own mmol/L cut-offs, used as stated (6.2 mmol/L = 9.99 g/dL is still grade 1)
_HB_MMOL_L: list[Case] = [(7.4, 0), (7.39, 1), (6.2, 1), (6.19, 2), (4.9, 2), (4.89, 3)]
_ALBUMIN_G_L: list[Case] = [
    (35, 0),
    (34.9, 1),
    (30, 1),
    (29.9, 2),
    (20, 2),
    (19.9, 3),
    (0, 3),
]
_ALBUMIN_G_DL: list[Case] = [(3.5, 0), (3.49, 1), (3.0, 1), (2.99, 2), (2.0, 2), (1.99, 3)]

BOUNDARIES = [
    *_cases("alt", "U/L", {"uln": 40}, _ALT_NORMAL),
    *_cases("alt", "U/L", {"uln": 40, "baseline": 30}, _ALT_NORMAL),
    *_cases("alt", "U/L", {"uln": 40, "baseline": 60}, _ALT_ABNORMAL),
    *_cases("ast", "U/L", {"uln": 40}, _ALT_NORMAL),
    *_cases("ast", "IU/L", {"uln": 40, "baseline": 60}, _ALT_ABNORMAL),
    *_cases("bilirubin", "µmol/L", {"uln": 20}, _BILI_NORMAL),
    *_cases("bilirubin", "µmol/L", {"uln": 20, "baseline": 20}, _BILI_NORMAL),
    *_cases("bilirubin", "µmol/L", {"uln": 20, "baseline": 30}, _BILI_ABNORMAL),
    *_cases("alp", "U/L", {"uln": 100}, _ALP_NORMAL),
    *_cases("alp", "U/L", {"uln": 100, "baseline": 150}, _ALP_ABNORMAL),
    *_cases("ggt", "U/L", {"uln": 100}, _ALP_NORMAL),
    *_cases("ggt", "U/L", {"uln": 100, "baseline": 150}, _ALP_ABNORMAL),
    *_cases("creatinine", "µmol/L", {"uln": 100}, _CREATININE_ULN),
    *_cases("creatinine", "µmol/L", {"uln": 100, "baseline": 50}, _CREATININE_BASELINE),
    *_cases("inr", "ratio", {}, _INR_OFF),
    *_cases("inr", "", {"baseline": 1.0}, _INR_OFF),
    *_cases("inr", "ratio", {"baseline": 2.0, "on_anticoagulation": True}, _INR_ON),
    *_cases("platelets", "10^9/L", {"lln": 150}, _PLATELETS),
    *_cases("platelets", "/mm3", {"lln": 150_000}, _PLATELETS_MM3),
    *_cases("neutrophils", "10^9/L", {"lln": 2.0}, _NEUTROPHILS),
    *_cases("neutrophils", "/µL", {"lln": 2000}, _NEUTROPHILS_MM3),
    *_cases("wbc", "G/L", {"lln": 4.0}, _WBC),
    *_cases("lymphocytes", "10^9/L", {"lln": 1.0}, _LYMPHOCYTES),
    *_cases("hemoglobin", "g/dL", {"lln": 12}, _HB_G_DL),
    *_cases("hemoglobin", "g/L", {"lln": 120}, _HB_G_L),
    *_cases("hemoglobin", "mmol/L", {"lln": 7.4}, _HB_MMOL_L),
    *_cases("albumin", "g/L", {"lln": 35}, _ALBUMIN_G_L),
    *_cases("albumin", "g/dL", {"lln": 3.5}, _ALBUMIN_G_DL),
]


@pytest.mark.parametrize(("term", "value", "unit", "kwargs", "grade"), BOUNDARIES)
def test_boundaries(term: str, value: float, unit: str, kwargs: dict[str, Any], grade: int) -> None:
    result = grade_lab(term, value, unit, **kwargs)
    assert result.grade == grade
    assert result.analyte == term
    assert result.version == "5.0"


@pytest.mark.parametrize(
    ("term", "value", "kwargs", "rule"),
    [
        ("alt", 130, {"uln": 40}, ">3.0 - 5.0 x ULN"),
        ("alt", 90, {"uln": 40, "baseline": 60}, "1.5 - 3.0 x baseline (abnormal baseline)"),
        ("bilirubin", 31, {"uln": 20}, ">1.5 - 3.0 x ULN"),
        ("alp", 300, {"uln": 100, "baseline": 150}, "2.0 - 2.5 x baseline (abnormal baseline)"),
        ("creatinine", 80, {"uln": 100, "baseline": 50}, ">1.5 - 3.0 x baseline"),
        ("creatinine", 160, {"uln": 100, "baseline": 50}, ">3.0 x baseline"),
        ("creatinine", 700, {"uln": 100, "baseline": 50}, ">6.0 x ULN"),
        # tie between the ULN and the baseline criteria: the ULN wording (first in the table)
        ("creatinine", 160, {"uln": 100, "baseline": 100}, ">1.5 - 3.0 x ULN"),
        ("inr", 1.6, {}, ">1.5 - 2.5"),
        (
            "inr",
            3.1,
            {"baseline": 2, "on_anticoagulation": True},
            ">1.5 - 2.5 x baseline (on anticoagulation)",
        ),
        ("platelets", 60, {"lln": 150}, "<75.0 - 50.0 x 10e9 /L"),
        ("hemoglobin", 7.9, {"lln": 12}, "<8.0 g/dL; <4.9 mmol/L; <80 g/L"),
        ("albumin", 19, {"lln": 35}, "<2 g/dL; <20 g/L"),
        ("alt", 30, {"uln": 40}, "grade 0 (grade 1: >ULN - 3.0 x ULN)"),
        (
            "alt",
            70,
            {"uln": 40, "baseline": 60},
            "grade 0 (grade 1: 1.5 - 3.0 x baseline (abnormal baseline))",
        ),
        ("platelets", 200, {"lln": 150}, "grade 0 (grade 1: <LLN - 75.0 x 10e9 /L)"),
    ],
)
def test_rule_text(term: str, value: float, kwargs: dict[str, Any], rule: str) -> None:
    unit = {"alt": "U/L", "alp": "U/L", "inr": "ratio", "platelets": "10^9/L"}.get(term)
    unit = unit or {"bilirubin": "µmol/L", "creatinine": "µmol/L", "hemoglobin": "g/dL"}.get(
        term, "g/L"
    )
    assert grade_lab(term, value, unit, **kwargs).rule == rule


@pytest.mark.parametrize(
    ("term", "value", "unit", "kwargs", "abnormal"),
    [
        ("alt", 50, "U/L", {"uln": 40}, False),
        ("alt", 50, "U/L", {"uln": 40, "baseline": 40}, False),
        ("alt", 50, "U/L", {"uln": 40, "baseline": 40.01}, True),
        ("bilirubin", 10, "µmol/L", {"uln": 20, "baseline": 21}, True),
        ("creatinine", 90, "µmol/L", {"uln": 100, "baseline": 101}, True),
        ("platelets", 100, "10^9/L", {"lln": 150, "baseline": 149}, True),
        ("platelets", 100, "10^9/L", {"lln": 150, "baseline": 150}, False),
        ("inr", 1.1, "ratio", {"baseline": 1.3}, True),
        ("inr", 1.1, "ratio", {"baseline": 1.2}, False),
    ],
)
def test_baseline_abnormal_flag(
    term: str, value: float, unit: str, kwargs: dict[str, Any], abnormal: bool
) -> None:
    assert grade_lab(term, value, unit, **kwargs).baseline_abnormal is abnormal


def test_abnormal_baseline_switches_to_baseline_multiples() -> None:
    # ALT 100 with ULN 40: grade 1 by ULN; with an abnormal baseline of 80 it is < 1.5 × 80.
    assert grade_lab("alt", 100, "U/L", uln=40).grade == 1
    assert grade_lab("alt", 100, "U/L", uln=40, baseline=80).grade == 0
    # and a value that is grade 2 by ULN can be grade 1 by baseline
    assert grade_lab("alt", 130, "U/L", uln=40).grade == 2
    assert grade_lab("alt", 130, "U/L", uln=40, baseline=80).grade == 1


def test_inr_anticoagulation_ignores_absolute_cut_offs() -> None:
    assert grade_lab("inr", 2.6, "ratio").grade == 3
    assert grade_lab("inr", 2.6, "ratio", baseline=2.5, on_anticoagulation=True).grade == 1


def test_exact_decimal_comparison_at_the_cut_off() -> None:
    # 3 × 1.2 is 3.5999999999999996 in binary floating point; 3.6 is exactly 3 × ULN: grade 2.
    assert 3 * 1.2 < 3.6
    assert grade_lab("bilirubin", 3.6, "mg/dL", uln=1.2).grade == 2
    assert grade_lab("bilirubin", 3.61, "mg/dL", uln=1.2).grade == 3


def test_units_of_value_and_limits_agree() -> None:
    si = grade_lab("bilirubin", 51.3, "µmol/L", uln=17.1)
    conventional = grade_lab("bilirubin", 3, "mg/dL", uln=1)
    assert si.grade == conventional.grade == 2  # exactly 3.0 × ULN is still grade 2
    assert grade_lab("bilirubin", 51.31, "µmol/L", uln=17.1).grade == 3
    assert grade_lab("bilirubin", 51.3, "umol/L", uln=17.1) == si


@pytest.mark.parametrize(
    ("term", "value", "unit", "kwargs", "missing"),
    [
        ("alt", 50, "U/L", {}, r"upper limit of normal \(uln\)"),
        ("alt", 50, "U/L", {"lln": 5}, r"upper limit of normal \(uln\)"),
        ("alt", 50, "U/L", {"baseline": 60}, r"upper limit of normal \(uln\)"),
        ("bilirubin", 50, "µmol/L", {}, r"upper limit of normal \(uln\)"),
        ("creatinine", 50, "µmol/L", {"baseline": 40}, r"upper limit of normal \(uln\)"),
        ("platelets", 20, "10^9/L", {}, r"lower limit of normal \(lln\)"),
        ("platelets", 20, "10^9/L", {"uln": 400}, r"lower limit of normal \(lln\)"),
        ("hemoglobin", 7, "g/dL", {}, r"lower limit of normal \(lln\)"),
        ("albumin", 25, "g/L", {}, r"lower limit of normal \(lln\)"),
        ("neutrophils", 1, "10^9/L", {}, r"lower limit of normal \(lln\)"),
        ("inr", 2, "ratio", {"on_anticoagulation": True}, "baseline"),
    ],
)
def test_missing_reference_is_an_error(
    term: str, value: float, unit: str, kwargs: dict[str, Any], missing: str
) -> None:
    with pytest.raises(ClinicalValueError, match=missing):
        grade_lab(term, value, unit, **kwargs)


@pytest.mark.parametrize(
    ("term", "value", "unit", "kwargs", "error", "match"),
    [
        ("cea", 5, "ng/mL", {}, ClinicalValueError, "no CTCAE grading"),
        ("potassium", 5, "mmol/L", {}, ClinicalValueError, "not a known analyte"),
        ("alt", 50, "µkat/L", {"uln": 40}, UnitError, "not an accepted unit"),
        ("alt", math.nan, "U/L", {"uln": 40}, ClinicalValueError, "not finite"),
        ("alt", -1, "U/L", {"uln": 40}, ClinicalValueError, "plausible range"),
        ("alt", 50, "U/L", {"uln": math.inf}, ClinicalValueError, "not finite"),
        ("alt", 50, "U/L", {"uln": 0}, ClinicalValueError, "above 0"),
        ("platelets", 50, "10^9/L", {"lln": 0}, ClinicalValueError, "above 0"),
        ("platelets", 50, "10^9/L", {"lln": 400, "uln": 150}, ClinicalValueError, "below uln"),
        ("creatinine", 50, "µmol/L", {"uln": 100, "baseline": 0}, ClinicalValueError, "baseline"),
        ("inr", 0.4, "ratio", {}, ClinicalValueError, "plausible range"),
        ("inr", 2, "ratio", {"on_anticoagulation": 1}, ClinicalValueError, "not a bool"),
    ],
)
def test_invalid_inputs(
    term: str,
    value: float,
    unit: str,
    kwargs: dict[str, Any],
    error: type[Exception],
    match: str,
) -> None:
    with pytest.raises(error, match=match):
        grade_lab(term, value, unit, **kwargs)


def test_lln_below_a_ctcae_cut_off_follows_the_table() -> None:
    # Lymphocytes 0.75 with LLN 0.7: within the local normal range but below 0.8 (grade 2).
    assert grade_lab("lymphocytes", 0.75, "10^9/L", lln=0.7).grade == 2


# ------------------------------------------------------------------ properties

_GRADED: dict[str, tuple[str, dict[str, Any], float, float]] = {
    # term: (unit, limits, low, high) for the values drawn
    "alt": ("U/L", {"uln": 40}, 0, 2000),
    "alt_abnormal": ("U/L", {"uln": 40, "baseline": 55}, 0, 2000),
    "bilirubin": ("µmol/L", {"uln": 21}, 0, 1000),
    "alp": ("U/L", {"uln": 120, "baseline": 200}, 0, 10_000),
    "creatinine": ("µmol/L", {"uln": 100, "baseline": 80}, 0, 3000),
    "inr": ("ratio", {}, 0.5, 20),
    "platelets": ("10^9/L", {"lln": 150}, 0, 1000),
    "neutrophils": ("10^9/L", {"lln": 1.8}, 0, 50),
    "hemoglobin": ("mmol/L", {"lln": 7.5}, 0, 18),
    "albumin": ("g/dL", {"lln": 3.5}, 0, 8),
}


@given(name=st.sampled_from(sorted(_GRADED)), a=st.floats(0, 1), b=st.floats(0, 1))
def test_grade_is_monotone_in_value(name: str, a: float, b: float) -> None:
    unit, kwargs, low, high = _GRADED[name]
    term = name.removesuffix("_abnormal")
    v1, v2 = sorted((low + a * (high - low), low + b * (high - low)))
    g1 = grade_lab(term, v1, unit, **kwargs).grade
    g2 = grade_lab(term, v2, unit, **kwargs).grade
    if ctcae_table().terms[term].direction == "high":
        assert g1 <= g2
    else:
        assert g1 >= g2
    assert 0 <= g1 <= 4 and 0 <= g2 <= 4


@given(value=st.floats(min_value=0, max_value=5000), lln=st.floats(min_value=1, max_value=500))
def test_platelet_grade_is_unit_invariant(value: float, lln: float) -> None:
    in_si = grade_lab("platelets", value, "10^9/L", lln=lln)
    in_mm3 = grade_lab("platelets", round(value * 1000, 6), "/mm3", lln=round(lln * 1000, 6))
    assert in_si.grade == in_mm3.grade


# ------------------------------------------------------------------ the table format

_TOY = """
version = "test"
citation = "a toy table"

[terms.cea]
name = "CEA increased"
direction = "high"

[[terms.cea.criteria]]
when = "always"
steps = [
    { grade = 1, op = ">", basis = "uln", factor = 1.0, rule = ">ULN" },
    { grade = 3, op = ">=", basis = "absolute", limits = { "ng/mL" = 100.0 }, rule = ">=100" },
]
"""


def test_table_is_interpreted_generically() -> None:
    table = CtcaeTable.from_toml(_TOY)
    assert table.grade("cea", 4, "ng/mL", uln=5).grade == 0
    assert table.grade("cea", 6, "µg/L", uln=5).grade == 1
    assert table.grade("cea", 100, "ng/mL", uln=5).grade == 3
    assert table.grade("cea", 100, "ng/mL", uln=5).rule == ">=100"
    with pytest.raises(ClinicalValueError, match="no CTCAE grading"):
        table.grade("alt", 10, "U/L", uln=40)


def _edited(old: str, new: str) -> str:
    assert old in _TOY
    return _TOY.replace(old, new)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("version = ", "invalid TOML"),
        (_edited('citation = "a toy table"\n', ""), "'citation' is missing"),
        (_edited("[terms.cea]", "[terms.CEA]"), "write the analyte key"),
        (_edited("[terms.cea]", "[terms.tsh]"), "not a known analyte"),
        (_edited('direction = "high"', 'direction = "up"'), "direction"),
        (_edited('when = "always"', 'when = "sometimes"'), "when"),
        (_edited('op = ">", basis', 'op = "<", basis'), "does not fit direction"),
        (_edited('op = ">", basis', 'op = "=", basis'), "op '='"),
        (_edited('basis = "uln"', 'basis = "median"'), "basis"),
        (_edited("factor = 1.0", "factor = 0.0"), "above 0"),
        (_edited("factor = 1.0", 'factor = "1"'), "is not a float"),
        (_edited("factor = 1.0,", ""), "'factor' is missing"),
        (_edited('"ng/mL" = 100.0', '"ng/ml" = 100.0'), "write unit"),
        (_edited('"ng/mL" = 100.0', '"mg/L" = 100.0'), "not an accepted unit"),
        (_edited('"ng/mL" = 100.0', '"µg/L" = 100.0'), "canonical unit"),
        (_edited("grade = 3", "grade = 1"), "grades must increase"),
        (_edited("grade = 3", "grade = 5"), "not 1-4"),
        (_edited('rule = ">ULN"', 'rule = " "'), "rule text is empty"),
        (_edited('rule = ">ULN"', 'rule = ">ULN", note = "x"'), "unknown keys"),
        (_edited('basis = "uln"', 'basis = "baseline"'), "first criterion defines"),
        (_edited('when = "always"', 'when = "baseline_given"'), "no criterion applies"),
        (_edited('when = "always"', 'when = "off_anticoagulation"'), "no criterion applies"),
    ],
)
def test_malformed_tables_are_rejected(text: str, match: str) -> None:
    with pytest.raises(CtcaeTableError, match=match):
        CtcaeTable.from_toml(text)


def test_thresholds_must_be_ordered() -> None:
    text = _TOY.replace(
        'basis = "absolute", limits = { "ng/mL" = 100.0 }',
        'basis = "uln", factor = 0.5',
    )
    with pytest.raises(CtcaeTableError, match="not ordered"):
        CtcaeTable.from_toml(text)
