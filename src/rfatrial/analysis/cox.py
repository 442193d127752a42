"""Cox proportional hazards regression, as R's ``survival::coxph``, and R's ``cox.zph`` test.

The partial likelihood is maximized by Newton-Raphson (with step halving, from zero, like
``coxph``) on data sorted once by stratum and time. Every risk-set sum is a reverse
cumulative sum over that order, read at the first row of each tied block of times; the
Efron correction for ties (R's default) or Breslow's is applied per event row, so one
evaluation of the log-likelihood, score and information costs a few passes over the rows
and a ``p x p`` matrix product, with no Python loop over rows. Information-matrix terms
``sum_e S2_e / den_e`` are computed as ``X' diag(r a) X`` where ``a`` accumulates the
event weights ``1 / den_e`` over the risk sets a row belongs to, so no ``n x p x p`` array is
built.

Stratification (``strata(s)``) gives each stratum its own baseline hazard. With a
``cluster`` the robust (Lin-Wei sandwich) variance ``D'D`` is given too, ``D`` the dfbeta
residuals summed within clusters: R's ``coxph(..., cluster = id)``. It is the marginal model
used for lesions clustered within patients: the cause-specific hazard of local tumour
progression by lesion, with a variance that allows any correlation between the lesions of
one patient.

Examples
--------
>>> from rfatrial.analysis.cox import cox_ph
>>> fit = cox_ph([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 0, 1, 1, 0, 1], [0, 1, 0, 1, 1, 0, 1, 0])
>>> round(float(fit.coef[0]), 4), round(float(fit.se[0]), 4)
(-0.3373, 0.9234)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from rfatrial.analysis.survival import (
    ArrayLike,
    BoolArray,
    FloatArray,
    IntArray,
    as_time_event,
    chi2_sf,
    encode_labels,
    z_value,
)

__all__ = [
    "CoxResult",
    "ProportionalHazardsTest",
    "Ties",
    "cox_ph",
    "cox_zph",
]

Ties = Literal["efron", "breslow"]


@dataclass(frozen=True)
class CoxResult:
    """A fitted Cox model (R ``summary(coxph(...))``).

    Attributes
    ----------
    names : tuple of str
        Covariate names.
    coef, se : ndarray
        Log hazard ratios and their model-based standard errors.
    robust_se : ndarray or None
        Cluster-robust standard errors when a cluster was given.
    variance, robust_variance : ndarray
        Model-based (inverse information) and robust variance matrices.
    hazard_ratio, lower, upper : ndarray
        ``exp(coef)`` and its confidence limits (robust when a cluster was given, as R).
    z, p_value : ndarray
        Wald z statistics and two-sided p-values (robust when a cluster was given).
    loglik_null, loglik : float
        Log partial likelihood at zero and at the estimate.
    lr_statistic, wald_statistic, score_statistic : float
        Likelihood-ratio, Wald (robust with a cluster) and score (at zero) tests, each
        chi-square with ``df`` degrees of freedom; p-values alongside.
    n, n_events : int
        Rows and events used.
    n_clusters : int or None
        Number of clusters, when given.
    iterations : int
        Newton-Raphson iterations.
    ties : str
        ``"efron"`` or ``"breslow"``.
    conf_level : float
        Level of the hazard ratio intervals.
    """

    names: tuple[str, ...]
    coef: FloatArray
    se: FloatArray
    robust_se: FloatArray | None
    variance: FloatArray
    robust_variance: FloatArray | None
    hazard_ratio: FloatArray
    lower: FloatArray
    upper: FloatArray
    z: FloatArray
    p_value: FloatArray
    loglik_null: float
    loglik: float
    lr_statistic: float
    lr_p_value: float
    wald_statistic: float
    wald_p_value: float
    score_statistic: float
    score_p_value: float
    df: int
    n: int
    n_events: int
    n_clusters: int | None
    iterations: int
    ties: Ties
    conf_level: float


@dataclass(frozen=True)
class ProportionalHazardsTest:
    """R's ``cox.zph`` table: a score test of each covariate times ``g(t)`` and a global one.

    Attributes
    ----------
    names : tuple of str
        Covariate names; the global test follows them.
    chisq, df, p_value : ndarray
        One entry per covariate, then the global test.
    transform : str
        The time transform ``g`` (``"km"``, ``"identity"``, ``"rank"`` or ``"log"``).
    """

    names: tuple[str, ...]
    chisq: FloatArray
    df: IntArray
    p_value: FloatArray
    transform: str

    @property
    def global_chisq(self) -> float:
        """The global test's statistic."""
        return float(self.chisq[-1])

    @property
    def global_p_value(self) -> float:
        """The global test's p-value."""
        return float(self.p_value[-1])


