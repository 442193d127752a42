"""Analysis datasets: patient histories in, one row per patient, endpoint, lesion, session, AE out.

Everything here is derived from the kernel's history format (:mod:`rfatrial.kernel.history`) and
the pathway engine's verdict on it (:func:`rfatrial.kernel.pathway.evaluate`: RECIST responses,
lesion states, deviations), never from a simulator's hidden truth, so the same code reads a
simulated cohort and the study database.

Conventions (references/clinical.md §3; Puijk et al., Radiology 2021, DATECAN/SIO consensus):

* **Time zero** is the date of randomization (an RCT); times are in months of 365.25/12 days.
* **Unit of analysis**: the patient for OS, PFS, intrahepatic PFS and distant PFS; the ablated
  tumour (lesion) for technical success, technique efficacy and local tumour progression (LTP);
  the session for complications.
* **Tumour assessments** are the imaging records dated on or after randomization whose purpose is
  not ``baseline``, and the post-RFA (1-month) scans.
* **Progression** on an assessment is, by site:

  - *local* (LTP): a lesion listed in ``imaging.local_progression`` (new tumour at the edge of an
    ablation zone after a scan documented complete ablation; a residual tumour on the 1-month
    scan is *not* LTP);
  - *new intrahepatic*: a new lesion in the liver (``new_lesions`` with organ ``liver``);
  - *extrahepatic*: ``extrahepatic_progression``, or a new lesion outside the liver;
  - *growth*: RECIST 1.1 progressive disease (PD) by the engine's response at that scan that is
    not explained by new lesions (target sum +20 % and 5 mm over the nadir, or unequivocal
    non-target progression, ``non_target_progression``). Growth is intrahepatic when every lesion
    measured at that scan is in the liver, otherwise its site is unlocalized.

* **Endpoints** (patient level; the event is the earliest of the listed progressions and death
  from any cause; death counts whenever it comes before progression):

  ======  ==========================================================================
  OS      death from any cause; censored at the last contact (latest record)
  PFS     any progression (local, new intrahepatic, extrahepatic, growth) or death
  IHPFS   intrahepatic progression (local, new intrahepatic, intrahepatic growth) or death
  DPFS    distant progression (new intrahepatic, extrahepatic, any growth: every
          progression away from the ablation zones) or death
  LTPFS   local tumour progression-free survival per patient: the first LTP of any
          ablated tumour, or death (only the experimental arm's ablated tumours can
          show LTP: in the control arm it is death alone)
  DFS     disease-free survival, for patients rendered free of disease only: from the
          day the liver is NED (see below) to any progression after that day
          (local, new intrahepatic, extrahepatic, growth) or death
  ======  ==========================================================================

  The progression-based endpoints are censored at the last tumour assessment without that
  endpoint's progression, or at their start (time 0) when there is none.
* **Baseline** (one row per patient): sex, age, ECOG, number of liver lesions, RAS and BRAF status
  and extrahepatic disease as recorded at screening; the sum of the liver lesions' diameters on
  the last baseline scan; ALBI score and CEA (ng/mL; µg/L is the same) from the last lab panel
  dated on or before randomization (the day itself included) that has the measure: a later panel
  without it does not erase an earlier value, a panel after randomization is never baseline.
  Patients never randomized: on or before their last record.
* **Liver NED** (no evidence of disease in the liver) is the first day on which every liver
  lesion known to the engine is ``complete`` (ablated, confirmed on the post-RFA scan) or
  ``disappeared`` (RECIST: gone on imaging), in either arm. A patient is **rendered NED** (enters
  DFS) when the liver is NED, there was no extrahepatic disease at screening and no extrahepatic
  progression on or before that day. DFS starts on the NED day, not at randomization: it is a
  comparison of the patients who reached NED, not of the randomized groups.
* **Per lesion** (every lesion treated in at least one RFA session): technical success as
  recorded for the lesion's first ablation; technique efficacy = ``complete`` on the first
  post-RFA scan after the first ablation (``None`` when that scan has no result for it); assisted
  technique efficacy = ``complete`` on the post-RFA scan after the lesion's *last* ablation (a
  repeat ablation of residual tumour or of LTP), so it equals technique efficacy for lesions
  ablated once; time to LTP with death a competing event: status 1 at the first LTP of the lesion
  after its first ablation, 2 at death without prior LTP, 0 censored at the patient's last tumour
  assessment (or the first ablation when there is none after it).

Examples
--------
>>> from rfatrial.kernel.history import PatientHistory
>>> h = PatientHistory.model_validate({"patient_id": "P1", "site": "S01", "sex": "F",
...     "age_at_screening": 60, "events": [
...         {"type": "randomization", "date": "2026-01-01", "arm": "control"},
...         {"type": "death", "date": "2026-07-02"}]})
>>> ds = derive_datasets([h])
>>> os_row = ds.endpoint_rows("OS")[0]
>>> os_row.event, round(os_row.time_months, 3), os_row.reason
(1, 5.979, 'death')
"""

