"""Competing risks: cumulative incidence (Aalen-Johansen) and Gray's test, as R's ``cmprsk``.

* :func:`cumulative_incidence` is ``cmprsk::cuminc``'s estimate and variance for every group
  and cause: ``F_k(t) = sum_{t_j <= t} S(t_j-) d_kj / n_j`` with ``S`` the all-cause
  Kaplan-Meier estimate, and Gray's (1988) variance estimator as coded in ``cinc``.
* :func:`gray_test` is ``cuminc``'s k-sample test (Gray 1988, ``crstm``), optionally
  stratified and with the ``rho`` weight ``(1 - F(t-))^rho``.
* :func:`clustered_cumulative_incidence` handles lesions clustered within patients (time to
  local tumour progression per lesion, death a competing event): the same Aalen-Johansen
  estimates at chosen times with a **grouped (delete-one-cluster) jackknife** variance. Each
  patient is left out in turn with all of his lesions, the estimates of every group are
  recomputed, and the variance is ``(C - 1) / C`` times the sum of squared deviations of
  those ``C`` replicates from their mean. Leaving whole patients out keeps the estimate
  valid under any dependence between the lesions of a patient, needs no model, and gives the
  covariance between the arms' estimates, hence a Wald test of their difference at a
  landmark. A replicate whose follow-up ends before a landmark keeps its last value there
  (the landmark itself must lie within the full sample's follow-up, else NaN). ``cmprsk``
  has no clustered variance; the tests compare with the same jackknife computed in R from
  ``cuminc`` on the reduced data sets. For a hazard ratio with lesions clustered within
  patients, fit the cause-specific Cox model with a ``cluster``
  (:func:`rfatrial.analysis.cox.cox_ph`), R's ``coxph(..., cluster = id)``.

Status codes follow ``cmprsk``: ``censor_code`` (0 by default) for censored rows, any other
value for the cause of failure (e.g. 1 = local tumour progression, 2 = death).

Examples
--------
>>> from rfatrial.analysis.competing_risks import cumulative_incidence, gray_test
>>> curves = cumulative_incidence([1, 2, 3, 4, 5], [1, 2, 1, 0, 1])
>>> curves[(1, 1)].estimate.tolist()
[0.2, 0.4, 0.8]
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from rfatrial.analysis.survival import (
    ArrayLike,
    FloatArray,
    IntArray,
    chi2_sf,
    encode_labels,
    z_value,
)

StatusArray = npt.NDArray[Any]  # status codes of any dtype

__all__ = [
    "ClusteredIncidence",
    "CumulativeIncidenceCurve",
    "GrayTestResult",
    "clustered_cumulative_incidence",
    "cumulative_incidence",
    "gray_test",
]


@dataclass(frozen=True)
class CumulativeIncidenceCurve:
    """One group's cumulative incidence of one cause (an element of R's ``cuminc`` list).

    Attributes
    ----------
    group, cause
        The group label (``None`` without groups) and the cause code.
    time : ndarray
        Distinct times of failure from the cause, increasing.
    estimate, variance : ndarray
        Cumulative incidence just after each time and its variance (Gray's estimator).
    last_time : float
        The group's largest follow-up time; beyond it the curve is undefined (R: NA).
    """

    group: Hashable
    cause: Hashable
    time: FloatArray
    estimate: FloatArray
    variance: FloatArray
    last_time: float

    def at(self, times: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Estimate and variance at ``times``, as ``cmprsk::timepoints`` (NaN past follow-up).

        Examples
        --------
        >>> c = cumulative_incidence([1, 2, 3, 4], [1, 0, 1, 0])[(1, 1)]
        >>> c.at([0.5, 1, 3.5, 9])[0].tolist()
        [0.0, 0.25, 0.625, nan]
        """
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        idx = np.searchsorted(self.time, t, side="right") - 1
        safe = np.maximum(idx, 0)
        est = np.where(idx < 0, 0.0, self.estimate[safe] if self.time.size else 0.0)
        var = np.where(idx < 0, 0.0, self.variance[safe] if self.time.size else 0.0)
        beyond = t > self.last_time
        est[beyond] = np.nan
        var[beyond] = np.nan
        return est, var


@dataclass(frozen=True)
class GrayTestResult:
    """Gray's k-sample test for one cause (a row of ``cuminc``'s ``Tests``).

    Attributes
    ----------
    cause
        The cause code.
    statistic, p_value : float
        Chi-square statistic and p-value.
    df : int
        Degrees of freedom (groups - 1).
    score : ndarray
        Scores of all groups but the last.
    variance : ndarray
        Their variance matrix.
    """

    cause: Hashable
    statistic: float
    p_value: float
    df: int
    score: FloatArray
    variance: FloatArray


@dataclass(frozen=True)
class ClusteredIncidence:
    """Cumulative incidence of one cause at chosen times, with a grouped jackknife variance.

    Attributes
    ----------
    cause
        The cause code.
    groups : tuple
        Group labels (``(None,)`` without groups).
    times : ndarray
        The requested times.
    estimate : ndarray
        ``groups x times`` Aalen-Johansen estimates (NaN past a group's follow-up).
    covariance : ndarray
        ``times x groups x groups`` jackknife covariance of the estimates.
    n_clusters : int
        Number of clusters (patients).
    """

    cause: Hashable
    groups: tuple[Hashable, ...]
    times: FloatArray
    estimate: FloatArray
    covariance: FloatArray
    n_clusters: int

    @property
    def se(self) -> FloatArray:
        """``groups x times`` jackknife standard errors."""
        diag = np.diagonal(self.covariance, axis1=1, axis2=2).T
        return np.asarray(np.sqrt(diag), dtype=np.float64)

    def difference(
        self, group: Hashable, reference: Hashable, conf_level: float = 0.95
    ) -> tuple[FloatArray, FloatArray, FloatArray, FloatArray, FloatArray]:
        """Difference ``group - reference`` at each time: estimate, se, lower, upper, p.

        Examples
        --------
        >>> ci = clustered_cumulative_incidence(
        ...     [1, 2, 3, 4, 5, 6], [1, 1, 0, 1, 2, 0], [1, 1, 2, 3, 3, 4], [3],
        ...     group=["a", "a", "a", "b", "b", "b"])
        >>> ci.difference("b", "a")[0].round(4).tolist()
        [-0.6667]
        """
        i = self.groups.index(group)
        j = self.groups.index(reference)
        diff = self.estimate[i] - self.estimate[j]
        cov = self.covariance
        var = cov[:, i, i] + cov[:, j, j] - 2.0 * cov[:, i, j]
        se = np.sqrt(var)
        z = z_value(conf_level)
        with np.errstate(divide="ignore", invalid="ignore"):
            p = np.array([chi2_sf(float(v), 1) for v in (diff / se) ** 2])
        return diff, se, diff - z * se, diff + z * se, p


def _status(
    time: ArrayLike, status: ArrayLike, censor_code: Hashable
) -> tuple[FloatArray, StatusArray, tuple[Hashable, ...]]:
    t = np.asarray(time, dtype=np.float64).reshape(-1)
    st = np.asarray(status).reshape(-1)
    if t.size == 0:
        raise ValueError("no observations")
    if st.size != t.size:
        raise ValueError(f"time has {t.size} rows but status has {st.size}")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    failed = st != censor_code
    causes = tuple(np.unique(st[failed]).tolist())
    return t, st, causes


def _cinc(time: FloatArray, failed: StatusArray, cause: StatusArray) -> tuple[FloatArray, ...]:
    """``cmprsk``'s ``cinc`` on one group's rows sorted by time."""
    n = time.size
    starts = np.concatenate(([0], np.flatnonzero(np.diff(time)) + 1))
    rs = (n - starts).astype(np.float64)
    nd1 = np.add.reduceat(cause.astype(np.float64), starts)
    nd = np.add.reduceat(failed.astype(np.float64), starts)
    nd2 = nd - nd1
    factor = (rs - nd) / rs
    fkn = np.cumprod(factor)
    fk = np.concatenate(([1.0], fkn[:-1]))
    f = np.cumsum(fk * nd1 / rs)
    with np.errstate(divide="ignore", invalid="ignore"):
        t5 = np.where(nd2 > 1, 1.0 - (nd2 - 1.0) / (rs - 1.0), 1.0)
        t6 = fk * fk * t5 * nd2 / (rs * rs)
        t3 = np.where(fkn > 0, 1.0 / fkn, 0.0)
        t4 = f * t3
        use = (nd2 > 0) & (fkn > 0)
        v1 = np.where(use, t4 * t4 * t6, 0.0)
        v2 = np.where(use, t3 * t4 * t6, 0.0)
        v3 = np.where(use, t3 * t3 * t6, 0.0)
        t5 = np.where(nd1 > 1, 1.0 - (nd1 - 1.0) / (rs - 1.0), 1.0)
        t6 = fk * fk * t5 * nd1 / (rs * rs)
        t4 = 1.0 + t3 * f
        use = nd1 > 0
        v1 = v1 + np.where(use, t4 * t4 * t6, 0.0)
        v2 = v2 + np.where(use, t3 * t4 * t6, 0.0)
        v3 = v3 + np.where(use, t3 * t3 * t6, 0.0)
    c1, c2, c3 = np.cumsum(v1), np.cumsum(v2), np.cumsum(v3)
    var = c1 + f * f * c3 - 2.0 * f * c2
    jumps = nd1 > 0
    return time[starts][jumps], f[jumps], var[jumps]


def cumulative_incidence(
    time: ArrayLike,
    status: ArrayLike,
    group: ArrayLike | None = None,
    *,
    censor_code: Hashable = 0,
) -> dict[tuple[Hashable, Hashable], CumulativeIncidenceCurve]:
    """Cumulative incidence of every cause in every group (R ``cmprsk::cuminc``).

    Parameters
    ----------
    time : array_like
        Follow-up times.
    status : array_like
        ``censor_code`` for censored rows, the cause of failure otherwise.
    group : array_like, optional
        Group of each row; without it one group labelled 1 (as ``cuminc``).
    censor_code : default 0
        Status value of censored rows.

    Returns
    -------
    dict
        ``(group, cause) -> CumulativeIncidenceCurve``, groups and causes sorted.

    Examples
    --------
    >>> cif = cumulative_incidence([1, 2, 2, 3], [1, 2, 1, 0])
    >>> sorted(cif), cif[(1, 2)].estimate.tolist()
    ([(1, 1), (1, 2)], [0.25])
    """
    t, st, causes = _status(time, status, censor_code)
    if group is None:
        levels: tuple[Hashable, ...] = (1,)
        codes = np.zeros(t.size, dtype=np.int64)
    else:
        levels, codes = encode_labels(group, t.size, "group")
    order = np.lexsort((t, codes))
    t, st, codes = t[order], st[order], codes[order]
    bounds = np.searchsorted(codes, np.arange(len(levels) + 1))
    failed = st != censor_code
    out: dict[tuple[Hashable, Hashable], CumulativeIncidenceCurve] = {}
    for cause in causes:
        is_cause = st == cause
        for i, level in enumerate(levels):
            lo, hi = bounds[i], bounds[i + 1]
            if hi == lo:
                continue
            times, est, var = _cinc(t[lo:hi], failed[lo:hi], is_cause[lo:hi])
            out[(level, cause)] = CumulativeIncidenceCurve(
                level, cause, times, est, var, float(t[hi - 1])
            )
    return out


def _crst(
    time: FloatArray, mcode: IntArray, g: IntArray, ng: int, rho: float
) -> tuple[FloatArray, FloatArray]:
    """Gray's score and variance in one stratum (``cmprsk``'s ``crst``), rows sorted."""
    n = time.size
    starts = np.concatenate(([0], np.flatnonzero(np.diff(time)) + 1))
    counts = np.zeros((n, 3, ng))
    counts[np.arange(n), mcode, g] = 1.0
    d = np.add.reduceat(counts, starts, axis=0)  # blocks x 3 x ng
    total = np.add.reduceat(counts.sum(axis=1), starts, axis=0)  # blocks x ng
    size = counts.sum(axis=(0, 1))
    rs = size[None, :] - np.concatenate((np.zeros((1, ng)), np.cumsum(total, axis=0)[:-1]))
    d1, d2 = d[:, 1, :], d[:, 2, :]
    nd1, nd2 = d1.sum(axis=1), d2.sum(axis=1)
    keep = (nd1 > 0) | (nd2 > 0)
    rs, d1, d2, nd1, nd2 = rs[keep], d1[keep], d2[keep], nd1[keep], nd2[keep]
    at_risk = rs > 0
    safe_rs = np.where(at_risk, rs, 1.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _crst_blocks(rs, d1, d2, nd1, nd2, at_risk, safe_rs, ng, rho)


def _crst_blocks(
    rs: FloatArray,
    d1: FloatArray,
    d2: FloatArray,
    nd1: FloatArray,
    nd2: FloatArray,
    at_risk: npt.NDArray[np.bool_],
    safe_rs: FloatArray,
    ng: int,
    rho: float,
) -> tuple[FloatArray, FloatArray]:
    """The recursions of ``crst`` over failure blocks, as cumulative sums (blocks x groups)."""
    td = d1 + d2
    factor = np.where(at_risk, (rs - td) / safe_rs, 1.0)
    skm = np.cumprod(factor, axis=0)
    skmm = np.concatenate((np.ones((1, ng)), skm[:-1]), axis=0)
    f1 = np.cumsum(np.where(at_risk, skmm * d1 / safe_rs, 0.0), axis=0)
    f1m = np.concatenate((np.zeros((1, ng)), f1[:-1]), axis=0)
    t1 = np.where(at_risk, rs / skmm, 0.0)
    tr = t1.sum(axis=1)
    tq = np.where(at_risk, rs * (1.0 - f1m) / skmm, 0.0).sum(axis=1)
    f = np.cumsum(nd1 / tr)
    fm = np.concatenate(([0.0], f[:-1]))
    fb = (1.0 - fm) ** rho
    # a[b] = fb (diag(t1) - t1 t1' / tr), zero outside the groups at risk
    a = fb[:, None, None] * (
        t1[:, :, None] * np.eye(ng)[None, :, :]
        - t1[:, :, None] * t1[:, None, :] / tr[:, None, None]
    )
    c = np.cumsum(a * (nd1 / (tr * (1.0 - fm)))[:, None, None], axis=0)
    score_terms = np.where(
        at_risk, fb[:, None] * (d1 - nd1[:, None] * rs * (1.0 - f1m) / (skmm * tq[:, None])), 0.0
    )
    score = score_terms.sum(axis=0)[: ng - 1]

    # cause-of-interest failures
    t4 = np.where(skm > 0, 1.0 - (1.0 - f)[:, None] / skm, 1.0)
    t5 = np.where(nd1[:, None] > 1, 1.0 - (nd1[:, None] - 1.0) / (tr[:, None] * skmm - 1.0), 1.0)
    t3 = np.where(
        at_risk & (nd1[:, None] > 0), t5 * skmm * nd1[:, None] / (tr[:, None] * safe_rs), 0.0
    )
    v3 = (t4 * t4 * t3).sum(axis=0)
    b = a - t4[:, None, :] * c  # blocks x i x k
    v2 = np.einsum("bik,bk->ik", b, t4 * t3)
    v = np.einsum("bik,bjk,bk->ij", b, b, t3)

    # competing failures
    use = (skm > 0) & (d2 > 0)
    t4 = np.where(use, (1.0 - f)[:, None] / np.where(skm > 0, skm, 1.0), 0.0)
    t5 = np.where(d2 > 1, 1.0 - (d2 - 1.0) / (rs - 1.0), 1.0)
    t3 = np.where(use, t5 * skmm**2 * d2 / safe_rs**2, 0.0)
    v3 += (t4 * t4 * t3).sum(axis=0)
    v2 -= np.einsum("bik,bk->ik", c, t4 * t4 * t3)
    v += np.einsum("bik,bjk,bk->ij", c, c, t4 * t4 * t3)

    cf = c[-1]
    v += (cf * v3[None, :]) @ cf.T + cf @ v2.T + v2 @ cf.T
    m = ng - 1
    return score, v[:m, :m]


def gray_test(
    time: ArrayLike,
    status: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
    *,
    rho: float = 0.0,
    censor_code: Hashable = 0,
) -> dict[Hashable, GrayTestResult]:
    """Gray's test of equal cumulative incidence between groups, per cause (``cuminc``).

    Parameters
    ----------
    time, status : array_like
        Follow-up times and status codes (``censor_code`` = censored, else the cause).
    group : array_like
        Group of each row.
    strata : array_like, optional
        Stratum of each row: scores and variances are summed over strata.
    rho : float, default 0
        Power of the weight ``(1 - F(t-))^rho``.
    censor_code : default 0
        Status value of censored rows.

    Returns
    -------
    dict
        ``cause -> GrayTestResult``.

    Examples
    --------
    >>> r = gray_test([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 2, 0, 1, 2, 1, 0],
    ...               [0, 0, 0, 0, 1, 1, 1, 1])
    >>> round(r[1].statistic, 4), r[1].df
    (2.3023, 1)
    """
    t, st, causes = _status(time, status, censor_code)
    levels, g = encode_labels(group, t.size, "group")
    ng = len(levels)
    if ng < 2:
        raise ValueError("Gray's test needs at least two groups")
    s = (
        np.zeros(t.size, dtype=np.int64)
        if strata is None
        else encode_labels(strata, t.size, "strata")[1]
    )
    order = np.lexsort((t, s))
    t, st, g, s = t[order], st[order], g[order], s[order]
    bounds = np.searchsorted(s, np.arange(int(s[-1]) + 2))
    failed = st != censor_code
    out: dict[Hashable, GrayTestResult] = {}
    for cause in causes:
        mcode = np.where(st == cause, 1, np.where(failed, 2, 0)).astype(np.int64)
        score = np.zeros(ng - 1)
        var = np.zeros((ng - 1, ng - 1))
        for k in range(bounds.size - 1):
            lo, hi = bounds[k], bounds[k + 1]
            if hi > lo:
                sc, vv = _crst(t[lo:hi], mcode[lo:hi], g[lo:hi], ng, rho)
                score += sc
                var += vv
        if np.linalg.matrix_rank(var) == ng - 1:
            stat = float(score @ np.linalg.solve(var, score))
            p = chi2_sf(stat, ng - 1)
        else:
            stat, p = -1.0, math.nan  # as cuminc: -1 when the variance is singular
        out[cause] = GrayTestResult(cause, stat, p, ng - 1, score, var)
    return out


def clustered_cumulative_incidence(
    time: ArrayLike,
    status: ArrayLike,
    cluster: ArrayLike,
    times: ArrayLike,
    *,
    cause: Hashable = 1,
    group: ArrayLike | None = None,
    censor_code: Hashable = 0,
    chunk_cells: int = 4_000_000,
) -> ClusteredIncidence:
    """Cumulative incidence at ``times`` with a delete-one-cluster jackknife variance.

    Parameters
    ----------
    time, status : array_like
        One row per lesion: follow-up time and status (``censor_code``, or the cause).
    cluster : array_like
        Patient of each lesion.
    times : array_like
        Landmark times (e.g. 12 and 24 months).
    cause : default 1
        Cause of interest (e.g. local tumour progression; death is competing).
    group : array_like, optional
        Group of each row (the arm).
    censor_code : default 0
        Status value of censored rows.
    chunk_cells : int
        Memory bound: clusters x failure times handled at once.

    Returns
    -------
    ClusteredIncidence

    Examples
    --------
    >>> ci = clustered_cumulative_incidence([1, 2, 3, 4], [1, 0, 1, 2], [1, 1, 2, 2], [2.5])
    >>> ci.estimate.tolist(), ci.se.round(4).tolist()
    ([[0.25]], [[0.25]])
    """
    t, st, _ = _status(time, status, censor_code)
    tp = np.asarray(times, dtype=np.float64).reshape(-1)
    _, cl = encode_labels(cluster, t.size, "cluster")
    if group is None:
        levels: tuple[Hashable, ...] = (None,)
        g = np.zeros(t.size, dtype=np.int64)
    else:
        levels, g = encode_labels(group, t.size, "group")
    n_clusters = int(cl.max()) + 1
    failed = st != censor_code
    is_cause = st == cause
    estimate = np.full((len(levels), tp.size), np.nan)
    replicates = np.zeros((n_clusters, len(levels), tp.size))
    for i in range(len(levels)):
        rows = g == i
        gt, gf, gc, gcl = t[rows], failed[rows], is_cause[rows], cl[rows]
        ftimes = np.unique(gt[gf])
        col = np.searchsorted(ftimes, tp, side="right") - 1  # last failure time <= landmark
        valid = tp <= gt.max()
        # full-sample counts at failure times
        # a row is at risk at the failure times up to its own time: the first ``pos`` ones
        pos = np.searchsorted(ftimes, gt, side="right")
        n_risk = np.bincount(pos, minlength=ftimes.size + 1)[::-1].cumsum()[::-1][1:]
        fpos = np.searchsorted(ftimes, gt[gf])
        d_all = np.bincount(fpos, minlength=ftimes.size).astype(np.float64)
        d_cause = np.bincount(np.searchsorted(ftimes, gt[gc]), minlength=ftimes.size).astype(
            np.float64
        )
        full = _aalen_johansen(n_risk[None, :].astype(np.float64), d_all[None], d_cause[None])[0]
        estimate[i] = np.where(valid, np.where(col >= 0, full[np.maximum(col, 0)], 0.0), np.nan)
        replicates[:, i, :] = estimate[i][None, :]
        present = np.unique(gcl)
        step = max(1, chunk_cells // max(ftimes.size, 1))
        for start in range(0, present.size, step):
            chunk = present[start : start + step]
            local = np.full(n_clusters, -1, dtype=np.int64)
            local[chunk] = np.arange(chunk.size)
            mine = local[gcl] >= 0
            li = local[gcl[mine]]
            nr = np.zeros((chunk.size, ftimes.size + 1))
            np.add.at(nr, (li, pos[mine]), 1.0)
            nr = nr[:, ::-1].cumsum(axis=1)[:, ::-1][:, 1:]
            da = np.zeros((chunk.size, ftimes.size))
            sel = mine & gf
            np.add.at(da, (local[gcl[sel]], np.searchsorted(ftimes, gt[sel])), 1.0)
            dc = np.zeros((chunk.size, ftimes.size))
            sel = mine & gc
            np.add.at(dc, (local[gcl[sel]], np.searchsorted(ftimes, gt[sel])), 1.0)
            curves = _aalen_johansen(n_risk[None, :] - nr, d_all[None, :] - da, d_cause[None] - dc)
            left_out = np.where(col >= 0, curves[:, np.maximum(col, 0)], 0.0)
            replicates[chunk, i, :] = np.where(valid[None, :], left_out, np.nan)
    mean = replicates.mean(axis=0)
    dev = replicates - mean[None]
    covariance = (n_clusters - 1) / n_clusters * np.einsum("cit,cjt->tij", dev, dev)
    return ClusteredIncidence(cause, levels, tp, estimate, covariance, n_clusters)


def _aalen_johansen(n_risk: FloatArray, d_all: FloatArray, d_cause: FloatArray) -> FloatArray:
    """Rows of Aalen-Johansen estimates at failure times from counts (clusters x times)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        hazard = np.where(n_risk > 0, d_all / n_risk, 0.0)
        cause_hazard = np.where(n_risk > 0, d_cause / n_risk, 0.0)
    surv = np.cumprod(1.0 - hazard, axis=1)
    before = np.concatenate((np.ones((surv.shape[0], 1)), surv[:, :-1]), axis=1)
    return np.asarray(np.cumsum(before * cause_hazard, axis=1), dtype=np.float64)
