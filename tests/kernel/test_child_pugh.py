"""Tests of the Child-Pugh score and class (Pugh 1973)."""

from __future__ import annotations

import doctest
import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel import child_pugh as child_pugh_module
from rfatrial.kernel import lab_gate
from rfatrial.kernel._liver_points import lab_points
from rfatrial.kernel.child_pugh import (
    ASCITES_POINTS,
    ENCEPHALOPATHY_POINTS,
    LAB_POINTS,
    Ascites,
    Encephalopathy,
    child_pugh,
    child_pugh_class,
)
from rfatrial.kernel.history import LabResult
from rfatrial.kernel.units import ANALYTES, ClinicalValueError, UnitError, to_canonical_exact


def _points(
    bilirubin: tuple[float, str] = (1.0, "mg/dL"),
    albumin: tuple[float, str] = (4.0, "g/dL"),
    inr: float = 1.0,
) -> tuple[int, int, int]:
    """Points of the three lab parameters, with 1 point on ascites and encephalopathy."""
    result = child_pugh(*bilirubin, *albumin, inr, "none", "none")
    return result.points.bilirubin, result.points.albumin, result.points.inr


def test_doctests() -> None:
    result = doctest.testmod(child_pugh_module)
    assert result.attempted > 0
    assert result.failed == 0


@pytest.mark.parametrize(
    ("value", "unit", "points"),
    [
        (1.99, "mg/dL", 1),
        (2.0, "mg/dL", 2),
        (3.0, "mg/dL", 2),
        (3.01, "mg/dL", 3),
        # µmol/L compared with the exact conversions 34.2 and 51.3 of the mg/dL cut-offs
        (34.0, "µmol/L", 1),
        (34.19, "µmol/L", 1),
        (34.2, "µmol/L", 2),
        (50.0, "µmol/L", 2),
        (51.0, "µmol/L", 2),
        (51.3, "µmol/L", 2),
        (51.31, "µmol/L", 3),
        (0.0, "µmol/L", 1),
    ],
)
def test_bilirubin_bands(value: float, unit: str, points: int) -> None:
    assert _points(bilirubin=(value, unit))[0] == points


@pytest.mark.parametrize(
    ("value", "unit", "points"),
    [
        (3.51, "g/dL", 1),
        (3.5, "g/dL", 2),
        (2.8, "g/dL", 2),
        (2.79, "g/dL", 3),
        (35.1, "g/L", 1),
        (35.0, "g/L", 2),
        (28.0, "g/L", 2),
        (27.9, "g/L", 3),
    ],
)
def test_albumin_bands(value: float, unit: str, points: int) -> None:
    assert _points(albumin=(value, unit))[1] == points


@pytest.mark.parametrize(
    ("inr", "points"),
    [(1.69, 1), (1.7, 2), (2.3, 2), (2.31, 3), (0.9, 1), (5.0, 3)],
)
def test_inr_bands(inr: float, points: int) -> None:
    assert _points(inr=inr)[2] == points


def test_category_points() -> None:
    assert dict(ASCITES_POINTS) == {"none": 1, "mild": 2, "moderate_severe": 3}
    assert dict(ENCEPHALOPATHY_POINTS) == {"none": 1, "grade_1_2": 2, "grade_3_4": 3}


@pytest.mark.parametrize(
    ("score", "klass"),
    [(5, "A"), (6, "A"), (7, "B"), (9, "B"), (10, "C"), (15, "C")],
)
def test_class_boundaries(score: int, klass: str) -> None:
    assert child_pugh_class(score) == klass


@pytest.mark.parametrize("score", [4, 16, 0, -1])
def test_class_of_impossible_score(score: int) -> None:
    with pytest.raises(ClinicalValueError, match="5 to 15"):
        child_pugh_class(score)


@pytest.mark.parametrize("score", [6.5, True, "6"])
def test_class_of_non_integer(score: object) -> None:
    with pytest.raises(ClinicalValueError):
        child_pugh_class(score)  # type: ignore[arg-type]


_BILI = {1: (1.0, "mg/dL"), 2: (2.5, "mg/dL"), 3: (4.0, "mg/dL")}
_ALB = {1: (4.0, "g/dL"), 2: (3.0, "g/dL"), 3: (2.5, "g/dL")}
_INR = {1: 1.0, 2: 2.0, 3: 2.5}
_ASC: dict[int, Ascites] = {1: "none", 2: "mild", 3: "moderate_severe"}
_ENC: dict[int, Encephalopathy] = {1: "none", 2: "grade_1_2", 3: "grade_3_4"}


@pytest.mark.parametrize("combo", list(itertools.product((1, 2, 3), repeat=5)))
def test_every_combination_sums_points(combo: tuple[int, int, int, int, int]) -> None:
    b, a, i, asc, enc = combo
    result = child_pugh(*_BILI[b], *_ALB[a], _INR[i], _ASC[asc], _ENC[enc])
    assert (
        result.points.bilirubin,
        result.points.albumin,
        result.points.inr,
        result.points.ascites,
        result.points.encephalopathy,
    ) == combo
    assert result.score == sum(combo) == result.points.total
    assert result.klass == ("A" if sum(combo) <= 6 else "B" if sum(combo) <= 9 else "C")


def test_examples() -> None:
    minimal = child_pugh(17, "µmol/L", 42, "g/L", 1.0, "none", "none")
    assert (minimal.score, minimal.klass) == (5, "A")
    maximal = child_pugh(100, "µmol/L", 20, "g/L", 3.0, "moderate_severe", "grade_3_4")
    assert (maximal.score, maximal.klass) == (15, "C")


