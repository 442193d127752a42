"""The engine's running state while it walks a patient's history (private to the engine)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from rfatrial.kernel._frozen import quick
from rfatrial.kernel.evaluation import (
    Deviation,
    ResponseRecord,
)
from rfatrial.kernel.history import (
    EVENT_ORDER,
    ImagingAssessment,
    LabPanel,
    LesionMeasurement,
    RfaSession,
    SystemicCycle,
)
from rfatrial.kernel.lab_gate import CriterionResult, PanelResult, check_panel, panel_passes
from rfatrial.kernel.messages import Params, render
from rfatrial.kernel.protocol import GateCriterion, Protocol

__all__ = [
    "CANDIDATE",
    "DAY",
    "RANK",
    "RECIST_MODALITIES",
    "Judged",
    "Lesion",
    "Walk",
    "judge_gate",
    "withdrawal_proposed_on",
]


DAY = timedelta(days=1)
_QuickDeviation = quick(Deviation)
RANK = EVENT_ORDER
CANDIDATE = frozenset({"active", "residual", "local_progression"})
RECIST_MODALITIES = frozenset({"CT", "MRI"})


@dataclass(slots=True)
class Lesion:
    lesion_id: str
    organ: str
    segment: str | None
    first_seen: date
    status: str = "active"
    sizes: list[tuple[date, float]] = field(default_factory=list)
    sessions: list[int] = field(default_factory=list)
    history: list[tuple[date, str]] = field(default_factory=list)

    def set(self, day: date, status: str) -> None:
        if status != self.status or not self.history:
            self.status = status
            self.history.append((day, status))


class Judged:
    """A panel judged against the gate: pass or fail at once, the details only when asked."""

    __slots__ = ("_full", "criteria", "panel", "passed")

    def __init__(self, panel: LabPanel, criteria: list[GateCriterion]) -> None:
        self.panel, self.criteria = panel, criteria
        self.passed = panel_passes(panel, criteria)
        self._full: PanelResult | None = None

    @property
    def panel_date(self) -> date:
        return self.panel.date

    @property
    def full(self) -> PanelResult:
        if self._full is None:
            self._full = check_panel(self.panel, self.criteria)
        return self._full

    @property
    def failed(self) -> tuple[CriterionResult, ...]:
        return self.full.failed


@dataclass(slots=True)
class Walk:
    """Mutable state while the engine walks the history."""

    protocol: Protocol
    today: date
    arm: str | None = None
    randomized: date | None = None
    screened: date | None = None
    eligible: bool = False
    phase: str = "not_screened"
    block: str | None = None  # "induction" | "consolidation"
    block_cycles: int = 0
    cycles: list[tuple[int, SystemicCycle]] = field(default_factory=list)
    sessions: list[tuple[int, RfaSession]] = field(default_factory=list)
    pending_scans: list[int] = field(
        default_factory=list
    )  # session numbers awaiting the 1-month scan
    rfa_open: ImagingAssessment | None = None  # the scan that found therapy effective
    last_effective: ImagingAssessment | None = None  # the last response scan, if effective
    rfa_stopped: str | None = None
    gate_failures: int = 0
    first_failure: date | None = None
    gate_result: Judged | None = None
    last_panel: LabPanel | None = None
    pre_cycle_failure: date | None = None
    off_study: date | None = None
    lesions: dict[str, Lesion] = field(default_factory=dict)
    responses: list[ResponseRecord] = field(default_factory=list)
    deviations: list[Deviation] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)
    visits: dict[str, tuple[int, date, tuple[str, ...]]] = field(default_factory=dict)
    judged: dict[int, Judged] = field(default_factory=dict)
    holds: dict[tuple[int, bool], int] = field(default_factory=dict)
    max_hold: int = 0

    def __post_init__(self) -> None:
        rfa = self.protocol.rfa
        self.max_hold = max([rfa.separation_days, *(h.days_before_rfa for h in rfa.agent_holds)])

    def gate_check(self, panel: LabPanel) -> Judged:
        """The pre-RFA gate on ``panel``, judged once per evaluation."""
        found = self.judged.get(id(panel))
        if found is None:
            found = self.judged[id(panel)] = Judged(panel, self.protocol.lab_gate.criteria)
        return found

    def deviate(
        self,
        code: str,
        day: date,
        key: str,
        params: Params,
        rule: str,
        index: int | None,
        justification: str | None = None,
    ) -> None:
        """Report a deviation; its text is message ``key`` with ``params``."""
        self.deviations.append(
            _QuickDeviation(code, day, render(key, params), rule, key, params, index, justification)
        )

    def hold(self, cycle: SystemicCycle, *, before_rfa: bool) -> int:
        """Days between ``cycle`` and an RFA session (memoized: the walk keeps its cycles)."""
        key = (id(cycle), before_rfa)
        found = self.holds.get(key)
        if found is None:
            found = self.holds[key] = self.protocol.rfa.hold_for(
                cycle.agent_names, before_rfa=before_rfa
            )
        return found

    def lesion(self, m: LesionMeasurement | str, day: date) -> Lesion:
        lesion_id = m if isinstance(m, str) else m.lesion_id
        found = self.lesions.get(lesion_id)
        if found is None:
            organ = "liver" if isinstance(m, str) else m.organ
            segment = None if isinstance(m, str) else m.segment
            found = Lesion(lesion_id, organ, segment, day)
            found.set(day, "active")
            self.lesions[lesion_id] = found
        return found

    def remaining(self) -> list[str]:
        return sorted(
            lid for lid, x in self.lesions.items() if x.organ == "liver" and x.status in CANDIDATE
        )

    def liver_ned(self) -> bool:
        liver = [x for x in self.lesions.values() if x.organ == "liver"]
        return bool(liver) and all(x.status in ("complete", "disappeared") for x in liver)


def judge_gate(w: Walk, panel: LabPanel) -> None:
    result = w.gate_check(panel)
    w.gate_result = result
    if not result.passed:
        w.gate_failures += 1
        if w.first_failure is None:
            w.first_failure = panel.date


def withdrawal_proposed_on(w: Walk, day: date) -> bool:
    gate = w.protocol.lab_gate
    if w.gate_failures == 0 or w.gate_result is None or w.gate_result.passed:
        return False
    if w.gate_failures >= gate.postponement_limit_failures:
        return True
    assert w.first_failure is not None
    return (day - w.first_failure).days >= gate.postponement_limit_days


def max_hold(p: Protocol) -> int:
    holds = [h.days_before_rfa for h in p.rfa.agent_holds]
    return max([p.rfa.separation_days, *holds])