from __future__ import annotations

import contextlib
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from rfatrial.kernel.albi import albi
from rfatrial.kernel.child_pugh import child_pugh
from rfatrial.kernel.egfr import egfr_ckd_epi_2021
from rfatrial.kernel.evaluation import Evaluation
from rfatrial.kernel.history import (
    EVENT_ORDER,
    AdverseEvent,
    Event,
    ImagingAssessment,
    LabPanel,
    PatientHistory,
    PostRfaScan,
    RfaSession,
    SystemicCycle,
)
from rfatrial.kernel.lab_gate import check_panel
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.kernel.units import ClinicalValueError, to_canonical

__all__ = [
    "CLAVIEN_DINDO",
    "DAYS_PER_MONTH",
    "ENDPOINTS",
    "ENDPOINT_NAMES",
    "LAB_MEASURES",
    "AdverseEventRow",
    "AnalysisDatasets",
    "EndpointRow",
    "LabPairRow",
    "LesionRow",
    "PatientRow",
    "PostponementRow",
    "SessionRow",
    "SurvivalData",
    "SystemicRow",
    "derive_datasets",
    "months_between",
    "worst_clavien_dindo",
]

DAYS_PER_MONTH = 365.25 / 12
ENDPOINTS: tuple[str, ...] = ("OS", "PFS", "IHPFS", "DPFS", "LTPFS", "DFS")
ENDPOINT_NAMES = {
    "OS": "Overall survival",
    "PFS": "Progression-free survival",
    "IHPFS": "Intrahepatic progression-free survival",
    "DPFS": "Distant progression-free survival",
    "LTPFS": "Local tumour progression-free survival",
    "DFS": "Disease-free survival after liver NED",
}
Endpoint = Literal["OS", "PFS", "IHPFS", "DPFS", "LTPFS", "DFS"]
#: Clavien-Dindo grades from the mildest to the worst (Dindo et al. 2004).
CLAVIEN_DINDO: tuple[str, ...] = ("I", "II", "IIIa", "IIIb", "IVa", "IVb", "V")

#: Liver and renal function measures compared before and after each session, with their units.
LAB_MEASURES: dict[str, str] = {
    "alt": "U/L",
    "ast": "U/L",
    "bilirubin": "µmol/L",
    "albumin": "g/L",
    "albi": "score",
    "child_pugh": "score",
    "inr": "ratio",
    "creatinine": "µmol/L",
    "egfr": "mL/min/1.73m²",
}
#: Window of the "before" panel (days before the session, the session day included) and of the
#: "after" panel (days after the session).
LAB_BEFORE_DAYS = 30
LAB_AFTER_DAYS = 30
_RECIST_MODALITIES = frozenset({"CT", "MRI"})


def months_between(start: date, end: date) -> float:
    """Months (365.25/12 days) from ``start`` to ``end``.

    >>> round(months_between(date(2026, 1, 1), date(2027, 1, 1)), 4)
    11.9918
    """
    return (end - start).days / DAYS_PER_MONTH


# --- rows ---------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PatientRow:
    """One patient: arm, strata, randomization, baseline features and disposition."""

    patient_id: str
    site: str
    sex: str
    age: int
    arm: str | None
    stratum: dict[str, str]
    screened: date | None
    eligible: bool | None
    randomized: date | None
    liver_lesion_count: int | None
    ras_status: str | None
    braf_status: str | None
    ecog: int | None
    extrahepatic_disease: bool | None
    baseline_sum_mm: float | None
    baseline_albi: float | None
    baseline_cea: float | None
    disposition: str
    disposition_date: date | None
    disposition_reason: str | None
    died: bool
    death_date: date | None
    last_contact: date
    follow_up_months: float
    cycles: int
    rfa_sessions: int
    rfa_stopped: str | None
    liver_ned_reached: date | None
    deviations: int
    phase: str

    @property
    def stratum_label(self) -> str:
        """The randomization stratum as one label (``site/liver_lesions/ras_status``)."""
        return "/".join(self.stratum.values()) if self.stratum else "-"