@pytest.mark.parametrize(
    ("field", "value"),
    [("ascites", "severe"), ("ascites", "None"), ("encephalopathy", "grade_2"), ("ascites", None)],
)
def test_unknown_category(field: str, value: object) -> None:
    kwargs: dict[str, object] = {"ascites": "none", "encephalopathy": "none"}
    kwargs[field] = value
    with pytest.raises(ClinicalValueError, match=field):
        child_pugh(1.0, "mg/dL", 4.0, "g/dL", 1.0, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((1.0, "mmol/L", 4.0, "g/dL", 1.0), UnitError),
        ((1.0, "mg/dL", 4.0, "%", 1.0), UnitError),
        ((-1.0, "mg/dL", 4.0, "g/dL", 1.0), ClinicalValueError),
        ((1.0, "mg/dL", math.nan, "g/dL", 1.0), ClinicalValueError),
        ((1.0, "mg/dL", 4.0, "g/dL", 0.0), ClinicalValueError),  # INR below 0.5
        ((1.0, "mg/dL", 4.0, "g/dL", math.inf), ClinicalValueError),
        ((1.0, "mg/dL", 4.0, "g/dL", 25.0), ClinicalValueError),
    ],
)
def test_invalid_lab_values(
    args: tuple[float, str, float, str, float], error: type[Exception]
) -> None:
    with pytest.raises(error):
        child_pugh(*args, "none", "none")


@given(
    analyte=st.sampled_from(["bilirubin", "albumin", "inr"]),
    scale=st.floats(0.5, 2.0),
    unit_index=st.integers(0, 3),
)
def test_fast_band_lookup_equals_the_exact_one(analyte: str, scale: float, unit_index: int) -> None:
    from rfatrial.kernel.units import ANALYTES

    cp = child_pugh_module
    bands = cp.LAB_POINTS[analyte]
    units = list(ANALYTES[analyte].units)
    unit = units[unit_index % len(units)]
    # values around each band edge, expressed in the chosen unit
    edge = bands.steps[unit_index % len(bands.steps)].limit
    value = edge * scale * ANALYTES[analyte].units[bands.unit] / ANALYTES[analyte].units[unit]
    canonical = to_canonical_exact(analyte, value, unit)
    expected = bands.otherwise
    for step in bands.steps:
        limit = to_canonical_exact(analyte, step.limit, bands.unit)
        if (canonical < limit) if step.op == "<" else (canonical <= limit):
            expected = step.points
            break
    assert cp._lab_points(analyte, value, unit) == expected


_UNITS = {"bilirubin": ("mg/dL", "µmol/L"), "albumin": ("g/dL", "g/L"), "inr": ("ratio",)}
# the band edges in every unit, and their float neighbours
_EDGES = [
    (analyte, unit, math.nextafter(edge, direction))
    for analyte, units in _UNITS.items()
    for unit in units
    for step in LAB_POINTS[analyte].steps
    for edge in (
        float(
            step.limit
            * ANALYTES[analyte].units[LAB_POINTS[analyte].unit]
            / ANALYTES[analyte].units[unit]
        ),
    )
    for direction in (-math.inf, edge, math.inf)
]


@pytest.mark.parametrize(("analyte", "unit", "value"), _EDGES)
def test_points_at_each_band_edge_are_those_of_exact_decimals(
    analyte: str, unit: str, value: float
) -> None:
    fast = lab_points(analyte, value, unit)
    assert fast in (0, child_pugh_module._exact_points(analyte, value, unit))
    assert child_pugh_module._lab_points(analyte, value, unit) == child_pugh_module._exact_points(
        analyte, value, unit
    )


@given(
    analyte=st.sampled_from(sorted(_UNITS)),
    data=st.data(),
    value=st.floats(min_value=0.01, max_value=1500, allow_nan=False),
)
def test_the_fast_points_are_those_of_exact_decimals_or_none(
    analyte: str, data: st.DataObject, value: float
) -> None:
    unit = data.draw(st.sampled_from(_UNITS[analyte]))
    spec = ANALYTES[analyte]
    fast = lab_points(analyte, value, unit)
    plausible = spec.plausible_min < value * spec.units[unit] < spec.plausible_max
    if plausible:
        assert fast == child_pugh_module._exact_points(analyte, value, unit) or fast == 0
    else:
        assert fast == 0  # the calculator's exact path says why the value is refused


@given(
    bili=st.floats(min_value=0.1, max_value=30),
    alb=st.floats(min_value=1.0, max_value=6.0),
    inr=st.floats(min_value=0.8, max_value=5.0),
    asc=st.sampled_from(sorted(ASCITES_POINTS)),
    enc=st.sampled_from(sorted(ENCEPHALOPATHY_POINTS)),
)
def test_the_lab_gates_class_is_the_calculators(
    bili: float, alb: float, inr: float, asc: Ascites, enc: Encephalopathy
) -> None:
    b = LabResult(analyte="bilirubin", value=bili, unit="mg/dL")
    a = LabResult(analyte="albumin", value=alb, unit="g/dL")
    fast = lab_gate._fast_child_pugh_class(b, a, inr, asc, enc)
    assert fast in ("", child_pugh(bili, "mg/dL", alb, "g/dL", inr, asc, enc).klass)
    assert fast or any(
        lab_points(n, v, u) == 0
        for n, v, u in (
            ("bilirubin", bili, "mg/dL"),
            ("albumin", alb, "g/dL"),
            ("inr", inr, "ratio"),
        )
    )
