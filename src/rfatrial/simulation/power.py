"""Power of the log-rank test in a two-arm survival trial: analytic (Schoenfeld) and simulated.

The study compares systemic therapy alone (control) with systemic therapy plus staged RFA
(experimental). Survival is exponential in each arm, set by the control median and the hazard
ratio experimental : control; patients enter uniformly over the accrual period; loss to
follow-up (dropout) is exponential, given like rpact as the probability of dropping out by a
time (``dropout_rate`` by ``dropout_time``). The analysis is event-driven: it takes place when
the planned number of events has been observed.

The analytic results reproduce R's rpact (``getPowerSurvival``, ``getEventProbabilities``,
fixed design, ``typeOfComputation = "Schoenfeld"``); the simulation reproduces rpact's
``getSimulationSurvival`` with ``plannedEvents`` (same accrual and allocation pattern, same
log-rank statistic), vectorized with numpy over trials.

Conventions
-----------
* Times are in months (any unit works if all times use it).
* ``allocation_ratio`` is experimental : control (rpact's ``allocationRatioPlanned``; rpact's
  group 1 is our experimental arm, group 2 our control arm).
* ``sided=2``: the test rejects when ``|Z| >= z(1 - alpha/2)``; power is the probability of
  rejecting in either direction (as rpact's ``getPowerSurvival``). ``sided=1``: the test
  rejects in favour of the experimental arm only (hazard ratio < 1), at level ``alpha``.

Examples
--------
>>> from rfatrial.simulation.power import analytic_power, load_scenario
>>> clocc = load_scenario("clocc", "os")
>>> result = analytic_power(clocc, n_subjects=200, events=106, alpha=0.05)
>>> round(result.power, 4), round(result.analysis_time, 2)
(0.8007, 76.15)
"""

from __future__ import annotations

import itertools
import math
import os
import tomllib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from fractions import Fraction
from importlib import resources
from typing import Literal

import numpy as np
from numpy.typing import NDArray

# scipy ships no type stubs (scipy-stubs is not a dependency): the ignores keep mypy quiet
# and stay valid if the stubs are added later.
from scipy.optimize import brentq  # type: ignore[import-untyped, unused-ignore]
from scipy.special import ndtr, ndtri  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "AccrualPattern",
    "AnalyticPower",
    "EventProbability",
    "SimulatedPower",
    "SurvivalScenario",
    "allocation_pattern",
    "analysis_time",
    "analytic_power",
    "critical_value",
    "event_probability",
    "expected_events",
    "load_scenario",
    "scenario_names",
    "simulate_power",
]

AccrualPattern = Literal["even", "random"]

_LN2 = math.log(2.0)
_CHUNK_PATIENTS = 1 << 16  # patients simulated per chunk (default chunk size)


