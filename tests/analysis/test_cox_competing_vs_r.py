"""Cox models, ``cox.zph``, cumulative incidence, Gray's test and the clustered variances
against R's ``survival`` and ``cmprsk`` on the same data.

Cox coefficients and standard errors to 1e-4 (both tie methods, stratified or not, robust
with clusters), the likelihood-ratio, Wald and score tests and ``cox.zph`` to 1e-4 relative;
cumulative incidence, its variance and Gray's test to 1e-6; the delete-one-patient
jackknife to 1e-6 against the same jackknife computed with ``cuminc`` in R.
"""

from __future__ import annotations

import numpy as np
import pytest

from rfatrial.analysis import (
    clustered_cumulative_incidence,
    cox_ph,
    cox_zph,
    cumulative_incidence,
    gray_test,
)
from tests.analysis.datasets import lesion_dataset, survival_datasets
from tests.analysis.r_reference import assert_close, run_r

DATASETS = survival_datasets()
LESIONS = lesion_dataset()
SMALL_LESIONS = lesion_dataset(seed=5, patients=15)
TABLES = {**DATASETS, "lesions": LESIONS, "small_lesions": SMALL_LESIONS}
LANDMARKS = (3.0, 6.0, 12.0, 24.0)
COEF_TOL = 1e-4

R_SCRIPT = r"""
for (name in strsplit(NAMES, ",")[[1]]) {
  d <- read(name)
  for (ties in c("efron", "breslow")) {
    for (st in c(FALSE, TRUE)) {
      f <- if (st) coxph(Surv(time, event) ~ arm + age + strata(stratum), data = d, ties = ties)
           else coxph(Surv(time, event) ~ arm + age, data = d, ties = ties)
      key <- paste(name, ties, st, sep = "|")
      out(paste(key, "coef", sep = "|"), coef(f))
      out(paste(key, "se", sep = "|"), sqrt(diag(vcov(f))))
      out(paste(key, "loglik", sep = "|"), f$loglik)
      out(paste(key, "score", sep = "|"), f$score)
      out(paste(key, "wald", sep = "|"), f$wald.test)
      z <- cox.zph(f)
      out(paste(key, "zph", sep = "|"), z$table[, "chisq"])
    }
  }
}
for (name in c("lesions", "small_lesions")) {
  d <- read(name)
  for (ties in c("efron", "breslow")) {
    f <- coxph(Surv(time, event) ~ arm + strata(stratum), data = d, ties = ties, cluster = id)
    key <- paste(name, ties, sep = "|")
    out(paste(key, "coef", sep = "|"), coef(f))
    out(paste(key, "robust", sep = "|"), sqrt(diag(f$var)))
    out(paste(key, "naive", sep = "|"), sqrt(diag(f$naive.var)))
    out(paste(key, "wald", sep = "|"), f$wald.test)
  }
  all_times <- sort(unique(d$time))
  out(paste(name, "times", sep = "|"), all_times)
  for (st in c(FALSE, TRUE)) {
    r <- if (st) cuminc(d$time, d$status, d$arm, d$stratum) else cuminc(d$time, d$status, d$arm)
    out(paste(name, "gray", st, sep = "|"), r$Tests[, "stat"])
    out(paste(name, "gray.p", st, sep = "|"), r$Tests[, "pv"])
    if (!st) {
      tp <- timepoints(r, all_times)
      for (g in rownames(tp$est)) {
        out(paste(name, "cif", g, "est", sep = "|"), tp$est[g, ])
        out(paste(name, "cif", g, "var", sep = "|"), tp$var[g, ])
      }
    }
  }
  # delete-one-patient jackknife of the cause-1 incidence at the landmarks, by arm
  estimate <- function(dd) {
    r <- cuminc(dd$time, dd$status, dd$arm)
    res <- NULL
    for (a in c(0, 1)) {
      curve <- r[[paste(a, 1)]]
      e <- timepoints(list(curve), LANDMARKS)$est[1, ]
      e[is.na(e)] <- tail(curve$est, 1)  # past the reduced follow-up: last value
      res <- c(res, e)
    }
    res
  }
  ids <- sort(unique(d$id))
  reps <- t(sapply(ids, function(i) estimate(d[d$id != i, ])))
  C <- length(ids)
  centred <- sweep(reps, 2, colMeans(reps))
  cv <- (C - 1) / C * crossprod(centred)
  out(paste(name, "jack.est", sep = "|"), estimate(d))
  out(paste(name, "jack.cov", sep = "|"), cv)
}
""".replace("NAMES", '"' + ",".join(DATASETS) + '"').replace(
    "LANDMARKS", "c(" + ",".join(map(repr, LANDMARKS)) + ")"
)


