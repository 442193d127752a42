"""eGFR by the race-free CKD-EPI 2021 creatinine equation, Inker LA et al., NEJM 2021;385:1737-49.

``eGFR = 142 × min(Scr/κ, 1)^α × max(Scr/κ, 1)^-1.200 × 0.9938^age × 1.012 [if female]``

in mL/min/1.73 m², with serum creatinine ``Scr`` in mg/dL (µmol/L ÷ 88.4), κ = 0.7 (female) or 0.9
(male) and α = -0.241 (female) or -0.302 (male). The equation was developed in adults: an age
under 18 years is rejected, not extrapolated; so is an age above 120 years, a creatinine of zero,
and a sex other than ``"F"`` or ``"M"``. The result is not rounded.

Examples
--------
>>> round(egfr_ckd_epi_2021(1.0, "mg/dL", 50, "M"), 1)
91.7
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

from rfatrial.kernel.units import ClinicalValueError, convert, exact_decimal

__all__ = [
    "AGE_FACTOR",
    "CKD_EPI_2021",
    "FEMALE_FACTOR",
    "MAX_AGE_YEARS",
    "MIN_AGE_YEARS",
    "MULTIPLIER",
    "UPPER_EXPONENT",
    "Sex",
    "SexCoefficients",
    "egfr_ckd_epi_2021",
]

Sex = Literal["F", "M"]


@dataclass(frozen=True, slots=True)
class SexCoefficients:
    """κ and α of one sex in the CKD-EPI 2021 equation."""

    kappa: float
    alpha: float


MULTIPLIER: Final = 142.0
UPPER_EXPONENT: Final = -1.200
AGE_FACTOR: Final = 0.9938
FEMALE_FACTOR: Final = 1.012
MIN_AGE_YEARS: Final = 18.0
MAX_AGE_YEARS: Final = 120.0
CKD_EPI_2021: Final[Mapping[str, SexCoefficients]] = MappingProxyType(
    {"F": SexCoefficients(kappa=0.7, alpha=-0.241), "M": SexCoefficients(kappa=0.9, alpha=-0.302)}
)
"""κ and α by sex (Inker 2021)."""


def egfr_ckd_epi_2021(creatinine: float, creatinine_unit: str, age_years: float, sex: Sex) -> float:
    """Estimate GFR (mL/min/1.73 m²) with the CKD-EPI 2021 creatinine equation.

    Parameters
    ----------
    creatinine, creatinine_unit
        Serum creatinine and its unit (``"mg/dL"`` or ``"µmol/L"``); must be above zero.
    age_years
        Age in years, 18 to 120.
    sex
        ``"F"`` or ``"M"``.

    Returns
    -------
    float
        eGFR in mL/min/1.73 m², unrounded.

    Raises
    ------
    UnitError
        An unknown creatinine unit.
    ClinicalValueError
        A creatinine that is zero, not finite or implausible; an age outside 18-120 years; an
        unknown sex.

    Examples
    --------
    >>> round(egfr_ckd_epi_2021(61.88, "µmol/L", 60, "F"), 2)
    98.95
    """
    if not isinstance(sex, str) or sex not in CKD_EPI_2021:
        raise ClinicalValueError(f"sex: {sex!r} is not 'F' or 'M' (CKD-EPI 2021 needs one of them)")
    age = float(exact_decimal("age_years", age_years))
    if not MIN_AGE_YEARS <= age <= MAX_AGE_YEARS:
        raise ClinicalValueError(
            f"age_years: {age_years!r} is outside {MIN_AGE_YEARS:g}-{MAX_AGE_YEARS:g} years "
            "(CKD-EPI 2021 is an adult equation)"
        )
    scr = convert("creatinine", creatinine, creatinine_unit, "mg/dL")
    if scr <= 0:
        raise ClinicalValueError(
            f"creatinine: {creatinine!r} {creatinine_unit} must be above 0 for eGFR"
        )
    coefficients = CKD_EPI_2021[sex]
    ratio = scr / coefficients.kappa
    egfr = (
        MULTIPLIER
        * math.pow(min(ratio, 1.0), coefficients.alpha)
        * math.pow(max(ratio, 1.0), UPPER_EXPONENT)
        * math.pow(AGE_FACTOR, age)
    )
    if sex == "F":
        egfr *= FEMALE_FACTOR
    if not math.isfinite(egfr):  # pragma: no cover - excluded by the plausible ranges above
        raise ClinicalValueError(f"eGFR: computed {egfr!r} is not finite")
    return egfr
