"""The virtual patient's model as typed, validated data (``data/patient_model.toml``).

Every parameter lives in the TOML file with its source; :func:`load_patient_model` reads it into
frozen pydantic models (unknown keys are refused, and each table must give a source for each of
its parameters): a wrong file raises :class:`PatientModelError` whose message names the key.

Survival is not a parameter of the file: :class:`CourseTimes` calibrates death and progression
exactly to a scenario of ``data/scenarios.toml``. Each patient's death time is drawn at
randomization from the scenario's exponential OS distribution of the patient's arm; progression
is a competing event with hazard ``lambda_PFS - lambda_OS`` of the arm, so that the time to
progression or death is exactly exponential with the scenario's PFS median and hazard ratio.
The history shows progression on the first scan after its time, and death on its date.

Examples
--------
>>> model = default_patient_model()
>>> model.rfa.size_bands_mm
(30.0, 50.0, 500.0)
>>> times = CourseTimes.from_scenario("clocc")
>>> round(times.median_os_months("control"), 1), round(times.median_pfs_months("control"), 1)
(40.5, 9.9)
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Field, model_validator

from rfatrial.kernel._data_file import load_model, parse_model
from rfatrial.kernel._records import Record, record
from rfatrial.simulation.power import load_scenario

__all__ = [
    "DAYS_PER_MONTH",
    "Baseline",
    "CourseTimes",
    "Disease",
    "Labs",
    "PatientModel",
    "PatientModelError",
    "Rfa",
    "Systemic",
    "Toxicity",
    "ToxicityTerm",
    "default_patient_model",
    "default_patient_model_path",
    "load_patient_model",
    "parse_patient_model",
]

DAYS_PER_MONTH = 365.25 / 12
_NEVER_DAYS = 200 * 365.25  # beyond any follow-up: the event is not drawn

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Positive = Annotated[float, Field(gt=0.0)]
Weights = Annotated[tuple[Annotated[float, Field(ge=0.0)], ...], Field(min_length=1)]


class PatientModelError(ValueError):
    """A patient-model file that cannot be used; the message names each bad key."""


def _positive_sum(name: str, weights: tuple[float, ...] | Mapping[Any, float]) -> None:
    values = weights if isinstance(weights, tuple) else tuple(weights.values())
    if not sum(values) > 0:
        raise ValueError(f"{name}: the weights must not all be zero")


def _range(name: str, pair: tuple[float, float]) -> None:
    if pair[0] > pair[1]:
        raise ValueError(f"{name}: the lower bound {pair[0]} is above the upper {pair[1]}")


Range = tuple[float, float]


@record
class _Sourced(Record):
    """A table whose every parameter has its source in ``sources``."""

    sources: dict[str, Annotated[str, Field(min_length=1)]]

    @model_validator(mode="after")
    def _every_parameter_sourced(self) -> Self:
        names = set(type(self).model_fields) - {"sources", "regimens", "terms"}
        missing = sorted(names - set(self.sources))
        unknown = sorted(set(self.sources) - names)
        if missing:
            raise ValueError(f"sources: no source given for {', '.join(missing)}")
        if unknown:
            raise ValueError(f"sources: {', '.join(unknown)} is not a parameter of this table")
        return self


@record
class Baseline(_Sourced):
    age_mean: Positive
    age_sd: Annotated[float, Field(ge=0.0)]
    age_min: Annotated[int, Field(ge=18, le=110)]
    age_max: Annotated[int, Field(ge=18, le=110)]
    female_fraction: Probability
    ecog_weights: Annotated[Weights, Field(min_length=1, max_length=5)]
    ras_mutant: Probability
    ras_unknown: Probability
    braf_mutant_in_ras_wild_type: Probability
    cea_median_ng_ml: Positive
    cea_sdlog: Annotated[float, Field(ge=0.0)]
    lesion_count_weights: Annotated[Weights, Field(max_length=99)]
    diameter_median_mm: Positive
    diameter_sdlog: Annotated[float, Field(ge=0.0)]
    diameter_min_mm: Positive
    diameter_max_mm: Annotated[float, Field(gt=0.0, le=500.0)]
    segment_weights: dict[Literal["S1", "S2", "S3", "S4a", "S4b", "S5", "S6", "S7", "S8"], float]
    us_visible_probability: Probability
    vessel_distance_median_mm: Positive
    vessel_distance_sdlog: Annotated[float, Field(ge=0.0)]
    extrahepatic_disease_probability: Probability

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.age_min > self.age_max:
            raise ValueError("age_min is above age_max")
        if self.diameter_min_mm > self.diameter_max_mm:
            raise ValueError("diameter_min_mm is above diameter_max_mm")
        if self.ras_mutant + self.ras_unknown > 1:
            raise ValueError("ras_mutant + ras_unknown is above 1")
        _positive_sum("ecog_weights", self.ecog_weights)
        _positive_sum("lesion_count_weights", self.lesion_count_weights)
        _positive_sum("segment_weights", self.segment_weights)
        return self


@record
class AgentDose(Record):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    dose: Annotated[float, Field(gt=0, le=100_000)]
    unit: Literal["mg/m2", "mg/kg", "mg", "AUC"]


@record
class Systemic(_Sourced):
    regimen_weights: dict[str, Annotated[float, Field(ge=0.0)]]
    bevacizumab_probability: Probability
    anti_egfr_probability_ras_wild_type: Probability
    response_weights: dict[Literal["CR", "PR", "SD"], Annotated[float, Field(ge=0.0)]]
    pr_factor: Range
    sd_factor: Range
    later_factor: Range
    regimens: dict[str, Annotated[list[AgentDose], Field(min_length=1)]]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _positive_sum("regimen_weights", self.regimen_weights)
        _positive_sum("response_weights", self.response_weights)
        for name in ("pr_factor", "sd_factor", "later_factor"):
            _range(name, getattr(self, name))
        if self.pr_factor[1] > 0.7:
            raise ValueError("pr_factor: a PR needs a fall of at least 30% (factor <= 0.7)")
        if not (self.sd_factor[0] > 0.7 and self.sd_factor[1] <= 1.0):
            raise ValueError("sd_factor: SD lies between a 30% fall and no growth (0.7, 1.0]")
        if self.later_factor[1] > 1.0:
            raise ValueError("later_factor: controlled disease never grows (upper bound <= 1)")
        unknown = sorted(set(self.regimen_weights) - set(self.regimens))
        if unknown:
            raise ValueError(f"regimen_weights: no agents given for {', '.join(unknown)}")
        return self


@record
class ToxicityTerm(Record):
    term: Annotated[str, Field(min_length=1, max_length=128)]
    per_cycle: Probability
    grade_weights: Annotated[tuple[Annotated[float, Field(ge=0.0)], ...], Field(min_length=4)]
    lab: Literal["neutrophils", "platelets", "hemoglobin", "alt"] | None = None
    only_with: str | None = None
    source: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if len(self.grade_weights) != 4:
            raise ValueError("grade_weights: give four weights (CTCAE grades 1-4)")
        _positive_sum("grade_weights", self.grade_weights)
        return self


@record
class Toxicity(_Sourced):
    onset_days: tuple[int, int]
    duration_days: tuple[int, int]
    terms: list[ToxicityTerm]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _range("onset_days", self.onset_days)
        _range("duration_days", self.duration_days)
        if self.onset_days[0] < 1 or self.duration_days[0] < 1:
            raise ValueError("onset_days and duration_days start at 1 day or later")
        return self


@record
class GradedRange(Record):
    normal: Range
    grade_1: Range
    grade_2: Range
    grade_3: Range
    grade_4: Range

    def for_grade(self, grade: int) -> Range:
        return (self.normal, self.grade_1, self.grade_2, self.grade_3, self.grade_4)[grade]


@record
class InrRange(Record):
    normal: Range
    abnormal: Range


@record
class Labs(_Sourced):
    alt_uln: Positive
    ast_uln: Positive
    bilirubin_uln: Positive
    creatinine_uln: Positive
    neutrophils: GradedRange
    platelets: GradedRange
    hemoglobin: GradedRange
    alt: GradedRange
    inr: InrRange
    bilirubin_umol_l: Range
    albumin_g_l: Range
    creatinine_umol_l: Range
    cea_per_progression: Annotated[float, Field(ge=1.0)]
    gate_failure: Probability


@record
class Rfa(_Sourced):
    size_bands_mm: Annotated[tuple[Positive, ...], Field(min_length=1)]
    technical_success: tuple[Probability, ...]
    residual: tuple[Probability, ...]
    not_visible_success_factor: Probability
    margin_band_weights: Annotated[tuple[Annotated[float, Field(ge=0.0)], ...], Field(min_length=3)]
    large_lesion_shift: Probability
    ltp_margin_upper_mm: tuple[Annotated[float, Field(ge=0.0)], ...]
    ltp_by_24_months: tuple[Annotated[float, Field(ge=0.0, lt=1.0)], ...]
    ltp_large_lesion_factor: Annotated[float, Field(ge=0.0)]
    complication_probability: Probability
    cirse_grade_weights: Annotated[tuple[Annotated[float, Field(ge=0.0)], ...], Field(min_length=6)]
    post_labs_day: Annotated[int, Field(ge=1, le=6)]
    alt_rise_factor: Range
    alt_recovery_days: Annotated[int, Field(ge=1)]
    bilirubin_rise_factor: Range
    albumin_fall_g_l: Range

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        n = len(self.size_bands_mm)
        if list(self.size_bands_mm) != sorted(self.size_bands_mm):
            raise ValueError("size_bands_mm: the bands must be in increasing order")
        for name in ("technical_success", "residual"):
            if len(getattr(self, name)) != n:
                raise ValueError(f"{name}: give one value per size band ({n})")
        if len(self.margin_band_weights) != 3:
            raise ValueError("margin_band_weights: give three weights (<5, 5-10, >10 mm)")
        if len(self.ltp_by_24_months) != len(self.ltp_margin_upper_mm):
            raise ValueError("ltp_by_24_months: give one value per margin band")
        if len(self.cirse_grade_weights) != 6:
            raise ValueError("cirse_grade_weights: give six weights (CIRSE grades 1-6)")
        for name in ("alt_rise_factor", "bilirubin_rise_factor", "albumin_fall_g_l"):
            _range(name, getattr(self, name))
        _positive_sum("margin_band_weights", self.margin_band_weights)
        _positive_sum("cirse_grade_weights", self.cirse_grade_weights)
        return self

    def band(self, diameter_mm: float) -> int:
        for k, upper in enumerate(self.size_bands_mm):
            if diameter_mm <= upper:
                return k
        return len(self.size_bands_mm) - 1

    def ltp_monthly_hazard(self, margin_mm: float, diameter_mm: float) -> float:
        """Hazard of local tumour progression per month after a complete ablation."""
        k = next(
            (i for i, upper in enumerate(self.ltp_margin_upper_mm) if margin_mm <= upper),
            len(self.ltp_margin_upper_mm) - 1,
        )
        hazard = -math.log1p(-self.ltp_by_24_months[k]) / 24.0
        return hazard * (self.ltp_large_lesion_factor if diameter_mm > 30 else 1.0)


@record
class Disease(_Sourced):
    progression_form_weights: dict[
        Literal["new_liver", "growth", "extrahepatic"], Annotated[float, Field(ge=0.0)]
    ]
    new_lesions: tuple[Annotated[int, Field(ge=1)], Annotated[int, Field(ge=1)]]
    new_lesion_diameter_mm: Range
    growth_factor: Range
    further_progression: Probability

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        _positive_sum("progression_form_weights", self.progression_form_weights)
        _range("new_lesions", self.new_lesions)
        _range("new_lesion_diameter_mm", self.new_lesion_diameter_mm)
        _range("growth_factor", self.growth_factor)
        if self.growth_factor[0] < 1.2:
            raise ValueError("growth_factor: progression needs at least +20% (factor >= 1.2)")
        return self


@record
class PatientModel(Record):
    """The whole patient model; see ``data/patient_model.toml`` for each parameter's source."""

    version: Annotated[str, Field(min_length=1)]
    baseline: Baseline
    systemic: Systemic
    toxicity: Toxicity
    labs: Labs
    rfa: Rfa
    disease: Disease


