"""A patient's history: the typed record of everything that happened, in the kernel's format.

A history is a list of events, each with a ``type`` and a ``date``. It is what the engine reads,
what the study database stores, what the simulator writes and what ``rfatrial evaluate`` takes as
JSON (``rfatrial schema history`` prints its JSON Schema). Lesions keep one id for their whole
life ("L1", "L2", ...), so the same lesion can be followed from scan to ablation to follow-up.

Examples
--------
>>> h = PatientHistory.model_validate({
...     "patient_id": "S01-001", "site": "S01", "sex": "F", "age_at_screening": 61,
...     "events": [{"type": "randomization", "date": "2026-01-05", "arm": "control"}]})
>>> h.events[0].arm
'control'
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Literal, Self

from pydantic import Field, TypeAdapter, ValidationError, model_validator

from rfatrial.kernel._data_file import format_validation_error
from rfatrial.kernel._records import Record, record
from rfatrial.kernel.units import ClinicalValueError, check_value

__all__ = [
    "EVENT_ORDER",
    "AblatedLesion",
    "AdverseEvent",
    "Agent",
    "Complication",
    "Death",
    "Event",
    "FollowUpVisit",
    "HistoryError",
    "ImagingAssessment",
    "LabPanel",
    "LabResult",
    "LesionMeasurement",
    "LostToFollowUp",
    "PatientHistory",
    "PostRfaLesionResult",
    "PostRfaScan",
    "Randomization",
    "Record",
    "RfaSession",
    "Screening",
    "SystemicCycle",
    "Withdrawal",
    "parse_history",
]

Mm = Annotated[float, Field(ge=0, le=500)]
LesionId = Annotated[str, Field(min_length=1, max_length=32)]
Text = Annotated[str, Field(min_length=1, max_length=2000)]
Modality = Literal["CT", "MRI", "US", "CEUS", "PET"]
Arm = Literal["control", "experimental"]
Component = Literal["us_ceus", "ct_mri", "labs", "tumour_markers", "ecg"]


class HistoryError(ValueError):
    """A history that breaks its schema; the message gives the path of each bad field."""


# --- screening and randomization -------------------------------------------------------------


@record
class Screening(Record):
    type: Literal["screening"] = "screening"
    date: dt.date
    consent_date: dt.date
    eligible: bool
    liver_lesion_count: Annotated[int, Field(ge=1, le=100)]
    ras_status: Literal["wild_type", "mutant", "unknown"] = "unknown"
    braf_status: Literal["wild_type", "mutant", "unknown"] = "unknown"
    ecog: Annotated[int, Field(ge=0, le=4)] | None = None
    extrahepatic_disease: bool = False


@record
class Randomization(Record):
    type: Literal["randomization"] = "randomization"
    date: dt.date
    arm: Arm
    stratum: dict[str, str] = Field(default_factory=dict)


# --- treatment --------------------------------------------------------------------------------


@record
class Agent(Record):
    name: Annotated[str, Field(min_length=1, max_length=64)]
    dose: Annotated[float, Field(gt=0, le=100_000)]
    unit: Literal["mg/m2", "mg/kg", "mg", "AUC"]


@record
class SystemicCycle(Record):
    type: Literal["systemic_cycle"] = "systemic_cycle"
    date: dt.date
    regimen: Annotated[str, Field(min_length=1, max_length=64)]
    agents: list[Agent] = Field(default_factory=list)
    line: Annotated[int, Field(ge=1, le=10)] = 1

    @property
    def agent_names(self) -> tuple[str, ...]:
        return tuple(a.name.lower() for a in self.agents)


@record
class Complication(Record):
    description: Text
    cirse_grade: Annotated[int, Field(ge=1, le=6)]
    clavien_dindo: Literal["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"] | None = None
    onset_date: dt.date | None = None


@record
class AblatedLesion(Record):
    lesion_id: LesionId
    technical_success: bool = True
    margin_mm: Mm | None = None
    electrode: str | None = None
    power_w: Annotated[float, Field(gt=0, le=1000)] | None = None
    time_min: Annotated[float, Field(gt=0, le=240)] | None = None


@record
class RfaSession(Record):
    type: Literal["rfa_session"] = "rfa_session"
    date: dt.date
    lesions: Annotated[list[AblatedLesion], Field(min_length=1)]
    complications: list[Complication] = Field(default_factory=list)
    justification: Text | None = None

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        ids = [x.lesion_id for x in self.lesions]
        if len(set(ids)) != len(ids):
            raise ValueError("a lesion is listed twice in one session")
        return self


# --- assessments --------------------------------------------------------------------------------


@record
class LesionMeasurement(Record):
    lesion_id: LesionId
    organ: Annotated[str, Field(min_length=1, max_length=32)] = "liver"
    segment: Literal["S1", "S2", "S3", "S4", "S4a", "S4b", "S5", "S6", "S7", "S8"] | None = None
    diameter_mm: Mm | None = None
    is_node: bool = False
    too_small_to_measure: bool = False
    us_visible: bool | None = None
    distance_to_vessel_mm: Mm | None = None
    # for planning the next session (the ablation batch planner)
    distance_to_critical_mm: Mm | None = None
    margin_achievable_mm: Mm | None = None


@record
class ImagingAssessment(Record):
    type: Literal["imaging"] = "imaging"
    date: dt.date
    modality: Modality
    purpose: Literal["baseline", "response", "follow_up"] = "response"
    lesions: list[LesionMeasurement] = Field(default_factory=list)
    new_lesions: list[LesionMeasurement] = Field(default_factory=list)
    local_progression: list[LesionId] = Field(default_factory=list)
    non_target_progression: bool = False
    extrahepatic_progression: bool = False
    visit_id: str | None = None

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        ids = [m.lesion_id for m in self.lesions] + [m.lesion_id for m in self.new_lesions]
        if len(set(ids)) != len(ids):
            raise ValueError("a lesion is listed twice in one imaging assessment")
        return self


@record
class LabResult(Record):
    """One lab value with its unit and, where the site reports them, its normal limits."""

    analyte: Annotated[str, Field(min_length=1, max_length=32)]
    value: float
    unit: Annotated[str, Field(max_length=16)]
    lln: Annotated[float, Field(ge=0)] | None = None
    uln: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _known_and_possible(self) -> Self:
        # An unknown analyte or unit, or an impossible value, is an error, never a guess.
        try:
            check_value(self.analyte, self.value, self.unit)
        except ClinicalValueError as exc:
            raise ValueError(str(exc)) from None
        if self.lln is not None and self.uln is not None and self.lln >= self.uln:
            raise ValueError("lln must be below uln")
        return self


@record
class LabPanel(Record):
    type: Literal["lab_panel"] = "lab_panel"
    date: dt.date
    results: Annotated[list[LabResult], Field(min_length=1)]
    ascites: Literal["none", "mild", "moderate_severe"] | None = None
    encephalopathy: Literal["none", "grade_1_2", "grade_3_4"] | None = None

    def result(self, analyte: str) -> LabResult | None:
        for r in self.results:
            if r.analyte == analyte:
                return r
        return None


@record
class PostRfaLesionResult(Record):
    lesion_id: LesionId
    outcome: Literal["complete", "residual"]


@record
class PostRfaScan(Record):
    type: Literal["post_rfa_scan"] = "post_rfa_scan"
    date: dt.date
    modality: Modality
    results: Annotated[list[PostRfaLesionResult], Field(min_length=1)]
    new_lesions: list[LesionMeasurement] = Field(default_factory=list)
    extrahepatic_progression: bool = False


@record
class FollowUpVisit(Record):
    type: Literal["follow_up_visit"] = "follow_up_visit"
    date: dt.date
    visit_id: Annotated[str, Field(min_length=1, max_length=16)]
    components: list[Component] = Field(default_factory=list)


@record
class AdverseEvent(Record):
    type: Literal["adverse_event"] = "adverse_event"
    date: dt.date
    term: Annotated[str, Field(min_length=1, max_length=128)]
    grade: Annotated[int, Field(ge=1, le=5)]
    serious: bool = False
    related_to: list[Literal["systemic", "rfa", "none"]] = Field(default_factory=list)
    end_date: dt.date | None = None
    outcome: Literal["recovered", "recovering", "not_recovered", "sequelae", "fatal"] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end_date is not None and self.end_date < self.date:
            raise ValueError("end_date is before the onset date")
        return self


# --- disposition --------------------------------------------------------------------------------


@record
class Withdrawal(Record):
    type: Literal["withdrawal"] = "withdrawal"
    date: dt.date
    reason: Text
    initiated_by: Literal["patient", "investigator"] = "investigator"


@record
class Death(Record):
    type: Literal["death"] = "death"
    date: dt.date
    cause: Annotated[str, Field(max_length=256)] = "unknown"


@record
class LostToFollowUp(Record):
    type: Literal["lost_to_follow_up"] = "lost_to_follow_up"
    date: dt.date


Event = Annotated[
    Screening
    | Randomization
    | SystemicCycle
    | ImagingAssessment
    | LabPanel
    | RfaSession
    | PostRfaScan
    | FollowUpVisit
    | AdverseEvent
    | Withdrawal
    | Death
    | LostToFollowUp,
    Field(discriminator="type"),
]

# Same-day order: what is known before what is done (labs and scans before a session or a cycle).
# The engine reads a day's events in this order; whoever stores or replays events uses it too.
EVENT_ORDER: dict[str, int] = {
    "screening": 0,
    "randomization": 1,
    "lab_panel": 2,
    "imaging": 3,
    "post_rfa_scan": 4,
    "rfa_session": 5,
    "systemic_cycle": 6,
    "follow_up_visit": 7,
    "adverse_event": 8,
    "withdrawal": 9,
    "lost_to_follow_up": 10,
    "death": 11,
}

_ONCE = ("screening", "randomization", "death", "withdrawal", "lost_to_follow_up")


@record
class PatientHistory(Record):
    """Everything recorded for one patient, in any order (the engine sorts by date)."""

    patient_id: Annotated[str, Field(min_length=1, max_length=32)]
    site: Annotated[str, Field(min_length=1, max_length=32)]
    sex: Literal["F", "M"]
    age_at_screening: Annotated[int, Field(ge=18, le=110)]
    events: list[Event] = Field(default_factory=list)

    @model_validator(mode="after")
    def _at_most_once(self) -> Self:
        for kind in _ONCE:
            if sum(1 for e in self.events if e.type == kind) > 1:
                raise ValueError(f"a history holds at most one '{kind}' event")
        return self


_ADAPTER = TypeAdapter(PatientHistory)


def parse_history(text: str | bytes, *, source: str = "history") -> PatientHistory:
    """Parse a history from JSON text.

    Raises
    ------
    HistoryError
        For malformed JSON (with line and column) or a schema violation (with each field's path).
    """
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise HistoryError(
            f"{source}: not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})"
        ) from None
    try:
        return _ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise HistoryError(format_validation_error(exc, source=source)) from None