# --------------------------------------------------------------------------------------------
# Scenario
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SurvivalScenario:
    """Assumptions of a two-arm survival comparison with exponential survival.

    Parameters
    ----------
    control_median : float
        Median survival of the control arm (systemic therapy alone), months.
    hazard_ratio : float
        Hazard ratio experimental : control (below 1: the experimental arm does better).
    accrual_time : float
        Duration of uniform accrual, months.
    allocation_ratio : float, default 1.0
        Patients randomized to the experimental arm per patient in the control arm.
    dropout_rate_control, dropout_rate_experimental : float, default 0.0
        Probability of loss to follow-up by ``dropout_time`` in each arm (exponential
        dropout; rpact's ``dropoutRate2`` and ``dropoutRate1``).
    dropout_time : float, default 12.0
        Time at which the dropout rates apply, months.
    name, endpoint, citation : str
        Labels: scenario name, endpoint ("os", "pfs") and the source of the numbers.

    Examples
    --------
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> round(s.experimental_median, 2)
    69.83
    >>> s.with_hazard_ratio(1.0).experimental_median
    40.5
    """

    control_median: float
    hazard_ratio: float
    accrual_time: float
    allocation_ratio: float = 1.0
    dropout_rate_control: float = 0.0
    dropout_rate_experimental: float = 0.0
    dropout_time: float = 12.0
    name: str = ""
    endpoint: str = ""
    citation: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        _require(
            math.isfinite(self.control_median) and self.control_median > 0,
            "control_median must be positive",
        )
        _require(
            math.isfinite(self.hazard_ratio) and self.hazard_ratio > 0,
            "hazard_ratio must be positive",
        )
        _require(
            math.isfinite(self.accrual_time) and self.accrual_time > 0,
            "accrual_time must be positive",
        )
        _require(
            math.isfinite(self.allocation_ratio) and self.allocation_ratio > 0,
            "allocation_ratio must be positive",
        )
        for rate in (self.dropout_rate_control, self.dropout_rate_experimental):
            _require(0.0 <= rate < 1.0, "dropout rates must be in [0, 1)")
        _require(
            math.isfinite(self.dropout_time) and self.dropout_time > 0,
            "dropout_time must be positive",
        )

    @property
    def control_hazard(self) -> float:
        """Event hazard of the control arm, per month (``log(2) / control_median``)."""
        return _LN2 / self.control_median

    @property
    def experimental_hazard(self) -> float:
        """Event hazard of the experimental arm, per month."""
        return self.hazard_ratio * self.control_hazard

    @property
    def experimental_median(self) -> float:
        """Median survival of the experimental arm, months."""
        return self.control_median / self.hazard_ratio

    @property
    def control_dropout_hazard(self) -> float:
        """Dropout hazard of the control arm, per month."""
        return -math.log1p(-self.dropout_rate_control) / self.dropout_time

    @property
    def experimental_dropout_hazard(self) -> float:
        """Dropout hazard of the experimental arm, per month."""
        return -math.log1p(-self.dropout_rate_experimental) / self.dropout_time

    @property
    def has_dropout(self) -> bool:
        """Whether any patient can be lost to follow-up."""
        return self.dropout_rate_control > 0 or self.dropout_rate_experimental > 0

    def with_hazard_ratio(self, hazard_ratio: float) -> SurvivalScenario:
        """The same scenario with another hazard ratio (e.g. 1.0 for the null hypothesis)."""
        return replace(self, hazard_ratio=hazard_ratio)


def scenario_names() -> tuple[str, ...]:
    """Names of the scenarios shipped in ``rfatrial/data/scenarios.toml``.

    Examples
    --------
    >>> "clocc" in scenario_names() and "null" in scenario_names()
    True
    """
    return tuple(sorted(_scenario_table()))


def load_scenario(name: str, endpoint: str = "os") -> SurvivalScenario:
    """Load a named scenario from ``rfatrial/data/scenarios.toml``.

    Parameters
    ----------
    name : str
        Scenario name, e.g. ``"clocc"`` or ``"null"``.
    endpoint : str, default "os"
        ``"os"`` (overall survival) or ``"pfs"`` (progression-free survival).

    Returns
    -------
    SurvivalScenario
        With the endpoint's control median, hazard ratio and citation, and the scenario's
        accrual, allocation and dropout assumptions.

    Examples
    --------
    >>> pfs = load_scenario("clocc", "pfs")
    >>> pfs.control_median, pfs.hazard_ratio, pfs.accrual_time
    (9.9, 0.63, 36.0)
    """
    table = _scenario_table()
    if name not in table:
        raise KeyError(f"unknown scenario {name!r}; known: {', '.join(sorted(table))}")
    scenario = table[name]
    endpoint_table = scenario.get(endpoint)
    if not isinstance(endpoint_table, dict):
        raise KeyError(f"scenario {name!r} has no endpoint {endpoint!r}")

    def value(key: str, default: float) -> float:
        return float(endpoint_table.get(key, scenario.get(key, default)))

    dropout_rate = value("dropout_rate", 0.0)
    return SurvivalScenario(
        control_median=float(endpoint_table["control_median_months"]),
        hazard_ratio=float(endpoint_table["hazard_ratio"]),
        accrual_time=value("accrual_months", math.nan),
        allocation_ratio=value("allocation_ratio", 1.0),
        dropout_rate_control=dropout_rate,
        dropout_rate_experimental=dropout_rate,
        dropout_time=value("dropout_months", 12.0),
        name=name,
        endpoint=endpoint,
        citation=str(endpoint_table.get("citation", "")),
    )


def _scenario_table() -> dict[str, dict[str, object]]:
    text = resources.files("rfatrial").joinpath("data/scenarios.toml").read_text("utf-8")
    return tomllib.loads(text)