@dataclass(frozen=True, slots=True)
class EndpointRow:
    """One patient's time to one endpoint (event 1) or censoring (event 0)."""

    patient_id: str
    endpoint: str
    arm: str
    stratum: str
    start: date
    end: date
    event: int
    time_months: float
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class LesionRow:
    """One ablated lesion: technical success, technique efficacy and time to LTP."""

    patient_id: str
    lesion_id: str
    arm: str
    sessions: tuple[int, ...]
    first_ablation: date
    margin_mm: float | None
    technical_success: bool
    technique_efficacy: bool | None
    assisted_technique_efficacy: bool | None
    status: int
    end: date
    time_months: float
    time_from_ablation_months: float
    reason: str
    source: str


@dataclass(frozen=True, slots=True)
class SessionRow:
    """One RFA session with its complications (CIRSE grade, 0 = none; Clavien-Dindo grade).

    ``worst_clavien_dindo`` is the worst Clavien-Dindo grade of the session's complications,
    ``"none"`` without complication, ``"not graded"`` when no complication has a grade.
    """

    patient_id: str
    arm: str
    number: int
    date: date
    lesions: int
    complications: tuple[tuple[str, int], ...]
    worst_cirse: int
    clavien_dindo: tuple[str | None, ...] = ()
    worst_clavien_dindo: str = "none"


@dataclass(frozen=True, slots=True)
class PostponementRow:
    """A pre-RFA lab panel that failed the gate: the session is postponed."""

    patient_id: str
    session: int
    date: date
    causes: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SystemicRow:
    """One patient's exposure to one agent: cycles containing it and the cumulative dose."""

    patient_id: str
    arm: str
    agent: str
    unit: str
    cycles: int
    cumulative_dose: float


@dataclass(frozen=True, slots=True)
class AdverseEventRow:
    patient_id: str
    arm: str
    date: date
    term: str
    grade: int
    serious: bool
    related_to: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LabPairRow:
    """A liver or renal measure on the last panel before and the first panel after a session."""

    patient_id: str
    arm: str
    session: int
    measure: str
    before: float
    after: float
    before_date: date
    after_date: date


@dataclass(frozen=True)
class SurvivalData:
    """Arrays of one endpoint, one row per randomized patient, ready for the statistics."""

    endpoint: str
    patient_id: NDArray[np.str_]
    time: NDArray[np.float64]
    event: NDArray[np.int64]
    arm: NDArray[np.str_]
    stratum: NDArray[np.str_]


@dataclass
class AnalysisDatasets:
    """All analysis datasets of a cohort (see the module's docstring for the derivations)."""

    protocol_version: str
    cutoff: date | None
    patients: list[PatientRow] = field(default_factory=list)
    endpoints: list[EndpointRow] = field(default_factory=list)
    lesions: list[LesionRow] = field(default_factory=list)
    sessions: list[SessionRow] = field(default_factory=list)
    postponements: list[PostponementRow] = field(default_factory=list)
    systemic: list[SystemicRow] = field(default_factory=list)
    adverse_events: list[AdverseEventRow] = field(default_factory=list)
    lab_pairs: list[LabPairRow] = field(default_factory=list)
    withdrawal_reasons: list[tuple[str, str, str]] = field(default_factory=list)

    @property
    def randomized(self) -> list[PatientRow]:
        """Patients who were randomized (the intention-to-treat population)."""
        return [p for p in self.patients if p.arm is not None]

    def endpoint_rows(self, endpoint: str) -> list[EndpointRow]:
        return [r for r in self.endpoints if r.endpoint == endpoint]

    def survival(self, endpoint: str) -> SurvivalData:
        """The arrays of ``endpoint`` (one of :data:`ENDPOINTS`; DFS: the NED patients only)."""
        if endpoint not in ENDPOINTS:
            raise ValueError(f"unknown endpoint '{endpoint}' (one of {', '.join(ENDPOINTS)})")
        rows = self.endpoint_rows(endpoint)
        return SurvivalData(
            endpoint,
            np.array([r.patient_id for r in rows], dtype=np.str_),
            np.array([r.time_months for r in rows], dtype=np.float64),
            np.array([r.event for r in rows], dtype=np.int64),
            np.array([r.arm for r in rows], dtype=np.str_),
            np.array([r.stratum for r in rows], dtype=np.str_),
        )


