"""A simulated care team: follows the engine's next actions for one virtual patient.

The loop asks the engine what is due, does the most urgent action on a date inside its window,
records what a real team would record (a cycle with its pre-cycle labs, a scan with measurements,
a lab panel, a session with its complications, a visit), and asks again. The patient behind the
records follows the patient model (:mod:`rfatrial.simulation.patient_model`): response and
toxicity of systemic therapy, lab values, per-lesion ablation outcomes, local tumour progression,
new lesions, and death and progression calibrated to a scenario.

The engine only ever sees events up to the loop's current day: the history is fed to an
incremental :class:`~rfatrial.kernel.pathway.PathwayState` one validated event at a time, in
date order. A compliant team (``Compliance()``, the default) writes histories in which the
engine must find no deviation. With ``Compliance(rate=r)`` the team, at each opportunity and with
probability ``r``, does one thing wrong (a late or missed visit, a late 1-month scan, a cycle
despite failed labs or too soon after a session, a session too soon after a cycle, with too many
lesions, with stale or failed labs); each is listed in :attr:`SimulatedPatient.injected` with the
deviation code and date the engine must report.

Examples
--------
>>> import random
>>> from datetime import date
>>> from rfatrial.kernel.protocol import default_protocol
>>> h = simulate_patient("S01-001", "S01", "experimental", random.Random(7), default_protocol(),
...                      start=date(2026, 1, 5), horizon_days=400)
>>> h.events[0].type, h.events[-1].date <= date(2027, 2, 9)
('screening', True)
"""

from __future__ import annotations

import bisect
import itertools
import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, cast

from rfatrial.kernel.evaluation import NextAction
from rfatrial.kernel.follow_up import planned_visits
from rfatrial.kernel.history import (
    EVENT_ORDER,
    AblatedLesion,
    AdverseEvent,
    Agent,
    Complication,
    Death,
    Event,
    FollowUpVisit,
    ImagingAssessment,
    LabPanel,
    LabResult,
    LesionMeasurement,
    LostToFollowUp,
    PatientHistory,
    PostRfaLesionResult,
    PostRfaScan,
    Randomization,
    RfaSession,
    Screening,
    SystemicCycle,
    Withdrawal,
)
from rfatrial.kernel.lab_gate import panel_passes
from rfatrial.kernel.pathway import PathwayState
from rfatrial.kernel.protocol import Protocol
from rfatrial.simulation._records import changer, maker
from rfatrial.simulation.patient_model import (
    DAYS_PER_MONTH,
    CourseTimes,
    GradedRange,
    PatientModel,
    default_patient_model,
)

__all__ = [
    "DEVIATION_KINDS",
    "Compliance",
    "InjectedDeviation",
    "LesionBaseline",
    "PatientBaseline",
    "PatientTruth",
    "SimulatedPatient",
    "draw_baseline",
    "simulate_patient",
    "simulate_patient_detail",
]

# What the team can do wrong, by the deviation code the engine reports for it.
DEVIATION_KINDS: Final = (
    "visit_out_of_window",
    "visit_missed",
    "post_rfa_scan_out_of_window",
    "cycle_despite_failed_labs",
    "cycle_within_separation",
    "rfa_within_separation",
    "rfa_too_many_lesions",
    "rfa_lab_gate_stale",
    "rfa_lab_gate_failed",
)

# The engine's same-day order (labs and scans before what is done that day): events of one day
# are fed to the engine in this order so that it can walk them one at a time.
_RANK: Final = EVENT_ORDER
# Several actions on one day: what is learnt (labs, scans) is done before what is decided (a
# session, a cycle), and nothing that the engine would read as known before a session or a cycle
# of the same day is recorded after it (the engine orders a day's events by _RANK).
_MAIN_RANK: Final = {
    "randomize": 1,
    "pre_rfa_labs": 2,
    "response_scan": 3,
    "follow_up_visit": 3,
    "post_rfa_scan": 4,
    "rfa_session": 5,
    "systemic_cycle": 6,
    "confirm_withdrawal": 9,
}
_FIRST_RANK: Final = {**_MAIN_RANK, "rfa_session": 2, "systemic_cycle": 2, "follow_up_visit": 2}
_DECISIONS: Final = frozenset({"rfa_session", "systemic_cycle"})


def _window(a: NextAction, today: date, decided: int, wait: date | None) -> tuple[date, date]:
    """The days on which the team does ``a``: from its earliest day (not before today, nor on
    today after a decision of a higher rank) to its latest, and for a cycle not before ``wait``
    (pre-cycle labs failed: the protocol's delay after them)."""
    lo = a.earliest if a.earliest > today else today
    if lo == today and _FIRST_RANK[a.kind] < decided:
        lo = today + _DAY
    hi = a.latest if a.latest > lo else lo
    if wait is not None and a.kind == "systemic_cycle":
        if wait > lo:
            lo = wait
        if lo > hi:
            hi = lo
    return lo, hi


# The records, built from the simulator's values without validating each (see _records).
_ablated_lesion = maker(AblatedLesion)
_adverse_event = maker(AdverseEvent)
_agent = maker(Agent)
_complication = maker(Complication)
_death = maker(Death)
_follow_up_visit = maker(FollowUpVisit)
_imaging = maker(ImagingAssessment)
_lab_panel = maker(LabPanel)
_lab_result = maker(LabResult)
_lesion_measurement = maker(LesionMeasurement)
_lost_to_follow_up = maker(LostToFollowUp)
_patient_history = maker(PatientHistory)
_remeasured = changer(LesionMeasurement, "diameter_mm")
_post_rfa_lesion_result = maker(PostRfaLesionResult)
_post_rfa_scan = maker(PostRfaScan)
_randomization = maker(Randomization)
_rfa_session = maker(RfaSession)
_screening = maker(Screening)
_systemic_cycle = maker(SystemicCycle)
_withdrawal = maker(Withdrawal)
_DAY: Final = timedelta(days=1)
_MAX_STEPS: Final = 5000
_COMPLICATIONS: Final = (
    ("Pain requiring additional analgesia, resolved during the procedure", "I"),
    ("Subcapsular haematoma, observed (hospital stay prolonged < 48 h)", "I"),
    ("Liver abscess drained percutaneously", "IIIa"),
    ("Biliary injury with permanent sequelae", "IVa"),
    ("Severe sequelae requiring assistance in daily life", "IVb"),
    ("Death", "V"),
)
# timedelta(days=n) for the spans the loop adds most (a table entry costs a tenth of a new one)
_DAYS: Final = tuple(timedelta(days=n) for n in range(1024))