# --------------------------------------------------------------------------------------------
# Analytic results
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EventProbability:
    """Probability that a randomized patient has had an observed event by a calendar time.

    Attributes
    ----------
    time : float
        Calendar time since the start of accrual, months.
    overall : float
        Allocation-weighted probability over both arms (rpact's
        ``cumulativeEventProbabilities``).
    control, experimental : float
        Per arm (rpact's ``eventProbabilities2`` and ``eventProbabilities1``).
    """

    time: float
    overall: float
    control: float
    experimental: float


@dataclass(frozen=True)
class AnalyticPower:
    """Schoenfeld power of the log-rank test for an event-driven analysis.

    Attributes
    ----------
    power : float
        Probability of rejecting the null hypothesis (both directions when ``sided=2``).
    n_subjects, events : float
        Patients planned and events at the analysis.
    alpha : float
        Significance level (two-sided when ``sided=2``).
    sided : int
        1 or 2.
    analysis_time : float
        Expected calendar time at which the planned events are observed, months.
    follow_up_time : float
        ``analysis_time - accrual_time`` (negative if the analysis falls during accrual).
    subjects_at_analysis : float
        Patients randomized by the analysis time.
    critical_value : float
        Critical value of the standardized log-rank statistic.
    critical_hazard_ratio : float
        Largest observed hazard ratio that rejects in favour of the experimental arm.
    """

    power: float
    n_subjects: float
    events: float
    alpha: float
    sided: int
    analysis_time: float
    follow_up_time: float
    subjects_at_analysis: float
    critical_value: float
    critical_hazard_ratio: float


def critical_value(alpha: float, sided: int = 2) -> float:
    """Critical value ``z(1 - alpha / sided)`` of the standardized log-rank statistic.

    Examples
    --------
    >>> round(critical_value(0.05, sided=2), 6)
    1.959964
    """
    _check_alpha_sided(alpha, sided)
    return float(-ndtri(alpha / sided))


def event_probability(scenario: SurvivalScenario, time: float) -> EventProbability:
    """Probability of an observed event by calendar ``time`` for a randomized patient.

    Patients enter uniformly over ``[0, accrual_time]``; before the end of accrual, the
    probability is relative to all patients planned (as rpact). Dropout competes with the
    event. Closed form of rpact's ``getEventProbabilities`` for exponential survival.

    Parameters
    ----------
    scenario : SurvivalScenario
        Survival, accrual and dropout assumptions.
    time : float
        Calendar time since the start of accrual, months.

    Returns
    -------
    EventProbability

    Examples
    --------
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> round(event_probability(s, 42.0).overall, 6)
    0.267048
    """
    control = _arm_event_probability(
        time, scenario.accrual_time, scenario.control_hazard, scenario.control_dropout_hazard
    )
    experimental = _arm_event_probability(
        time,
        scenario.accrual_time,
        scenario.experimental_hazard,
        scenario.experimental_dropout_hazard,
    )
    r = scenario.allocation_ratio
    overall = (r * experimental + control) / (1.0 + r)
    return EventProbability(
        time=float(time), overall=overall, control=control, experimental=experimental
    )


def expected_events(scenario: SurvivalScenario, n_subjects: float, time: float) -> float:
    """Expected number of observed events by calendar ``time`` with ``n_subjects`` planned.

    Examples
    --------
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> round(expected_events(s, 200, 76.146676), 3)
    106.0
    """
    _require(n_subjects > 0, "n_subjects must be positive")
    return float(n_subjects) * event_probability(scenario, time).overall


def analysis_time(scenario: SurvivalScenario, n_subjects: float, events: float) -> float:
    """Calendar time at which ``events`` events are expected with ``n_subjects`` planned.

    Raises
    ------
    ValueError
        If the expected number of events never reaches ``events`` (too few patients or too
        much dropout).

    Examples
    --------
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> round(analysis_time(s, 200, 106), 4)
    76.1467
    """
    _require(n_subjects > 0, "n_subjects must be positive")
    _require(events > 0, "events must be positive")
    target = float(events) / float(n_subjects)
    r = scenario.allocation_ratio
    ceiling = (
        r
        * scenario.experimental_hazard
        / (scenario.experimental_hazard + scenario.experimental_dropout_hazard)
        + scenario.control_hazard / (scenario.control_hazard + scenario.control_dropout_hazard)
    ) / (1.0 + r)
    if target >= ceiling:
        raise ValueError(
            f"{n_subjects} patients cannot yield {events} events: at most "
            f"{ceiling * n_subjects:.3f} are expected (too few patients or too much dropout)"
        )

    def gap(t: float) -> float:
        return event_probability(scenario, t).overall - target

    upper = 2.0
    while gap(upper) < 0:
        upper *= 2.0
    return float(brentq(gap, 0.0, upper, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=500))


