"""The study protocol as typed, validated data.

The protocol lives in one human-edited TOML file (``data/protocol.toml``, shipped with the package).
:func:`load_protocol` reads and validates it; a wrong file raises :class:`ProtocolError` whose
message names each bad key and the rule it breaks.

Examples
--------
>>> protocol = default_protocol()
>>> protocol.rfa.max_sessions
3
>>> protocol.induction.min_cycles, protocol.induction.max_cycles
(2, 4)
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    PrivateAttr,
    Tag,
    model_validator,
)

from rfatrial.kernel._data_file import format_validation_error, load_model, parse_model
from rfatrial.kernel._records import Record, record

__all__ = [
    "AgentHold",
    "DayWindow",
    "FollowUpPeriod",
    "GateCriterion",
    "Protocol",
    "ProtocolError",
    "ThresholdCriterion",
    "default_protocol",
    "default_protocol_path",
    "format_validation_error",
    "load_protocol",
    "parse_protocol",
]

PositiveInt = Annotated[int, Field(ge=1)]
NonNegativeInt = Annotated[int, Field(ge=0)]
Response = Literal["CR", "PR", "SD", "PD", "NON_CR_NON_PD"]


class ProtocolError(ValueError):
    """A protocol file that cannot be used; the message names each bad key and its rule."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


@record
class Study(Record):
    title: str
    short_title: str
    registry_id: str
    sponsor: str
    version: Annotated[str, Field(min_length=1)]
    effective_date: date


@record
class Stratum(Record):
    name: str
    levels: list[str]
    cut_point: int | None = None


@record
class Randomization(Record):
    arms: list[Literal["control", "experimental"]]
    ratio: list[PositiveInt]
    method: Literal["permuted_blocks", "minimization"]
    block_sizes: list[PositiveInt]
    randomize_within_days: PositiveInt
    minimization_probability: Annotated[float, Field(gt=0.5, le=1.0)]
    strata: list[Stratum]

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if sorted(self.arms) != ["control", "experimental"]:
            raise ValueError("arms must be exactly 'control' and 'experimental'")
        if len(self.ratio) != len(self.arms):
            raise ValueError("ratio must give one number per arm")
        unit = sum(self.ratio)
        bad = [b for b in self.block_sizes if b % unit]
        if bad:
            raise ValueError(f"block sizes {bad} are not multiples of the ratio total {unit}")
        return self


@record
class ThresholdCriterion(Record):
    """A lab value compared with a fixed threshold (in ``unit``) or a multiple of the ULN."""

    id: str | None = None
    analyte: str
    op: Literal[">=", "<="]
    value: float | None = None
    unit: str | None = None
    uln_multiple: Annotated[float, Field(gt=0)] | None = None

    @model_validator(mode="after")
    def _one_threshold(self) -> Self:
        if (self.value is None) == (self.uln_multiple is None):
            raise ValueError("give exactly one of 'value' (with 'unit') or 'uln_multiple'")
        if self.value is not None and self.unit is None:
            raise ValueError("a fixed 'value' needs its 'unit'")
        return self

    @property
    def key(self) -> str:
        return self.id or self.analyte


@record
class ScoreCriterion(Record):
    """A derived score that must fall in an allowed set (e.g. Child-Pugh class A)."""

    id: str
    score: Literal["child_pugh_class", "albi_grade"]
    allowed: list[str]

    @property
    def key(self) -> str:
        return self.id


def _criterion_kind(value: Any) -> str:
    has_score = "score" in value if isinstance(value, dict) else hasattr(value, "score")
    return "score_criterion" if has_score else "threshold_criterion"


GateCriterion = Annotated[
    Annotated[ThresholdCriterion, Tag("threshold_criterion")]
    | Annotated[ScoreCriterion, Tag("score_criterion")],
    Discriminator(_criterion_kind),
]


@record
class DayWindow(Record):
    """Earliest, target and latest day offsets from a reference date."""

    earliest: NonNegativeInt
    target: NonNegativeInt
    latest: NonNegativeInt

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if not self.earliest <= self.target <= self.latest:
            raise ValueError("must satisfy earliest <= target <= latest")
        return self


@record
class Systemic(Record):
    cycle_days: dict[str, PositiveInt]
    cycle_window_days: NonNegativeInt
    pre_cycle_labs: list[ThresholdCriterion]
    pre_cycle_lab_freshness_days: NonNegativeInt
    cycle_delay_days: PositiveInt
    first_cycle_after_randomization_days: DayWindow

    def cycle_length(self, regimen: str) -> int | None:
        """Days from one cycle to the next, or None for a regimen the protocol does not know."""
        return self.cycle_days.get(regimen.upper())


@record
class CycleRange(Record):
    min_cycles: NonNegativeInt
    max_cycles: PositiveInt
    start_latest_days: PositiveInt | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_cycles > self.max_cycles:
            raise ValueError("min_cycles must not exceed max_cycles")
        return self


