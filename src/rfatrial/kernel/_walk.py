"""The engine's running state while it walks a patient's history (private to the engine)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

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
    "days",
    "judge_gate",
    "withdrawal_proposed_on",
]


DAY: Final = timedelta(days=1)

# Intervals by length in days: timedelta(days=n) parses its keywords at every call, which cost
# the engine more than the date arithmetic it serves. The lengths are the protocol's, so few.
_DAYS: Final[dict[int, timedelta]] = {}


def days(n: int) -> timedelta:
    """``timedelta(days=n)``, made once per length."""
    found = _DAYS.get(n)
    if found is None:
        if len(_DAYS) > 4096:
            _DAYS.clear()
        found = _DAYS[n] = timedelta(days=n)
    return found


RANK: Final = EVENT_ORDER
CANDIDATE: Final = frozenset({"active", "residual", "local_progression"})
RECIST_MODALITIES: Final = frozenset({"CT", "MRI"})


class Lesion:
    """One lesion followed through the walk (a plain class: compiled, its constructor is cheap)."""

    __slots__ = (
        "first_seen",
        "history",
        "lesion_id",
        "organ",
        "segment",
        "sessions",
        "sizes",
        "status",
    )

    def __init__(self, lesion_id: str, organ: str, segment: str | None, first_seen: date) -> None:
        self.lesion_id = lesion_id
        self.organ = organ
        self.segment = segment
        self.first_seen = first_seen
        self.status = "active"
        self.sizes: list[tuple[date, float]] = []
        self.sessions: list[int] = []
        self.history: list[tuple[date, str]] = []

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


class Rules:
    """What the walk reads of the protocol at every record, read once per protocol."""

    def __init__(self, protocol: Protocol) -> None:
        rfa, systemic = protocol.rfa, protocol.systemic
        self.cycle_days: dict[str, int] = dict(systemic.cycle_days)
        self.cycle_window_days: int = systemic.cycle_window_days
        self.pre_cycle_freshness_days: int = systemic.pre_cycle_lab_freshness_days
        self.separation_days: int = rfa.separation_days
        # an agent's days before / after a session: the longer of its holds and the separation
        self.before_rfa: dict[str, int] = {}
        self.after_rfa: dict[str, int] = {}
        for h in rfa.agent_holds:
            before = self.before_rfa.get(h.agent, self.separation_days)
            self.before_rfa[h.agent] = max(before, h.days_before_rfa)
            after = self.after_rfa.get(h.agent, self.separation_days)
            self.after_rfa[h.agent] = max(after, h.days_after_rfa)
        self.max_hold: int = max([rfa.separation_days, *self.before_rfa.values()])
        self.max_sessions: int = rfa.max_sessions
        self.min_lesions_per_session: int = rfa.min_lesions_per_session
        self.max_lesions_per_session: int = rfa.max_lesions_per_session
        self.pre_cycle_labs: list[GateCriterion] = list(systemic.pre_cycle_labs)
        self.gate_criteria: list[GateCriterion] = list(protocol.lab_gate.criteria)
        self.gate_freshness_days: int = protocol.lab_gate.freshness_days
        response = protocol.response
        self.effective: frozenset[str] = frozenset(response.effective)
        self.new_liver_lesions_are_candidates: bool = (
            response.new_liver_lesions_after_first_rfa_are_candidates
        )
        # the cycles a block may hold: (min, max) by block
        self.block_cycles: dict[str, tuple[int, int]] = {
            "induction": (protocol.induction.min_cycles, protocol.induction.max_cycles),
            "consolidation": (protocol.consolidation.min_cycles, protocol.consolidation.max_cycles),
        }

    def cycle_length(self, regimen: str) -> int | None:
        """As :meth:`~rfatrial.kernel.protocol.Systemic.cycle_length`."""
        return self.cycle_days.get(regimen.upper())

    def hold(self, cycle: SystemicCycle, *, before_rfa: bool) -> int:
        """As :meth:`~rfatrial.kernel.protocol.Rfa.hold_for` of the cycle's agents."""
        table = self.before_rfa if before_rfa else self.after_rfa
        days = self.separation_days
        for agent in cycle.agents:
            days = max(days, table.get(agent.name.lower(), days))
        return days


# Rules by protocol identity (the protocol is kept so that its id stays its own).
_RULES: Final[dict[int, tuple[Protocol, Rules]]] = {}


def rules_for(protocol: Protocol) -> Rules:
    """The :class:`Rules` of ``protocol``, made once."""
    found = _RULES.get(id(protocol))
    if found is not None and found[0] is protocol:
        return found[1]
    if len(_RULES) > 256:
        _RULES.clear()
    made = Rules(protocol)
    _RULES[id(protocol)] = (protocol, made)
    return made


class Walk:
    """Mutable state while the engine walks the history (a plain class: compiled, its
    constructor is cheap)."""

    def __init__(self, protocol: Protocol, today: date) -> None:
        self.protocol = protocol
        self.today = today
        self.rules = rules_for(protocol)
        self.max_hold = self.rules.max_hold
        self.arm: str | None = None
        self.randomized: date | None = None
        self.screened: date | None = None
        self.eligible = False
        self.phase = "not_screened"
        self.block: str | None = None  # "induction" | "consolidation"
        self.block_cycles = 0
        self.cycles: list[tuple[int, SystemicCycle]] = []
        self.sessions: list[tuple[int, RfaSession]] = []
        self.pending_scans: list[int] = []  # session numbers awaiting the 1-month scan
        self.rfa_open: ImagingAssessment | None = None  # the scan that found therapy effective
        self.last_effective: ImagingAssessment | None = None  # the last response scan, if effective
        self.rfa_stopped: str | None = None
        self.gate_failures = 0
        self.first_failure: date | None = None
        self.gate_result: Judged | None = None
        self.last_panel: LabPanel | None = None
        self.pre_cycle_failure: date | None = None
        self.off_study: date | None = None
        self.lesions: dict[str, Lesion] = {}
        self.responses: list[ResponseRecord] = []
        self.deviations: list[Deviation] = []
        self.issues: list[str] = []
        self.visits: dict[str, tuple[int, date, tuple[str, ...]]] = {}
        self.judged: dict[int, Judged] = {}
        self.holds: dict[tuple[int, bool], int] = {}
        self.pre_cycle: dict[int, bool] = {}

    def pre_cycle_labs_pass(self, panel: LabPanel) -> bool:
        """Whether ``panel`` passes the pre-cycle labs (a value not drawn does not fail), judged
        once per walk: the cycle it precedes and every next-action call after it ask again
        (memoized like the gate: the walk keeps its panels)."""
        found = self.pre_cycle.get(id(panel))
        if found is None:
            criteria = self.rules.pre_cycle_labs
            found = self.pre_cycle[id(panel)] = panel_passes(panel, criteria, missing_ok=True)
        return found

    def gate_check(self, panel: LabPanel) -> Judged:
        """The pre-RFA gate on ``panel``, judged once per evaluation."""
        found = self.judged.get(id(panel))
        if found is None:
            found = self.judged[id(panel)] = Judged(panel, self.rules.gate_criteria)
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
            Deviation(code, day, render(key, params), rule, key, params, index, justification)
        )

    def hold(self, cycle: SystemicCycle, *, before_rfa: bool) -> int:
        """Days between ``cycle`` and an RFA session (memoized: the walk keeps its cycles)."""
        key = (id(cycle), before_rfa)
        found = self.holds.get(key)
        if found is None:
            found = self.holds[key] = self.rules.hold(cycle, before_rfa=before_rfa)
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