def analytic_power(
    scenario: SurvivalScenario,
    n_subjects: float,
    events: float,
    *,
    alpha: float = 0.05,
    sided: int = 2,
) -> AnalyticPower:
    """Schoenfeld power of the log-rank test when the analysis is held at ``events`` events.

    Equal to rpact's ``getPowerSurvival`` (fixed design, ``typeOfComputation =
    "Schoenfeld"``): the log-rank statistic is normal with mean
    ``log(HR) * sqrt(r) / (1 + r) * sqrt(events)`` and variance 1.

    Parameters
    ----------
    scenario : SurvivalScenario
        Survival, accrual and dropout assumptions.
    n_subjects : float
        Patients planned (accrued uniformly over ``scenario.accrual_time``).
    events : float
        Events at which the analysis is held.
    alpha : float, default 0.05
        Significance level (two-sided when ``sided=2``).
    sided : {1, 2}, default 2
        Two-sided test, or one-sided test in favour of the experimental arm.

    Returns
    -------
    AnalyticPower

    Examples
    --------
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> p = analytic_power(s, n_subjects=200, events=106)
    >>> round(p.power, 6), round(p.follow_up_time, 4), round(p.critical_hazard_ratio, 4)
    (0.80072, 40.1467, 0.6834)
    """
    c = critical_value(alpha, sided)
    _require(events > 0, "events must be positive")
    r = scenario.allocation_ratio
    information = math.sqrt(r) / (1.0 + r) * math.sqrt(float(events))
    drift = math.log(scenario.hazard_ratio) * information
    power = float(ndtr(-c - drift))
    if sided == 2:
        power += float(ndtr(drift - c))
    t = analysis_time(scenario, n_subjects, events)
    subjects = float(n_subjects) * min(1.0, t / scenario.accrual_time)
    return AnalyticPower(
        power=power,
        n_subjects=float(n_subjects),
        events=float(events),
        alpha=float(alpha),
        sided=sided,
        analysis_time=t,
        follow_up_time=t - scenario.accrual_time,
        subjects_at_analysis=subjects,
        critical_value=c,
        critical_hazard_ratio=math.exp(-c / information),
    )


def _arm_event_probability(time: float, accrual: float, hazard: float, dropout: float) -> float:
    """``(1/A) * integral of F(u) over [max(0, t - A), t]``, F the event CDF with dropout."""
    if time <= 0:
        return 0.0
    total = hazard + dropout

    def integral(u: float) -> float:  # integral of F over [0, u]
        return hazard / total * (u + math.expm1(-total * u) / total)

    lower = max(0.0, time - accrual)
    return (integral(time) - integral(lower)) / accrual


# --------------------------------------------------------------------------------------------
# Simulation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimulatedPower:
    """Monte Carlo power of the log-rank test with an event-driven analysis.

    Attributes
    ----------
    power : float
        Fraction of trials that reject (trials that never reach the planned events count as
        not rejecting, as in rpact).
    power_se : float
        Monte Carlo standard error of ``power``: ``sqrt(power * (1 - power) / n_trials)``.
    n_trials, n_subjects, events : int
        Simulated trials, patients per trial and planned events.
    alpha : float
        Significance level (two-sided when ``sided=2``).
    sided : int
        1 or 2.
    rejections : int
        Trials that reject.
    rejections_benefit, rejections_harm : int
        Trials whose statistic crosses the critical value in favour of the experimental arm
        (``Z <= -c``), and against it (``Z >= c``).
    mean_analysis_time, sd_analysis_time : float
        Mean and standard deviation over trials of the calendar time of the analysis (the
        trial's duration), months, among trials that reach the planned events.
    mean_events, mean_events_control, mean_events_experimental : float
        Mean events at the analysis, overall and per arm, among those trials. The events of
        a trial exceed the planned number only if two events share the analysis time in
        single precision (about one trial in 10,000).
    fraction_events_not_reached : float
        Fraction of trials in which the planned events are never observed.
    """

    power: float
    power_se: float
    n_trials: int
    n_subjects: int
    events: int
    alpha: float
    sided: int
    rejections: int
    rejections_benefit: int
    rejections_harm: int
    mean_analysis_time: float
    sd_analysis_time: float
    mean_events: float
    mean_events_control: float
    mean_events_experimental: float
    fraction_events_not_reached: float