# --- derivation ---------------------------------------------------------------------------------


def _in_protocol_order(stratum: dict[str, str], protocol: Protocol) -> dict[str, str]:
    """The stratum's factors in the protocol's order (then any other, by name): a stratum read
    back from a database (PostgreSQL's jsonb orders keys its own way) labels and sorts the same
    as the one the randomization wrote."""
    order = [s.name for s in protocol.randomization.strata]
    keys = sorted(stratum, key=lambda k: (order.index(k) if k in order else len(order), k))
    return {k: stratum[k] for k in keys}


def derive_datasets(
    histories: Iterable[PatientHistory],
    protocol: Protocol | None = None,
    *,
    cutoff: date | None = None,
) -> AnalysisDatasets:
    """Derive every analysis dataset from patient histories.

    Parameters
    ----------
    histories
        One history per patient (screen failures included: they count in the CONSORT diagram).
    protocol
        The protocol the engine applies (default: the shipped protocol).
    cutoff
        Data cut-off: records dated after it are ignored (default: use every record).
    """
    protocol = protocol or default_protocol()
    out = AnalysisDatasets(protocol.version, cutoff)
    for h in histories:
        _derive_patient(h, protocol, cutoff, out)
    return out


def _order(events: Sequence[Event]) -> list[tuple[int, Event]]:
    return sorted(enumerate(events), key=lambda x: (x[1].date, EVENT_ORDER[x[1].type], x[0]))


def _src(i: int, e: Event) -> str:
    return f"events[{i}] {e.type} {e.date.isoformat()}"


@dataclass(slots=True)
class _Progression:
    """The first assessment showing each kind of progression."""

    any: tuple[int, Event, str] | None = None
    intrahepatic: tuple[int, Event, str] | None = None
    distant: tuple[int, Event, str] | None = None
    local: tuple[int, Event, str] | None = None
    #: every assessment with a progression (for DFS: the first one after liver NED)
    all: list[tuple[int, Event, str]] = field(default_factory=list)
    #: the first assessment with extrahepatic progression
    extrahepatic: tuple[int, Event] | None = None