def _days(n: int) -> timedelta:
    """``timedelta(days=n)``."""
    return _DAYS[n] if 0 <= n < 1024 else timedelta(days=n)


_SCALES: Final[list[float]] = [1.0, 10.0, 100.0]


def _round(x: float, ndigits: int) -> float:
    """``round(x, ndigits)`` for ``ndigits`` 1 or 2, the same float at a third of the cost.

    ``round(x, n)`` rounds the exact value of ``x`` to ``n`` decimals (half to even) and returns
    the float nearest to that decimal, going through a decimal string. When ``x * 10**n`` is not
    within 1e-6 of a tie, its nearest integer ``k`` is that of the exact value too (the product
    errs by far less), and ``k / 10**n`` is the float nearest to the decimal (a correctly rounded
    division): the same float. Near a tie, at zero or beyond 1e6, ``round`` itself is used.
    """
    scale = _SCALES[ndigits]
    s = x * scale
    if 0.0 < s < 1e6:
        k = round(s)
        if -0.499999 < s - k < 0.499999:
            return k / scale
    return round(x, ndigits)


def _braf_status(ras_status: str, braf_mutant: bool) -> str:
    """BRAF as the screening records it: tested with RAS on the same panel, so unknown when RAS
    is (the model draws a BRAF mutation only in RAS wild-type tumours)."""
    if ras_status == "unknown":
        return "unknown"
    return "mutant" if braf_mutant else "wild_type"


# --- compliance and what is returned ----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Compliance:
    """How closely the simulated team follows the protocol.

    Parameters
    ----------
    rate
        Probability that the team does one thing wrong at each opportunity (0: fully compliant).
    kinds
        Which deviations may be injected (codes of :data:`DEVIATION_KINDS`).
    spread_days
        Actions are done within this many days of the start of their window.
    """

    rate: float = 0.0
    kinds: frozenset[str] = frozenset(DEVIATION_KINDS)
    spread_days: int = 3

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError("rate must be in [0, 1]")
        unknown = sorted(set(self.kinds) - set(DEVIATION_KINDS))
        if unknown:
            raise ValueError(f"unknown deviation kinds: {', '.join(unknown)}")
        if self.spread_days < 0:
            raise ValueError("spread_days must not be negative")


@dataclass(frozen=True, slots=True)
class InjectedDeviation:
    """A deviation the team committed on purpose: the code and date the engine must report."""

    code: str
    date: date


@dataclass(frozen=True, slots=True)
class LesionBaseline:
    lesion_id: str
    diameter_mm: float
    segment: str
    us_visible: bool
    distance_to_vessel_mm: float


@dataclass(frozen=True, slots=True)
class PatientBaseline:
    """Who the patient is at screening (drawn from the patient model)."""

    sex: str
    age: int
    ecog: int
    ras_status: str
    braf_mutant: bool
    cea_ng_ml: float
    extrahepatic_disease: bool
    lesions: tuple[LesionBaseline, ...]
    regimen: str
    bevacizumab: bool
    anti_egfr: bool

    @property
    def liver_lesion_count(self) -> int:
        return len(self.lesions)


@dataclass(frozen=True, slots=True)
class PatientTruth:
    """The hidden course behind a history (what the scenario drew), for checks and analyses."""

    arm: str
    randomized: date | None
    death: date | None
    progression: date | None
    progression_seen: date | None
    dropout: date | None
    braf_mutant: bool


@dataclass(frozen=True, slots=True)
class SimulatedPatient:
    history: PatientHistory
    injected: tuple[InjectedDeviation, ...]
    truth: PatientTruth
    evaluations: int


class _Choice:
    """A weighted choice among fixed items, drawn as ``rng.choices(items, weights)[0]`` draws it
    (one ``rng.random()``, the same item), without summing the weights at every draw."""

    __slots__ = ("cumulative", "hi", "items", "total")

    def __init__(self, items: Iterable[Any], weights: Iterable[float]) -> None:
        self.items = list(items)
        self.cumulative = list(itertools.accumulate(weights))
        if len(self.cumulative) != len(self.items):
            raise ValueError("one weight per item")
        self.total = self.cumulative[-1] + 0.0
        if not 0.0 < self.total < math.inf:
            raise ValueError("the weights must add up to a positive, finite total")
        self.hi = len(self.items) - 1

    def draw(self, rng: random.Random) -> Any:
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.total, 0, self.hi)]


# Choices by the weights of the patient model they come from (the model is frozen; the weights
# are kept with their choice so that their id stays theirs).
_CHOICES: Final[dict[int, tuple[object, _Choice]]] = {}


def _choice(weights: tuple[float, ...] | Mapping[Any, float]) -> _Choice:
    """The choice among a weight table's keys (a mapping) or positions (a tuple)."""
    found = _CHOICES.get(id(weights))
    if found is None or found[0] is not weights:
        if len(_CHOICES) > 1024:
            _CHOICES.clear()
        if isinstance(weights, Mapping):
            choice = _Choice(weights, weights.values())
        else:
            choice = _Choice(range(len(weights)), weights)
        found = _CHOICES[id(weights)] = (weights, choice)
    return found[1]


def _vessel(rng: random.Random, model: PatientModel) -> float:
    b = model.baseline
    return _round(
        min(200.0, b.vessel_distance_median_mm * math.exp(rng.gauss(0.0, b.vessel_distance_sdlog))),
        1,
    )


