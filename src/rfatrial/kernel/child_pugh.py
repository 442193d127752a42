"""Child-Pugh score and class (Pugh 1973), the point table kept as data.

=========================  ================  =====================  ================
Parameter                  1 point           2 points               3 points
=========================  ================  =====================  ================
Total bilirubin            < 2 mg/dL         2-3 mg/dL              > 3 mg/dL
Albumin                    > 3.5 g/dL        2.8-3.5 g/dL           < 2.8 g/dL
INR                        < 1.7             1.7-2.3                > 2.3
Ascites                    none              mild                   moderate_severe
Hepatic encephalopathy     none              grade_1_2              grade_3_4
=========================  ================  =====================  ================

Class A = 5-6 points, B = 7-9, C = 10-15.

Cut-offs: the table is defined in the units of Pugh 1973 (mg/dL, g/dL) and both ends of a middle
band are inclusive ("2-3 mg/dL" means 2 ≤ bilirubin ≤ 3). The µmol/L figures often quoted (< 34,
34-50, > 50 µmol/L) are rounded conversions; this module does not use them. A value in µmol/L is
compared exactly with the converted cut-offs, 2 mg/dL = 34.2 µmol/L and 3 mg/dL = 51.3 µmol/L
(factor 17.1): 34 µmol/L scores 1 point, 34.2 scores 2, 51.3 scores 2 and 51.4 scores 3. In the same
way 3.5 g/dL = 35 g/L (2 points) and 2.8 g/dL = 28 g/L (2 points). The cut-offs for primary biliary
disease (1-4, 4-10, > 10 mg/dL) are not implemented.

Examples
--------
>>> r = child_pugh(1.0, "mg/dL", 4.0, "g/dL", 1.1, "none", "none")
>>> r.score, r.klass
(5, 'A')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from rfatrial.kernel._liver_points import class_of, lab_points
from rfatrial.kernel.units import ClinicalValueError, to_canonical_exact

__all__ = [
    "ASCITES_POINTS",
    "CLASS_LIMITS",
    "ENCEPHALOPATHY_POINTS",
    "LAB_POINTS",
    "Ascites",
    "ChildPughClass",
    "ChildPughPoints",
    "ChildPughResult",
    "Encephalopathy",
    "PointBands",
    "PointStep",
    "child_pugh",
    "child_pugh_class",
]

Ascites = Literal["none", "mild", "moderate_severe"]
Encephalopathy = Literal["none", "grade_1_2", "grade_3_4"]
ChildPughClass = Literal["A", "B", "C"]
Points = Literal[1, 2, 3]


@dataclass(frozen=True, slots=True)
class PointStep:
    """One band edge: ``value op limit`` gives ``points``."""

    op: Literal["<", "<="]
    limit: float  # in the unit of the band table, read as the decimal written here
    points: Points


@dataclass(frozen=True, slots=True)
class PointBands:
    """The point bands of one laboratory parameter, in the unit of the source table."""

    unit: str
    steps: tuple[PointStep, ...]  # checked in order; the first that holds gives the points
    otherwise: Points


LAB_POINTS: Final[Mapping[str, PointBands]] = MappingProxyType(
    {
        "bilirubin": PointBands("mg/dL", (PointStep("<", 2.0, 1), PointStep("<=", 3.0, 2)), 3),
        "albumin": PointBands("g/dL", (PointStep("<", 2.8, 3), PointStep("<=", 3.5, 2)), 1),
        "inr": PointBands("ratio", (PointStep("<", 1.7, 1), PointStep("<=", 2.3, 2)), 3),
    }
)
"""Points of the laboratory parameters, by analyte (Pugh 1973)."""

ASCITES_POINTS: Final[Mapping[str, Points]] = MappingProxyType(
    {"none": 1, "mild": 2, "moderate_severe": 3}
)
"""Points for ascites: none; mild (diuretic-controlled); moderate-severe (refractory)."""

ENCEPHALOPATHY_POINTS: Final[Mapping[str, Points]] = MappingProxyType(
    {"none": 1, "grade_1_2": 2, "grade_3_4": 3}
)
"""Points for hepatic encephalopathy: none; grade 1-2; grade 3-4."""

CLASS_LIMITS: Final[tuple[tuple[int, ChildPughClass], ...]] = ((6, "A"), (9, "B"), (15, "C"))
"""Highest score of each class: A 5-6, B 7-9, C 10-15."""


@dataclass(frozen=True, slots=True)
class ChildPughPoints:
    """The points given to each of the five parameters.

    Examples
    --------
    >>> child_pugh(2, "mg/dL", 3.5, "g/dL", 1.7, "mild", "none").points.bilirubin
    2
    """

    bilirubin: Points
    albumin: Points
    inr: Points
    ascites: Points
    encephalopathy: Points

    @property
    def total(self) -> int:
        """The Child-Pugh score, 5-15."""
        return self.bilirubin + self.albumin + self.inr + self.ascites + self.encephalopathy


@dataclass(frozen=True, slots=True)
class ChildPughResult:
    """A Child-Pugh score (5-15), its class and the points per parameter.

    Examples
    --------
    >>> child_pugh(4, "mg/dL", 2.5, "g/dL", 2.5, "moderate_severe", "grade_3_4").klass
    'C'
    """

    score: int
    klass: ChildPughClass
    points: ChildPughPoints


def child_pugh_class(score: int) -> ChildPughClass:
    """Return the class of a Child-Pugh score (A 5-6, B 7-9, C 10-15).

    Raises
    ------
    ClinicalValueError
        If ``score`` is not an integer from 5 to 15.

    Examples
    --------
    >>> child_pugh_class(6), child_pugh_class(7), child_pugh_class(10)
    ('A', 'B', 'C')
    """
    if isinstance(score, bool) or not isinstance(score, int) or not 5 <= score <= 15:
        raise ClinicalValueError(f"Child-Pugh score: {score!r} is not an integer from 5 to 15")
    return class_of(score, CLASS_LIMITS)  # type: ignore[return-value]


def _lab_points(analyte: str, value: float, unit: str) -> Points:
    # Floats decide when the value is clear of every band edge; at an edge, exact decimals do.
    if type(value) in (float, int):
        points = lab_points(analyte, value, unit)
        if points:
            return points  # type: ignore[return-value]
    return _exact_points(analyte, value, unit)


def _exact_points(analyte: str, value: float, unit: str) -> Points:
    """The points by exact decimals: the table read as written (Pugh 1973)."""
    bands = LAB_POINTS[analyte]
    canonical = to_canonical_exact(analyte, value, unit)
    for step in bands.steps:
        limit = to_canonical_exact(analyte, step.limit, bands.unit)
        if (canonical < limit) if step.op == "<" else (canonical <= limit):
            return step.points
    return bands.otherwise


def _category_points(field: str, value: str, table: Mapping[str, Points]) -> Points:
    if not isinstance(value, str) or value not in table:
        accepted = ", ".join(repr(k) for k in table)
        raise ClinicalValueError(f"{field}: {value!r} is not one of {accepted}")
    return table[value]


def child_pugh(
    bilirubin: float,
    bilirubin_unit: str,
    albumin: float,
    albumin_unit: str,
    inr: float,
    ascites: Ascites,
    encephalopathy: Encephalopathy,
) -> ChildPughResult:
    """Compute the Child-Pugh score and class.

    Parameters
    ----------
    bilirubin, bilirubin_unit
        Total bilirubin and its unit (``"µmol/L"`` or ``"mg/dL"``).
    albumin, albumin_unit
        Serum albumin and its unit (``"g/L"`` or ``"g/dL"``).
    inr
        International normalized ratio.
    ascites
        ``"none"``, ``"mild"`` or ``"moderate_severe"``.
    encephalopathy
        ``"none"``, ``"grade_1_2"`` or ``"grade_3_4"``.

    Returns
    -------
    ChildPughResult

    Raises
    ------
    UnitError
        An unknown unit.
    ClinicalValueError
        A value that is not finite or implausible, or an unknown ascites/encephalopathy category.

    Examples
    --------
    >>> r = child_pugh(40, "µmol/L", 30, "g/L", 1.8, "mild", "none")
    >>> r.score, r.klass
    (9, 'B')
    """
    points = ChildPughPoints(
        bilirubin=_lab_points("bilirubin", bilirubin, bilirubin_unit),
        albumin=_lab_points("albumin", albumin, albumin_unit),
        inr=_lab_points("inr", inr, "ratio"),
        ascites=_category_points("ascites", ascites, ASCITES_POINTS),
        encephalopathy=_category_points("encephalopathy", encephalopathy, ENCEPHALOPATHY_POINTS),
    )
    return ChildPughResult(score=points.total, klass=child_pugh_class(points.total), points=points)
