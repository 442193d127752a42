"""Kaplan-Meier, medians, landmarks, RMST and the log-rank test against R's ``survival``.

KM estimates, standard errors and limits must equal ``survfit``'s to 1e-6 (all three
``conf.type``), the log-rank statistic and its parts ``survdiff``'s to 1e-6.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from rfatrial.analysis import kaplan_meier_by_group, logrank_test, rmst_difference
from tests.analysis.datasets import survival_datasets
from tests.analysis.r_reference import assert_close, run_r

DATASETS = survival_datasets()
CONF_TYPES = ("log", "log-log", "plain")
LANDMARKS = (0.0, 1.0, 6.0, 12.0, 24.0, 36.0, 60.0, 100.0)
TAU = 24.0
TOL = 1e-6

R_SCRIPT = (
    r"""
for (name in strsplit(NAMES, ",")[[1]]) {
  d <- read(name)
  for (ct in c("log", "log-log", "plain")) {
    fit <- survfit(Surv(time, event) ~ arm, data = d, conf.type = ct)
    lev <- sort(unique(d$arm))
    for (i in seq_along(lev)) {
      f <- fit[i]
      key <- paste(name, ct, lev[i], sep = "|")
      out(paste(key, "time", sep = "|"), f$time)
      out(paste(key, "n.risk", sep = "|"), f$n.risk)
      out(paste(key, "n.event", sep = "|"), f$n.event)
      out(paste(key, "n.censor", sep = "|"), f$n.censor)
      out(paste(key, "surv", sep = "|"), f$surv)
      out(paste(key, "std.err", sep = "|"), f$std.err)
      out(paste(key, "lower", sep = "|"), f$lower)
      out(paste(key, "upper", sep = "|"), f$upper)
      tab <- summary(f)$table
      out(paste(key, "median", sep = "|"), tab[c("median", "0.95LCL", "0.95UCL")])
      s <- summary(f, times = LANDMARKS, extend = TRUE)
      out(paste(key, "land.surv", sep = "|"), s$surv)
      out(paste(key, "land.lower", sep = "|"), s$lower)
      out(paste(key, "land.upper", sep = "|"), s$upper)
      out(paste(key, "land.n.risk", sep = "|"), s$n.risk)
      rm <- summary(f, rmean = TAU)$table
      out(paste(key, "rmean", sep = "|"), rm[c("rmean", "se(rmean)")])
    }
  }
  for (st in c(FALSE, TRUE)) {
    sd <- if (st) survdiff(Surv(time, event) ~ arm + strata(stratum), data = d)
          else survdiff(Surv(time, event) ~ arm, data = d)
    key <- paste(name, "logrank", st, sep = "|")
    out(paste(key, "chisq", sep = "|"), sd$chisq)
    out(paste(key, "obs", sep = "|"), if (is.matrix(sd$obs)) rowSums(sd$obs) else sd$obs)
    out(paste(key, "exp", sep = "|"), if (is.matrix(sd$exp)) rowSums(sd$exp) else sd$exp)
    out(paste(key, "var", sep = "|"), sd$var)
  }
}
""".replace("NAMES", '"' + ",".join(DATASETS) + '"')
    .replace("LANDMARKS", "c(" + ",".join(map(repr, LANDMARKS)) + ")")
    .replace("TAU", repr(TAU))
)


@pytest.fixture(scope="module")
def r_results() -> dict[str, np.ndarray]:
    return run_r(R_SCRIPT, DATASETS)


@pytest.mark.parametrize("conf_type", CONF_TYPES)
@pytest.mark.parametrize("name", list(DATASETS))
def test_kaplan_meier_matches_survfit(
    name: str, conf_type: Any, r_results: dict[str, np.ndarray]
) -> None:
    d = DATASETS[name]
    curves = kaplan_meier_by_group(d["time"], d["event"], d["arm"], conf_type=conf_type)
    for arm, km in curves.items():
        key = f"{name}|{conf_type}|{arm}"
        r = {k.split("|")[-1]: v for k, v in r_results.items() if k.startswith(key + "|")}
        assert_close(km.time, r["time"], 0, f"{key} time")
        assert_close(km.n_risk, r["n.risk"], 0, f"{key} n.risk")
        assert_close(km.n_event, r["n.event"], 0, f"{key} n.event")
        assert_close(km.n_censor, r["n.censor"], 0, f"{key} n.censor")
        assert_close(km.survival, r["surv"], TOL, f"{key} surv")
        assert_close(km.std_err, r["std.err"], TOL, f"{key} std.err")
        assert_close(km.lower, r["lower"], TOL, f"{key} lower")
        assert_close(km.upper, r["upper"], TOL, f"{key} upper")
        median = km.median()
        assert_close([median.median, median.lower, median.upper], r["median"], TOL, key)
        at = km.at(LANDMARKS)
        assert_close(at.survival, r["land.surv"], TOL, f"{key} landmark surv")
        assert_close(at.lower, r["land.lower"], TOL, f"{key} landmark lower")
        assert_close(at.upper, r["land.upper"], TOL, f"{key} landmark upper")
        assert_close(at.n_risk, r["land.n.risk"], 0, f"{key} landmark n.risk")
        rm = km.restricted_mean(TAU)
        assert_close([rm.rmean, rm.se], r["rmean"], TOL, f"{key} rmean")


@pytest.mark.parametrize("name", [n for n in DATASETS if n != "three_groups"])
def test_rmst_difference_from_survfit_rmeans(name: str, r_results: dict[str, np.ndarray]) -> None:
    d = DATASETS[name]
    result = rmst_difference(d["time"], d["event"], d["arm"], TAU)
    r0 = r_results[f"{name}|log|0|rmean"]
    r1 = r_results[f"{name}|log|1|rmean"]
    assert (result.reference, result.group) == (0, 1)
    assert result.difference == pytest.approx(r1[0] - r0[0], abs=TOL)
    assert result.se == pytest.approx(np.hypot(r0[1], r1[1]), abs=TOL)


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("name", list(DATASETS))
def test_logrank_matches_survdiff(
    name: str, stratified: bool, r_results: dict[str, np.ndarray]
) -> None:
    d = DATASETS[name]
    result = logrank_test(d["time"], d["event"], d["arm"], d["stratum"] if stratified else None)
    key = f"{name}|logrank|{str(stratified).upper()}"
    assert_close(result.statistic, r_results[f"{key}|chisq"], TOL, f"{key} chisq")
    assert_close(result.observed, r_results[f"{key}|obs"], TOL, f"{key} observed")
    assert_close(result.expected, r_results[f"{key}|exp"], TOL, f"{key} expected")
    k = len(result.groups)
    assert_close(result.variance.ravel(), r_results[f"{key}|var"], TOL, f"{key} var")
    assert result.df == k - 1
    assert result.stratified is stratified
