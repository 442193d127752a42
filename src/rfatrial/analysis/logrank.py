"""Log-rank test, unstratified and stratified, as R's ``survival::survdiff``.

At every distinct event time (within a stratum) the observed events of each group are
compared with those expected under equal hazards, ``n_g d / n``; the hypergeometric
variance ``d (n - d) / (n - 1) * (n_g / n) (1[g = h] - n_h / n)`` is summed over times and
strata (``survdiff(Surv(time, event) ~ group + strata(s))``). The statistic is R's:
``(O - E)' V^{-1} (O - E)`` on all groups but the first among those with a positive expected
count, chi-square with (number of such groups - 1) degrees of freedom.

Examples
--------
>>> from rfatrial.analysis.logrank import logrank_test
>>> r = logrank_test([1, 2, 3, 4, 5, 6], [1, 1, 1, 1, 0, 1], ["a", "a", "b", "a", "b", "b"])
>>> r.observed.tolist(), r.expected.round(4).tolist()
([3.0, 2.0], [1.4833, 3.5167])
>>> round(r.statistic, 4), r.df
(2.5567, 1)
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from rfatrial.analysis.survival import (
    ArrayLike,
    FloatArray,
    IntArray,
    as_time_event,
    chi2_sf,
    encode_labels,
)

__all__ = ["LogRankResult", "logrank_test"]


@dataclass(frozen=True)
class LogRankResult:
    """Result of a (stratified) log-rank test.

    Attributes
    ----------
    groups : tuple
        Group labels, sorted.
    n : ndarray
        Rows per group.
    observed, expected : ndarray
        Observed and expected events per group (summed over strata).
    variance : ndarray
        Variance-covariance matrix of ``observed - expected``.
    statistic : float
        Chi-square statistic.
    df : int
        Degrees of freedom.
    p_value : float
        Upper tail probability of the statistic.
    stratified : bool
        Whether strata were given.
    """

    groups: tuple[Hashable, ...]
    n: IntArray
    observed: FloatArray
    expected: FloatArray
    variance: FloatArray
    statistic: float
    df: int
    p_value: float
    stratified: bool


def logrank_test(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    strata: ArrayLike | None = None,
) -> LogRankResult:
    """Log-rank test of equal hazards between groups, optionally stratified.

    Parameters
    ----------
    time, event : array_like
        Follow-up times and event indicators (1 event, 0 censored).
    group : array_like
        Group of each row (the randomized arm).
    strata : array_like, optional
        Stratum of each row (the randomization strata): the observed, expected and
        variance are computed within strata and summed, as ``strata()`` in ``survdiff``.

    Returns
    -------
    LogRankResult

    Examples
    --------
    >>> r = logrank_test([1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 1, 1], strata=[0, 1, 0, 1])
    >>> r.observed.tolist(), r.expected.tolist(), round(r.statistic, 6)
    ([2.0, 2.0], [1.0, 3.0], 2.0)
    """
    t, e = as_time_event(time, event)
    n = t.size
    groups, g = encode_labels(group, n, "group")
    s = np.zeros(n, dtype=np.int64) if strata is None else encode_labels(strata, n, "strata")[1]
    k = len(groups)
    order = np.lexsort((t, s))
    t, e, g, s = t[order], e[order], g[order], s[order]

    new_block = np.empty(n, dtype=bool)
    new_block[0] = True
    new_block[1:] = (t[1:] != t[:-1]) | (s[1:] != s[:-1])
    starts = np.flatnonzero(new_block)
    stratum_end = np.searchsorted(s, s[starts], side="right")

    onehot = np.zeros((n, k), dtype=np.float64)
    onehot[np.arange(n), g] = 1.0
    cum = np.zeros((n + 1, k), dtype=np.float64)
    np.cumsum(onehot, axis=0, out=cum[1:])
    d_group = np.add.reduceat(onehot * e[:, None], starts, axis=0)
    d = d_group.sum(axis=1)
    has_event = d > 0
    starts, stratum_end = starts[has_event], stratum_end[has_event]
    d_group, d = d_group[has_event], d[has_event]
    n_group = cum[stratum_end] - cum[starts]
    n_risk = n_group.sum(axis=1)

    share = n_group / n_risk[:, None]
    expected = (share * d[:, None]).sum(axis=0)
    observed = d_group.sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        weight = np.where(n_risk > 1, d * (n_risk - d) / (n_risk - 1.0), 0.0)
    weighted = share * weight[:, None]
    variance = np.diag(weighted.sum(axis=0)) - weighted.T @ share

    usable = np.flatnonzero(expected > 0)
    if usable.size < 2:
        statistic, df = 0.0, 0
    else:
        keep = usable[1:]
        diff = (observed - expected)[keep]
        statistic = float(diff @ np.linalg.solve(variance[np.ix_(keep, keep)], diff))
        df = int(usable.size - 1)
    return LogRankResult(
        groups=groups,
        n=np.bincount(g, minlength=k).astype(np.int64),
        observed=observed,
        expected=expected,
        variance=variance,
        statistic=statistic,
        df=df,
        p_value=chi2_sf(statistic, df) if df > 0 else 1.0,
        stratified=strata is not None,
    )
