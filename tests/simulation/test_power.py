"""Invariants of the analytic and simulated power and sample size (no R needed)."""

from __future__ import annotations

import doctest
import itertools
import math

import numpy as np
import pytest
from scipy.integrate import quad

from rfatrial.simulation import power as power_module
from rfatrial.simulation import sample_size as sample_size_module
from rfatrial.simulation.power import (
    SurvivalScenario,
    allocation_pattern,
    analysis_time,
    analytic_power,
    critical_value,
    event_probability,
    expected_events,
    load_scenario,
    scenario_names,
    simulate_power,
)
from rfatrial.simulation.sample_size import (
    required_events,
    sample_size,
    simulated_sample_size,
)

CLOCC = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
WITH_DROPOUT = SurvivalScenario(
    control_median=9.9,
    hazard_ratio=0.63,
    accrual_time=24.0,
    allocation_ratio=2.0,
    dropout_rate_control=0.15,
    dropout_rate_experimental=0.05,
    dropout_time=12.0,
)


@pytest.mark.parametrize("module", [power_module, sample_size_module])
def test_docstring_examples_run(module: object) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)  # type: ignore[arg-type]
    assert result.attempted > 0
    assert result.failed == 0


# ---------------------------------------------------------------------------------------------
# Scenarios
# ---------------------------------------------------------------------------------------------


def test_shipped_scenarios() -> None:
    assert {"clocc", "null"} <= set(scenario_names())
    os_ = load_scenario("clocc", "os")
    pfs = load_scenario("clocc", "pfs")
    assert (os_.control_median, os_.hazard_ratio) == (40.5, 0.58)
    assert (pfs.control_median, pfs.hazard_ratio) == (9.9, 0.63)
    assert "10.1093/jnci/djx015" in os_.citation
    assert "10.1093/annonc/mds053" in pfs.citation
    for endpoint in ("os", "pfs"):
        null = load_scenario("null", endpoint)
        assert null.hazard_ratio == 1.0
        assert null.citation
        assert null.control_median == load_scenario("clocc", endpoint).control_median
    assert os_.accrual_time == 36.0 and os_.allocation_ratio == 1.0 and not os_.has_dropout


def test_unknown_scenario_or_endpoint() -> None:
    with pytest.raises(KeyError, match="unknown scenario"):
        load_scenario("nope")
    with pytest.raises(KeyError, match="no endpoint"):
        load_scenario("clocc", "dfs")


@pytest.mark.parametrize(
    "changes",
    [
        {"control_median": 0.0},
        {"hazard_ratio": -1.0},
        {"accrual_time": 0.0},
        {"allocation_ratio": 0.0},
        {"dropout_rate_control": 1.0},
        {"dropout_time": 0.0},
    ],
)
def test_invalid_scenarios_are_refused(changes: dict[str, float]) -> None:
    arguments: dict[str, float] = {
        "control_median": 40.5,
        "hazard_ratio": 0.58,
        "accrual_time": 36.0,
        **changes,
    }
    with pytest.raises(ValueError):
        SurvivalScenario(**arguments)  # type: ignore[arg-type]


def test_invalid_test_settings_are_refused() -> None:
    with pytest.raises(ValueError):
        critical_value(0.0)
    with pytest.raises(ValueError):
        critical_value(0.05, sided=3)
    with pytest.raises(ValueError):
        required_events(1.0)
    with pytest.raises(ValueError):
        sample_size(CLOCC)  # neither follow-up nor patients
    with pytest.raises(ValueError):
        sample_size(CLOCC, follow_up_time=6.0, n_subjects=300)
    with pytest.raises(ValueError):
        sample_size(CLOCC, n_subjects=50)  # fewer patients than events
    with pytest.raises(ValueError):
        simulate_power(CLOCC, 100, 101)
    with pytest.raises(ValueError, match="cannot yield"):
        analysis_time(WITH_DROPOUT, 100, 99)  # dropout: never 99 events


