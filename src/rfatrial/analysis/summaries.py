"""Feasibility, systemic therapy, safety and liver/renal function summaries of the datasets.

Each function reads an :class:`~rfatrial.analysis.datasets.AnalysisDatasets` and returns plain
rows for the report's tables.

* Feasibility (experimental arm): patients reaching session 1, 2, ... (``rfa_sessions >= k``),
  reaching liver NED (every liver lesion complete or gone, by the engine's lesion states),
  postponements (pre-RFA panels that failed the gate) and their causes, why RFA stopped, and
  withdrawals by arm.
* Systemic therapy: per arm and agent, patients exposed, cycles and cumulative dose per patient
  (median and quartiles; doses summed in the unit recorded, e.g. mg/m²).
* Safety: per arm and CTCAE term, patients with the term at any grade, at grade 3 or worse (the
  worst grade per patient), serious, related to systemic therapy, related to RFA; complications
  counted per session by the worst CIRSE grade and the worst Clavien-Dindo grade of the session,
  and per patient by the worst grade over the patient's sessions (a session without
  complication is grade "none"; a complication without a Clavien-Dindo grade is "not graded",
  which ranks below grade I); major complications: CIRSE grade 3 or worse, Clavien-Dindo IIIa or
  worse.
* Liver and renal function (ALT, AST, bilirubin, albumin, ALBI score, Child-Pugh score, INR,
  creatinine, eGFR): for each session number and measure, the paired values on the last
  panel before (within 30 days, the session day included) and the first panel after (within 30
  days) the session, compared by the Wilcoxon signed-rank test (scipy, two-sided; zero
  differences dropped, as R's ``wilcox.test``).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass

import numpy as np

from rfatrial.analysis.datasets import CLAVIEN_DINDO, LAB_MEASURES, AnalysisDatasets

__all__ = [
    "CLAVIEN_DINDO_COLUMNS",
    "AdverseEventSummary",
    "Feasibility",
    "LabComparison",
    "PatientComplications",
    "SystemicSummary",
    "adverse_event_table",
    "clavien_dindo_table",
    "complication_table",
    "complications_per_patient",
    "feasibility",
    "lab_comparisons",
    "systemic_summary",
]

ARMS = ("control", "experimental")


@dataclass(frozen=True)
class Feasibility:
    experimental: int
    reached_session: dict[int, int]
    liver_ned: int
    patients_postponed: int
    postponements: int
    postponement_causes: dict[str, int]
    rfa_stopped: dict[str, int]
    withdrawals: dict[str, int]
    withdrawal_reasons: dict[str, int]


def feasibility(ds: AnalysisDatasets, max_sessions: int = 3) -> Feasibility:
    """Feasibility of the staged RFA pathway in the experimental arm.

    >>> from rfatrial.analysis.datasets import AnalysisDatasets
    >>> feasibility(AnalysisDatasets("1.0", None)).experimental
    0
    """
    exp = [p for p in ds.patients if p.arm == "experimental"]
    top = max([max_sessions, *(p.rfa_sessions for p in exp)])
    reached = {k: sum(1 for p in exp if p.rfa_sessions >= k) for k in range(1, top + 1)}
    causes: Counter[str] = Counter(c for r in ds.postponements for c in r.causes)
    withdrawals: Counter[str] = Counter(
        p.arm or "-" for p in ds.patients if p.disposition == "withdrawn"
    )
    return Feasibility(
        experimental=len(exp),
        reached_session=reached,
        liver_ned=sum(1 for p in exp if p.liver_ned_reached is not None),
        patients_postponed=len({r.patient_id for r in ds.postponements}),
        postponements=len(ds.postponements),
        postponement_causes=dict(causes.most_common()),
        rfa_stopped=dict(Counter(p.rfa_stopped or "not stopped" for p in exp).most_common()),
        withdrawals={arm: withdrawals.get(arm, 0) for arm in ARMS},
        withdrawal_reasons=dict(Counter(r for _, _, r in ds.withdrawal_reasons).most_common()),
    )


@dataclass(frozen=True)
class SystemicSummary:
    arm: str
    agent: str
    unit: str
    patients: int
    of: int
    cycles_median: float
    cycles_q1: float
    cycles_q3: float
    dose_median: float
    dose_q1: float
    dose_q3: float


def systemic_summary(ds: AnalysisDatasets) -> list[SystemicSummary]:
    """Cycles and cumulative dose per patient, by arm and agent."""
    n_arm = Counter(p.arm for p in ds.randomized)
    groups: dict[tuple[str, str, str], list[tuple[int, float]]] = defaultdict(list)
    for r in ds.systemic:
        groups[(r.arm, r.agent, r.unit)].append((r.cycles, r.cumulative_dose))
    out = []
    for (arm, agent, unit), values in sorted(groups.items()):
        c = np.array([v[0] for v in values], dtype=float)
        d = np.array([v[1] for v in values], dtype=float)
        cq = np.percentile(c, [50, 25, 75])
        dq = np.percentile(d, [50, 25, 75])
        out.append(
            SystemicSummary(
                arm, agent, unit, len(values), n_arm[arm], *map(float, cq), *map(float, dq)
            )
        )
    return out


@dataclass(frozen=True)
class AdverseEventSummary:
    term: str
    arm: str
    any_grade: int
    grade3plus: int
    worst: int
    serious: int
    related_systemic: int
    related_rfa: int


def adverse_event_table(ds: AnalysisDatasets) -> list[AdverseEventSummary]:
    """Patients with each CTCAE term by arm (worst grade per patient and term).

    The total row ``"Any adverse event"`` comes first; terms follow by decreasing frequency.
    """
    per: dict[tuple[str, str], dict[str, list[int]]] = defaultdict(dict)
    for r in ds.adverse_events:
        for term in (r.term, "Any adverse event"):
            flags = per[(term, r.arm)].setdefault(r.patient_id, [0, 0, 0, 0])
            flags[0] = max(flags[0], r.grade)
            flags[1] |= r.serious
            flags[2] |= "systemic" in r.related_to
            flags[3] |= "rfa" in r.related_to
    out = []
    for (term, arm), patients in per.items():
        v = list(patients.values())
        out.append(
            AdverseEventSummary(
                term,
                arm,
                len(v),
                sum(1 for f in v if f[0] >= 3),
                max(f[0] for f in v),
                sum(f[1] for f in v),
                sum(f[2] for f in v),
                sum(f[3] for f in v),
            )
        )
    total = Counter[str]()
    for s in out:
        total[s.term] += s.any_grade
    out.sort(key=lambda s: (s.term != "Any adverse event", -total[s.term], s.term, s.arm))
    return out


def complication_table(ds: AnalysisDatasets) -> dict[int, dict[int, int]]:
    """Sessions by session number (0 = all) and worst CIRSE grade (0 = no complication)."""
    out: dict[int, dict[int, int]] = {0: dict.fromkeys(range(7), 0)}
    for s in ds.sessions:
        out.setdefault(s.number, dict.fromkeys(range(7), 0))
        out[s.number][s.worst_cirse] += 1
        out[0][s.worst_cirse] += 1
    return dict(sorted(out.items()))


#: Columns of the Clavien-Dindo tables, from no complication to the worst grade.
CLAVIEN_DINDO_COLUMNS: tuple[str, ...] = ("none", "not graded", *CLAVIEN_DINDO)
_MAJOR_CD = frozenset(CLAVIEN_DINDO[CLAVIEN_DINDO.index("IIIa") :])


def clavien_dindo_table(ds: AnalysisDatasets) -> dict[int, dict[str, int]]:
    """Sessions by session number (0 = all) and worst Clavien-Dindo grade.

    >>> from rfatrial.analysis.datasets import AnalysisDatasets
    >>> clavien_dindo_table(AnalysisDatasets("1.0", None))[0]["none"]
    0
    """
    out: dict[int, dict[str, int]] = {0: dict.fromkeys(CLAVIEN_DINDO_COLUMNS, 0)}
    for s in ds.sessions:
        out.setdefault(s.number, dict.fromkeys(CLAVIEN_DINDO_COLUMNS, 0))
        out[s.number][s.worst_clavien_dindo] += 1
        out[0][s.worst_clavien_dindo] += 1
    return dict(sorted(out.items()))


@dataclass(frozen=True)
class PatientComplications:
    """Patients with at least one RFA session, by the worst grade over their sessions."""

    arm: str
    patients: int
    sessions: int
    cirse: dict[int, int]
    clavien_dindo: dict[str, int]
    major_cirse: int
    major_clavien_dindo: int
    major_sessions: int


def complications_per_patient(ds: AnalysisDatasets) -> list[PatientComplications]:
    """Per arm (only arms with sessions), the patients by their worst CIRSE and Clavien-Dindo
    grade, and the patients and sessions with a major complication."""
    by_arm: dict[str, dict[str, list[tuple[int, str]]]] = defaultdict(dict)
    for s in ds.sessions:
        by_arm[s.arm].setdefault(s.patient_id, []).append((s.worst_cirse, s.worst_clavien_dindo))
    out = []
    for arm in sorted(by_arm):
        patients = by_arm[arm]
        cirse = dict.fromkeys(range(7), 0)
        cd = dict.fromkeys(CLAVIEN_DINDO_COLUMNS, 0)
        major_cirse = major_cd = major_sessions = 0
        for grades in patients.values():
            cirse[max(g for g, _ in grades)] += 1
            cd[max((c for _, c in grades), key=CLAVIEN_DINDO_COLUMNS.index)] += 1
            major_cirse += any(g >= 3 for g, _ in grades)
            major_cd += any(c in _MAJOR_CD for _, c in grades)
            major_sessions += sum(g >= 3 or c in _MAJOR_CD for g, c in grades)
        out.append(
            PatientComplications(
                arm,
                len(patients),
                sum(len(g) for g in patients.values()),
                cirse,
                cd,
                major_cirse,
                major_cd,
                major_sessions,
            )
        )
    return out


@dataclass(frozen=True)
class LabComparison:
    measure: str
    unit: str
    session: int
    n: int
    before_median: float
    after_median: float
    change_median: float
    statistic: float
    p_value: float


def lab_comparisons(ds: AnalysisDatasets) -> list[LabComparison]:
    """Paired before/after comparison of each liver and renal measure, per session number."""
    from scipy.stats import wilcoxon  # type: ignore[import-untyped, unused-ignore]

    pairs: dict[tuple[str, int], list[tuple[float, float]]] = defaultdict(list)
    for r in ds.lab_pairs:
        pairs[(r.measure, r.session)].append((r.before, r.after))
    out = []
    order = list(LAB_MEASURES)
    for (measure, session), values in sorted(
        pairs.items(), key=lambda kv: (order.index(kv[0][0]), kv[0][1])
    ):
        b = np.array([v[0] for v in values])
        a = np.array([v[1] for v in values])
        diff = a - b
        stat, p = math.nan, math.nan
        if np.count_nonzero(diff) >= 1:
            res = wilcoxon(a, b, zero_method="wilcox", alternative="two-sided")
            stat, p = float(res.statistic), float(res.pvalue)
        out.append(
            LabComparison(
                measure,
                LAB_MEASURES[measure],
                session,
                len(values),
                float(np.median(b)),
                float(np.median(a)),
                float(np.median(diff)),
                stat,
                p,
            )
        )
    return out