def draw_baseline(rng: random.Random, model: PatientModel | None = None) -> PatientBaseline:
    """Draw a patient's baseline from the patient model."""
    m = model or default_patient_model()
    b, s = m.baseline, m.systemic
    age = round(rng.gauss(b.age_mean, b.age_sd))
    age = min(b.age_max, max(b.age_min, age))
    u = rng.random()
    ras = (
        "mutant"
        if u < b.ras_mutant
        else "unknown"
        if u < b.ras_mutant + b.ras_unknown
        else "wild_type"
    )
    n = 2 + _choice(b.lesion_count_weights).draw(rng)
    lesions = []
    for k in range(n):
        d = b.diameter_median_mm * math.exp(rng.gauss(0.0, b.diameter_sdlog))
        d = _round(min(b.diameter_max_mm, max(b.diameter_min_mm, d)), 1)
        lesions.append(
            LesionBaseline(
                f"L{k + 1}",
                d,
                _choice(b.segment_weights).draw(rng),
                rng.random() < b.us_visible_probability,
                _vessel(rng, m),
            )
        )
    return PatientBaseline(
        sex="F" if rng.random() < b.female_fraction else "M",
        age=age,
        ecog=_choice(b.ecog_weights).draw(rng),
        ras_status=ras,
        braf_mutant=ras == "wild_type" and rng.random() < b.braf_mutant_in_ras_wild_type,
        cea_ng_ml=_round(b.cea_median_ng_ml * math.exp(rng.gauss(0.0, b.cea_sdlog)), 1),
        extrahepatic_disease=rng.random() < b.extrahepatic_disease_probability,
        lesions=tuple(lesions),
        regimen=_choice(s.regimen_weights).draw(rng),
        bevacizumab=rng.random() < s.bevacizumab_probability,
        anti_egfr=ras == "wild_type" and rng.random() < s.anti_egfr_probability_ras_wild_type,
    )


# --- the hidden state of the patient ----------------------------------------------------------


@dataclass(slots=True)
class _Lesion:
    lesion_id: str
    diameter: float
    segment: str | None
    visible: bool
    vessel: float
    organ: str = "liver"
    ablated: bool = False  # ever ablated: no longer measured (RECIST treats it as treated)
    residual: bool = False  # the 1-month scan will show residual tumour
    ltp_day: date | None = None
    margin: float | None = None
    last: LesionMeasurement | None = None  # the last measurement (frozen: shared by records)
    measured: float = 0.0  # its diameter (kept here: a native field reads faster than a record's)

    def measurement(self) -> LesionMeasurement:
        last = self.last
        if last is not None and self.measured == self.diameter:
            return last
        # only the diameter changes: the last measurement with the new one
        last = self._measure() if last is None else _remeasured(last, self.diameter)
        self.last, self.measured = last, self.diameter
        return last

    def _measure(self) -> LesionMeasurement:
        if self.organ == "liver":
            return _lesion_measurement(
                lesion_id=self.lesion_id,
                organ=self.organ,
                diameter_mm=self.diameter,
                segment=self.segment,
                us_visible=self.visible,
                distance_to_vessel_mm=self.vessel,
            )
        return _lesion_measurement(
            lesion_id=self.lesion_id, organ=self.organ, diameter_mm=self.diameter
        )


@dataclass(slots=True)
class _Toxicity:
    lab: str
    grade: int
    start: date
    end: date


@dataclass(slots=True)
class _Patient:
    rng: random.Random
    model: PatientModel
    base: PatientBaseline
    lesions: dict[str, _Lesion]
    next_id: int
    cea: float
    tables: _Tables  # what its lab panels are drawn from (the model's, made once)
    toxicities: list[_Toxicity] = field(default_factory=list)
    sessions: dict[int, tuple[date, list[str]]] = field(default_factory=dict)
    scans: int = 0  # response scans done
    progression_day: date | None = None
    progression_seen: date | None = None
    inr_abnormal_until: date | None = None

    def new_lesion(self, diameter: float, organ: str = "liver") -> _Lesion:
        b = self.model.baseline
        lid = f"L{self.next_id}" if organ == "liver" else f"E{self.next_id}"
        self.next_id += 1
        x = _Lesion(
            lid,
            _round(diameter, 1),
            _choice(b.segment_weights).draw(self.rng) if organ == "liver" else None,
            self.rng.random() < b.us_visible_probability,
            _vessel(self.rng, self.model),
            organ,
        )
        self.lesions[lid] = x
        return x

    def measured(self) -> list[_Lesion]:
        return [x for x in self.lesions.values() if not x.ablated]


# --- lab panels --------------------------------------------------------------------------------


class _Results(dict[float, LabResult]):
    """The results of one analyte by value, one record per value: the values are rounded, so
    that most have been drawn before, and a record is frozen, so that panels share it. A dict
    that makes what it misses, so that a value found costs no call."""

    __slots__ = ("analyte", "uln", "unit")

    def __init__(self, analyte: str, unit: str, uln: float | None = None) -> None:
        super().__init__()
        self.analyte, self.unit, self.uln = analyte, unit, uln

    def __missing__(self, value: float) -> LabResult:
        if len(self) >= 20_000:
            self.clear()
        found = self[value] = _lab_result(
            analyte=self.analyte, value=value, unit=self.unit, uln=self.uln
        )
        return found


Span = tuple[float, float]  # (a, b - a): rng.uniform(a, b) is a + (b - a) * rng.random()


def _span(pair: tuple[float, float]) -> Span:
    return pair[0], pair[1] - pair[0]


class _Tables:
    """What lab panels and ablation margins are drawn from, taken once from a patient model."""

    def __init__(self, model: PatientModel) -> None:
        labs = model.labs

        def graded(r: GradedRange) -> tuple[Span, ...]:
            return tuple(_span(r.for_grade(g)) for g in range(5))

        self.neutrophils = graded(labs.neutrophils)
        self.platelets = graded(labs.platelets)
        self.platelets_grade_3 = _span(labs.platelets.grade_3)
        self.hemoglobin = graded(labs.hemoglobin)
        self.alt = graded(labs.alt)
        self.ast_ratio = _span((0.7, 1.2))
        self.bilirubin = _span(labs.bilirubin_umol_l)
        self.albumin = _span(labs.albumin_g_l)
        self.creatinine = _span(labs.creatinine_umol_l)
        self.inr_normal, self.inr_abnormal = _span(labs.inr.normal), _span(labs.inr.abnormal)
        self.alt_uln, self.ast_uln = labs.alt_uln, labs.ast_uln
        self.gate_failure = labs.gate_failure
        self.results = (
            _Results("neutrophils", "10^9/L"),
            _Results("platelets", "10^9/L"),
            _Results("hemoglobin", "g/dL"),
            _Results("inr", "ratio"),
            _Results("bilirubin", "µmol/L", labs.bilirubin_uln),
            _Results("alt", "U/L", labs.alt_uln),
            _Results("ast", "U/L", labs.ast_uln),
            _Results("albumin", "g/L"),
            _Results("creatinine", "µmol/L", labs.creatinine_uln),
        )
        self.cea = _Results("cea", "ng/mL")
        # an ablation's margin band (<5, 5-10, >10 mm): of a lesion up to 30 mm, of a larger one
        rfa = model.rfa
        small = list(rfa.margin_band_weights)
        shift = rfa.large_lesion_shift * (small[1] + small[2])
        large = [
            small[0] + shift,
            small[1] * (1 - rfa.large_lesion_shift),
            small[2] * (1 - rfa.large_lesion_shift),
        ]
        self.margin_band_small, self.margin_band_large = (
            _Choice(range(3), small),
            _Choice(range(3), large),
        )