def _derive_patient(
    h: PatientHistory, protocol: Protocol, cutoff: date | None, out: AnalysisDatasets
) -> None:
    events = h.events if cutoff is None else [e for e in h.events if e.date <= cutoff]
    # indices stay those of the full history (the source records of the rows)
    ordered = [x for x in _order(h.events) if cutoff is None or x[1].date <= cutoff]
    today = cutoff or (max(e.date for e in events) if events else date.min)
    if cutoff is not None and len(events) != len(h.events):
        h = h.model_copy(update={"events": events})
    ev: Evaluation | None = evaluate(h, protocol, today) if events else None

    screening = next((e for _, e in ordered if e.type == "screening"), None)
    rand = next((e for _, e in ordered if e.type == "randomization"), None)
    death = next(((i, e) for i, e in ordered if e.type == "death"), None)
    off = next(
        ((i, e) for i, e in ordered if e.type in ("death", "withdrawal", "lost_to_follow_up")),
        None,
    )
    last_contact = ordered[-1][1].date if ordered else date.min
    arm = rand.arm if rand is not None else None
    stratum = _in_protocol_order(rand.stratum, protocol) if rand is not None else {}
    stratum_label = "/".join(stratum.values()) if stratum else "-"

    disposition, disp_date, disp_reason = "in_follow_up", None, None
    if rand is None:
        disposition = "not_randomized"
    if off is not None:
        _, oe = off
        disp_date = oe.date
        if oe.type == "death":
            disposition, disp_reason = "died", oe.cause
        elif oe.type == "withdrawal":
            disposition, disp_reason = "withdrawn", f"{oe.reason} ({oe.initiated_by})"
            out.withdrawal_reasons.append((h.patient_id, arm or "-", oe.reason))
        else:
            disposition = "lost_to_follow_up"

    # baseline: the last baseline scan, and the last lab panel on or before randomization with
    # the measure (ALBI: bilirubin and albumin; CEA)
    anchor = rand.date if rand is not None else last_contact
    baseline_sum = baseline_albi = baseline_cea = None
    for _, e in ordered:
        if e.date > anchor:
            break
        if e.type == "imaging" and e.purpose == "baseline":
            baseline_sum = sum(
                m.diameter_mm or 0.0 for m in e.lesions if m.organ == "liver" and not m.is_node
            )
        elif e.type == "lab_panel":
            score = _albi(e)
            baseline_albi = score if score is not None else baseline_albi
            cea = _cea(e)
            baseline_cea = cea if cea is not None else baseline_cea

    sessions = [(i, e) for i, e in ordered if e.type == "rfa_session"]
    cycles = [e for _, e in ordered if e.type == "systemic_cycle"]
    ned = _liver_ned_date(ev) if ev is not None and rand is not None else None

    followed = months_between(rand.date, last_contact) if rand is not None else 0.0
    out.patients.append(
        PatientRow(
            patient_id=h.patient_id,
            site=h.site,
            sex=h.sex,
            age=h.age_at_screening,
            arm=arm,
            stratum=stratum,
            screened=screening.date if screening is not None else None,
            eligible=screening.eligible if screening is not None else None,
            randomized=rand.date if rand is not None else None,
            liver_lesion_count=screening.liver_lesion_count if screening is not None else None,
            ras_status=screening.ras_status if screening is not None else None,
            braf_status=screening.braf_status if screening is not None else None,
            ecog=screening.ecog if screening is not None else None,
            extrahepatic_disease=(
                screening.extrahepatic_disease if screening is not None else None
            ),
            baseline_sum_mm=baseline_sum,
            baseline_albi=baseline_albi,
            baseline_cea=baseline_cea,
            disposition=disposition,
            disposition_date=disp_date,
            disposition_reason=disp_reason,
            died=death is not None,
            death_date=death[1].date if death is not None else None,
            last_contact=last_contact,
            follow_up_months=followed,
            cycles=len(cycles),
            rfa_sessions=len(sessions),
            rfa_stopped=ev.rfa_stopped if ev is not None else None,
            liver_ned_reached=ned,
            deviations=len(ev.deviations) if ev is not None else 0,
            phase=ev.phase if ev is not None else "not_screened",
        )
    )
    if rand is None or arm is None:
        return
    start = rand.date

    # --- tumour assessments and progression ---------------------------------------------------
    pd_dates: set[tuple[date, str]] = set()
    effective_scans: list[date] = []
    if ev is not None:
        for r in ev.responses:
            if r.overall == "PD":
                pd_dates.add((r.date, r.modality))
            if r.effective and r.purpose == "response":
                effective_scans.append(r.date)
    prog = _Progression()
    last_assessment: tuple[int, Event] | None = None
    last_no_prog: dict[str, tuple[int, Event] | None] = {
        "PFS": None,
        "IHPFS": None,
        "DPFS": None,
        "LTPFS": None,
    }
    ltp_first: dict[str, tuple[int, ImagingAssessment]] = {}
    assessments: list[tuple[int, ImagingAssessment | PostRfaScan]] = []
    for i, e in ordered:
        if e.type == "post_rfa_scan" or (
            e.type == "imaging" and e.purpose != "baseline" and e.date >= start
        ):
            assert isinstance(e, ImagingAssessment | PostRfaScan)
            assessments.append((i, e))
    for i, e in assessments:
        last_assessment = (i, e)
        local = e.local_progression if isinstance(e, ImagingAssessment) else []
        new_liver = [m for m in e.new_lesions if m.organ == "liver"]
        extra = e.extrahepatic_progression or any(m.organ != "liver" for m in e.new_lesions)
        growth = False
        growth_liver = False
        if isinstance(e, ImagingAssessment):
            for lid in local:
                ltp_first.setdefault(lid, (i, e))
            pd = (e.date, e.modality) in pd_dates
            growth = e.non_target_progression or (pd and not e.new_lesions and not extra)
            growth_liver = growth and all(m.organ == "liver" for m in e.lesions)
        sites = []
        if local:
            sites.append("local progression " + ", ".join(local))
        if new_liver:
            sites.append("new liver lesion(s)")
        if extra:
            sites.append("extrahepatic progression")
        if growth:
            sites.append("RECIST progression of known disease")
        if sites:
            prog.all.append((i, e, "; ".join(sites)))
        if sites and prog.any is None:
            prog.any = (i, e, "; ".join(sites))
        if local and prog.local is None:
            prog.local = (i, e, "local progression " + ", ".join(local))
        if extra and prog.extrahepatic is None:
            prog.extrahepatic = (i, e)
        if (local or new_liver or growth_liver) and prog.intrahepatic is None:
            ih = [s for s in sites if not s.startswith("extrahepatic")]
            if growth and not growth_liver:
                ih = [s for s in ih if not s.startswith("RECIST")]
            prog.intrahepatic = (i, e, "; ".join(ih))
        if (new_liver or extra or growth) and prog.distant is None:
            prog.distant = (i, e, "; ".join(s for s in sites if not s.startswith("local")))
        if prog.any is None:
            last_no_prog["PFS"] = (i, e)
        if prog.intrahepatic is None:
            last_no_prog["IHPFS"] = (i, e)
        if prog.distant is None:
            last_no_prog["DPFS"] = (i, e)
        if prog.local is None:
            last_no_prog["LTPFS"] = (i, e)

    censor_why = {
        "withdrawn": "withdrawn",
        "lost_to_follow_up": "lost to follow-up",
    }.get(disposition, "alive")

    def add(
        endpoint: str, end: date, event: int, reason: str, source: str, origin: date = start
    ) -> None:  # one endpoint row
        out.endpoints.append(
            EndpointRow(
                h.patient_id,
                endpoint,
                arm,
                stratum_label,
                origin,
                end,
                event,
                months_between(origin, end),
                reason,
                source,
            )
        )

    if death is not None:
        add("OS", death[1].date, 1, "death", _src(*death))
    else:
        li, le = ordered[-1]
        add("OS", le.date, 0, f"{censor_why} at last contact", _src(li, le))
    for name, found in (
        ("PFS", prog.any),
        ("IHPFS", prog.intrahepatic),
        ("DPFS", prog.distant),
        ("LTPFS", prog.local),
    ):
        if found is not None and (death is None or found[1].date <= death[1].date):
            add(name, found[1].date, 1, found[2], _src(found[0], found[1]))
        elif death is not None:
            add(name, death[1].date, 1, "death", _src(*death))
        else:
            last = last_no_prog[name]
            if last is None:
                add(name, start, 0, "no tumour assessment after randomization", _src(0, rand))
            else:
                add(
                    name,
                    last[1].date,
                    0,
                    f"{censor_why}, censored at the last tumour assessment",
                    _src(*last),
                )

    # DFS: from liver NED, for the patients rendered free of disease (see the module docstring)
    extra_at_start = screening is not None and bool(screening.extrahepatic_disease)
    if (
        ned is not None
        and not extra_at_start
        and (prog.extrahepatic is None or prog.extrahepatic[1].date > ned)
        and (death is None or death[1].date >= ned)
    ):
        _add_dfs(add, ned, prog, death, assessments, censor_why)

    # --- sessions, lesions ------------------------------------------------------------------------
    post_scans = [(i, e) for i, e in ordered if e.type == "post_rfa_scan"]
    per_lesion: dict[str, list[tuple[int, RfaSession, bool, float | None]]] = defaultdict(list)
    for number, (_, s) in enumerate(sessions, start=1):
        assert isinstance(s, RfaSession)
        grades = tuple((c.description, c.cirse_grade) for c in s.complications)
        clavien = tuple(c.clavien_dindo for c in s.complications)
        out.sessions.append(
            SessionRow(
                h.patient_id,
                arm,
                number,
                s.date,
                len(s.lesions),
                grades,
                max((g for _, g in grades), default=0),
                clavien,
                worst_clavien_dindo(clavien),
            )
        )
        for x in s.lesions:
            per_lesion[x.lesion_id].append((number, s, x.technical_success, x.margin_mm))
    session_dates = [s.date for _, s in sessions]
    for lesion_id, treated in per_lesion.items():
        first_number, first, success, margin = treated[0]

        def outcome_after(number: int, day: date, lid: str = lesion_id) -> str | None:
            nxt = session_dates[number] if number < len(session_dates) else date.max
            for _, scan in post_scans:
                if day < scan.date <= nxt:
                    assert isinstance(scan, PostRfaScan)
                    for r in scan.results:
                        if r.lesion_id == lid:
                            return r.outcome
            return None

        primary = outcome_after(first_number, first.date)
        last_number, last_session = treated[-1][0], treated[-1][1]
        final = outcome_after(last_number, last_session.date) if len(treated) > 1 else primary
        if final is None and len(treated) > 1:
            final = primary
        ltp = ltp_first.get(lesion_id)
        if ltp is not None and ltp[1].date <= first.date:
            ltp = None
        if ltp is not None and (death is None or ltp[1].date <= death[1].date):
            status, end, reason, source = 1, ltp[1].date, "local tumour progression", _src(*ltp)
        elif death is not None:
            status, end, reason, source = 2, death[1].date, "death", _src(*death)
        else:
            last = last_assessment
            if last is not None and last[1].date > first.date:
                status, end = 0, last[1].date
                reason, source = "censored at the last tumour assessment", _src(*last)
            else:
                status, end = 0, first.date
                reason, source = (
                    "no tumour assessment after the ablation",
                    f"session {first_number}",
                )
        out.lesions.append(
            LesionRow(
                h.patient_id,
                lesion_id,
                arm,
                tuple(t[0] for t in treated),
                first.date,
                margin,
                success,
                None if primary is None else primary == "complete",
                None if final is None else final == "complete",
                status,
                end,
                months_between(start, end),
                months_between(first.date, end),
                reason,
                source,
            )
        )

    # --- postponements (experimental arm): failed pre-RFA gates ---------------------------------
    if arm == "experimental" and effective_scans:
        criteria = protocol.lab_gate.criteria
        panels = [e for _, e in ordered if e.type == "lab_panel"]
        windows: list[tuple[int, date, date]] = []
        for number, day in enumerate(session_dates, start=1):
            opened = [d for d in effective_scans if d <= day]
            prev = session_dates[number - 2] if number > 1 else start
            if opened and opened[-1] >= prev:
                windows.append((number, opened[-1], day))
        after_last = [d for d in effective_scans if not session_dates or d > session_dates[-1]]
        if after_last and (ev is None or ev.rfa_stopped is None):
            windows.append((len(session_dates) + 1, after_last[-1], off[1].date if off else today))
        for number, lo, hi in windows:
            for p in panels:
                if lo <= p.date <= hi:
                    assert isinstance(p, LabPanel)
                    result = check_panel(p, criteria)
                    failed = tuple(c.key for c in result.criteria if c.status == "fail")
                    if failed:
                        out.postponements.append(
                            PostponementRow(h.patient_id, number, p.date, failed)
                        )

    # --- systemic therapy -----------------------------------------------------------------------
    exposure: dict[tuple[str, str], list[float]] = {}
    for c in cycles:
        assert isinstance(c, SystemicCycle)
        for a in c.agents:
            key = (a.name.lower(), a.unit)
            got = exposure.setdefault(key, [0, 0.0])
            got[0] += 1
            got[1] += a.dose
    for (agent, unit), (n, dose) in sorted(exposure.items()):
        out.systemic.append(SystemicRow(h.patient_id, arm, agent, unit, int(n), dose))

    # --- adverse events -------------------------------------------------------------------------
    for _, e in ordered:
        if e.type == "adverse_event":
            assert isinstance(e, AdverseEvent)
            out.adverse_events.append(
                AdverseEventRow(
                    h.patient_id, arm, e.date, e.term, e.grade, e.serious, tuple(e.related_to)
                )
            )

    # --- liver and renal function around sessions ----------------------------------------------
    if sessions:
        panels = [e for _, e in ordered if e.type == "lab_panel"]
        born = (screening.date if screening is not None else start).year - h.age_at_screening
        for number, day in enumerate(session_dates, start=1):
            before = [p for p in panels if 0 <= (day - p.date).days <= LAB_BEFORE_DAYS]
            after = [p for p in panels if 0 < (p.date - day).days <= LAB_AFTER_DAYS]
            if not before or not after:
                continue
            pb, pa = before[-1], after[0]
            assert isinstance(pb, LabPanel) and isinstance(pa, LabPanel)
            vb = _measures(pb, h.sex, pb.date.year - born)
            va = _measures(pa, h.sex, pa.date.year - born)
            for measure in LAB_MEASURES:
                v0, v1 = vb.get(measure), va.get(measure)
                if v0 is not None and v1 is not None:
                    out.lab_pairs.append(
                        LabPairRow(h.patient_id, arm, number, measure, v0, v1, pb.date, pa.date)
                    )


