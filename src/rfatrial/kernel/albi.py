"""ALBI score and grade (albumin-bilirubin), Johnson PJ et al., JCO 2015;33:550-8.

``ALBI = log10(bilirubin [µmol/L]) × 0.66 + albumin [g/L] × (-0.085)``

Grades: 1 when ALBI ≤ -2.60; 2 when -2.60 < ALBI ≤ -1.39; 3 when ALBI > -1.39.

Coefficient choice: the published paper's linear predictor gives the albumin coefficient as
``-0.0852``; the formula as printed with the grade cut-offs, and nearly every later publication and
calculator, uses ``-0.085``. This module uses :data:`ALBUMIN_COEFFICIENT` ``= -0.085`` and keeps the
paper's value as :data:`ALBUMIN_COEFFICIENT_PAPER` for reference; it is not used. The grade is
computed from the unrounded score.

Examples
--------
>>> result = albi(17.1, "µmol/L", 40, "g/L")
>>> round(result.score, 3), result.grade
(-2.586, 2)
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from rfatrial.kernel.units import ClinicalValueError, to_canonical

__all__ = [
    "ALBUMIN_COEFFICIENT",
    "ALBUMIN_COEFFICIENT_PAPER",
    "BILIRUBIN_COEFFICIENT",
    "GRADE_1_MAX",
    "GRADE_2_MAX",
    "AlbiResult",
    "albi",
    "albi_grade",
]

BILIRUBIN_COEFFICIENT: Final = 0.66
"""Multiplies log10 of total bilirubin in µmol/L."""
ALBUMIN_COEFFICIENT: Final = -0.085
"""Multiplies albumin in g/L (the coefficient used here)."""
ALBUMIN_COEFFICIENT_PAPER: Final = -0.0852
"""The albumin coefficient as given in the paper's model; documented, not used."""
GRADE_1_MAX: Final = -2.60
"""Grade 1 when the score is at most this value."""
GRADE_2_MAX: Final = -1.39
"""Grade 2 when the score is above :data:`GRADE_1_MAX` and at most this value; grade 3 above."""

AlbiGrade = Literal[1, 2, 3]


@dataclass(frozen=True, slots=True)
class AlbiResult:
    """An ALBI score with its grade and the canonical inputs it was computed from.

    Examples
    --------
    >>> albi(5, "µmol/L", 45, "g/L").grade
    1
    """

    score: float
    grade: AlbiGrade
    bilirubin_umol_l: float
    albumin_g_l: float


def albi_grade(score: float) -> AlbiGrade:
    """Return the ALBI grade of ``score`` (1 ≤ -2.60 < 2 ≤ -1.39 < 3).

    Examples
    --------
    >>> albi_grade(-2.60), albi_grade(-2.59), albi_grade(-1.39), albi_grade(-1.38)
    (1, 2, 2, 3)
    """
    if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
        raise ClinicalValueError(f"ALBI score: {score!r} is not a finite number")
    if score <= GRADE_1_MAX:
        return 1
    if score <= GRADE_2_MAX:
        return 2
    return 3


def albi(bilirubin: float, bilirubin_unit: str, albumin: float, albumin_unit: str) -> AlbiResult:
    """Compute the ALBI score and grade.

    Parameters
    ----------
    bilirubin, bilirubin_unit
        Total bilirubin, e.g. ``(1.0, "mg/dL")`` or ``(17.1, "µmol/L")``; must be above zero (the
        score takes its logarithm).
    albumin, albumin_unit
        Serum albumin, e.g. ``(4.0, "g/dL")`` or ``(40, "g/L")``.

    Returns
    -------
    AlbiResult

    Raises
    ------
    UnitError
        An unknown unit.
    ClinicalValueError
        A value that is not finite, is implausible, or a bilirubin of zero.

    Examples
    --------
    >>> albi(1.0, "mg/dL", 4.0, "g/dL").grade
    2
    """
    bili = to_canonical("bilirubin", bilirubin, bilirubin_unit)
    alb = to_canonical("albumin", albumin, albumin_unit)
    if bili <= 0:
        raise ClinicalValueError(
            f"bilirubin: {bilirubin!r} {bilirubin_unit} must be above 0 for ALBI (log10 is taken)"
        )
    score = math.log10(bili) * BILIRUBIN_COEFFICIENT + alb * ALBUMIN_COEFFICIENT
    return AlbiResult(score=score, grade=albi_grade(score), bilirubin_umol_l=bili, albumin_g_l=alb)