def parse_patient_model(data: dict[str, Any], *, source: str = "patient model") -> PatientModel:
    """Validate an already-parsed patient-model mapping."""
    return parse_model(PatientModel, data, error=PatientModelError, source=source)


def load_patient_model(path: str | Path) -> PatientModel:
    """Read and validate a patient-model TOML file.

    Raises
    ------
    PatientModelError
        If the file is missing, is not TOML, or breaks a rule; the message names the key.
    """
    return load_model(PatientModel, path, error=PatientModelError)


def default_patient_model_path() -> Path:
    """The patient-model file shipped with the package."""
    return Path(str(resources.files("rfatrial") / "data" / "patient_model.toml"))


@cache
def default_patient_model() -> PatientModel:
    """The shipped patient model, loaded once."""
    return load_patient_model(default_patient_model_path())


# --- survival calibrated to a scenario ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CourseTimes:
    """Monthly hazards of death, progression and loss to follow-up by arm, from a scenario.

    ``progression`` is the hazard of progression while alive (``lambda_PFS - lambda_OS``), so
    that the time to the first of progression and death is exponential with the scenario's PFS.
    """

    scenario: str
    death: dict[str, float]
    progression: dict[str, float]
    dropout: dict[str, float]

    @classmethod
    def from_scenario(cls, name: str) -> CourseTimes:
        """Hazards of a named scenario of ``data/scenarios.toml`` (e.g. "clocc", "null").

        Raises
        ------
        KeyError
            For an unknown scenario.
        ValueError
            If an arm's PFS hazard is below its OS hazard (PFS cannot be longer than OS).
        """
        return _course_times(name)

    @classmethod
    def _from_scenario(cls, name: str) -> CourseTimes:
        os_ = load_scenario(name, "os")
        pfs = load_scenario(name, "pfs")
        death = {"control": os_.control_hazard, "experimental": os_.experimental_hazard}
        pfs_hazard = {"control": pfs.control_hazard, "experimental": pfs.experimental_hazard}
        progression = {}
        for arm, h in pfs_hazard.items():
            if h < death[arm]:
                raise ValueError(
                    f"scenario {name!r}: the {arm} arm's PFS median is longer than its OS median"
                )
            progression[arm] = h - death[arm]
        dropout = {
            "control": os_.control_dropout_hazard,
            "experimental": os_.experimental_dropout_hazard,
        }
        return cls(name, death, progression, dropout)

    def median_os_months(self, arm: str) -> float:
        return math.log(2) / self.death[arm]

    def median_pfs_months(self, arm: str) -> float:
        return math.log(2) / (self.death[arm] + self.progression[arm])

    def draw(self, arm: str, rng: random.Random) -> tuple[float, float, float]:
        """Days from randomization to death, to progression and to loss to follow-up."""

        def days(hazard: float) -> float:
            if hazard <= 0:
                return math.inf
            value = rng.expovariate(hazard) * DAYS_PER_MONTH
            return value if value < _NEVER_DAYS else math.inf

        return days(self.death[arm]), days(self.progression[arm]), days(self.dropout[arm])


@cache
def _course_times(name: str) -> CourseTimes:
    return CourseTimes._from_scenario(name)
