"""What the pathway engine says about one patient on one day (the result types of ``evaluate``).

Plain frozen dataclasses, serialised with :func:`to_json_dict`. Each writes out its
``__init__`` (setting the fields past the frozen ``__setattr__``): mypyc compiles that one to a
native constructor (``make kernel``), where the one ``dataclass`` generates stays Python.
The texts of next actions and deviations come with their message id and parameters
(:mod:`rfatrial.kernel.messages`), so that an application can show them in another language.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, fields, is_dataclass
from datetime import date
from typing import Any, Literal

from rfatrial.kernel.lab_gate import PanelResult
from rfatrial.kernel.messages import Params, render

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


@dataclass(frozen=True, slots=True, init=False)
class NextAction:
    """Something due for the patient: what, why (and the protocol rule), and its window.

    ``what`` and ``why`` are the English texts of the messages ``what_key`` and ``why_key`` with
    ``params`` (shared by both; see :mod:`rfatrial.kernel.messages`). They are rendered when read:
    a care team that follows the actions (the simulator asks after every event) never pays for
    texts it does not show.
    """

    kind: ActionKind
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

    def __init__(
        self,
        kind: ActionKind,
        rule: str,
        earliest: date,
        target: date,
        latest: date,
        overdue: bool,
        what_key: str,
        why_key: str,
        params: Params,
        session: int | None = None,
        visit_id: str | None = None,
        lesions: tuple[str, ...] = (),
    ) -> None:
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "earliest", earliest)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "latest", latest)
        object.__setattr__(self, "overdue", overdue)
        object.__setattr__(self, "what_key", what_key)
        object.__setattr__(self, "why_key", why_key)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "visit_id", visit_id)
        object.__setattr__(self, "lesions", lesions)

    @property
    def what(self) -> str:
        """What is due, in English."""
        return render(self.what_key, self.params)

    @property
    def why(self) -> str:
        """Why it is due (the rule it comes from), in English."""
        return render(self.why_key, self.params)


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        code: str,
        date: dt.date,
        description: str,
        rule: str,
        description_key: str,
        params: Params,
        event_index: int | None = None,
        justification: str | None = None,
    ) -> None:
        object.__setattr__(self, "code", code)
        object.__setattr__(self, "date", date)
        object.__setattr__(self, "description", description)
        object.__setattr__(self, "rule", rule)
        object.__setattr__(self, "description_key", description_key)
        object.__setattr__(self, "params", params)
        object.__setattr__(self, "event_index", event_index)
        object.__setattr__(self, "justification", justification)


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        date: dt.date,
        modality: str,
        purpose: str,
        overall: str,
        target_response: str | None,
        sum_mm: float | None,
        change_from_baseline: float | None,
        change_from_nadir: float | None,
        effective: bool,
        new_liver_lesions: int,
        extrahepatic_progression: bool,
    ) -> None:
        object.__setattr__(self, "date", date)
        object.__setattr__(self, "modality", modality)
        object.__setattr__(self, "purpose", purpose)
        object.__setattr__(self, "overall", overall)
        object.__setattr__(self, "target_response", target_response)
        object.__setattr__(self, "sum_mm", sum_mm)
        object.__setattr__(self, "change_from_baseline", change_from_baseline)
        object.__setattr__(self, "change_from_nadir", change_from_nadir)
        object.__setattr__(self, "effective", effective)
        object.__setattr__(self, "new_liver_lesions", new_liver_lesions)
        object.__setattr__(self, "extrahepatic_progression", extrahepatic_progression)


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        lesion_id: str,
        organ: str,
        segment: str | None,
        first_seen: date,
        status: str,
        sizes: tuple[tuple[date, float], ...],
        sessions: tuple[int, ...],
        history: tuple[tuple[date, str], ...],
    ) -> None:
        object.__setattr__(self, "lesion_id", lesion_id)
        object.__setattr__(self, "organ", organ)
        object.__setattr__(self, "segment", segment)
        object.__setattr__(self, "first_seen", first_seen)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "sizes", sizes)
        object.__setattr__(self, "sessions", sessions)
        object.__setattr__(self, "history", history)


@dataclass(frozen=True, slots=True, init=False)
class GateDecision:
    """The pre-RFA lab gate for the coming session."""

    session: int
    decision: Literal["proceed", "postpone", "withdrawal_proposed", "labs_needed"]
    failures: int
    first_failure: date | None
    panel: PanelResult | None
    postponed_until: date | None

    def __init__(
        self,
        session: int,
        decision: Literal["proceed", "postpone", "withdrawal_proposed", "labs_needed"],
        failures: int,
        first_failure: date | None,
        panel: PanelResult | None,
        postponed_until: date | None,
    ) -> None:
        object.__setattr__(self, "session", session)
        object.__setattr__(self, "decision", decision)
        object.__setattr__(self, "failures", failures)
        object.__setattr__(self, "first_failure", first_failure)
        object.__setattr__(self, "panel", panel)
        object.__setattr__(self, "postponed_until", postponed_until)


@dataclass(frozen=True, slots=True, init=False)
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

    def __init__(
        self,
        patient_id: str,
        today: date,
        protocol_version: str,
        arm: str | None,
        randomization_date: date | None,
        phase: str,
        cycles_given: int,
        rfa_sessions_done: int,
        rfa_stopped: str | None,
        lesions: tuple[LesionState, ...],
        lesions_remaining: tuple[str, ...],
        liver_ned: bool,
        responses: tuple[ResponseRecord, ...],
        lab_gate: GateDecision | None,
        next_actions: tuple[NextAction, ...],
        deviations: tuple[Deviation, ...],
        data_issues: tuple[str, ...],
    ) -> None:
        object.__setattr__(self, "patient_id", patient_id)
        object.__setattr__(self, "today", today)
        object.__setattr__(self, "protocol_version", protocol_version)
        object.__setattr__(self, "arm", arm)
        object.__setattr__(self, "randomization_date", randomization_date)
        object.__setattr__(self, "phase", phase)
        object.__setattr__(self, "cycles_given", cycles_given)
        object.__setattr__(self, "rfa_sessions_done", rfa_sessions_done)
        object.__setattr__(self, "rfa_stopped", rfa_stopped)
        object.__setattr__(self, "lesions", lesions)
        object.__setattr__(self, "lesions_remaining", lesions_remaining)
        object.__setattr__(self, "liver_ned", liver_ned)
        object.__setattr__(self, "responses", responses)
        object.__setattr__(self, "lab_gate", lab_gate)
        object.__setattr__(self, "next_actions", next_actions)
        object.__setattr__(self, "deviations", deviations)
        object.__setattr__(self, "data_issues", data_issues)


def to_json_dict(value: Any) -> Any:
    """A JSON-ready copy of an evaluation (dates as ISO strings, tuples as lists, mappings as
    objects)."""
    if is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json_dict(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, NextAction):  # its texts, in their place after the kind
            out = {"kind": value.kind, "what": value.what, "why": value.why, **out}
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