@dataclass(frozen=True)
class _Design:
    """Rows sorted by (stratum, time) and the index arrays of the risk-set sums."""

    order: IntArray
    time: FloatArray
    event: BoolArray
    x: FloatArray  # centered covariates, n x p
    stratum_start: IntArray  # per row
    stratum_end: IntArray  # per row
    stratum_first: IntArray  # first row of each stratum
    block_start: IntArray  # per row: first row of its tied block (same stratum and time)
    block_end: IntArray  # per row: one past the last row of its block
    ev: IntArray  # event rows
    ev_first: IntArray  # per event: position (among events) of the block's first event
    ev_last: IntArray  # per event: one past the block's last event
    frac: FloatArray  # per event: Efron fraction k / d (0 for Breslow)
    row_stratum: IntArray  # per row: stratum code


def _design(
    time: FloatArray, event: BoolArray, x: FloatArray, strata: IntArray, ties: Ties
) -> _Design:
    n = time.size
    by_time = np.argsort(time, kind="stable")
    order = by_time[np.argsort(strata[by_time], kind="stable")].astype(np.int64)
    t, e, s = time[order], event[order], strata[order]
    xs = x[order] - x.mean(axis=0)
    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    new_block[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new_block)
    block_id = np.cumsum(new_block) - 1
    ends = np.append(starts[1:], n)
    n_strata = int(s[-1]) + 1
    first = np.searchsorted(s, np.arange(n_strata), side="left")
    last = np.searchsorted(s, np.arange(n_strata), side="right")
    ev = np.flatnonzero(e)
    ev_block = block_id[ev]
    ev_first = np.searchsorted(ev_block, ev_block, side="left")
    ev_last = np.searchsorted(ev_block, ev_block, side="right")
    if ties == "efron":
        frac = (np.arange(ev.size) - ev_first) / (ev_last - ev_first)
    elif ties == "breslow":
        frac = np.zeros(ev.size)
    else:
        raise ValueError(f"unknown ties method {ties!r}; use 'efron' or 'breslow'")
    return _Design(
        order=order,
        time=t,
        event=e,
        x=xs,
        stratum_start=first[s],
        stratum_end=last[s],
        stratum_first=first,
        block_start=starts[block_id],
        block_end=ends[block_id],
        ev=ev,
        ev_first=ev_first,
        ev_last=ev_last,
        frac=frac.astype(np.float64),
        row_stratum=s,
    )


