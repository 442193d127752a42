"""Survival statistics of the study, matched to R's ``survival`` and ``cmprsk``.

* :mod:`~rfatrial.analysis.kaplan_meier`: Kaplan-Meier curves, Greenwood intervals, medians,
  landmark survival, numbers at risk, restricted means.
* :mod:`~rfatrial.analysis.logrank`: log-rank test, stratified as randomized.
* :mod:`~rfatrial.analysis.cox`: stratified Cox model (Efron or Breslow ties), cluster-robust
  variance, and the proportional-hazards test of ``cox.zph``.
* :mod:`~rfatrial.analysis.rmst`: restricted mean survival time difference.
* :mod:`~rfatrial.analysis.competing_risks`: cumulative incidence (Aalen-Johansen), Gray's
  test, and a patient-level (cluster) jackknife for lesions clustered within patients.

All take plain arrays (one row per patient or lesion; time zero = randomization).

Examples
--------
>>> from rfatrial.analysis import kaplan_meier_by_group, logrank_test
>>> time, event, arm = [5, 8, 12, 20, 3, 9, 30, 40], [1, 1, 0, 1, 1, 0, 1, 0], [0] * 4 + [1] * 4
>>> round(logrank_test(time, event, arm).statistic, 4)
1.2403
>>> kaplan_meier_by_group(time, event, arm)[1].median().median
30.0
"""

from rfatrial.analysis.competing_risks import (
    ClusteredIncidence,
    CumulativeIncidenceCurve,
    GrayTestResult,
    clustered_cumulative_incidence,
    cumulative_incidence,
    gray_test,
)
from rfatrial.analysis.cox import CoxResult, ProportionalHazardsTest, cox_ph, cox_zph
from rfatrial.analysis.kaplan_meier import (
    KaplanMeierCurve,
    MedianSurvival,
    RestrictedMean,
    SurvivalAt,
    kaplan_meier,
    kaplan_meier_by_group,
)
from rfatrial.analysis.logrank import LogRankResult, logrank_test
from rfatrial.analysis.rmst import RmstDifference, rmst_difference

__all__ = [
    "ClusteredIncidence",
    "CoxResult",
    "CumulativeIncidenceCurve",
    "GrayTestResult",
    "KaplanMeierCurve",
    "LogRankResult",
    "MedianSurvival",
    "ProportionalHazardsTest",
    "RestrictedMean",
    "RmstDifference",
    "SurvivalAt",
    "clustered_cumulative_incidence",
    "cox_ph",
    "cox_zph",
    "cumulative_incidence",
    "gray_test",
    "kaplan_meier",
    "kaplan_meier_by_group",
    "logrank_test",
    "rmst_difference",
]