def worst_clavien_dindo(grades: Sequence[str | None]) -> str:
    """The worst Clavien-Dindo grade of a session's complications.

    ``"none"`` when there is no complication, ``"not graded"`` when none of them has a grade.

    >>> worst_clavien_dindo(["I", None, "IIIa", "II"]), worst_clavien_dindo([None])
    ('IIIa', 'not graded')
    """
    if not grades:
        return "none"
    graded = [g for g in grades if g is not None]
    if not graded:
        return "not graded"
    return max(graded, key=CLAVIEN_DINDO.index)


def _add_dfs(
    add: Callable[..., None],
    ned: date,
    prog: _Progression,
    death: tuple[int, Event] | None,
    assessments: Sequence[tuple[int, ImagingAssessment | PostRfaScan]],
    censor_why: str,
) -> None:
    """The DFS row: the first progression after the NED day, or death, or censoring at the last
    tumour assessment after that day (at the NED day itself when there is none)."""
    found = next((x for x in prog.all if x[1].date > ned), None)
    if found is not None and (death is None or found[1].date <= death[1].date):
        add("DFS", found[1].date, 1, found[2], _src(found[0], found[1]), ned)
    elif death is not None:
        add("DFS", death[1].date, 1, "death", _src(*death), ned)
    else:
        after = [(i, e) for i, e in assessments if e.date > ned]
        if after:
            add(
                "DFS",
                after[-1][1].date,
                0,
                f"{censor_why}, censored at the last tumour assessment",
                _src(*after[-1]),
                ned,
            )
        else:
            add("DFS", ned, 0, "no tumour assessment after liver NED", f"liver NED {ned}", ned)