# ---------------------------------------------------------------------------------------------
# Analytic
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("scenario", [CLOCC, WITH_DROPOUT], ids=["clocc", "dropout"])
@pytest.mark.parametrize("time", [0.5, 10.0, 24.0, 30.0, 60.0, 200.0])
def test_event_probability_is_the_integral_of_the_event_cdf(
    scenario: SurvivalScenario, time: float
) -> None:
    """Independent check of the closed form: numerical integration over entry times."""

    def arm(hazard: float, dropout: float) -> float:
        def cdf(u: float) -> float:  # P(event observed within u of entry)
            return hazard / (hazard + dropout) * (1 - math.exp(-(hazard + dropout) * u))

        lower = max(0.0, time - scenario.accrual_time)
        return quad(cdf, lower, time, epsabs=1e-14, epsrel=1e-12)[0] / scenario.accrual_time

    got = event_probability(scenario, time)
    control = arm(scenario.control_hazard, scenario.control_dropout_hazard)
    experimental = arm(scenario.experimental_hazard, scenario.experimental_dropout_hazard)
    r = scenario.allocation_ratio
    assert got.control == pytest.approx(control, rel=1e-10)
    assert got.experimental == pytest.approx(experimental, rel=1e-10)
    assert got.overall == pytest.approx((r * experimental + control) / (1 + r), rel=1e-10)


def test_event_probability_grows_with_time_and_stays_a_probability() -> None:
    times = np.linspace(0.0, 400.0, 81)
    values = [event_probability(WITH_DROPOUT, float(t)).overall for t in times]
    assert values[0] == 0.0
    assert all(b > a for a, b in itertools.pairwise(values))
    assert values[-1] < 1.0
    assert event_probability(CLOCC, -1.0).overall == 0.0


@pytest.mark.parametrize("scenario", [CLOCC, WITH_DROPOUT], ids=["clocc", "dropout"])
@pytest.mark.parametrize("events", [5, 50, 106])
def test_analysis_time_inverts_expected_events(scenario: SurvivalScenario, events: int) -> None:
    t = analysis_time(scenario, 250, events)
    assert expected_events(scenario, 250, t) == pytest.approx(events, rel=1e-12)


def test_reference_numbers() -> None:
    assert required_events(0.58) == pytest.approx(105.80582600175289, rel=1e-12)
    result = analytic_power(CLOCC, n_subjects=200, events=106, alpha=0.05)
    assert result.power == pytest.approx(0.80071954505403287, rel=1e-12)
    assert result.analysis_time == pytest.approx(76.146675865551956, rel=1e-7)
    assert result.subjects_at_analysis == 200.0


def test_analytic_power_increases_with_events_and_effect_and_patients() -> None:
    by_events = [analytic_power(CLOCC, 400, d).power for d in (20, 50, 80, 106, 150, 200)]
    assert by_events == sorted(by_events) and len(set(by_events)) == len(by_events)
    by_effect = [
        analytic_power(CLOCC.with_hazard_ratio(hr), 400, 106).power
        for hr in (0.95, 0.85, 0.75, 0.65, 0.58, 0.5)
    ]
    assert by_effect == sorted(by_effect) and len(set(by_effect)) == len(by_effect)
    # More patients with the same follow-up give more events, hence more power.
    omega = event_probability(CLOCC, 42.0).overall
    by_patients = [analytic_power(CLOCC, n, n * omega).power for n in (100, 200, 300, 400, 600)]
    assert by_patients == sorted(by_patients) and len(set(by_patients)) == len(by_patients)


