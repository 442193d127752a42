"""Hand-made data sets with answers worked out by hand, doctests, input checks and speed."""

from __future__ import annotations

import doctest
import importlib
import math
from types import ModuleType

import numpy as np
import pytest

import rfatrial.analysis as analysis

MODULES = [analysis] + [
    importlib.import_module(f"rfatrial.analysis.{name}")
    for name in ("survival", "kaplan_meier", "logrank", "cox", "rmst", "competing_risks")
]


@pytest.mark.parametrize("module", MODULES, ids=lambda m: m.__name__)
def test_docstring_examples_run(module: ModuleType) -> None:
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 0
    assert result.failed == 0


def test_kaplan_meier_by_hand() -> None:
    # 5 patients: events at 1 and 3, censored at 2, 4, 4
    km = analysis.kaplan_meier([1, 2, 3, 4, 4], [1, 0, 1, 0, 0])
    assert km.time.tolist() == [1.0, 2.0, 3.0, 4.0]
    assert km.n_risk.tolist() == [5, 4, 3, 2]
    assert km.survival == pytest.approx([0.8, 0.8, 0.8 * 2 / 3, 0.8 * 2 / 3])
    greenwood = [1 / (5 * 4), 1 / (5 * 4), 1 / 20 + 1 / (3 * 2), 1 / 20 + 1 / 6]
    assert km.std_err == pytest.approx(np.sqrt(greenwood))
    assert math.isnan(km.median().median)  # never below one half
    assert km.n_at_risk([0, 1, 1.5, 4, 5]).tolist() == [5, 5, 4, 2, 0]
    # RMST to 4: 1 + 0.8 * 2 + 0.8 * 2/3 * 1
    assert km.restricted_mean(4.0).rmean == pytest.approx(1 + 1.6 + 1.6 / 3)


def test_median_midpoint_rule() -> None:
    # the curve is exactly 0.5 between 2 and 4: R reports the midpoint 3
    km = analysis.kaplan_meier([1, 2, 4, 5], [1, 1, 1, 1])
    assert km.median().median == 3.0


def test_plain_interval_is_clipped() -> None:
    km = analysis.kaplan_meier([1, 2], [1, 1], conf_type="plain")
    assert km.lower[0] >= 0.0 and km.upper[0] <= 1.0


def test_logrank_two_by_two_by_hand() -> None:
    # one event in each arm at distinct times, 2 per arm
    r = analysis.logrank_test([1, 3, 2, 4], [1, 0, 1, 0], ["a", "a", "b", "b"])
    # t=1: n=4 (2, 2), d=1: E_a = 0.5, V = 1 * 3/3 * 0.5 * 0.5 = 0.25
    # t=2: n=3 (1, 2), d=1: E_a = 1/3, V = 1 * 2/2 * 1/3 * 2/3 = 2/9
    assert r.expected[0] == pytest.approx(0.5 + 1 / 3)
    assert r.variance[0, 0] == pytest.approx(0.25 + 2 / 9)
    assert r.statistic == pytest.approx((1 - 5 / 6) ** 2 / (0.25 + 2 / 9))


def test_cox_single_binary_covariate_by_hand() -> None:
    # events at 1 (x=1, 4 at risk, 2 exposed), 2 (x=0, 3 at risk, 1 exposed), 4 (alone)
    fit = analysis.cox_ph([1, 2, 3, 4], [1, 1, 0, 1], [1, 0, 0, 1], ties="breslow")
    assert fit.loglik_null == pytest.approx(-math.log(4) - math.log(3))
    score = (1 - 2 / 4) + (0 - 1 / 3) + 0
    information = 2 / 4 * 2 / 4 + 1 / 3 * 2 / 3
    assert fit.score_statistic == pytest.approx(score**2 / information)


def test_efron_equals_breslow_without_ties() -> None:
    t = [1, 2, 3, 4, 5, 6]
    e = [1, 1, 0, 1, 1, 0]
    x = [0.5, 1.2, -0.3, 0.0, 2.0, 1.0]
    a = analysis.cox_ph(t, e, x, ties="efron")
    b = analysis.cox_ph(t, e, x, ties="breslow")
    assert a.coef == pytest.approx(b.coef, abs=1e-10)


def test_cumulative_incidences_and_survival_add_up() -> None:
    t = [1, 2, 2, 3, 4, 5, 6]
    s = [1, 2, 0, 1, 2, 1, 0]
    cif = analysis.cumulative_incidence(t, s)
    km = analysis.kaplan_meier(t, [int(v != 0) for v in s])
    grid = [1.5, 3.5, 5.5]
    f1 = cif[(1, 1)].at(grid)[0]
    f2 = cif[(1, 2)].at(grid)[0]
    assert f1 + f2 + km.at(grid).survival == pytest.approx(1.0)


def test_without_competing_events_cif_is_one_minus_km() -> None:
    t = np.array([1, 2, 3, 4, 5, 6, 7.0])
    e = np.array([1, 0, 1, 1, 0, 1, 0])
    cif = analysis.cumulative_incidence(t, e)[(1, 1)]
    km = analysis.kaplan_meier(t, e)
    assert cif.estimate == pytest.approx(1 - km.survival[km.n_event > 0])


def test_jackknife_with_one_lesion_per_patient_is_finite() -> None:
    rng = np.random.default_rng(1)
    n = 60
    t = np.round(rng.exponential(10, n), 1) + 0.1
    s = rng.integers(0, 3, n)
    ci = analysis.clustered_cumulative_incidence(t, s, np.arange(n), [2.0, 5.0], cause=1)
    assert np.all(np.isfinite(ci.se)) and np.all(ci.se > 0)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: analysis.kaplan_meier([1, 2], [1]), "rows"),
        (lambda: analysis.kaplan_meier([1, np.nan], [1, 1]), "finite"),
        (lambda: analysis.kaplan_meier([1, 2], [1, 2]), "0"),
        (lambda: analysis.kaplan_meier([1], [1], conf_type="logit"), "conf_type"),  # type: ignore[arg-type]
        (lambda: analysis.cox_ph([1, 2], [0, 0], [1, 0]), "no events"),
        (lambda: analysis.cox_ph([1, 2], [1, 1], [1, 0], ties="exact"), "ties"),  # type: ignore[arg-type]
        (lambda: analysis.rmst_difference([1, 2, 3], [1, 1, 1], [0, 1, 2], 2.0), "two groups"),
        (lambda: analysis.gray_test([1, 2], [1, 1], [0, 0]), "two groups"),
    ],
)
def test_bad_input_is_refused(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]


def test_cox_on_100000_rows_recovers_the_hazard_ratio() -> None:
    # Its speed beside R's is measured by benchmarks/analysis.py, not here.
    rng = np.random.default_rng(3)
    n = 100_000
    arm = rng.integers(0, 2, n)
    stratum = rng.integers(0, 4, n)
    t = np.round(rng.exponential(20 * np.exp(0.3 * arm)), 1) + 0.1
    e = rng.random(n) < 0.7
    fit = analysis.cox_ph(t, e, arm, strata=stratum)
    assert fit.coef[0] == pytest.approx(-0.3, abs=0.05)