@pytest.fixture(scope="module")
def r_results() -> dict[str, np.ndarray]:
    return run_r(R_SCRIPT, TABLES)


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", list(DATASETS))
def test_cox_matches_coxph(
    name: str, ties: str, stratified: bool, r_results: dict[str, np.ndarray]
) -> None:
    d = DATASETS[name]
    x = np.column_stack([d["arm"], d["age"]])
    strata = d["stratum"] if stratified else None
    fit = cox_ph(d["time"], d["event"], x, strata=strata, ties=ties, names=("arm", "age"))
    key = f"{name}|{ties}|{str(stratified).upper()}"
    assert_close(fit.coef, r_results[f"{key}|coef"], COEF_TOL, f"{key} coef")
    assert_close(fit.se, r_results[f"{key}|se"], COEF_TOL, f"{key} se", rtol=1e-5)
    loglik = r_results[f"{key}|loglik"]
    assert_close([fit.loglik_null, fit.loglik], loglik, 1e-6, f"{key} loglik", rtol=1e-9)
    assert_close(fit.lr_statistic, 2 * (loglik[1] - loglik[0]), 1e-6, f"{key} LR", rtol=1e-6)
    assert_close(fit.score_statistic, r_results[f"{key}|score"], 1e-8, f"{key} score", 1e-8)
    assert_close(fit.wald_statistic, r_results[f"{key}|wald"], 1e-6, f"{key} wald", 1e-4)
    zph = cox_zph(d["time"], d["event"], x, strata=strata, ties=ties, fit=fit)
    assert_close(zph.chisq, r_results[f"{key}|zph"], 1e-6, f"{key} cox.zph", rtol=1e-4)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("name", ["lesions", "small_lesions"])
def test_cluster_robust_cox_matches_coxph_cluster(
    name: str, ties: str, r_results: dict[str, np.ndarray]
) -> None:
    d = TABLES[name]
    fit = cox_ph(d["time"], d["event"], d["arm"], strata=d["stratum"], cluster=d["id"], ties=ties)
    key = f"{name}|{ties}"
    assert_close(fit.coef, r_results[f"{key}|coef"], COEF_TOL, f"{key} coef")
    assert fit.robust_se is not None
    assert_close(fit.robust_se, r_results[f"{key}|robust"], COEF_TOL, f"{key} robust se")
    assert_close(fit.se, r_results[f"{key}|naive"], COEF_TOL, f"{key} naive se")
    assert_close(fit.wald_statistic, r_results[f"{key}|wald"], 1e-6, f"{key} wald", 1e-4)
    assert fit.n_clusters == len(np.unique(d["id"]))


@pytest.mark.parametrize("name", ["lesions", "small_lesions"])
def test_cumulative_incidence_matches_cuminc(name: str, r_results: dict[str, np.ndarray]) -> None:
    d = TABLES[name]
    curves = cumulative_incidence(d["time"], d["status"], d["arm"])
    times = r_results[f"{name}|times"]
    for (arm, cause), curve in curves.items():
        est, var = curve.at(times)
        assert_close(est, r_results[f"{name}|cif|{arm} {cause}|est"], 1e-6, f"{arm} {cause}")
        assert_close(var, r_results[f"{name}|cif|{arm} {cause}|var"], 1e-6, f"{arm} {cause} v")


@pytest.mark.parametrize("stratified", [False, True])
@pytest.mark.parametrize("name", ["lesions", "small_lesions"])
def test_gray_test_matches_cuminc(
    name: str, stratified: bool, r_results: dict[str, np.ndarray]
) -> None:
    d = TABLES[name]
    result = gray_test(d["time"], d["status"], d["arm"], d["stratum"] if stratified else None)
    key = str(stratified).upper()
    stats = [result[c].statistic for c in sorted(result)]
    pvalues = [result[c].p_value for c in sorted(result)]
    assert_close(stats, r_results[f"{name}|gray|{key}"], 1e-6, f"{name} Gray {key}")
    assert_close(pvalues, r_results[f"{name}|gray.p|{key}"], 1e-6, f"{name} Gray p {key}")


@pytest.mark.parametrize("name", ["lesions", "small_lesions"])
def test_patient_jackknife_matches_r(name: str, r_results: dict[str, np.ndarray]) -> None:
    d = TABLES[name]
    ci = clustered_cumulative_incidence(
        d["time"], d["status"], d["id"], LANDMARKS, cause=1, group=d["arm"]
    )
    assert ci.groups == (0, 1)
    assert_close(ci.estimate.ravel(), r_results[f"{name}|jack.est"], 1e-10, "estimate")
    k = len(LANDMARKS)
    r_cov = r_results[f"{name}|jack.cov"].reshape(2 * k, 2 * k)
    for t in range(k):
        block = r_cov[np.ix_([t, k + t], [t, k + t])]
        assert_close(ci.covariance[t].ravel(), block.ravel(), 1e-6, f"jackknife cov at {t}")