def _albi(panel: LabPanel) -> float | None:
    bili, alb = panel.result("bilirubin"), panel.result("albumin")
    if bili is None or alb is None:
        return None
    try:
        return albi(bili.value, bili.unit, alb.value, alb.unit).score
    except ClinicalValueError:
        return None


def _cea(panel: LabPanel) -> float | None:
    """The panel's CEA in ng/mL (µg/L is the same), ``None`` when it has none."""
    r = panel.result("cea")
    if r is None:
        return None
    try:
        return to_canonical("cea", r.value, r.unit)
    except ClinicalValueError:
        return None


def _child_pugh(panel: LabPanel) -> int | None:
    """The Child-Pugh score (5-15) of a panel that has every part of it."""
    bili, alb, inr = panel.result("bilirubin"), panel.result("albumin"), panel.result("inr")
    if bili is None or alb is None or inr is None:
        return None
    if panel.ascites is None or panel.encephalopathy is None:
        return None
    try:
        return child_pugh(
            bili.value,
            bili.unit,
            alb.value,
            alb.unit,
            inr.value,
            panel.ascites,
            panel.encephalopathy,
        ).score
    except ClinicalValueError:
        return None


def _measures(panel: LabPanel, sex: str, age: int) -> dict[str, float]:
    """The liver and renal measures of one panel in the units of :data:`LAB_MEASURES`."""
    out: dict[str, float] = {}
    for analyte in ("alt", "ast", "bilirubin", "albumin", "inr", "creatinine"):
        r = panel.result(analyte)
        if r is None:
            continue
        try:
            out[analyte] = to_canonical(analyte, r.value, r.unit)
        except ClinicalValueError:
            continue
    a = _albi(panel)
    if a is not None:
        out["albi"] = a
    cp = _child_pugh(panel)
    if cp is not None:
        out["child_pugh"] = float(cp)
    creat = panel.result("creatinine")
    if creat is not None and 18 <= age <= 120 and sex in ("F", "M"):
        with contextlib.suppress(ClinicalValueError):
            out["egfr"] = egfr_ckd_epi_2021(creat.value, creat.unit, age, sex)  # type: ignore[arg-type]
    return out


def _liver_ned_date(ev: Evaluation) -> date | None:
    """The first date on which every liver lesion known to the engine was complete or gone.

    From the engine's lesion histories: on each date a lesion changed status, the liver is free of
    disease when every liver lesion seen by then has status ``complete`` or ``disappeared``.
    """
    liver = [x for x in ev.lesions if x.organ == "liver"]
    if not liver:
        return None
    days = sorted({d for x in liver for d, _ in x.history})
    for day in days:
        seen = [x for x in liver if x.first_seen <= day]
        if not seen:
            continue
        ok = True
        for x in seen:
            status = "active"
            for d, s in x.history:
                if d > day:
                    break
                status = s
            if status not in ("complete", "disappeared"):
                ok = False
                break
        if ok:
            return day
    return None