_TABLES: Final[dict[int, tuple[PatientModel, _Tables]]] = {}


def _tables(model: PatientModel) -> _Tables:
    found = _TABLES.get(id(model))
    if found is None or found[0] is not model:
        if len(_TABLES) > 64:
            _TABLES.clear()
        found = _TABLES[id(model)] = (model, _Tables(model))
    return found[1]


def _panel(
    p: _Patient,
    day: date,
    *,
    gate: bool = False,
    markers: bool = False,
    force: str | None = None,
    after_rfa: date | None = None,
) -> LabPanel:
    """A lab panel drawn on ``day`` from the patient's state.

    ``force``: "cycle" makes it fail the pre-cycle thresholds, "gate" the pre-RFA gate.
    Each value is drawn as ``rng.uniform`` draws it (the same numbers), from tables made once.
    """
    rng, t = p.rng, p.tables
    uniform = rng.random
    neutrophils_grade = platelets_grade = hemoglobin_grade = alt_grade = 0
    for x in p.toxicities:
        if x.start <= day < x.end:
            lab, g = x.lab, x.grade
            if lab == "neutrophils":
                neutrophils_grade = max(neutrophils_grade, g)
            elif lab == "platelets":
                platelets_grade = max(platelets_grade, g)
            elif lab == "hemoglobin":
                hemoglobin_grade = max(hemoglobin_grade, g)
            elif lab == "alt":
                alt_grade = max(alt_grade, g)
    if force == "cycle":
        neutrophils_grade = max(neutrophils_grade, 2)
    a, w = t.neutrophils[neutrophils_grade]
    neutrophils = _round(a + w * uniform(), 2)
    a, w = t.platelets[platelets_grade]
    platelets = round(a + w * uniform())
    if force == "gate":
        a, w = t.platelets_grade_3
        platelets = min(platelets, round(a + w * uniform()))
    a, w = t.hemoglobin[hemoglobin_grade]
    hemoglobin = _round(a + w * uniform(), 1)
    a, w = t.alt[alt_grade]
    alt_x = a + w * uniform()
    a, w = t.ast_ratio
    ast_x = alt_x * (a + w * uniform())
    a, w = t.bilirubin
    bilirubin = a + w * uniform()
    a, w = t.albumin
    albumin = a + w * uniform()
    if after_rfa is not None:
        r = p.model.rfa
        fade = max(0.0, 1.0 - (day - after_rfa).days / r.alt_recovery_days)
        rise = 1.0 + (rng.uniform(*r.alt_rise_factor) - 1.0) * fade
        alt_x, ast_x = alt_x * rise, ast_x * rise
        bilirubin *= 1.0 + (rng.uniform(*r.bilirubin_rise_factor) - 1.0) * fade
        albumin -= rng.uniform(*r.albumin_fall_g_l) * fade
    if gate and rng.random() < t.gate_failure:
        p.inr_abnormal_until = day + _days(rng.randint(3, 10))
    inr_abnormal = p.inr_abnormal_until is not None and day < p.inr_abnormal_until
    a, w = t.inr_abnormal if inr_abnormal else t.inr_normal
    inr = _round(a + w * uniform(), 2)
    a, w = t.creatinine
    creatinine = round(a + w * uniform())
    # float(): the values a validated record would hold (a float field turns 180 into 180.0)
    n, pl, hb, inr_, bili, alt, ast, alb, crea = t.results
    results = [
        n[neutrophils],
        pl[float(platelets)],
        hb[hemoglobin],
        inr_[inr],
        bili[float(round(bilirubin))],
        alt[float(round(alt_x * t.alt_uln))],
        ast[float(round(ast_x * t.ast_uln))],
        alb[float(round(albumin))],
        crea[float(creatinine)],
    ]
    if markers:
        results.append(t.cea[_round(p.cea, 1)])
    return _lab_panel(date=day, results=results, ascites="none", encephalopathy="none")


# --- the loop ---------------------------------------------------------------------------------


@dataclass(slots=True)
class _Deferred:
    day: date
    code: str


