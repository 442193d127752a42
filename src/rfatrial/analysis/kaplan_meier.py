"""Kaplan-Meier survival curves with Greenwood variance, as R's ``survival::survfit``.

The curve is reported at every distinct observed time (events and censorings), like
``survfit``: the number at risk, events and censorings there, the survival estimate, the
standard error of the cumulative hazard ``-log S`` (Greenwood: the cumulative sum of
``d / (n (n - d))``, R's ``std.err``) and a pointwise confidence interval of type ``"log"``
(R's default), ``"log-log"`` or ``"plain"`` (R's ``conf.type``).

The median and its confidence interval follow R's ``print.survfit``: the first time the curve
(or the lower / upper confidence curve) is at or below one half; when the curve equals one
half exactly over an interval the median is the midpoint of that interval.

Examples
--------
>>> from rfatrial.analysis.kaplan_meier import kaplan_meier
>>> km = kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1])
>>> km.time.tolist(), km.n_risk.tolist()
([1.0, 2.0, 3.0, 4.0, 5.0], [6, 5, 3, 2, 1])
>>> km.survival.round(4).tolist()
[0.8333, 0.6667, 0.4444, 0.4444, 0.0]
>>> km.median().median
3.0
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

import numpy as np

from rfatrial.analysis.survival import (
    ArrayLike,
    BoolArray,
    ConfType,
    FloatArray,
    IntArray,
    as_time_event,
    encode_labels,
    z_value,
)

__all__ = [
    "KaplanMeierCurve",
    "MedianSurvival",
    "RestrictedMean",
    "SurvivalAt",
    "confidence_interval",
    "kaplan_meier",
    "kaplan_meier_by_group",
]

_TOLERANCE = math.sqrt(np.finfo(np.float64).eps)  # R's minmin(): .Machine$double.eps^0.5


@dataclass(frozen=True)
class SurvivalAt:
    """Survival read off a curve at chosen times (R ``summary(fit, times=, extend=TRUE)``).

    Attributes
    ----------
    time : ndarray
        The requested times.
    survival, std_err, lower, upper : ndarray
        The step function's value at each time (right-continuous), the standard error of
        the cumulative hazard there and the confidence limits (NaN where R gives NA).
    n_risk : ndarray
        Number of rows still at risk at each time (follow-up time >= the time).
    """

    time: FloatArray
    survival: FloatArray
    std_err: FloatArray
    lower: FloatArray
    upper: FloatArray
    n_risk: IntArray


@dataclass(frozen=True)
class MedianSurvival:
    """Median survival with its confidence interval; NaN when not reached."""

    median: float
    lower: float
    upper: float


@dataclass(frozen=True)
class RestrictedMean:
    """Restricted mean survival time up to ``tau`` and its standard error."""

    tau: float
    rmean: float
    se: float


def confidence_interval(
    survival: FloatArray, std_err: FloatArray, conf_type: ConfType, conf_level: float
) -> tuple[FloatArray, FloatArray]:
    """Pointwise confidence limits of a survival curve, as R's ``survfit_confint``.

    Parameters
    ----------
    survival : ndarray
        Survival estimates.
    std_err : ndarray
        Standard errors of the cumulative hazard ``-log S`` (R's ``std.err``).
    conf_type : {"log", "log-log", "plain"}
        Scale on which the normal approximation is made.
    conf_level : float
        Confidence level, e.g. 0.95.

    Returns
    -------
    lower, upper : ndarray
        Limits; NaN where R returns NA (survival 0, and 1 on the log-log scale).

    Examples
    --------
    >>> lo, up = confidence_interval(np.array([0.5]), np.array([0.2]), "log", 0.95)
    >>> round(float(lo[0]), 6), round(float(up[0]), 6)
    (0.337854, 0.739964)
    """
    z = z_value(conf_level)
    s = np.asarray(survival, dtype=np.float64)
    se = np.asarray(std_err, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        if conf_type == "plain":
            half = se * s * z
            lower = np.maximum(s - half, 0.0)
            upper = np.minimum(s + half, 1.0)
            bad = np.isnan(half)
            lower[bad] = np.nan
            upper[bad] = np.nan
        elif conf_type == "log":
            xx = np.where(s == 0, np.nan, s)
            lower = np.exp(np.log(xx) - z * se)
            upper = np.minimum(np.exp(np.log(xx) + z * se), 1.0)
            upper[np.isnan(xx) | np.isnan(se)] = np.nan
        elif conf_type == "log-log":
            xx = np.where((s == 0) | (s == 1), np.nan, s)
            half = z * se / np.log(xx)
            lower = np.exp(-np.exp(np.log(-np.log(xx)) - half))
            upper = np.exp(-np.exp(np.log(-np.log(xx)) + half))
        else:
            raise ValueError(f"unknown conf_type {conf_type!r}; use 'log', 'log-log' or 'plain'")
    return lower, upper


def _first_below_half(values: FloatArray, times: FloatArray) -> float:
    """R's ``minmin``: first time a curve is at or below 0.5, with its midpoint rule."""
    keep = ~np.isnan(values) & (values < 0.5 + _TOLERANCE)
    if not np.any(keep):
        return math.nan
    y = values[keep]
    x = times[keep]
    if abs(y[0] - 0.5) < _TOLERANCE:
        lower = np.flatnonzero(y < y[0])
        if lower.size:
            return float((x[0] + x[lower[0]]) / 2.0)
    return float(x[0])


@dataclass(frozen=True)
class KaplanMeierCurve:
    """A Kaplan-Meier curve at every distinct observed time (R ``survfit`` components).

    Attributes
    ----------
    time : ndarray
        Distinct observed times, increasing.
    n_risk, n_event, n_censor : ndarray
        Number at risk just before each time, events and censorings at it.
    survival : ndarray
        Kaplan-Meier estimate just after each time.
    std_err : ndarray
        Greenwood standard error of the cumulative hazard (``inf`` once everyone has failed).
    lower, upper : ndarray
        Pointwise confidence limits of type ``conf_type``.
    n : int
        Number of rows.
    conf_type : str
        ``"log"``, ``"log-log"`` or ``"plain"``.
    conf_level : float
        Confidence level of the limits.
    """

    time: FloatArray
    n_risk: IntArray
    n_event: IntArray
    n_censor: IntArray
    survival: FloatArray
    std_err: FloatArray
    lower: FloatArray
    upper: FloatArray
    n: int
    conf_type: ConfType
    conf_level: float

    @property
    def events(self) -> int:
        """Total number of events."""
        return int(self.n_event.sum())

    def at(self, times: ArrayLike) -> SurvivalAt:
        """Landmark survival at ``times`` (e.g. 12, 24, 36, 60 months).

        Before the first observed time the curve is 1 with limits (1, 1), as in R's
        ``summary.survfit``; after the last it keeps its last value with 0 at risk.

        Examples
        --------
        >>> km = kaplan_meier([1, 2, 2, 3, 4, 5], [1, 1, 0, 1, 0, 1], conf_type="log-log")
        >>> at = km.at([0, 2.5, 7])
        >>> at.n_risk.tolist(), at.survival.round(4).tolist()
        ([6, 3, 0], [1.0, 0.6667, 0.0])
        """
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        idx = np.searchsorted(self.time, t, side="right") - 1
        before = idx < 0
        safe = np.where(before, 0, idx)
        survival = np.where(before, 1.0, self.survival[safe])
        std_err = np.where(before, 0.0, self.std_err[safe])
        lower = np.where(before, 1.0, self.lower[safe])
        upper = np.where(before, 1.0, self.upper[safe])
        return SurvivalAt(t, survival, std_err, lower, upper, self.n_at_risk(t))

    def n_at_risk(self, times: ArrayLike) -> IntArray:
        """Number at risk (follow-up time >= t) at each of ``times``, for plots' tables.

        Examples
        --------
        >>> kaplan_meier([1, 2, 2, 3], [1, 0, 1, 1]).n_at_risk([0, 2, 2.5, 9]).tolist()
        [4, 3, 1, 0]
        """
        t = np.asarray(times, dtype=np.float64).reshape(-1)
        first = np.searchsorted(self.time, t, side="left")
        padded = np.append(self.n_risk, 0)
        return padded[first].astype(np.int64)

    def median(self) -> MedianSurvival:
        """Median survival and its confidence interval, by R's rule (``print.survfit``).

        Examples
        --------
        >>> m = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).median()
        >>> m.median
        2.5
        """
        return MedianSurvival(
            _first_below_half(self.survival, self.time),
            _first_below_half(self.lower, self.time),
            _first_below_half(self.upper, self.time),
        )

    def restricted_mean(self, tau: float, start: float = 0.0) -> RestrictedMean:
        """Restricted mean survival time up to ``tau``, as R's ``print(fit, rmean=tau)``.

        The area under the curve from ``start`` (0 by default, as R's when no time is
        negative) to ``tau``; the curve is extended at its last value beyond the last
        observed time. The standard error is R's: the square root of the sum, over event
        times before ``tau``, of the squared area from that time to ``tau`` times
        ``d / (n (n - d))``.

        Examples
        --------
        >>> r = kaplan_meier([1, 2, 3, 4], [1, 1, 1, 1]).restricted_mean(3.0)
        >>> r.rmean
        2.25
        """
        keep = self.time <= tau
        if not np.any(keep):
            return RestrictedMean(float(tau), float(tau - start), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            hh = np.where(
                self.n_risk - self.n_event == 0,
                0.0,
                self.n_event / (self.n_risk * (self.n_risk - self.n_event)),
            )
        times = np.append(self.time[keep], tau)
        surv = self.survival[keep]
        hh = np.append(hh[keep], 0.0)
        delta = np.diff(np.concatenate(([start], times)))
        rectangles = delta * np.concatenate(([1.0], surv))
        area_after = np.cumsum(rectangles[1:][::-1])
        variance = float(np.sum(area_after**2 * hh[::-1][1:]))
        return RestrictedMean(float(tau), float(rectangles.sum()), math.sqrt(variance))


def _curve_from_sorted(
    time: FloatArray, event: BoolArray, conf_type: ConfType, conf_level: float
) -> KaplanMeierCurve:
    n = time.size
    starts = np.concatenate(([0], np.flatnonzero(np.diff(time)) + 1))
    counts = np.diff(np.append(starts, n))
    n_event = np.add.reduceat(event.astype(np.int64), starts)
    n_risk = (n - starts).astype(np.int64)
    survival = np.asarray(np.cumprod(1.0 - n_event / n_risk), dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        term = np.where(n_event > 0, n_event / (n_risk * (n_risk - n_event)), 0.0)
    std_err = np.sqrt(np.cumsum(term))
    lower, upper = confidence_interval(survival, std_err, conf_type, conf_level)
    return KaplanMeierCurve(
        time=time[starts],
        n_risk=n_risk,
        n_event=n_event,
        n_censor=(counts - n_event).astype(np.int64),
        survival=survival,
        std_err=std_err,
        lower=lower,
        upper=upper,
        n=n,
        conf_type=conf_type,
        conf_level=conf_level,
    )


def kaplan_meier(
    time: ArrayLike,
    event: ArrayLike,
    *,
    conf_type: ConfType = "log",
    conf_level: float = 0.95,
) -> KaplanMeierCurve:
    """Kaplan-Meier estimate of one sample (R ``survfit(Surv(time, event) ~ 1)``).

    Parameters
    ----------
    time : array_like
        Follow-up times.
    event : array_like
        1 for an event, 0 for censored.
    conf_type : {"log", "log-log", "plain"}, default "log"
        Confidence interval type (R's ``conf.type``; R's default is ``"log"``).
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    KaplanMeierCurve

    Examples
    --------
    >>> km = kaplan_meier([2, 3, 3, 7], [1, 1, 0, 0])
    >>> km.survival.tolist(), km.std_err.round(4).tolist()
    ([0.75, 0.5, 0.5], [0.2887, 0.5, 0.5])
    """
    t, e = as_time_event(time, event)
    confidence_interval(np.ones(1), np.zeros(1), conf_type, conf_level)  # validate early
    order = np.argsort(t, kind="stable")
    return _curve_from_sorted(t[order], e[order], conf_type, conf_level)


def kaplan_meier_by_group(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    *,
    conf_type: ConfType = "log",
    conf_level: float = 0.95,
) -> dict[Hashable, KaplanMeierCurve]:
    """Kaplan-Meier curves per group (R ``survfit(Surv(time, event) ~ group)``).

    Parameters
    ----------
    time, event : array_like
        Follow-up times and event indicators.
    group : array_like
        Group label of each row (e.g. the randomized arm).
    conf_type, conf_level
        As :func:`kaplan_meier`.

    Returns
    -------
    dict
        One curve per group label, in sorted label order.

    Examples
    --------
    >>> curves = kaplan_meier_by_group([1, 2, 3, 4], [1, 0, 1, 1], ["a", "b", "a", "b"])
    >>> list(curves), curves["a"].survival.tolist()
    (['a', 'b'], [0.5, 0.0])
    """
    t, e = as_time_event(time, event)
    levels, codes = encode_labels(group, t.size, "group")
    confidence_interval(np.ones(1), np.zeros(1), conf_type, conf_level)
    order = np.lexsort((t, codes))
    t, e, codes = t[order], e[order], codes[order]
    bounds = np.searchsorted(codes, np.arange(len(levels) + 1))
    return {
        level: _curve_from_sorted(
            t[bounds[i] : bounds[i + 1]], e[bounds[i] : bounds[i + 1]], conf_type, conf_level
        )
        for i, level in enumerate(levels)
    }
