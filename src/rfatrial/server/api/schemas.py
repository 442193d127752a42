"""The API's request and response bodies (the clinical records use the kernel's own models)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ninja import Schema
from pydantic import BaseModel, Field


class ErrorOut(Schema):
    detail: str


class FieldError(Schema):
    loc: list[str | int]
    msg: str
    type: str


class ValidationErrorOut(Schema):
    """422: one item per bad field, ``loc`` its path (``["body", "payload", "data", "date"]``)."""

    detail: list[FieldError]


class MeOut(Schema):
    username: str
    roles: dict[str, list[str]]


class SiteOut(Schema):
    code: str
    name: str
    roles: list[str]


class PatientOut(Schema):
    id: int
    site: str
    study_id: str = Field(description="The study id, or a pseudonym for a statistician.")
    pseudonymized: bool
    sex: str
    age_at_screening: int
    diagnosis_date: str
    liver_surgery_date: str
    version: int
    phase: str | None
    arm: str | None


class PatientIn(Schema):
    study_id: str = Field(min_length=1, max_length=32)
    sex: str = Field(pattern="^[FM]$")
    age_at_screening: int = Field(ge=18, le=110)
    diagnosis_date: str = Field("", max_length=10)
    liver_surgery_date: str = Field("", max_length=10)


class PatientLesionOut(Schema):
    # Not "LesionOut": the planner's lesion schema has that name, and the OpenAPI document names
    # each schema by its class name (two of one name would describe one with the other).
    id: int
    label: str


LesionOut = PatientLesionOut


class DeviationOut(Schema):
    code: str
    date: dt.date
    description: str
    description_key: str = Field("", description="the engine's message id of the description")
    params: dict[str, Any] = Field(default_factory=dict, description="its parameters")
    rule: str
    event_kind: str | None = None
    event_seq: int | None = None
    justification: str | None = None


class ActionFields(BaseModel):
    """What the engine says is due: the fields of a next action, wherever it is listed."""

    kind: str
    what: str
    why: str
    what_key: str = Field("", description="the engine's message id of what is due")
    why_key: str = Field("", description="the engine's message id of why")
    params: dict[str, Any] = Field(default_factory=dict, description="their parameters")
    rule: str
    earliest: dt.date
    target: dt.date
    latest: dt.date
    overdue: bool
    session: int | None = None
    visit_id: str | None = None
    lesions: list[str] = Field(default_factory=list)


class NextActionOut(Schema, ActionFields):
    """One next action of a patient."""


class WorklistItemOut(ActionFields):
    """One action due (a plain pydantic model: a site's worklist has thousands of rows, and
    ninja's Schema wraps every row in an attribute getter that costs more than the query)."""

    patient_id: int
    study_id: str


class HealthOut(Schema):
    status: str


class EvaluationOut(Schema):
    patient_id: int
    evaluated_on: dt.date | None
    protocol_version: str | None
    phase: str | None
    arm: str | None
    cycles_given: int
    rfa_sessions_done: int
    rfa_stopped: str | None
    liver_ned: bool
    next_actions: list[NextActionOut]
    deviations: list[DeviationOut]


class AnyRecordOut(Schema):
    kind: str
    seq: int
    version: int
    date: dt.date
    justification: str | None
    data: dict[str, Any]


class AuditEntryOut(Schema):
    seq: int
    at: dt.datetime
    actor: str
    ip: str
    action: str
    table: str
    record_id: int
    reason: str
    changes: dict[str, Any]


class RandomizeIn(Schema):
    justification: str | None = Field(
        None, description="Why, when the randomization breaks a protocol rule (e.g. late)."
    )


class RandomizeOut(Schema):
    patient_id: int
    seq: int
    version: int
    date: dt.date
    arm: str
    stratum: dict[str, str]


class TokenIn(Schema):
    name: str = Field(min_length=1, max_length=100)


class TokenOut(Schema):
    id: int
    name: str
    prefix: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class NewTokenOut(TokenOut):
    token: str = Field(description="Shown once: only its hash is kept.")


class RoleIn(Schema):
    username: str = Field(min_length=1, max_length=150)
    role: str


class RoleOut(Schema):
    id: int
    username: str
    role: str
    version: int
