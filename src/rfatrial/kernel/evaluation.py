"""What the pathway engine says about one patient on one day (the result types of ``evaluate``).

Plain frozen dataclasses: cheap to build on the hot path, serialised with :func:`to_json_dict`.
The texts of next actions and deviations come with their message id and parameters
(:mod:`rfatrial.kernel.messages`), so that an application can show them in another language.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from typing import Any, Literal

from rfatrial.kernel.lab_gate import PanelResult
from rfatrial.kernel.messages import Params

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
    """Something due for the patient: what, why (and the protocol rule), and its window.

    ``what`` and ``why`` are the English texts of the messages ``what_key`` and ``why_key`` with
    ``params`` (shared by both; see :mod:`rfatrial.kernel.messages`).
    """

    kind: ActionKind
    what: str
    why: str
    rule: str
    earliest: date
    target: date
    latest: date
    overdue: bool
    what_key: str
    why_key: str
    params: Params
    session: int | None = None
    visit_id: str | None = None
    lesions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Deviation:
    """A protocol rule that the recorded history breaks.

    ``description`` is the English text of the message ``description_key`` with ``params``.
    """

    code: str
    date: date
    description: str
    rule: str
    description_key: str
    params: Params
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
    """A JSON-ready copy of an evaluation (dates as ISO strings, tuples as lists, mappings as
    objects)."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json_dict(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, PanelResult):
            out["passed"] = value.passed
        return out
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, (tuple, list)):
        return [to_json_dict(v) for v in value]
    if isinstance(value, Mapping):
        return {k: to_json_dict(v) for k, v in value.items()}
    return value