@record
class ResponseRules(Record):
    criteria: Literal["RECIST 1.1"]
    effective: Annotated[list[Response], Field(min_length=1)]
    new_liver_lesions_after_first_rfa_are_candidates: bool
    scan_after_last_cycle_days: DayWindow

    @model_validator(mode="after")
    def _no_progression(self) -> Self:
        if "PD" in self.effective:
            raise ValueError("'effective' cannot include PD (no RFA after progression)")
        return self


@record
class AgentHold(Record):
    agent: str
    days_before_rfa: NonNegativeInt
    days_after_rfa: NonNegativeInt


@record
class Rfa(Record):
    max_sessions: PositiveInt
    min_lesions_per_session: PositiveInt
    max_lesions_per_session: PositiveInt
    separation_days: NonNegativeInt
    agent_holds: list[AgentHold]
    after_response_scan_days: DayWindow
    min_margin_mm: Annotated[float, Field(ge=0)]
    ideal_margin_mm: Annotated[float, Field(ge=0)]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.min_lesions_per_session > self.max_lesions_per_session:
            raise ValueError("min_lesions_per_session must not exceed max_lesions_per_session")
        if self.min_margin_mm > self.ideal_margin_mm:
            raise ValueError("min_margin_mm must not exceed ideal_margin_mm")
        return self

    def hold_for(self, agents: Iterable[str], *, before_rfa: bool) -> int:
        """Days between a cycle of ``agents`` and an RFA session: the longest hold of any agent."""
        return max(
            (self.hold_days(a, before_rfa=before_rfa) for a in agents), default=self.separation_days
        )

    def hold_days(self, agent: str, *, before_rfa: bool) -> int:
        """Days between ``agent`` and an RFA session: the longer of its hold and the separation."""
        days = self.separation_days
        for hold in self.agent_holds:
            if hold.agent == agent.lower():
                days = max(days, hold.days_before_rfa if before_rfa else hold.days_after_rfa)
        return days


@record
class Planner(Record):
    max_diameter_mm: Annotated[float, Field(gt=0)]
    ideal_max_diameter_mm: Annotated[float, Field(gt=0)]
    min_distance_to_critical_mm: Annotated[float, Field(ge=0)]
    heat_sink_distance_mm: Annotated[float, Field(ge=0)]
    require_us_visible: bool

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.ideal_max_diameter_mm > self.max_diameter_mm:
            raise ValueError("ideal_max_diameter_mm must not exceed max_diameter_mm")
        return self


@record
class LabGate(Record):
    freshness_days: NonNegativeInt
    repeat_after_days: PositiveInt
    postponement_limit_days: PositiveInt
    postponement_limit_failures: PositiveInt
    confirm_withdrawal_within_days: PositiveInt
    criteria: Annotated[list[GateCriterion], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> Self:
        keys = [c.key for c in self.criteria]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ValueError(f"criterion ids must be unique; repeated: {dupes}")
        return self


@record
class PostRfaScan(Record):
    days_after_rfa: PositiveInt
    window_days: NonNegativeInt
    modalities: list[Literal["CT", "MRI", "US", "CEUS"]]


@record
class FollowUpPeriod(Record):
    id_suffix: str
    from_month: PositiveInt
    to_month: PositiveInt
    every_months: PositiveInt
    window_days: NonNegativeInt
    components: Annotated[
        list[Literal["us_ceus", "ct_mri", "labs", "tumour_markers", "ecg"]], Field(min_length=1)
    ]

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.from_month > self.to_month:
            raise ValueError("from_month must not exceed to_month")
        return self


@record
class FollowUp(Record):
    anchor: Literal["randomization"]
    duration_months: PositiveInt
    periods: Annotated[list[FollowUpPeriod], Field(min_length=1)]


class Protocol(_Model):
    """The whole protocol; see ``data/protocol.toml`` for the meaning of each key."""

    study: Study
    randomization: Randomization
    systemic: Systemic
    induction: CycleRange
    consolidation: CycleRange
    response: ResponseRules
    rfa: Rfa
    planner: Planner
    lab_gate: LabGate
    post_rfa_scan: PostRfaScan
    follow_up: FollowUp

    _fingerprint: int = PrivateAttr(default=0)

    def model_post_init(self, context: Any, /) -> None:
        # Hash by content once, so that a protocol can key caches (lists inside are unhashable).
        self._fingerprint = hash(self.model_dump_json())

    def __hash__(self) -> int:
        return self._fingerprint

    @property
    def version(self) -> str:
        return self.study.version


def parse_protocol(data: dict[str, Any], *, source: str = "protocol") -> Protocol:
    """Validate an already-parsed protocol mapping."""
    return parse_model(Protocol, data, error=ProtocolError, source=source)


def load_protocol(path: str | Path) -> Protocol:
    """Read and validate a protocol TOML file.

    Raises
    ------
    ProtocolError
        If the file is missing, is not TOML, or breaks a rule; the message names the key.
    """
    return load_model(Protocol, path, error=ProtocolError)


def default_protocol_path() -> Path:
    """The protocol file shipped with the package."""
    return Path(str(resources.files("rfatrial.kernel") / "data" / "protocol.toml"))


@cache
def default_protocol() -> Protocol:
    """The shipped protocol, loaded once."""
    return load_protocol(default_protocol_path())
