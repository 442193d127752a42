"""Shared input handling for the survival statistics.

Every estimator of :mod:`rfatrial.analysis` takes plain arrays: one row per unit of analysis
(patient or lesion), a follow-up ``time`` (time zero = randomization, any unit), an ``event``
indicator (1 = event, 0 = censored) or a competing-risks ``status`` code, and optional
``group``, ``strata`` and ``cluster`` labels. Labels may be any sortable values (strings,
integers); groups and strata are ordered like R's ``factor`` levels, i.e. sorted.

The helpers below validate and encode those arrays once so that the estimators themselves
are written on sorted numpy arrays with cumulative sums (no Python loop over rows).

Examples
--------
>>> time, event = as_time_event([3.0, 1.0, 2.0], [1, 0, True])
>>> time.tolist(), event.tolist()
([3.0, 1.0, 2.0], [True, False, True])
>>> levels, codes = encode_labels(["b", "a", "b"], 3, "group")
>>> levels, codes.tolist()
(('a', 'b'), [1, 0, 1])
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

# scipy ships no type stubs (scipy-stubs is not a dependency): the ignore keeps mypy quiet
from scipy import stats  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "ArrayLike",
    "BoolArray",
    "ConfType",
    "FloatArray",
    "IntArray",
    "as_time_event",
    "chi2_sf",
    "encode_labels",
    "z_value",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ArrayLike = npt.ArrayLike | Sequence[Any]
ConfType = Literal["log", "log-log", "plain"]


def as_time_event(time: ArrayLike, event: ArrayLike) -> tuple[FloatArray, BoolArray]:
    """Validate follow-up times and event indicators.

    Parameters
    ----------
    time : array_like
        Follow-up times, finite, one per row.
    event : array_like
        1 (or ``True``) for an event, 0 (or ``False``) for a censored time.

    Returns
    -------
    tuple of ndarray
        ``time`` as float64 and ``event`` as bool, both 1-D.

    Raises
    ------
    ValueError
        On a length mismatch, a non-finite time, an event code other than 0/1, or no rows.

    Examples
    --------
    >>> as_time_event([1, 2], [0, 1])[1].tolist()
    [False, True]
    """
    t = np.asarray(time, dtype=np.float64).reshape(-1)
    e_raw = np.asarray(event).reshape(-1)
    if t.size == 0:
        raise ValueError("no observations")
    if e_raw.shape != t.shape:
        raise ValueError(f"time has {t.size} rows but event has {e_raw.size}")
    if not np.all(np.isfinite(t)):
        raise ValueError("times must be finite")
    if e_raw.dtype != np.bool_:
        e_num = e_raw.astype(np.float64)
        if not np.all((e_num == 0) | (e_num == 1)):
            raise ValueError("event must be coded 0 (censored) or 1 (event)")
        e = e_num == 1
    else:
        e = e_raw
    return t, e


def encode_labels(labels: ArrayLike, n: int, what: str) -> tuple[tuple[Hashable, ...], IntArray]:
    """Encode labels as integer codes in sorted (R ``factor``) order.

    Parameters
    ----------
    labels : array_like
        One label per row.
    n : int
        Expected number of rows.
    what : str
        Name of the argument, for error messages.

    Returns
    -------
    levels : tuple
        Sorted distinct labels, as Python scalars.
    codes : ndarray of int64
        Index of each row's label in ``levels``.

    Examples
    --------
    >>> encode_labels([2, 1, 2], 3, "strata")[1].tolist()
    [1, 0, 1]
    """
    arr = np.asarray(labels).reshape(-1)
    if arr.size != n:
        raise ValueError(f"{what} has {arr.size} rows, expected {n}")
    levels, codes = np.unique(arr, return_inverse=True)
    return tuple(levels.tolist()), codes.astype(np.int64).reshape(-1)


def z_value(conf_level: float) -> float:
    """Two-sided standard normal quantile for a confidence level.

    Examples
    --------
    >>> round(z_value(0.95), 6)
    1.959964
    """
    if not 0.0 < conf_level < 1.0:
        raise ValueError("conf_level must lie strictly between 0 and 1")
    return float(stats.norm.ppf(1.0 - (1.0 - conf_level) / 2.0))


def chi2_sf(statistic: float, df: int) -> float:
    """Upper tail probability of a chi-square statistic.

    Examples
    --------
    >>> round(chi2_sf(3.841458820694124, 1), 6)
    0.05
    """
    return float(stats.chi2.sf(statistic, df))