def _reverse_cumsum(values: FloatArray) -> FloatArray:
    """``out[i] = sum(values[i:])`` with a trailing zero row (length n + 1)."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]), dtype=np.float64)
    out[:-1] = np.cumsum(values[::-1], axis=0)[::-1]
    return out


def _cumsum0(values: FloatArray) -> FloatArray:
    """``out[i] = sum(values[:i])`` (length n + 1)."""
    out = np.zeros((values.shape[0] + 1, *values.shape[1:]), dtype=np.float64)
    np.cumsum(values, axis=0, out=out[1:])
    return out


@dataclass(frozen=True)
class _Evaluation:
    loglik: float
    score: FloatArray
    information: FloatArray
    risk: FloatArray  # per row, exp(eta - stratum max)
    weight: FloatArray  # per event, 1 / den
    xbar: FloatArray  # per event, num1 / den (n_ev x p)


def _risk_weight_sum(d: _Design, per_event: FloatArray) -> FloatArray:
    """Per row: sum of ``per_event`` over the event terms whose risk set holds the row.

    Efron terms count the tied events of their own block with weight ``1 - k/d``.
    ``per_event`` may be 1-D (n_ev) or 2-D (n_ev x q).
    """
    n = d.time.size
    placed = np.zeros((n, *per_event.shape[1:]), dtype=np.float64)
    placed[d.ev] = per_event
    cum = _cumsum0(placed)
    through_block = cum[d.block_end] - cum[d.stratum_start]
    scaled = _cumsum0(per_event * (d.frac if per_event.ndim == 1 else d.frac[:, None]))
    own = scaled[d.ev_last] - scaled[d.ev_first]
    through_block[d.ev] -= own
    return through_block


def _evaluate(d: _Design, beta: FloatArray) -> _Evaluation:
    x = d.x
    eta = x @ beta
    stratum_max = np.maximum.reduceat(eta, d.stratum_first)
    eta = eta - stratum_max[d.row_stratum]
    r = np.exp(eta)
    rx = r[:, None] * x
    rev0 = _reverse_cumsum(r)
    rev1 = _reverse_cumsum(rx)
    cum0 = _cumsum0(r * d.event)
    cum1 = _cumsum0(rx * d.event[:, None])
    ev = d.ev
    bs, be, se = d.block_start[ev], d.block_end[ev], d.stratum_end[ev]
    s0 = rev0[bs] - rev0[se]
    s1 = rev1[bs] - rev1[se]
    d0 = cum0[be] - cum0[bs]
    d1 = cum1[be] - cum1[bs]
    den = s0 - d.frac * d0
    num1 = s1 - d.frac[:, None] * d1
    weight = 1.0 / den
    xbar = num1 * weight[:, None]
    loglik = float(eta[ev].sum() - np.log(den).sum())
    score = x[ev].sum(axis=0) - xbar.sum(axis=0)
    a0 = _risk_weight_sum(d, weight)
    information = (x * (r * a0)[:, None]).T @ x - xbar.T @ xbar
    return _Evaluation(loglik, score, information, r, weight, xbar)


def _score_residuals(d: _Design, ev: _Evaluation) -> FloatArray:
    """Score residuals per sorted row (R ``residuals(fit, "score")``), n x p."""
    a0 = _risk_weight_sum(d, ev.weight)
    a1 = _risk_weight_sum(d, ev.xbar * ev.weight[:, None])
    resid = -ev.risk[:, None] * (d.x * a0[:, None] - a1)
    mean_xbar = _cumsum0(ev.xbar)
    block_mean = (mean_xbar[d.ev_last] - mean_xbar[d.ev_first]) / (d.ev_last - d.ev_first)[:, None]
    resid[d.ev] += d.x[d.ev] - block_mean
    return resid


def _as_matrix(covariates: ArrayLike, n: int) -> FloatArray:
    x = np.asarray(covariates, dtype=np.float64)
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2 or x.shape[0] != n:
        raise ValueError(f"covariates must have {n} rows (n or n x p), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("covariates must be finite")
    return x


def _prepare(
    time: ArrayLike,
    event: ArrayLike,
    covariates: ArrayLike,
    strata: ArrayLike | None,
    ties: Ties,
) -> _Design:
    t, e = as_time_event(time, event)
    x = _as_matrix(covariates, t.size)
    s = (
        np.zeros(t.size, dtype=np.int64)
        if strata is None
        else encode_labels(strata, t.size, "strata")[1]
    )
    if not np.any(e):
        raise ValueError("no events: the Cox model cannot be fitted")
    return _design(t, e, x, s, ties)


def _newton_raphson(
    d: _Design, max_iter: int, tol: float
) -> tuple[FloatArray, _Evaluation, _Evaluation, int]:
    p = d.x.shape[1]
    beta = np.zeros(p)
    current = null = _evaluate(d, beta)
    for iteration in range(1, max_iter + 1):
        try:
            step = np.linalg.solve(current.information, current.score)
        except np.linalg.LinAlgError as exc:
            raise ValueError("singular information matrix (collinear covariates?)") from exc
        candidate = beta + step
        trial = _evaluate(d, candidate)
        halvings = 0
        while trial.loglik < current.loglik - 1e-12 * abs(current.loglik) and halvings < 40:
            step = step / 2.0
            candidate = beta + step
            trial = _evaluate(d, candidate)
            halvings += 1
        change = abs(trial.loglik - current.loglik)
        beta, current = candidate, trial
        if change <= tol * max(abs(current.loglik), 1.0) or np.max(np.abs(step)) < 1e-12:
            return beta, current, null, iteration
    return beta, current, null, max_iter


def cox_ph(
    time: ArrayLike,
    event: ArrayLike,
    covariates: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    cluster: ArrayLike | None = None,
    ties: Ties = "efron",
    names: Sequence[str] | None = None,
    conf_level: float = 0.95,
    max_iter: int = 50,
    tol: float = 1e-13,
) -> CoxResult:
    """Fit a (stratified) Cox proportional hazards model.

    Parameters
    ----------
    time, event : array_like
        Follow-up times and event indicators (1 event, 0 censored).
    covariates : array_like
        ``n`` values (one covariate) or an ``n x p`` matrix, e.g. the arm coded 0/1.
    strata : array_like, optional
        Stratum of each row: separate baseline hazards (R ``strata()``).
    cluster : array_like, optional
        Cluster of each row (e.g. the patient of each lesion): adds the robust sandwich
        variance of R's ``cluster()``, used for the intervals and the Wald test.
    ties : {"efron", "breslow"}, default "efron"
        Handling of tied event times (R's default is Efron).
    names : sequence of str, optional
        Covariate names (``x1, x2, ...`` by default).
    conf_level : float, default 0.95
        Level of the hazard ratio intervals.
    max_iter : int, default 50
        Maximum Newton-Raphson iterations.
    tol : float, default 1e-13
        Convergence: relative change of the log partial likelihood.

    Returns
    -------
    CoxResult

    Examples
    --------
    >>> fit = cox_ph([1, 2, 2, 3, 4, 5], [1, 1, 1, 0, 1, 1], [1, 0, 1, 0, 0, 1],
    ...              ties="breslow")
    >>> round(float(fit.hazard_ratio[0]), 4), fit.n_events
    (1.2247, 5)
    """
    d = _prepare(time, event, covariates, strata, ties)
    p = d.x.shape[1]
    if names is None:
        names = tuple(f"x{i + 1}" for i in range(p))
    if len(names) != p:
        raise ValueError(f"{len(names)} names for {p} covariates")
    beta, final, null, iterations = _newton_raphson(d, max_iter, tol)
    variance = np.asarray(np.linalg.inv(final.information), dtype=np.float64)
    se = np.sqrt(np.diag(variance))
    score_statistic = float(null.score @ np.linalg.solve(null.information, null.score))
    lr_statistic = 2.0 * (final.loglik - null.loglik)

    robust_variance: FloatArray | None = None
    robust_se: FloatArray | None = None
    n_clusters: int | None = None
    used_variance = variance
    if cluster is not None:
        _, codes = encode_labels(cluster, d.time.size, "cluster")
        codes = codes[d.order]
        n_clusters = int(codes.max()) + 1
        dfbeta = _score_residuals(d, final) @ variance
        summed = np.zeros((n_clusters, p))
        np.add.at(summed, codes, dfbeta)
        robust_variance = summed.T @ summed
        robust_se = np.sqrt(np.diag(robust_variance))
        used_variance = robust_variance
    used_se = np.sqrt(np.diag(used_variance))
    wald_statistic = float(beta @ np.linalg.solve(used_variance, beta))
    z = beta / used_se
    zq = z_value(conf_level)
    return CoxResult(
        names=tuple(names),
        coef=beta,
        se=se,
        robust_se=robust_se,
        variance=variance,
        robust_variance=robust_variance,
        hazard_ratio=np.exp(beta),
        lower=np.exp(beta - zq * used_se),
        upper=np.exp(beta + zq * used_se),
        z=z,
        p_value=np.array([chi2_sf(float(v) ** 2, 1) for v in z]),
        loglik_null=null.loglik,
        loglik=final.loglik,
        lr_statistic=lr_statistic,
        lr_p_value=chi2_sf(lr_statistic, p),
        wald_statistic=wald_statistic,
        wald_p_value=chi2_sf(wald_statistic, p),
        score_statistic=score_statistic,
        score_p_value=chi2_sf(score_statistic, p),
        df=p,
        n=int(d.time.size),
        n_events=int(d.ev.size),
        n_clusters=n_clusters,
        iterations=iterations,
        ties=ties,
        conf_level=conf_level,
    )


def _time_transform(time: FloatArray, event: BoolArray, transform: str) -> FloatArray:
    if transform == "identity":
        return time.copy()
    if transform == "log":
        return np.log(time)
    if transform == "rank":
        ranks = np.empty(time.size)
        order = np.argsort(time, kind="stable")
        sorted_t = time[order]
        lo = np.searchsorted(sorted_t, time, side="left")
        hi = np.searchsorted(sorted_t, time, side="right")
        ranks[:] = (lo + hi + 1) / 2.0  # average ranks of ties, as R's rank()
        return ranks
    if transform == "km":
        order = np.argsort(time, kind="stable")
        ts, es = time[order], event[order]
        starts = np.concatenate(([0], np.flatnonzero(np.diff(ts)) + 1))
        n_event = np.add.reduceat(es.astype(np.float64), starts)
        surv = np.cumprod(1.0 - n_event / (ts.size - starts))
        before = np.searchsorted(ts[starts], time, side="left")  # times strictly below
        return np.asarray(1.0 - np.concatenate(([1.0], surv))[before], dtype=np.float64)
    raise ValueError(f"unknown transform {transform!r}; use 'km', 'identity', 'rank' or 'log'")


def cox_zph(
    time: ArrayLike,
    event: ArrayLike,
    covariates: ArrayLike,
    *,
    strata: ArrayLike | None = None,
    ties: Ties = "efron",
    transform: str = "km",
    fit: CoxResult | None = None,
    names: Sequence[str] | None = None,
) -> ProportionalHazardsTest:
    """Test of proportional hazards, as R's ``cox.zph`` (survival 3.x).

    For each covariate ``x`` the score test, at the fitted coefficients, of adding the
    time-varying term ``x * g(t)`` to the model, with ``g`` the chosen transform of time
    centered on its mean over the events (R's default ``"km"``: one minus the left-continuous
    Kaplan-Meier estimate of all rows pooled). The information matrix is the full ``2p x 2p``
    one of the extended model; the global test adds all ``p`` terms at once.

    Parameters
    ----------
    time, event, covariates, strata, ties
        The data and model as given to :func:`cox_ph`.
    transform : {"km", "identity", "rank", "log"}, default "km"
        Time transform ``g``.
    fit : CoxResult, optional
        The fitted model, to avoid fitting it again.
    names : sequence of str, optional
        Covariate names.

    Returns
    -------
    ProportionalHazardsTest

    Examples
    --------
    >>> zph = cox_zph([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 1, 0, 1, 1, 0, 1],
    ...               [0, 1, 0, 1, 1, 0, 1, 0])
    >>> round(float(zph.chisq[0]), 4), int(zph.df[0])
    (0.0399, 1)
    """
    d = _prepare(time, event, covariates, strata, ties)
    p = d.x.shape[1]
    if fit is None:
        fit = cox_ph(time, event, covariates, strata=strata, ties=ties, names=names)
    if names is None:
        names = fit.names
    t_orig, e_orig = as_time_event(time, event)
    g_all = _time_transform(t_orig, e_orig, transform)
    g_all = g_all - g_all[e_orig].mean()
    g = g_all[d.order][d.ev]

    ev = _evaluate(d, np.asarray(fit.coef, dtype=np.float64))
    x, r = d.x, ev.risk

    def weighted_information(per_event: FloatArray) -> FloatArray:
        a0 = _risk_weight_sum(d, ev.weight * per_event)
        xbar = ev.xbar
        return np.asarray(
            (x * (r * a0)[:, None]).T @ x - (xbar * per_event[:, None]).T @ xbar,
            dtype=np.float64,
        )

    ones = np.ones_like(g)
    i_bb = weighted_information(ones)
    i_bg = weighted_information(g)
    i_gg = weighted_information(g * g)
    imat = np.block([[i_bb, i_bg], [i_bg.T, i_gg]])
    u_g = ((x[d.ev] - ev.xbar) * g[:, None]).sum(axis=0)

    chisq = np.empty(p + 1)
    for j in range(p):
        keep = [*range(p), p + j]
        u = np.zeros(p + 1)
        u[-1] = u_g[j]
        chisq[j] = u @ np.linalg.solve(imat[np.ix_(keep, keep)], u)
    u_full = np.concatenate((np.zeros(p), u_g))
    chisq[p] = u_full @ np.linalg.solve(imat, u_full)
    df = np.array([1] * p + [p], dtype=np.int64)
    p_value = np.array([chi2_sf(float(c), int(k)) for c, k in zip(chisq, df, strict=True)])
    return ProportionalHazardsTest(tuple(names), chisq, df, p_value, transform)