class _Loop:
    """One patient's closed loop: the hidden course, the records, the engine's state."""

    def __init__(
        self,
        patient_id: str,
        site: str,
        arm: str,
        rng: random.Random,
        protocol: Protocol,
        start: date,
        horizon_days: int,
        model: PatientModel,
        course: CourseTimes,
        compliance: Compliance,
        baseline: PatientBaseline,
        stratum: dict[str, str] | None,
    ) -> None:
        self.protocol, self.arm, self.rng = protocol, arm, rng
        self.model, self.course, self.compliance = model, course, compliance
        self.stratum = stratum or {}
        self.start, self.end = start, start + timedelta(days=horizon_days)
        self.patient_id = patient_id
        self.head: dict[str, Any] = {
            "patient_id": patient_id,
            "site": site,
            "sex": baseline.sex,
            "age_at_screening": baseline.age,
        }
        lesions = {
            x.lesion_id: _Lesion(
                x.lesion_id, x.diameter_mm, x.segment, x.us_visible, x.distance_to_vessel_mm
            )
            for x in baseline.lesions
        }
        self.p = _Patient(
            rng, model, baseline, lesions, len(lesions) + 1, baseline.cea_ng_ml, _tables(model)
        )
        self.state = PathwayState(protocol, patient_id)
        self.events: list[Event] = []
        self.last_key: tuple[date, int] | None = None
        self.pending: list[Event] = []  # records of later days (AEs, post-RFA labs)
        self.today = self.previous = start
        self.panel_days: dict[date, LabPanel] = {}
        self.imaging_days: set[date] = set()
        self.decided: dict[date, int] = {}  # highest rank of a session or cycle, by day
        self.failed_cycle_labs: date | None = None
        self.randomized: date | None = None
        self.death: date | None = None
        self.dropout: date | None = None
        self.progression: date | None = None
        self.off_study: date | None = None
        self.injected: list[InjectedDeviation] = []
        self.deferred: dict[tuple[str, int | str | None], _Deferred] = {}
        self.skipped: set[str] = set()
        self.missed: list[tuple[str, date]] = []
        self.evaluations = 0
        self.cut = self.end + _DAY  # death, loss to follow-up or the end of the horizon
        self.last_session: date | None = None
        self.cycle_since_session = True
        self.agents: tuple[Agent, ...] | None = None
        self.agent_names: frozenset[str] = frozenset()
        self.alt_recovery_days = model.rfa.alt_recovery_days

    # -- recording ------------------------------------------------------------------------------

    def record(self, records: list[Event]) -> None:
        """Feed ``records`` (all of one day) to the engine in its day order."""
        # each record's day and type read once, in the engine's order (the index keeps the given
        # order of equals)
        keyed = []
        for i, event in enumerate(records):
            kind = event.type
            keyed.append((event.date, _RANK[kind], i, kind, event))
        if len(keyed) > 1:
            keyed.sort()
        for day, rank, _, kind, event in keyed:
            key = (day, rank)
            self.events.append(event)
            if self.last_key is not None and key < self.last_key:
                self._rebuild()
            else:
                self.state.add(event)
                self.last_key = key
            if kind in _DECISIONS:
                self.decided[day] = max(self.decided.get(day, 0), rank)
            elif kind == "lab_panel":
                self.panel_days[day] = cast(LabPanel, event)
            elif kind == "imaging":
                self.imaging_days.add(day)

    def _rebuild(self) -> None:
        order = sorted(
            range(len(self.events)),
            key=lambda i: (self.events[i].date, _RANK[self.events[i].type], i),
        )
        self.events = [self.events[i] for i in order]
        self.state = PathwayState(self.protocol, self.patient_id)
        for e in self.events:
            self.state.add(e)
        last = self.events[-1]
        self.last_key = (last.date, _RANK[last.type])

    def flush(self, before: date, *, inclusive: bool = False) -> None:
        """Record the pending records dated before ``before`` (or on it with ``inclusive``)."""
        if not self.pending:  # most days
            return
        due = [r for r in self.pending if r.date < before or (inclusive and r.date == before)]
        if due:
            self.pending = [
                r for r in self.pending if not (r.date < before or (inclusive and r.date == before))
            ]
            self.record(due)

    def next_pending_labs(self) -> date | None:
        if not self.pending:
            return None
        days = [r.date for r in self.pending if r.type == "lab_panel"]
        return min(days) if days else None

    # -- the loop --------------------------------------------------------------------------------

    def run(self) -> None:
        self.screen()
        for _ in range(_MAX_STEPS):
            self.evaluations += 1
            today = self.today
            actions = [
                a
                for a in self.state.next_actions(today)
                if (a.latest >= today or self._key(a) in self.deferred)
                and (a.kind != "follow_up_visit" or a.visit_id not in self.skipped)
            ]
            if not actions:
                break
            a, day = self.choose(actions)
            labs_day = self.next_pending_labs()
            if labs_day is not None and labs_day < day:
                self.flush(labs_day, inclusive=True)
                self.today = labs_day
                continue
            if self.stop_before(day):
                return
            self.flush(day)
            self.previous, self.today = self.today, day
            self.perform(a, day)
        self.finish()

    def _key(self, a: NextAction) -> tuple[str, int | str | None]:
        return (a.kind, a.visit_id if a.kind == "follow_up_visit" else a.session)

    def choose(self, actions: list[NextAction]) -> tuple[NextAction, date]:
        """The action done next (the earliest window first, then by rank) and its day."""
        today, deferred = self.today, self.deferred
        decided = self.decided.get(today, 0)
        wait = None
        if self.failed_cycle_labs is not None:
            # labs failed this morning: the team waits before trying again
            wait = self.failed_cycle_labs + _days(self.protocol.systemic.cycle_delay_days)
        if len(actions) == 1 and not deferred:  # the common case
            a = actions[0]
            lo, hi = _window(a, today, decided, wait)
        else:
            windows: list[tuple[date, date]] = []
            best = -1
            best_key: tuple[date, int, date, str] | None = None
            for i, b in enumerate(actions):
                d = deferred.get(self._key(b)) if deferred else None
                window = (d.day, d.day) if d is not None else _window(b, today, decided, wait)
                windows.append(window)
                key = (window[0], _MAIN_RANK[b.kind], b.target, b.kind)
                if best_key is None or key < best_key:
                    best, best_key = i, key
            a = actions[best]
            lo, hi = windows[best]
            if deferred and self._key(a) in deferred:
                return a, lo
            for i, (_, other) in enumerate(windows):
                if i != best and lo <= other < hi:
                    hi = other  # done before another action's window closes
        spread = min((hi - lo).days, self.compliance.spread_days)
        # randrange(n + 1): randint(0, n) less a call (the same draw)
        return a, lo + _days(self.rng.randrange(max(0, spread) + 1))

    def stop_before(self, day: date) -> bool:
        """Death, loss to follow-up or the end of the horizon before ``day`` ends the history."""
        if self.cut > day:
            return False
        self.finish()
        return True

    def finish(self) -> None:
        """Record what happens up to the end of the horizon once no action is taken any more."""
        if self.off_study is None:
            if (
                self.dropout is not None
                and self.dropout <= self.end
                and (self.death is None or self.dropout < self.death)
            ):
                self.flush(self.dropout, inclusive=True)
                self.record([_lost_to_follow_up(date=self.dropout)])
                self.off_study, self.pending = self.dropout, []
                return
            stop = self.end if self.death is None else min(self.death, self.end)
            self.flush(stop, inclusive=True)
        if self.death is not None and self.death <= self.end:
            self.record([_death(date=self.death, cause="disease progression")])
        self.pending = []

    # -- screening and randomization -------------------------------------------------------------

    def screen(self) -> None:
        b, d = self.p.base, self.start
        self.record(
            [
                _screening(
                    date=d,
                    consent_date=d,
                    eligible=True,
                    liver_lesion_count=b.liver_lesion_count,
                    ras_status=b.ras_status,
                    braf_status=_braf_status(b.ras_status, b.braf_mutant),
                    ecog=b.ecog,
                    extrahepatic_disease=b.extrahepatic_disease,
                ),
                _imaging(
                    date=d,
                    modality="CT",
                    purpose="baseline",
                    lesions=[x.measurement() for x in self.p.lesions.values()],
                ),
                _panel(self.p, d, markers=True),
            ]
        )

    def randomize(self, day: date) -> list[Event]:
        self.randomized = day
        death, progression, dropout = self.course.draw(self.arm, self.rng)
        if math.isfinite(death):
            self.death = day + _days(max(1, math.ceil(death)))
        if math.isfinite(progression):
            self.progression = day + _days(max(1, math.ceil(progression)))
            self.p.progression_day = self.progression
        if math.isfinite(dropout):
            self.dropout = day + _days(max(1, math.ceil(dropout)))
        self.cut = min(d for d in (self.death, self.dropout, self.end + _DAY) if d is not None)
        if self.stratum:
            return [_randomization(date=day, arm=self.arm, stratum=dict(self.stratum))]
        return [_randomization(date=day, arm=self.arm)]

    # -- one action ------------------------------------------------------------------------------

    def inject(self, *kinds: str) -> str | None:
        """With the non-compliance rate, pick one of ``kinds`` to do wrong (None: do it right)."""
        if self.compliance.rate <= 0:
            return None
        allowed = [k for k in kinds if k in self.compliance.kinds]
        if not allowed or self.rng.random() >= self.compliance.rate:
            return None
        return self.rng.choice(allowed)

    def perform(self, a: NextAction, day: date) -> None:
        deferred = self.deferred.pop(self._key(a), None) if self.deferred else None
        if deferred is not None:
            self.injected.append(InjectedDeviation(deferred.code, day))
        kind = a.kind
        if kind == "randomize":
            self.record(self.randomize(day))
        elif kind == "systemic_cycle":
            self.cycle(day)
        elif kind == "response_scan":
            self.record([self.imaging(day, "response")])
        elif kind == "pre_rfa_labs":
            self.record([self.labs(day, gate=True)])
        elif kind == "rfa_session":
            self.session(a, day)
        elif kind == "post_rfa_scan":
            if deferred is None and (code := self.inject("post_rfa_scan_out_of_window")):
                self.defer(self._key(a), a.latest, code)
                return
            self.post_scan(a, day)
        elif kind == "follow_up_visit":
            if deferred is None and (code := self.inject("visit_out_of_window", "visit_missed")):
                if code == "visit_missed":
                    assert a.visit_id is not None
                    self.skipped.add(a.visit_id)
                    self.missed.append((code, a.latest))
                else:
                    self.defer(self._key(a), a.latest, code)
                return
            self.visit(a, day)
        elif kind == "confirm_withdrawal":
            self.record(
                [
                    _withdrawal(
                        date=day,
                        reason="pre-RFA lab gate still failing after the postponement limit",
                    )
                ]
            )
            self.off_study = day

    def defer(self, key: tuple[str, int | str | None], latest: date, code: str) -> None:
        self.deferred[key] = _Deferred(latest + _days(self.rng.randint(1, 5)), code)

    def labs(
        self, day: date, *, gate: bool = False, markers: bool = False, force: str | None = None
    ) -> LabPanel:
        after = self.last_session
        if after is not None and (day - after).days > self.alt_recovery_days:
            after = None
        return _panel(self.p, day, gate=gate, markers=markers, force=force, after_rfa=after)

    def day_panel(self, day: date) -> tuple[LabPanel, list[Event]]:
        """The panel of ``day``: the one already drawn, or a new one (returned to be recorded)."""
        found = self.panel_days.get(day)
        if found is not None:
            return found, []
        rec = self.labs(day)
        return rec, [rec]

    def cycle(self, day: date) -> None:
        if self.last_session is not None and not self.cycle_since_session:
            hold = self.protocol.rfa.hold_for(self._agent_names(), before_rfa=False)
            early = max(self.previous, self.last_session + timedelta(days=3))
            if (early - self.last_session).days < hold and self.inject("cycle_within_separation"):
                day = early
                self.injected.append(InjectedDeviation("cycle_within_separation", day))
                self.give_cycle(day, [])
                return
        if code := self.inject("cycle_despite_failed_labs"):
            rec = self.labs(day, force="cycle")
            self.injected.append(InjectedDeviation(code, day))
            self.give_cycle(day, [rec])
            return
        panel, recs = self.day_panel(day)
        if not panel_passes(panel, self.protocol.systemic.pre_cycle_labs, missing_ok=True):
            self.failed_cycle_labs = day
            self.record(recs)
            return
        self.give_cycle(day, recs)

    def _agents(self) -> list[Agent]:
        """The agents of each cycle (the records are frozen: every cycle shares them)."""
        if self.agents is None:
            b = self.p.base
            agents = [
                _agent(name=a.name, dose=a.dose, unit=a.unit)
                for a in self.model.systemic.regimens[b.regimen]
            ]
            if b.bevacizumab:
                agents.append(_agent(name="bevacizumab", dose=5.0, unit="mg/kg"))
            elif b.anti_egfr:
                agents.append(_agent(name="panitumumab", dose=6.0, unit="mg/kg"))
            self.agents = tuple(agents)
            self.agent_names = frozenset(a.name for a in agents)
        return list(self.agents)

    def _agent_names(self) -> list[str]:
        return [a.name for a in self._agents()]

    def give_cycle(self, day: date, recs: list[Event]) -> None:
        self.failed_cycle_labs = None
        self.cycle_since_session = True
        cycle = _systemic_cycle(date=day, regimen=self.p.base.regimen, agents=self._agents())
        self.record([*recs, cycle])
        self.toxicity(day, self.agent_names)

    def toxicity(self, day: date, agents: frozenset[str]) -> None:
        rng, tox = self.rng, self.model.toxicity
        for t in tox.terms:
            if t.only_with is not None and t.only_with not in agents:
                continue
            if rng.random() >= t.per_cycle:
                continue
            grade = 1 + _choice(t.grade_weights).draw(rng)
            onset = day + _days(rng.randint(*tox.onset_days))
            end = onset + _days(rng.randint(*tox.duration_days))
            if t.lab is not None:
                self.p.toxicities.append(_Toxicity(t.lab, grade, onset, end))
            self.pending.append(
                _adverse_event(
                    date=onset,
                    term=t.term,
                    grade=grade,
                    # modelling assumption: grade 3 or more toxicity needs hospital care
                    serious=grade >= 3,
                    related_to=["systemic"],
                )
            )

    # -- imaging --------------------------------------------------------------------------------

    def progress(
        self, day: date, *, growth_allowed: bool
    ) -> tuple[list[LesionMeasurement], bool, bool]:
        """Progression shown on a scan of ``day``: new lesions, extrahepatic, non-target flag."""
        p, rng, d = self.p, self.rng, self.model.disease
        first = p.progression_seen is None
        if first:
            p.progression_seen = day
            p.cea *= self.model.labs.cea_per_progression
        elif rng.random() >= d.further_progression:
            return [], False, False
        form = _choice(d.progression_form_weights).draw(rng)
        measurable = [x for x in p.measured() if x.organ == "liver" and x.diameter > 0]
        if form == "growth" and (not growth_allowed or not measurable):
            form = "new_liver"
        if form == "extrahepatic":
            x = p.new_lesion(rng.uniform(*d.new_lesion_diameter_mm), organ="lung")
            return [x.measurement()], True, False
        if form == "growth":
            for x in measurable:
                x.diameter = _round(min(250.0, x.diameter * rng.uniform(*d.growth_factor) + 3.0), 1)
            return [], False, True
        k = rng.randint(*d.new_lesions)
        return (
            [p.new_lesion(rng.uniform(*d.new_lesion_diameter_mm)).measurement() for _ in range(k)],
            False,
            False,
        )

    def imaging(self, day: date, purpose: str, visit_id: str | None = None) -> ImagingAssessment:
        p, rng, s = self.p, self.rng, self.model.systemic
        progressed = p.progression_day is not None and p.progression_day <= day
        new: list[LesionMeasurement] = []
        extrahepatic = non_target = False
        # the lesions known before this scan (those it finds are listed as new lesions)
        before = list(p.lesions.values())
        if progressed:
            new, extrahepatic, non_target = self.progress(day, growth_allowed=True)
        else:
            factor_range = s.later_factor
            if purpose == "response" and p.scans == 0:
                response = _choice(s.response_weights).draw(rng)
                factor_range = {"CR": (0.0, 0.0), "PR": s.pr_factor, "SD": s.sd_factor}[response]
            factor = rng.uniform(*factor_range)
            for x in p.measured():
                if x.organ == "liver":
                    x.diameter = _round(x.diameter * factor, 1) if factor > 0 else 0.0
        if purpose == "response":
            p.scans += 1
        ltp = [
            x.lesion_id for x in p.lesions.values() if x.ltp_day is not None and x.ltp_day <= day
        ]
        for lid in ltp:
            p.lesions[lid].ltp_day = None
        return _imaging(
            date=day,
            modality="CT",
            purpose=purpose,
            lesions=[x.measurement() for x in before if not x.ablated],
            new_lesions=new,
            local_progression=ltp,
            non_target_progression=non_target,
            extrahepatic_progression=extrahepatic,
            visit_id=visit_id,
        )

    # -- RFA ----------------------------------------------------------------------------------

    def session(self, a: NextAction, day: date) -> None:
        p, rng, r = self.p, self.rng, self.model.rfa
        rule = self.protocol.rfa
        candidates = [lid for lid in a.lesions if lid in p.lesions]
        # the ultrasound model: visible lesions first, then the smaller, then those far from vessels
        candidates.sort(
            key=lambda lid: (
                not p.lesions[lid].visible,
                p.lesions[lid].diameter,
                -p.lesions[lid].vessel,
            )
        )
        count = min(len(candidates), rule.max_lesions_per_session)
        pre: list[Event] = []
        kinds = ["rfa_lab_gate_failed", "rfa_lab_gate_stale"]
        if len(candidates) > rule.max_lesions_per_session:
            kinds.append("rfa_too_many_lesions")
        if rule.separation_days >= 4:
            kinds.append("rfa_within_separation")
        code = self.inject(*kinds)
        if code == "rfa_too_many_lesions":
            count = rule.max_lesions_per_session + 1
        elif code == "rfa_lab_gate_failed":
            pre.append(self.labs(day, gate=True, force="gate"))
        elif code == "rfa_lab_gate_stale":
            last = max(self.panel_days)
            stale = max(day, last + timedelta(days=self.protocol.lab_gate.freshness_days + 1))
            if any(rec.date <= stale for rec in self.pending):
                code = None  # something would be recorded in between: do it right
            else:
                day = stale
        elif code == "rfa_within_separation":
            session_day = max(day, self.previous + _DAY)
            if any(rec.date <= session_day for rec in self.pending):
                code = None
            else:
                cycle_day = max(self.previous, session_day - timedelta(days=3))
                agents = self._agents()
                self.record(
                    [_systemic_cycle(date=cycle_day, regimen=p.base.regimen, agents=agents)]
                )
                self.toxicity(cycle_day, self.agent_names)
                day = session_day
        if code is not None:
            self.injected.append(InjectedDeviation(code, day))
        self.today = day
        chosen = candidates[:count]
        ablated = []
        tables = p.tables
        for lid in chosen:
            x = p.lesions[lid]
            k = r.band(x.diameter)
            success = r.technical_success[k] * (1.0 if x.visible else r.not_visible_success_factor)
            technical = rng.random() < success
            bands = tables.margin_band_large if x.diameter > 30 else tables.margin_band_small
            band = bands.draw(rng)
            margin = _round(rng.uniform(*((0.0, 4.9), (5.0, 10.0), (10.1, 15.0))[band]), 1)
            x.ablated, x.margin, x.ltp_day = True, margin, None
            x.residual = not technical or rng.random() < r.residual[k]
            ablated.append(
                _ablated_lesion(lesion_id=lid, technical_success=technical, margin_mm=margin)
            )
        complications = []
        if rng.random() < r.complication_probability:
            grade = 1 + _choice(r.cirse_grade_weights).draw(rng)
            text, clavien = _COMPLICATIONS[grade - 1]
            complications.append(
                _complication(
                    description=text, cirse_grade=grade, clavien_dindo=clavien, onset_date=day
                )
            )
        rec = _rfa_session(
            date=day,
            lesions=ablated,
            complications=complications,
            justification="fewer lesions remained than the usual minimum per session"
            if len(chosen) < rule.min_lesions_per_session
            else None,
        )
        number = len(p.sessions) + 1
        p.sessions[number] = (day, chosen)
        self.record([*pre, rec])
        self.last_session, self.cycle_since_session = day, False
        self.pending.append(self.labs(day + _days(r.post_labs_day)))

    def post_scan(self, a: NextAction, day: date) -> None:
        p, rng = self.p, self.rng
        number = a.session or len(p.sessions)
        _, chosen = p.sessions.get(number, (day, []))
        results = []
        for lid in chosen:
            x = p.lesions[lid]
            outcome = "residual" if x.residual else "complete"
            results.append(_post_rfa_lesion_result(lesion_id=lid, outcome=outcome))
            if x.residual:
                x.residual = False
            else:
                hazard = self.model.rfa.ltp_monthly_hazard(x.margin or 0.0, x.diameter)
                months = rng.expovariate(hazard) if hazard > 0 else math.inf
                if months * DAYS_PER_MONTH < (self.end - day).days:
                    x.ltp_day = day + _days(max(1, math.ceil(months * DAYS_PER_MONTH)))
        if p.progression_day is not None and p.progression_day <= day:
            new, extrahepatic, _ = self.progress(day, growth_allowed=False)
            rec = _post_rfa_scan(
                date=day,
                modality="CT",
                results=results,
                new_lesions=new,
                extrahepatic_progression=extrahepatic,
            )
        else:
            rec = _post_rfa_scan(date=day, modality="CT", results=results)
        self.record([rec])
        self.imaging_days.add(day)

    # -- follow-up ----------------------------------------------------------------------------

    def visit(self, a: NextAction, day: date) -> None:
        assert a.visit_id is not None and self.randomized is not None
        planned = planned_visits(self.randomized, self.protocol)
        components = list(planned[a.visit_id].components)
        recs: list[Event] = []
        if "ct_mri" in components and day not in self.imaging_days:
            recs.append(self.imaging(day, "follow_up", a.visit_id))
        if ("labs" in components or "tumour_markers" in components) and day not in self.panel_days:
            recs.append(self.labs(day, markers="tumour_markers" in components))
        recs.append(_follow_up_visit(date=day, visit_id=a.visit_id, components=components))
        self.record(recs)

    # -- the result ----------------------------------------------------------------------------

    def result(self) -> SimulatedPatient:
        # the events are in the engine's order: record() appends in that order or rebuilds
        history = _patient_history(**self.head, events=list(self.events))
        stop = self.off_study
        if stop is None:
            stop = self.events[-1].date  # the latest: the events are in day order
        injected = list(self.injected)
        injected.extend(InjectedDeviation(code, d) for code, d in self.missed if d < stop)
        injected.sort(key=lambda x: (x.date, x.code))
        truth = PatientTruth(
            arm=self.arm,
            randomized=self.randomized,
            death=self.death,
            progression=self.progression,
            progression_seen=self.p.progression_seen,
            dropout=self.dropout,
            braf_mutant=self.p.base.braf_mutant,
        )
        return SimulatedPatient(history, tuple(injected), truth, self.evaluations)


