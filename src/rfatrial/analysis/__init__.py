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

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

# numpy and scipy load when a statistic is first used, not when the command line starts.
_LAZY = {
    "ClusteredIncidence": "rfatrial.analysis.competing_risks",
    "CoxResult": "rfatrial.analysis.cox",
    "CumulativeIncidenceCurve": "rfatrial.analysis.competing_risks",
    "GrayTestResult": "rfatrial.analysis.competing_risks",
    "KaplanMeierCurve": "rfatrial.analysis.kaplan_meier",
    "LogRankResult": "rfatrial.analysis.logrank",
    "MedianSurvival": "rfatrial.analysis.kaplan_meier",
    "ProportionalHazardsTest": "rfatrial.analysis.cox",
    "RestrictedMean": "rfatrial.analysis.kaplan_meier",
    "RmstDifference": "rfatrial.analysis.rmst",
    "SurvivalAt": "rfatrial.analysis.kaplan_meier",
    "clustered_cumulative_incidence": "rfatrial.analysis.competing_risks",
    "cox_ph": "rfatrial.analysis.cox",
    "cox_zph": "rfatrial.analysis.cox",
    "cumulative_incidence": "rfatrial.analysis.competing_risks",
    "gray_test": "rfatrial.analysis.competing_risks",
    "kaplan_meier": "rfatrial.analysis.kaplan_meier",
    "kaplan_meier_by_group": "rfatrial.analysis.kaplan_meier",
    "logrank_test": "rfatrial.analysis.logrank",
    "rmst_difference": "rfatrial.analysis.rmst",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rfatrial.analysis' has no attribute {name!r}")
    return getattr(import_module(module), name)


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