@pytest.mark.parametrize("ratio", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("hr", [0.58, 0.63, 0.8])
def test_required_events_is_symmetric_in_the_hazard_ratio(ratio: float, hr: float) -> None:
    assert required_events(hr, allocation_ratio=ratio) == pytest.approx(
        required_events(1 / hr, allocation_ratio=ratio), rel=1e-12
    )
    # ... and in the allocation ratio r <-> 1/r (the same split of patients).
    assert required_events(hr, allocation_ratio=ratio) == pytest.approx(
        required_events(hr, allocation_ratio=1 / ratio), rel=1e-12
    )


def test_unequal_allocation_needs_more_events() -> None:
    assert required_events(0.58, allocation_ratio=2.0) > required_events(0.58)


def test_two_sided_power_is_symmetric_in_the_hazard_ratio() -> None:
    for hr in (0.58, 0.8, 0.95):
        a = analytic_power(CLOCC.with_hazard_ratio(hr), 400, 106).power
        b = analytic_power(CLOCC.with_hazard_ratio(1 / hr), 400, 106).power
        assert a == pytest.approx(b, rel=1e-12)


def test_power_at_the_required_events_is_the_target() -> None:
    for alpha, sided, target in ((0.025, 1, 0.9), (0.05, 2, 0.8)):
        events = required_events(0.63, alpha=alpha, power=target, sided=sided)
        achieved = analytic_power(
            CLOCC.with_hazard_ratio(0.63), 1000, events, alpha=alpha, sided=sided
        ).power
        if sided == 1:
            assert achieved == pytest.approx(target, rel=1e-12)
        else:  # plus the (tiny) probability of rejecting in the wrong direction
            assert target <= achieved < target + 1e-5


def test_the_null_hypothesis_rejects_at_alpha() -> None:
    null = load_scenario("null")
    assert analytic_power(null, 200, 106, alpha=0.05).power == pytest.approx(0.05, rel=1e-12)
    assert analytic_power(null, 200, 106, alpha=0.025, sided=1).power == pytest.approx(0.025)


def test_sample_size_round_trip() -> None:
    given_follow_up = sample_size(WITH_DROPOUT, alpha=0.025, power=0.9, sided=1, follow_up_time=9)
    given_patients = sample_size(
        WITH_DROPOUT, alpha=0.025, power=0.9, sided=1, n_subjects=given_follow_up.n_subjects
    )
    assert given_patients.follow_up_time == pytest.approx(9.0, rel=1e-9)
    assert given_patients.events == given_follow_up.events
    assert given_follow_up.n_experimental == pytest.approx(2 * given_follow_up.n_control)
    assert given_follow_up.events_rounded_up == math.ceil(given_follow_up.events)
    assert given_follow_up.n_subjects_rounded_up >= given_follow_up.n_subjects
    # A longer follow-up needs fewer patients for the same events.
    longer = sample_size(WITH_DROPOUT, alpha=0.025, power=0.9, sided=1, follow_up_time=24)
    assert longer.events == given_follow_up.events
    assert longer.n_subjects < given_follow_up.n_subjects


# ---------------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------------


def test_allocation_pattern() -> None:
    assert allocation_pattern(1.0, 5).astype(int).tolist() == [1, 0, 1, 0, 1]
    assert allocation_pattern(0.5, 6).astype(int).tolist() == [1, 0, 0, 1, 0, 0]
    assert allocation_pattern(2.0, 300).sum() == 200


def test_simulation_is_reproducible_and_independent_of_threads() -> None:
    a = simulate_power(CLOCC, 200, 106, n_trials=3000, seed=11, workers=1, chunk_trials=500)
    b = simulate_power(CLOCC, 200, 106, n_trials=3000, seed=11, workers=2, chunk_trials=500)
    c = simulate_power(CLOCC, 200, 106, n_trials=3000, seed=12, workers=2, chunk_trials=500)
    d = simulate_power(
        CLOCC, 200, 106, n_trials=3000, seed=np.random.default_rng(11), chunk_trials=500
    )
    assert a == b == d
    assert c != a


def test_null_scenario_rejects_near_alpha() -> None:
    null = load_scenario("null")
    for alpha, sided in ((0.05, 2), (0.025, 1)):
        sim = simulate_power(null, 200, 106, alpha=alpha, sided=sided, n_trials=20_000, seed=5)
        se = math.sqrt(alpha * (1 - alpha) / sim.n_trials)
        assert abs(sim.power - alpha) <= 3 * se, (alpha, sided, sim.power)
    # The two tails are equally likely.
    sim = simulate_power(null, 200, 106, alpha=0.05, n_trials=20_000, seed=6)
    assert sim.rejections == sim.rejections_benefit + sim.rejections_harm
    assert abs(sim.rejections_benefit - sim.rejections_harm) <= 4 * math.sqrt(sim.rejections)


@pytest.mark.parametrize("accrual", ["even", "random"])
def test_simulated_power_is_close_to_schoenfeld(accrual: str) -> None:
    sim = simulate_power(CLOCC, 200, 106, n_trials=20_000, seed=7, accrual=accrual)  # type: ignore[arg-type]
    analytic = analytic_power(CLOCC, 200, 106)
    # Schoenfeld's approximation is good to about 0.01 at this size.
    assert abs(sim.power - analytic.power) <= 4 * sim.power_se + 0.01
    assert sim.power_se == pytest.approx(math.sqrt(sim.power * (1 - sim.power) / 20_000))
    # The analysis comes at about the expected time.
    assert sim.mean_analysis_time == pytest.approx(analytic.analysis_time, rel=0.01)
    assert sim.mean_events == pytest.approx(106, abs=0.01)
    assert sim.mean_events_control + sim.mean_events_experimental == pytest.approx(sim.mean_events)
    assert sim.mean_events_experimental < sim.mean_events_control
    assert sim.fraction_events_not_reached == 0.0


def test_simulated_power_increases_with_events_and_effect() -> None:
    by_events = [simulate_power(CLOCC, 300, d, n_trials=4000, seed=8).power for d in (30, 70, 130)]
    assert by_events[0] + 0.1 < by_events[1] < by_events[2] - 0.1
    by_effect = [
        simulate_power(CLOCC.with_hazard_ratio(hr), 200, 106, n_trials=4000, seed=9).power
        for hr in (0.9, 0.75, 0.58)
    ]
    assert by_effect[0] + 0.1 < by_effect[1] < by_effect[2] - 0.1


def test_simulation_with_dropout_and_unequal_allocation() -> None:
    n, events = 240, 150
    sim = simulate_power(WITH_DROPOUT, n, events, alpha=0.025, sided=1, n_trials=10_000, seed=4)
    analytic = analytic_power(WITH_DROPOUT, n, events, alpha=0.025, sided=1)
    assert abs(sim.power - analytic.power) <= 4 * sim.power_se + 0.015
    assert sim.rejections == sim.rejections_benefit  # one-sided: benefit only
    assert sim.mean_analysis_time == pytest.approx(analytic.analysis_time, rel=0.02)
    # Expected split of events between arms at the analysis time (analytic).
    p = event_probability(WITH_DROPOUT, analytic.analysis_time)
    share = 2 * p.experimental / (2 * p.experimental + p.control)
    assert sim.mean_events_experimental / sim.mean_events == pytest.approx(share, rel=0.02)


def test_analysis_during_accrual_counts_only_randomized_patients() -> None:
    fast = SurvivalScenario(control_median=3.0, hazard_ratio=0.6, accrual_time=48.0)
    n, events = 300, 60
    analytic = analytic_power(fast, n, events)
    assert analytic.analysis_time < fast.accrual_time
    for accrual in ("even", "random"):
        sim = simulate_power(fast, n, events, n_trials=5000, seed=10, accrual=accrual)  # type: ignore[arg-type]
        assert sim.mean_analysis_time == pytest.approx(analytic.analysis_time, rel=0.03)
        assert abs(sim.power - analytic.power) <= 4 * sim.power_se + 0.02


def test_events_not_reached_count_as_not_rejecting() -> None:
    heavy_dropout = SurvivalScenario(
        control_median=40.5,
        hazard_ratio=0.58,
        accrual_time=12.0,
        dropout_rate_control=0.5,
        dropout_rate_experimental=0.5,
    )
    n = 100
    ceiling = expected_events(heavy_dropout, n, 1e6)
    events = round(ceiling)  # reached in about half the trials
    sim = simulate_power(heavy_dropout, n, events, n_trials=4000, seed=3)
    assert 0.2 < sim.fraction_events_not_reached < 0.8
    assert sim.power <= 1 - sim.fraction_events_not_reached
    assert sim.mean_events == pytest.approx(events, abs=0.01)


def test_simulated_sample_size_search() -> None:
    found = simulated_sample_size(
        load_scenario("clocc", "pfs"), follow_up_time=6.0, n_trials=3000, seed=1
    )
    assert found.simulated.power >= 0.8
    assert found.simulated.n_subjects == found.n_subjects
    assert found.events == math.ceil(found.n_subjects * found.analytic.event_probability - 1e-9)
    # The search brackets its answer: one patient fewer falls short.
    powers = {n: p for n, _, p in found.evaluations}
    assert powers[found.n_subjects - 1] < 0.8
    assert abs(found.n_subjects - found.analytic.n_subjects) < 0.15 * found.analytic.n_subjects