def simulate_power(
    scenario: SurvivalScenario,
    n_subjects: int,
    events: int,
    *,
    alpha: float = 0.05,
    sided: int = 2,
    n_trials: int = 10_000,
    seed: int | np.random.Generator | None = None,
    accrual: AccrualPattern = "even",
    workers: int | None = None,
    chunk_trials: int | None = None,
) -> SimulatedPower:
    """Simulate trials and the log-rank test at the planned number of events.

    Each trial randomizes ``n_subjects`` patients in a fixed pattern (e.g. E, C, E, C, ... for
    ratio 1; E, E, C, ... for ratio 2, like rpact), draws exponential event times per arm
    and exponential dropout times, holds the analysis at the calendar time of the
    ``events``-th event, and computes the log-rank statistic (no ties correction, as rpact)
    from the patients randomized by then. Everything is vectorized over trials; trials are
    processed in chunks, possibly on several threads.

    Parameters
    ----------
    scenario : SurvivalScenario
        Survival, accrual and dropout assumptions.
    n_subjects : int
        Patients per trial.
    events : int
        Events at which the analysis is held.
    alpha : float, default 0.05
        Significance level (two-sided when ``sided=2``).
    sided : {1, 2}, default 2
        Two-sided test, or one-sided test in favour of the experimental arm.
    n_trials : int, default 10000
        Number of simulated trials.
    seed : int, numpy Generator or None
        Seed of ``numpy.random.default_rng``, or a Generator; each chunk of trials gets its
        own child generator (``Generator.spawn``), so that results do not depend on
        ``workers``.
    accrual : {"even", "random"}, default "even"
        ``"even"``: patient ``i`` (1-based) enters at ``i * accrual_time / n_subjects``
        (rpact's ``getSimulationSurvival``). ``"random"``: entry times are independent
        uniform on ``[0, accrual_time]``.
    workers : int, optional
        Threads (default: the number of CPUs, at most 4).
    chunk_trials : int, optional
        Trials per chunk (default: about 2**16 patients per chunk). Changing it changes the
        random streams.

    Returns
    -------
    SimulatedPower

    Notes
    -----
    Event and dropout times are drawn in single precision; the log-rank statistic sorts each
    trial's observation times (single precision, the two lowest mantissa bits carrying the
    arm and the event flag), so its relative time resolution is about 2.4e-7.

    Examples
    --------
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> sim = simulate_power(s, n_subjects=200, events=106, n_trials=2000, seed=1)
    >>> abs(sim.power - 0.80) < 4 * sim.power_se + 0.01
    True
    >>> sim.mean_events
    106.0
    """
    _check_alpha_sided(alpha, sided)
    _require(isinstance(n_subjects, int | np.integer) and n_subjects >= 2, "n_subjects >= 2")
    _require(
        isinstance(events, int | np.integer) and 1 <= events <= n_subjects,
        "events must be an integer in [1, n_subjects]",
    )
    _require(n_trials >= 1, "n_trials must be positive")
    _require(accrual in ("even", "random"), "accrual must be 'even' or 'random'")
    plan = _make_plan(scenario, int(n_subjects), int(events), alpha, sided, accrual)

    if chunk_trials is None:
        chunk_trials = max(1, _CHUNK_PATIENTS // int(n_subjects))
    _require(chunk_trials >= 1, "chunk_trials must be positive")
    sizes = [chunk_trials] * (n_trials // chunk_trials)
    if n_trials % chunk_trials:
        sizes.append(n_trials % chunk_trials)
    parent = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    jobs = list(zip(parent.spawn(len(sizes)), sizes, strict=True))

    if workers is None:
        workers = min(4, os.cpu_count() or 1)
    workers = max(1, min(workers, len(jobs)))
    rows = min(chunk_trials, n_trials)
    if workers == 1:
        parts = _simulate_chunks(plan, jobs, rows)
    else:
        # Contiguous blocks of chunks per thread; sums are combined in chunk order, so the
        # result does not depend on the number of threads.
        bounds = np.linspace(0, len(jobs), workers + 1).round().astype(int)
        blocks = [jobs[a:b] for a, b in itertools.pairwise(bounds)]
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(lambda block: _simulate_chunks(plan, block, rows), blocks))
        parts = [part for result in results for part in result]
    total = _ChunkStats.combine(parts)

    power = total.rejections / n_trials
    reached = max(total.reached, 1)
    mean_time = total.sum_time / reached
    var_time = max(total.sum_time_sq / reached - mean_time**2, 0.0)
    if total.reached > 1:
        var_time *= total.reached / (total.reached - 1)
    return SimulatedPower(
        power=power,
        power_se=math.sqrt(power * (1.0 - power) / n_trials),
        n_trials=n_trials,
        n_subjects=int(n_subjects),
        events=int(events),
        alpha=float(alpha),
        sided=sided,
        rejections=total.rejections,
        rejections_benefit=total.rejections_benefit,
        rejections_harm=total.rejections_harm,
        mean_analysis_time=mean_time if total.reached else math.nan,
        sd_analysis_time=math.sqrt(var_time) if total.reached else math.nan,
        mean_events=total.sum_events / reached if total.reached else math.nan,
        mean_events_control=(total.sum_events - total.sum_events_experimental) / reached
        if total.reached
        else math.nan,
        mean_events_experimental=total.sum_events_experimental / reached
        if total.reached
        else math.nan,
        fraction_events_not_reached=(n_trials - total.reached) / n_trials,
    )


def allocation_pattern(allocation_ratio: float, n_subjects: int) -> NDArray[np.bool_]:
    """Arm of each patient in order of entry (True: experimental), as rpact's simulation.

    The ratio is written as a fraction ``a/b`` (denominator at most 100); the block
    ``a`` x experimental, ``b`` x control repeats until ``n_subjects`` patients.

    Examples
    --------
    >>> allocation_pattern(2.0, 7).astype(int).tolist()
    [1, 1, 0, 1, 1, 0, 1]
    """
    fraction = Fraction(allocation_ratio).limit_denominator(100)
    block = np.r_[
        np.ones(fraction.numerator, dtype=bool), np.zeros(fraction.denominator, dtype=bool)
    ]
    repeats = -(-n_subjects // block.size)
    return np.tile(block, repeats)[:n_subjects]


@dataclass(frozen=True)
class _Plan:
    n: int
    events: int
    critical: float
    sided: int
    accrual_time: float
    entry: NDArray[np.float32] | None  # entry times ("even" accrual), else drawn per trial
    neg_scale: NDArray[np.float32]  # -1 / event hazard, per patient
    neg_drop_scale: NDArray[np.float32] | None  # -1 / dropout hazard, per patient
    experimental: NDArray[np.bool_]
    group_bits: NDArray[np.uint32]  # 2 for experimental patients, 0 for control
    n_experimental: int
    at_risk: NDArray[np.float32]  # n - position: at risk when everybody is randomized
    positions: NDArray[np.float32]


def _make_plan(
    scenario: SurvivalScenario,
    n: int,
    events: int,
    alpha: float,
    sided: int,
    accrual: AccrualPattern,
) -> _Plan:
    experimental = allocation_pattern(scenario.allocation_ratio, n)
    hazard = np.where(experimental, scenario.experimental_hazard, scenario.control_hazard)
    neg_drop_scale: NDArray[np.float32] | None = None
    if scenario.has_dropout:
        dropout = np.where(
            experimental, scenario.experimental_dropout_hazard, scenario.control_dropout_hazard
        )
        with np.errstate(divide="ignore"):
            neg_drop_scale = (-1.0 / dropout).astype(np.float32)
    entry: NDArray[np.float32] | None = None
    if accrual == "even":
        entry = (np.arange(1, n + 1) * (scenario.accrual_time / n)).astype(np.float32)
    positions = np.arange(n, dtype=np.float32)
    return _Plan(
        n=n,
        events=events,
        critical=critical_value(alpha, sided),
        sided=sided,
        accrual_time=scenario.accrual_time,
        entry=entry,
        neg_scale=(-1.0 / hazard).astype(np.float32),
        neg_drop_scale=neg_drop_scale,
        experimental=experimental,
        group_bits=np.where(experimental, 2, 0).astype(np.uint32),
        n_experimental=int(experimental.sum()),
        at_risk=(n - positions).astype(np.float32),
        positions=positions,
    )


@dataclass
class _ChunkStats:
    reached: int = 0
    rejections: int = 0
    rejections_benefit: int = 0
    rejections_harm: int = 0
    sum_time: float = 0.0
    sum_time_sq: float = 0.0
    sum_events: float = 0.0
    sum_events_experimental: float = 0.0

    @staticmethod
    def combine(parts: Sequence[_ChunkStats]) -> _ChunkStats:
        total = _ChunkStats()
        for p in parts:
            total.reached += p.reached
            total.rejections += p.rejections
            total.rejections_benefit += p.rejections_benefit
            total.rejections_harm += p.rejections_harm
            total.sum_time += p.sum_time
            total.sum_time_sq += p.sum_time_sq
            total.sum_events += p.sum_events
            total.sum_events_experimental += p.sum_events_experimental
        return total


class _Workspace:
    """Arrays reused from chunk to chunk by one thread (no allocation, no page faults)."""

    def __init__(self, rows: int, n: int, *, dropout: bool, random_entry: bool) -> None:
        shape = (rows, n)
        self.survival = np.empty(shape, np.float32)
        self.calendar = np.empty(shape, np.float32)
        self.scratch = np.empty(shape, np.float32)
        self.key = np.empty(shape, np.uint32)
        self.mask = np.empty(shape, np.bool_)
        self.flags = np.empty(shape, np.uint8)
        self.experimental = np.empty(shape, np.uint8)
        self.event = np.empty(shape, np.uint8)
        self.before = np.empty(shape, np.int16 if n < 2**15 else np.int32)
        self.dropout = np.empty(shape, np.float32) if dropout else None
        self.entry = np.empty(shape, np.float32) if random_entry else None


_TIME_BITS = np.uint32(0xFFFFFFFC)


def _exponential(
    rng: np.random.Generator, neg_scale: NDArray[np.float32], out: NDArray[np.float32]
) -> None:
    """Exponential variates ``log(1 - U) * neg_scale`` in single precision, into ``out``.

    Twice as fast as ``Generator.standard_exponential(dtype=np.float32)`` here (SIMD log).
    ``U`` has 24 random bits: the variates are bounded by ``24 log(2)`` times the mean,
    i.e. truncated with probability ``2**-24``.
    """
    rng.random(dtype=np.float32, out=out)
    np.subtract(np.float32(1.0), out, out=out)
    np.log(out, out=out)
    out *= neg_scale


def _simulate_chunks(
    plan: _Plan,
    jobs: Sequence[tuple[np.random.Generator, int]],
    rows: int,
) -> list[_ChunkStats]:
    workspace = _Workspace(
        rows, plan.n, dropout=plan.neg_drop_scale is not None, random_entry=plan.entry is None
    )
    return [_simulate_chunk(plan, rng, m, workspace) for rng, m in jobs]


def _simulate_chunk(plan: _Plan, rng: np.random.Generator, m: int, ws: _Workspace) -> _ChunkStats:
    """Simulate ``m`` trials; returns sums over them."""
    surv = ws.survival[:m]
    _exponential(rng, plan.neg_scale, surv)
    entry: NDArray[np.float32]
    if ws.entry is None:
        assert plan.entry is not None
        entry = plan.entry
    else:
        entry = ws.entry[:m]
        rng.random(dtype=np.float32, out=entry)
        entry *= np.float32(plan.accrual_time)
    calendar = ws.calendar[:m]  # calendar time of the event, if it is observed
    np.add(surv, entry, out=calendar)
    if ws.dropout is not None:
        assert plan.neg_drop_scale is not None
        drop = ws.dropout[:m]
        _exponential(rng, plan.neg_drop_scale, drop)
        lost = ws.mask[:m]
        np.less(drop, surv, out=lost)  # lost to follow-up before the event
        np.putmask(calendar, lost, np.float32(np.inf))
        np.minimum(surv, drop, out=surv)  # time to event or dropout

    # Analysis time: calendar time of the planned event. A full sort is faster than
    # np.partition here (numpy's SIMD sort).
    ordered = ws.scratch[:m]
    np.copyto(ordered, calendar)
    ordered.sort(axis=1)
    time = ordered[:, plan.events - 1].copy()
    reached = np.isfinite(time)
    if not reached.all():
        keep = np.flatnonzero(reached)
        m = keep.size
        surv = ws.survival[:m]
        np.take(ws.survival, keep, axis=0, out=surv)
        calendar = ws.calendar[:m]
        np.take(ws.calendar, keep, axis=0, out=calendar)
        time = time[keep]
        if ws.entry is not None:
            entry = ws.entry[:m]
            np.take(ws.entry, keep, axis=0, out=entry)
    stats = _ChunkStats(reached=m)
    if m == 0:
        return stats
    column = time[:, None]

    # Sort keys: time under observation (single precision, non-negative for randomized
    # patients), two lowest bits replaced by the arm (bit 1: experimental) and "censored"
    # (bit 0, so that at equal times events come first). Patients not yet randomized have a
    # negative time, hence a sign bit: as unsigned integers they sort last.
    observed = ws.scratch[:m]
    np.subtract(column, entry, out=observed)
    np.minimum(observed, surv, out=observed)
    event = ws.mask[:m]
    np.less_equal(calendar, column, out=event)
    key = ws.key[:m]
    np.bitwise_and(observed.view(np.uint32), _TIME_BITS, out=key)
    key |= plan.group_bits
    np.logical_not(event, out=event)
    np.bitwise_or(key, event, out=key)
    key.sort(axis=1)

    flags = ws.flags[:m]
    np.bitwise_and(key, 3, out=flags, casting="unsafe")
    experimental = ws.experimental[:m]
    np.right_shift(flags, 1, out=experimental)
    events = ws.event[:m]
    np.bitwise_and(flags, 1, out=events)
    np.bitwise_xor(events, 1, out=events)  # 1 at events, 0 at censorings

    if ws.entry is None and float(time.min()) >= plan.accrual_time:
        at_risk: NDArray[np.float32] = plan.at_risk
        at_risk_experimental: float | NDArray[np.float32] = float(plan.n_experimental)
    else:
        randomized = ws.mask[:m]
        np.less_equal(entry, column, out=randomized)
        total_randomized = randomized.sum(axis=1, dtype=np.float32)[:, None]
        at_risk = np.maximum(total_randomized - plan.positions, np.float32(1.0))
        randomized &= plan.experimental
        at_risk_experimental = randomized.sum(axis=1, dtype=np.float32)[:, None]

    # Share of the experimental arm among the patients at risk, at each event.
    before = ws.before[:m]
    np.cumsum(experimental, axis=1, out=before)
    before -= experimental  # experimental patients observed before this position
    share = ws.scratch[:m]
    np.subtract(at_risk_experimental, before, out=share)
    share /= at_risk
    share *= events  # zero at censorings
    expected = share.sum(axis=1, dtype=np.float64)
    variance = expected - np.einsum("ij,ij->i", share, share, dtype=np.float64)
    n_events = events.sum(axis=1, dtype=np.int64)
    experimental &= events
    observed_experimental = experimental.sum(axis=1, dtype=np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(variance > 0, (observed_experimental - expected) / np.sqrt(variance), 0.0)

    stats.rejections_benefit = int(np.count_nonzero(z <= -plan.critical))
    stats.rejections_harm = int(np.count_nonzero(z >= plan.critical))
    stats.rejections = stats.rejections_benefit + (stats.rejections_harm if plan.sided == 2 else 0)
    t64 = time.astype(np.float64)
    stats.sum_time = float(t64.sum())
    stats.sum_time_sq = float(t64 @ t64)
    stats.sum_events = float(n_events.sum())
    stats.sum_events_experimental = float(observed_experimental.sum())
    return stats


# --------------------------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------------------------


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise ValueError(message)


def _check_alpha_sided(alpha: float, sided: int) -> None:
    _require(sided in (1, 2), "sided must be 1 or 2")
    _require(0.0 < alpha < 1.0, "alpha must be in (0, 1)")
