"""What the pathway engine says about one patient on one day (the result types of ``evaluate``).

Plain frozen dataclasses: cheap to build on the hot path, serialised with :func:`to_json_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from typing import Any, Literal

from rfatrial.kernel.lab_gate import PanelResult

__all__ = [
    "ActionKind",
    "Deviation",
    "Evaluation",
    "GateDecision",
    "LesionState",
    "NextAction",
    "ResponseRecord",
    "to_json_dict",
]

ActionKind = Literal[
    "randomize",
    "systemic_cycle",
    "response_scan",
    "pre_rfa_labs",
    "rfa_session",
    "post_rfa_scan",
    "follow_up_visit",
    "confirm_withdrawal",
]


@dataclass(frozen=True, slots=True)
class NextAction:
    """Something due for the patient: what, why (and the protocol rule), and its window."""

    kind: ActionKind
    what: str
    why: str
    rule: str
    earliest: date
    target: date
    latest: date
    overdue: bool
    session: int | None = None
    visit_id: str | None = None
    lesions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Deviation:
    """A protocol rule that the recorded history breaks."""

    code: str
    date: date
    description: str
    rule: str
    event_index: int | None = None
    justification: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseRecord:
    """The RECIST 1.1 response at one imaging assessment, and whether it counts as effective."""

    date: date
    modality: str
    purpose: str
    overall: str
    target_response: str | None
    sum_mm: float | None
    change_from_baseline: float | None
    change_from_nadir: float | None
    effective: bool
    new_liver_lesions: int
    extrahepatic_progression: bool


@dataclass(frozen=True, slots=True)
class LesionState:
    """One liver (or other) lesion followed by its persistent id."""

    lesion_id: str
    organ: str
    segment: str | None
    first_seen: date
    status: str
    sizes: tuple[tuple[date, float], ...]
    sessions: tuple[int, ...]
    history: tuple[tuple[date, str], ...]


@dataclass(frozen=True, slots=True)
class GateDecision:
    """The pre-RFA lab gate for the coming session."""

    session: int
    decision: Literal["proceed", "postpone", "withdrawal_proposed", "labs_needed"]
    failures: int
    first_failure: date | None
    panel: PanelResult | None
    postponed_until: date | None


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything the engine derives from a history on ``today``."""

    patient_id: str
    today: date
    protocol_version: str
    arm: str | None
    randomization_date: date | None
    phase: str
    cycles_given: int
    rfa_sessions_done: int
    rfa_stopped: str | None
    lesions: tuple[LesionState, ...]
    lesions_remaining: tuple[str, ...]
    liver_ned: bool
    responses: tuple[ResponseRecord, ...]
    lab_gate: GateDecision | None
    next_actions: tuple[NextAction, ...]
    deviations: tuple[Deviation, ...]
    data_issues: tuple[str, ...]


def to_json_dict(value: Any) -> Any:
    """A JSON-ready copy of an evaluation (dates as ISO strings, tuples as lists)."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json_dict(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, PanelResult):
            out["passed"] = value.passed
        return out
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_json_dict(v) for v in value]
    return value
