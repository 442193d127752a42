"""Restricted mean survival time (RMST) per arm and the difference between arms.

Each arm's RMST up to ``tau`` is the area under its Kaplan-Meier curve from 0 to ``tau``,
with R's standard error (``print(survfit(...), rmean = tau)``, equal to ``survRM2``'s): the
square root of ``sum_j A_j^2 d_j / (n_j (n_j - d_j))`` over event times ``t_j <= tau``, with
``A_j`` the area under the curve from ``t_j`` to ``tau``. The arms are independent samples,
so the difference has variance ``se_1^2 + se_0^2``; the interval and p-value are normal
(Wald), as ``survRM2::rmst2``.

Examples
--------
>>> from rfatrial.analysis.rmst import rmst_difference
>>> r = rmst_difference([1, 2, 3, 4, 2, 4, 6, 8], [1, 1, 1, 1, 1, 1, 1, 0],
...                     ["c", "c", "c", "c", "e", "e", "e", "e"], tau=4.0)
>>> r.rmst["c"].rmean, r.rmst["e"].rmean, r.difference
(2.5, 3.5, 1.0)
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from dataclasses import dataclass

from rfatrial.analysis.kaplan_meier import RestrictedMean, kaplan_meier_by_group
from rfatrial.analysis.survival import ArrayLike, chi2_sf, z_value

__all__ = ["RmstDifference", "rmst_difference"]


@dataclass(frozen=True)
class RmstDifference:
    """RMST of each arm and the difference ``group - reference``.

    Attributes
    ----------
    tau : float
        Truncation time.
    rmst : dict
        Group label -> :class:`~rfatrial.analysis.kaplan_meier.RestrictedMean`.
    group, reference
        The compared labels.
    difference, se, lower, upper, p_value : float
        Difference of RMSTs, its standard error, normal confidence limits, two-sided p.
    conf_level : float
        Confidence level.
    """

    tau: float
    rmst: dict[Hashable, RestrictedMean]
    group: Hashable
    reference: Hashable
    difference: float
    se: float
    lower: float
    upper: float
    p_value: float
    conf_level: float


def rmst_difference(
    time: ArrayLike,
    event: ArrayLike,
    group: ArrayLike,
    tau: float,
    *,
    reference: Hashable | None = None,
    conf_level: float = 0.95,
) -> RmstDifference:
    """Restricted mean survival time per group and the difference between two groups.

    Parameters
    ----------
    time, event : array_like
        Follow-up times and event indicators.
    group : array_like
        Arm of each row; exactly two arms.
    tau : float
        Truncation time (e.g. 36 months); should not exceed the follow-up of either arm.
    reference : optional
        The reference arm (the first label in sorted order by default).
    conf_level : float, default 0.95
        Confidence level.

    Returns
    -------
    RmstDifference

    Examples
    --------
    >>> r = rmst_difference([1, 2, 3, 4], [1, 1, 1, 1], [0, 0, 1, 1], tau=3.0)
    >>> r.difference, r.group, r.reference
    (1.5, 1, 0)
    """
    curves = kaplan_meier_by_group(time, event, group)
    if len(curves) != 2:
        raise ValueError(f"RMST difference needs exactly two groups, got {len(curves)}")
    labels = list(curves)
    if reference is None:
        reference = labels[0]
    if reference not in curves:
        raise ValueError(f"reference group {reference!r} not among {labels}")
    other = labels[1] if labels[0] == reference else labels[0]
    rmst = {label: curve.restricted_mean(tau) for label, curve in curves.items()}
    diff = rmst[other].rmean - rmst[reference].rmean
    se = math.hypot(rmst[other].se, rmst[reference].se)
    z = z_value(conf_level)
    p = chi2_sf((diff / se) ** 2, 1) if se > 0 else (1.0 if diff == 0 else 0.0)
    return RmstDifference(
        tau=float(tau),
        rmst=rmst,
        group=other,
        reference=reference,
        difference=diff,
        se=se,
        lower=diff - z * se,
        upper=diff + z * se,
        p_value=p,
        conf_level=conf_level,
    )