def simulate_patient_detail(
    patient_id: str,
    site: str,
    arm: str,
    rng: random.Random,
    protocol: Protocol,
    *,
    start: date,
    horizon_days: int,
    model: PatientModel | None = None,
    course: CourseTimes | None = None,
    compliance: Compliance | None = None,
    baseline: PatientBaseline | None = None,
    stratum: dict[str, str] | None = None,
) -> SimulatedPatient:
    """Simulate one patient followed by the care team: the history, injected deviations, truth.

    Parameters
    ----------
    patient_id, site, arm
        Who, where, and the arm the patient will be randomized to.
    rng
        The random source; the same seed gives the same history.
    protocol
        The protocol whose next actions the team follows.
    start, horizon_days
        The screening date and how long to follow the patient (nothing is recorded after).
    model
        The patient model (default: the shipped ``data/patient_model.toml``).
    course
        Hazards of death, progression and dropout (default: the "clocc" scenario).
    compliance
        How the team follows the protocol (default: fully compliant).
    baseline
        The patient at screening (default: drawn from ``model`` with ``rng``).
    stratum
        Stratification factors recorded with the randomization.
    """
    model = model or default_patient_model()
    loop = _Loop(
        patient_id,
        site,
        arm,
        rng,
        protocol,
        start,
        horizon_days,
        model,
        course or CourseTimes.from_scenario("clocc"),
        compliance or Compliance(),
        baseline or draw_baseline(rng, model),
        stratum,
    )
    loop.run()
    return loop.result()


def simulate_patient(
    patient_id: str,
    site: str,
    arm: str,
    rng: random.Random,
    protocol: Protocol,
    *,
    start: date,
    horizon_days: int,
    model: PatientModel | None = None,
    course: CourseTimes | None = None,
    compliance: Compliance | None = None,
) -> PatientHistory:
    """The history of one virtual patient followed by the care team (see
    :func:`simulate_patient_detail` for the parameters)."""
    return simulate_patient_detail(
        patient_id,
        site,
        arm,
        rng,
        protocol,
        start=start,
        horizon_days=horizon_days,
        model=model,
        course=course,
        compliance=compliance,
    ).history
