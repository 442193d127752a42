"""Required events and sample size of a two-arm survival trial analysed by the log-rank test.

Analytic results reproduce R's rpact ``getSampleSizeSurvival`` (fixed design,
``typeOfComputation = "Schoenfeld"``, ``twoSidedPower = FALSE``): the required number of events
is Schoenfeld's, and the number of patients follows from the probability that a patient has
had an event by the analysis, under uniform accrual, exponential survival and exponential
dropout (see :mod:`rfatrial.simulation.power` for the conventions). A simulated search finds
the smallest number of patients whose simulated power reaches the target.

Examples
--------
>>> from rfatrial.simulation.power import load_scenario
>>> from rfatrial.simulation.sample_size import sample_size
>>> plan = sample_size(load_scenario("clocc", "os"), follow_up_time=6.0)
>>> round(plan.events, 1), round(plan.n_subjects, 1), plan.analysis_time
(105.8, 396.2, 42.0)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

# scipy ships no type stubs (scipy-stubs is not a dependency): the ignore keeps mypy quiet
# and stays valid if the stubs are added later.
from scipy.special import ndtri  # type: ignore[import-untyped, unused-ignore]

from rfatrial.simulation.power import (
    AccrualPattern,
    SimulatedPower,
    SurvivalScenario,
    analysis_time,
    critical_value,
    event_probability,
    simulate_power,
)

__all__ = [
    "SampleSize",
    "SimulatedSampleSize",
    "required_events",
    "sample_size",
    "simulated_sample_size",
]


@dataclass(frozen=True)
class SampleSize:
    """Events and patients needed for a target power (Schoenfeld).

    Attributes
    ----------
    events : float
        Required number of events (rpact's ``eventsFixed``), not rounded.
    n_subjects : float
        Patients to randomize (rpact's ``nFixed``), not rounded.
    n_control, n_experimental : float
        Per arm (rpact's ``nFixed2`` and ``nFixed1``).
    analysis_time : float
        Calendar time of the analysis, months: ``accrual_time + follow_up_time``.
    follow_up_time : float
        Time from the end of accrual to the analysis, months.
    accrual_intensity : float
        Patients randomized per month (rpact's ``accrualIntensity``).
    event_probability : float
        Probability that a randomized patient has had an observed event by the analysis
        (rpact's ``omega``): ``events / n_subjects``.
    alpha, power : float
        Significance level (two-sided when ``sided=2``) and target power.
    sided : int
        1 or 2.
    critical_hazard_ratio : float
        Largest observed hazard ratio that rejects in favour of the experimental arm.
    """

    events: float
    n_subjects: float
    n_control: float
    n_experimental: float
    analysis_time: float
    follow_up_time: float
    accrual_intensity: float
    event_probability: float
    alpha: float
    power: float
    sided: int
    critical_hazard_ratio: float

    @property
    def events_rounded_up(self) -> int:
        """Required events, rounded up."""
        return math.ceil(self.events - 1e-9)

    @property
    def n_subjects_rounded_up(self) -> int:
        """Patients, each arm rounded up."""
        return math.ceil(self.n_control - 1e-9) + math.ceil(self.n_experimental - 1e-9)


def required_events(
    hazard_ratio: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    allocation_ratio: float = 1.0,
    sided: int = 2,
) -> float:
    """Schoenfeld's number of events for the log-rank test.

    ``(z(1 - alpha/sided) + z(power))**2 * (1 + r)**2 / (r * log(hazard_ratio)**2)`` with
    ``r`` the allocation ratio experimental : control. For ``sided=2`` only the tail of the
    true effect counts toward the power (rpact's default ``twoSidedPower = FALSE``).

    Examples
    --------
    >>> round(required_events(0.58, alpha=0.05, power=0.8), 4)
    105.8058
    >>> round(required_events(1 / 0.58), 4)
    105.8058
    """
    if not (hazard_ratio > 0 and hazard_ratio != 1 and math.isfinite(hazard_ratio)):
        raise ValueError("hazard_ratio must be positive and different from 1")
    if not 0.0 < power < 1.0:
        raise ValueError("power must be in (0, 1)")
    if not allocation_ratio > 0:
        raise ValueError("allocation_ratio must be positive")
    z = critical_value(alpha, sided) + float(ndtri(power))
    r = allocation_ratio
    return z**2 * (1.0 + r) ** 2 / (r * math.log(hazard_ratio) ** 2)


def sample_size(
    scenario: SurvivalScenario,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
    sided: int = 2,
    follow_up_time: float | None = None,
    n_subjects: float | None = None,
) -> SampleSize:
    """Events and patients for a target power, given the follow-up or the number of patients.

    Equal to rpact's ``getSampleSizeSurvival`` (fixed design, Schoenfeld): with
    ``follow_up_time``, the number of patients is ``events / P(event by accrual + follow-up)``;
    with ``n_subjects``, the follow-up is the time at which ``events`` are expected.

    Parameters
    ----------
    scenario : SurvivalScenario
        Survival, accrual, allocation and dropout assumptions.
    alpha : float, default 0.05
        Significance level (two-sided when ``sided=2``).
    power : float, default 0.8
        Target power.
    sided : {1, 2}, default 2
        Two-sided test, or one-sided test in favour of the experimental arm.
    follow_up_time : float, optional
        Time from the end of accrual to the analysis, months.
    n_subjects : float, optional
        Patients randomized. Exactly one of ``follow_up_time`` and ``n_subjects`` is given.

    Returns
    -------
    SampleSize

    Raises
    ------
    ValueError
        If both or neither of ``follow_up_time`` and ``n_subjects`` are given, or if
        ``n_subjects`` patients cannot yield the required events.

    Examples
    --------
    >>> from rfatrial.simulation.power import SurvivalScenario
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> plan = sample_size(s, n_subjects=200)
    >>> round(plan.events, 2), round(plan.follow_up_time, 2)
    (105.81, 39.99)
    """
    if (follow_up_time is None) == (n_subjects is None):
        raise ValueError("give exactly one of follow_up_time and n_subjects")
    events = required_events(
        scenario.hazard_ratio,
        alpha=alpha,
        power=power,
        allocation_ratio=scenario.allocation_ratio,
        sided=sided,
    )
    if follow_up_time is not None:
        time = scenario.accrual_time + follow_up_time
        if time <= 0:
            raise ValueError("accrual_time + follow_up_time must be positive")
        omega = event_probability(scenario, time).overall
        total = events / omega
    else:
        assert n_subjects is not None
        if events > n_subjects:
            raise ValueError(
                f"n_subjects ({n_subjects}) is smaller than the required events ({events:.3f})"
            )
        total = float(n_subjects)
        time = analysis_time(scenario, total, events)
        omega = events / total
    r = scenario.allocation_ratio
    n_control = total / (1.0 + r)
    c = critical_value(alpha, sided)
    information = math.sqrt(r) / (1.0 + r) * math.sqrt(events)
    return SampleSize(
        events=events,
        n_subjects=total,
        n_control=n_control,
        n_experimental=r * n_control,
        analysis_time=time,
        follow_up_time=time - scenario.accrual_time,
        accrual_intensity=total / scenario.accrual_time,
        event_probability=omega,
        alpha=float(alpha),
        power=float(power),
        sided=sided,
        critical_hazard_ratio=math.exp(-c / information),
    )


@dataclass(frozen=True)
class SimulatedSampleSize:
    """Smallest number of patients whose simulated power reaches the target.

    Attributes
    ----------
    n_subjects : int
        Patients per trial.
    events : int
        Planned events for that number of patients: ``ceil(n_subjects * omega)``, with
        ``omega`` the probability of an event by ``accrual_time + follow_up_time``.
    follow_up_time : float
        Planned follow-up after the end of accrual, months.
    simulated : SimulatedPower
        Simulation at ``n_subjects``.
    analytic : SampleSize
        The analytic (Schoenfeld) answer for the same follow-up, the search's start.
    evaluations : tuple of (int, int, float)
        ``(n_subjects, events, simulated power)`` of every evaluation, in order.
    """

    n_subjects: int
    events: int
    follow_up_time: float
    simulated: SimulatedPower
    analytic: SampleSize
    evaluations: tuple[tuple[int, int, float], ...]


def simulated_sample_size(
    scenario: SurvivalScenario,
    *,
    follow_up_time: float,
    alpha: float = 0.05,
    power: float = 0.8,
    sided: int = 2,
    n_trials: int = 10_000,
    seed: int | None = None,
    accrual: AccrualPattern = "even",
    workers: int | None = None,
    max_subjects: int | None = None,
) -> SimulatedSampleSize:
    """Bisection on the number of patients for a target simulated power.

    For ``n`` patients the analysis is planned at ``ceil(n * omega)`` events, ``omega`` the
    probability of an event by ``accrual_time + follow_up_time``. Every evaluation uses the
    same seed. The search starts from the analytic sample size; since the simulated power is
    a Monte Carlo estimate, the answer is accurate to within its Monte Carlo error (use
    enough ``n_trials``).

    Parameters
    ----------
    scenario : SurvivalScenario
        Survival, accrual, allocation and dropout assumptions.
    follow_up_time : float
        Planned follow-up after the end of accrual, months.
    alpha, power, sided
        As in :func:`sample_size`.
    n_trials : int, default 10000
        Simulated trials per evaluated ``n``.
    seed : int, optional
        Seed shared by all evaluations (drawn at random if omitted).
    accrual, workers
        As in :func:`rfatrial.simulation.power.simulate_power`.
    max_subjects : int, optional
        Upper limit of the search (default: 20 times the analytic sample size).

    Returns
    -------
    SimulatedSampleSize

    Examples
    --------
    >>> from rfatrial.simulation.power import SurvivalScenario
    >>> s = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    >>> found = simulated_sample_size(s, follow_up_time=6.0, n_trials=2000, seed=3)
    >>> abs(found.n_subjects - 397) < 40, found.simulated.power >= 0.8
    (True, True)
    """
    analytic = sample_size(
        scenario, alpha=alpha, power=power, sided=sided, follow_up_time=follow_up_time
    )
    omega = analytic.event_probability
    if seed is None:
        seed = int(np.random.SeedSequence().generate_state(1)[0])
    start = max(2, math.ceil(analytic.n_subjects - 1e-9))
    limit = max_subjects if max_subjects is not None else 20 * start
    evaluations: list[tuple[int, int, float]] = []
    results: dict[int, SimulatedPower] = {}

    def events_for(n: int) -> int:
        return min(n, max(1, math.ceil(n * omega - 1e-9)))

    def achieved(n: int) -> bool:
        if n not in results:
            results[n] = simulate_power(
                scenario,
                n,
                events_for(n),
                alpha=alpha,
                sided=sided,
                n_trials=n_trials,
                seed=seed,
                accrual=accrual,
                workers=workers,
            )
            evaluations.append((n, events_for(n), results[n].power))
        return results[n].power >= power

    # Bracket: low fails, high reaches the target.
    if achieved(start):
        high, low = start, max(2, int(start * 0.8))
        while low > 2 and achieved(low):
            high, low = low, max(2, int(low * 0.8))
    else:
        low, high = start, min(limit, math.ceil(start * 1.25))
        while not achieved(high):
            if high >= limit:
                raise ValueError(f"power {power} not reached with {limit} patients")
            low, high = high, min(limit, math.ceil(high * 1.25))
    while high - low > 1:
        middle = (low + high) // 2
        if achieved(middle):
            high = middle
        else:
            low = middle
    return SimulatedSampleSize(
        n_subjects=high,
        events=events_for(high),
        follow_up_time=float(follow_up_time),
        simulated=results[high],
        analytic=analytic,
        evaluations=tuple(evaluations),
    )
