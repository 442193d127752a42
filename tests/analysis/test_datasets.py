"""Analysis datasets on small hand-made histories whose answers are worked out by hand."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest

from rfatrial.analysis.datasets import (
    DAYS_PER_MONTH,
    derive_datasets,
    months_between,
    worst_clavien_dindo,
)
from rfatrial.analysis.summaries import clavien_dindo_table, complications_per_patient
from rfatrial.kernel.history import PatientHistory

STRATUM = {"site": "S01", "liver_lesions": "<=5", "ras_status": "wild_type"}


def liver(lesion_id: str, mm: float) -> dict[str, Any]:
    return {"lesion_id": lesion_id, "organ": "liver", "diameter_mm": mm}


def labs(day: str, alt: float = 30, platelets: float = 200) -> dict[str, Any]:
    return {
        "type": "lab_panel",
        "date": day,
        "results": [
            {"analyte": "platelets", "value": platelets, "unit": "10^9/L"},
            {"analyte": "inr", "value": 1.0, "unit": "ratio"},
            {"analyte": "neutrophils", "value": 3.0, "unit": "10^9/L"},
            {"analyte": "hemoglobin", "value": 13.0, "unit": "g/dL"},
            {"analyte": "bilirubin", "value": 10, "unit": "µmol/L", "uln": 21},
            {"analyte": "alt", "value": alt, "unit": "U/L", "uln": 40},
            {"analyte": "ast", "value": 30, "unit": "U/L", "uln": 40},
            {"analyte": "albumin", "value": 40, "unit": "g/L"},
            {"analyte": "creatinine", "value": 80, "unit": "µmol/L", "uln": 110},
        ],
        "ascites": "none",
        "encephalopathy": "none",
    }


def folfox(day: str) -> dict[str, Any]:
    return {
        "type": "systemic_cycle",
        "date": day,
        "regimen": "FOLFOX",
        "agents": [
            {"name": "oxaliplatin", "dose": 85, "unit": "mg/m2"},
            {"name": "fluorouracil", "dose": 2400, "unit": "mg/m2"},
        ],
    }


def history(pid: str, arm: str, events: list[dict[str, Any]]) -> PatientHistory:
    return PatientHistory.model_validate(
        {
            "patient_id": pid,
            "site": "S01",
            "sex": "F",
            "age_at_screening": 60,
            "events": [
                {
                    "type": "screening",
                    "date": "2026-01-01",
                    "consent_date": "2026-01-01",
                    "eligible": True,
                    "liver_lesion_count": 2,
                    "ras_status": "wild_type",
                    "ecog": 0,
                },
                {
                    "type": "imaging",
                    "date": "2026-01-02",
                    "modality": "CT",
                    "purpose": "baseline",
                    "lesions": [liver("L1", 20), liver("L2", 15)],
                },
                {"type": "randomization", "date": "2026-01-05", "arm": arm, "stratum": STRATUM},
                *events,
            ],
        }
    )


def experimental() -> PatientHistory:
    """Two lesions: L1 ablated once (complete, later LTP); L2 residual, re-ablated, complete;
    then extrahepatic progression, then death."""
    return history(
        "P-EXP",
        "experimental",
        [
            folfox("2026-01-06"),
            folfox("2026-01-20"),
            {
                "type": "imaging",
                "date": "2026-03-01",
                "modality": "CT",
                "lesions": [liver("L1", 15), liver("L2", 10)],
            },
            labs("2026-03-02", platelets=40),  # fails the gate: a postponement
            labs("2026-03-04", alt=30),
            {
                "type": "rfa_session",
                "date": "2026-03-05",
                "lesions": [
                    {"lesion_id": "L1", "margin_mm": 6},
                    {"lesion_id": "L2", "margin_mm": 3},
                ],
                "complications": [{"description": "pain", "cirse_grade": 2}],
            },
            labs("2026-03-06", alt=120),
            {
                "type": "post_rfa_scan",
                "date": "2026-04-05",
                "modality": "CT",
                "results": [
                    {"lesion_id": "L1", "outcome": "complete"},
                    {"lesion_id": "L2", "outcome": "residual"},
                ],
            },
            {"type": "rfa_session", "date": "2026-05-01", "lesions": [{"lesion_id": "L2"}]},
            {
                "type": "post_rfa_scan",
                "date": "2026-06-01",
                "modality": "CT",
                "results": [{"lesion_id": "L2", "outcome": "complete"}],
            },
            {
                "type": "imaging",
                "date": "2026-09-01",
                "modality": "CT",
                "purpose": "follow_up",
                "local_progression": ["L1"],
            },
            {
                "type": "imaging",
                "date": "2027-01-05",
                "modality": "CT",
                "purpose": "follow_up",
                "new_lesions": [{"lesion_id": "E3", "organ": "lung", "diameter_mm": 12}],
                "extrahepatic_progression": True,
            },
            {"type": "death", "date": "2027-07-05"},
        ],
    )


def by(rows: list[Any], **keys: Any) -> Any:
    found = [r for r in rows if all(getattr(r, k) == v for k, v in keys.items())]
    assert len(found) == 1, found
    return found[0]


def test_months() -> None:
    assert DAYS_PER_MONTH * 12 == 365.25
    assert months_between(date(2026, 1, 5), date(2026, 2, 4)) == pytest.approx(30 / 30.4375)


def test_patient_endpoints_by_site_of_progression() -> None:
    ds = derive_datasets([experimental()])
    start = date(2026, 1, 5)
    os_ = by(ds.endpoints, endpoint="OS")
    assert (os_.event, os_.end, os_.reason) == (1, date(2027, 7, 5), "death")
    assert os_.time_months == pytest.approx((date(2027, 7, 5) - start).days / 30.4375)
    assert os_.source.endswith("death 2027-07-05")
    # LTP is local and intrahepatic, not distant
    pfs = by(ds.endpoints, endpoint="PFS")
    assert (pfs.event, pfs.end, pfs.reason) == (1, date(2026, 9, 1), "local progression L1")
    ihpfs = by(ds.endpoints, endpoint="IHPFS")
    assert (ihpfs.event, ihpfs.end) == (1, date(2026, 9, 1))
    dpfs = by(ds.endpoints, endpoint="DPFS")
    assert (dpfs.event, dpfs.end) == (1, date(2027, 1, 5))
    assert "extrahepatic progression" in dpfs.reason
    assert pfs.stratum == "S01/<=5/wild_type" and pfs.arm == "experimental"


def test_lesions_technique_efficacy_and_ltp_with_death_competing() -> None:
    ds = derive_datasets([experimental()])
    l1 = by(ds.lesions, lesion_id="L1")
    assert l1.sessions == (1,) and l1.technical_success and l1.margin_mm == 6
    assert (l1.technique_efficacy, l1.assisted_technique_efficacy) == (True, True)
    assert (l1.status, l1.end) == (1, date(2026, 9, 1))
    assert l1.time_from_ablation_months == pytest.approx(180 / 30.4375)
    l2 = by(ds.lesions, lesion_id="L2")
    # residual at 1 month (not LTP), complete after the repeat ablation: assisted efficacy only
    assert l2.sessions == (1, 2)
    assert (l2.technique_efficacy, l2.assisted_technique_efficacy) == (False, True)
    assert (l2.status, l2.end, l2.reason) == (2, date(2027, 7, 5), "death")


def test_sessions_postponements_systemic_labs() -> None:
    ds = derive_datasets([experimental()])
    assert [(s.number, s.lesions, s.worst_cirse) for s in ds.sessions] == [(1, 2, 2), (2, 1, 0)]
    assert [(p.session, p.date, p.causes) for p in ds.postponements] == [
        (1, date(2026, 3, 2), ("platelets",))
    ]
    ox = by(ds.systemic, agent="oxaliplatin")
    assert (ox.cycles, ox.cumulative_dose, ox.unit) == (2, 170.0, "mg/m2")
    alt = by(ds.lab_pairs, session=1, measure="alt")
    assert (alt.before, alt.after) == (30.0, 120.0)
    assert (alt.before_date, alt.after_date) == (date(2026, 3, 4), date(2026, 3, 6))
    assert by(ds.lab_pairs, session=1, measure="albi").before == pytest.approx(
        0.66 * 1.0 - 0.085 * 40, abs=0.01
    )  # log10(10 µmol/L) = 1
    # Child-Pugh: bilirubin < 34 µmol/L, albumin > 35 g/L, INR < 1.7, no ascites, no
    # encephalopathy: 1 point each
    cp = by(ds.lab_pairs, session=1, measure="child_pugh")
    assert (cp.before, cp.after) == (5.0, 5.0)
    egfr = by(ds.lab_pairs, session=1, measure="egfr")
    assert 60 < egfr.before < 90  # CKD-EPI 2021, 80 µmol/L, woman of 60
    p = ds.patients[0]
    assert (p.disposition, p.died, p.rfa_sessions, p.cycles) == ("died", True, 2, 2)
    assert p.baseline_sum_mm == 35.0
    # the liver is free of disease once L2 is complete after its second ablation
    assert p.liver_ned_reached == date(2026, 6, 1)


def test_growth_death_withdrawal_and_no_assessment() -> None:
    growth = history(
        "P-GROW",
        "control",
        [
            folfox("2026-01-06"),
            {
                "type": "imaging",
                "date": "2026-03-01",
                "modality": "CT",
                "lesions": [liver("L1", 30), liver("L2", 15)],
            },
            {"type": "lost_to_follow_up", "date": "2026-04-01"},
        ],
    )
    died_first = history(
        "P-DIED",
        "control",
        [
            {
                "type": "imaging",
                "date": "2026-03-01",
                "modality": "CT",
                "lesions": [liver("L1", 20), liver("L2", 15)],
            },
            {"type": "death", "date": "2026-05-01", "cause": "cardiac"},
        ],
    )
    withdrawn = history(
        "P-WD", "control", [{"type": "withdrawal", "date": "2026-02-01", "reason": "consent"}]
    )
    ds = derive_datasets([growth, died_first, withdrawn])
    # RECIST PD by growth of liver target lesions (+43 %): PFS, IHPFS and DPFS all at that scan
    for name in ("PFS", "IHPFS", "DPFS"):
        row = by(ds.endpoints, patient_id="P-GROW", endpoint=name)
        assert (row.event, row.end) == (1, date(2026, 3, 1))
        assert row.reason == "RECIST progression of known disease"
    os_ = by(ds.endpoints, patient_id="P-GROW", endpoint="OS")
    assert (os_.event, os_.end, os_.reason) == (
        0,
        date(2026, 4, 1),
        "lost to follow-up at last contact",
    )
    # stable disease then death: death is the event of every endpoint
    for name in ("OS", "PFS", "IHPFS", "DPFS"):
        row = by(ds.endpoints, patient_id="P-DIED", endpoint=name)
        assert (row.event, row.end, row.reason) == (1, date(2026, 5, 1), "death")
    # withdrawn before any assessment: OS censored at withdrawal, PFS at time 0
    assert by(ds.endpoints, patient_id="P-WD", endpoint="OS").time_months == pytest.approx(
        27 / 30.4375
    )
    pfs = by(ds.endpoints, patient_id="P-WD", endpoint="PFS")
    assert (pfs.event, pfs.time_months) == (0, 0.0)
    assert pfs.reason == "no tumour assessment after randomization"
    assert ds.withdrawal_reasons == [("P-WD", "control", "consent")]
    assert not ds.lesions and not ds.sessions
    data = ds.survival("PFS")
    assert data.time.tolist() == pytest.approx(
        [
            months_between(date(2026, 1, 5), date(2026, 3, 1)),
            months_between(date(2026, 1, 5), date(2026, 5, 1)),
            0.0,
        ]
    )
    assert data.event.tolist() == [1, 1, 0]


def test_ltp_free_survival_per_patient() -> None:
    ds = derive_datasets([experimental()])
    # the first LTP of any ablated tumour (L1, 2026-09-01), from randomization
    row = by(ds.endpoints, endpoint="LTPFS")
    assert (row.event, row.start, row.end) == (1, date(2026, 1, 5), date(2026, 9, 1))
    assert row.reason == "local progression L1"
    assert row.time_months == pytest.approx(239 / 30.4375)
    # before the LTP, a cut-off: censored at the last tumour assessment without LTP
    early = by(
        derive_datasets([experimental()], cutoff=date(2026, 8, 31)).endpoints, endpoint="LTPFS"
    )
    assert (early.event, early.end) == (0, date(2026, 6, 1))
    # extrahepatic progression is not LTP; death after it is the event
    data = experimental().model_dump()
    data["events"] = [e for e in data["events"] if not e.get("local_progression")]
    no_ltp = PatientHistory.model_validate(data)
    row = by(derive_datasets([no_ltp]).endpoints, endpoint="LTPFS")
    assert (row.event, row.end, row.reason) == (1, date(2027, 7, 5), "death")


def test_disease_free_survival_from_liver_ned() -> None:
    ds = derive_datasets([experimental()])
    # liver NED on 2026-06-01 (L2 complete after its repeat ablation); the LTP of L1 on
    # 2026-09-01 is the first recurrence: 92 days
    row = by(ds.endpoints, endpoint="DFS")
    assert (row.start, row.end, row.event) == (date(2026, 6, 1), date(2026, 9, 1), 1)
    assert row.reason == "local progression L1"
    assert row.time_months == pytest.approx(92 / 30.4375)
    assert ds.survival("DFS").time.tolist() == pytest.approx([92 / 30.4375])


def _control_with_complete_response(pid: str, extrahepatic: bool = False) -> PatientHistory:
    """Both liver lesions gone on systemic therapy alone (RECIST: 0 mm) on 2026-03-01."""
    h = history(
        pid,
        "control",
        [
            folfox("2026-01-06"),
            {
                "type": "imaging",
                "date": "2026-03-01",
                "modality": "CT",
                "lesions": [liver("L1", 0), liver("L2", 0)],
            },
            {"type": "imaging", "date": "2026-06-01", "modality": "CT", "purpose": "follow_up"},
            {
                "type": "imaging",
                "date": "2026-09-01",
                "modality": "CT",
                "purpose": "follow_up",
                "new_lesions": [liver("N1", 8)],
            },
            {"type": "imaging", "date": "2026-12-01", "modality": "CT", "purpose": "follow_up"},
        ],
    )
    data = h.model_dump()
    data["events"][0]["extrahepatic_disease"] = extrahepatic
    return PatientHistory.model_validate(data)


def test_disease_free_survival_in_either_arm_and_who_enters_it() -> None:
    cr = _control_with_complete_response("P-CR")
    extra = _control_with_complete_response("P-EXTRA", extrahepatic=True)
    never = history("P-NEVER", "control", [{"type": "death", "date": "2026-04-01"}])
    ds = derive_datasets([cr, extra, never])
    # the liver is NED when both lesions have disappeared; a new liver lesion is the recurrence
    assert by(ds.patients, patient_id="P-CR").liver_ned_reached == date(2026, 3, 1)
    row = by(ds.endpoints, endpoint="DFS", patient_id="P-CR")
    assert (row.start, row.end, row.event) == (date(2026, 3, 1), date(2026, 9, 1), 1)
    assert row.reason == "new liver lesion(s)"
    # extrahepatic disease at screening: the liver is NED, the patient is not disease-free
    assert by(ds.patients, patient_id="P-EXTRA").liver_ned_reached == date(2026, 3, 1)
    assert [r.patient_id for r in ds.endpoint_rows("DFS")] == ["P-CR"]
    # never NED: no DFS row; LTPFS of a control patient is death
    lt = by(ds.endpoints, endpoint="LTPFS", patient_id="P-NEVER")
    assert (lt.event, lt.end, lt.reason) == (1, date(2026, 4, 1), "death")
    # before the recurrence: censored at the last assessment after NED, or at NED itself
    cut = derive_datasets([cr], cutoff=date(2026, 8, 1))
    row = by(cut.endpoints, endpoint="DFS")
    assert (row.event, row.end, row.time_months) == (
        0,
        date(2026, 6, 1),
        pytest.approx(92 / 30.4375),
    )
    cut = derive_datasets([cr], cutoff=date(2026, 3, 1))
    row = by(cut.endpoints, endpoint="DFS")
    assert (row.event, row.end, row.time_months, row.reason) == (
        0,
        date(2026, 3, 1),
        0.0,
        "no tumour assessment after liver NED",
    )


def test_clavien_dindo_worst_grade_per_session() -> None:
    data = experimental().model_dump()
    first = next(e for e in data["events"] if e["type"] == "rfa_session")
    first["complications"] = [
        {"description": "pain", "cirse_grade": 1, "clavien_dindo": "I"},
        {"description": "haemorrhage", "cirse_grade": 3, "clavien_dindo": "IIIa"},
        {"description": "fever", "cirse_grade": 1},
    ]
    h = PatientHistory.model_validate(data)
    ds = derive_datasets([h])
    s1, s2 = ds.sessions
    assert (s1.worst_cirse, s1.clavien_dindo, s1.worst_clavien_dindo) == (
        3,
        ("I", "IIIa", None),
        "IIIa",
    )
    assert (s2.worst_cirse, s2.worst_clavien_dindo) == (0, "none")
    table = clavien_dindo_table(ds)
    assert (table[0]["IIIa"], table[0]["none"], table[1]["IIIa"], table[2]["none"]) == (1, 1, 1, 1)
    (pc,) = complications_per_patient(ds)
    assert (pc.arm, pc.patients, pc.sessions) == ("experimental", 1, 2)
    assert pc.cirse[3] == 1 and sum(pc.cirse.values()) == 1
    assert pc.clavien_dindo["IIIa"] == 1 and sum(pc.clavien_dindo.values()) == 1
    assert (pc.major_cirse, pc.major_clavien_dindo, pc.major_sessions) == (1, 1, 1)
    assert worst_clavien_dindo([None, None]) == "not graded"
    assert worst_clavien_dindo(["V", "IVb"]) == "V"


def test_cutoff_ignores_later_records() -> None:
    ds = derive_datasets([experimental()], cutoff=date(2026, 12, 31))
    os_ = by(ds.endpoints, endpoint="OS")
    assert (os_.event, os_.end) == (0, date(2026, 9, 1))
    dpfs = by(ds.endpoints, endpoint="DPFS")
    assert (dpfs.event, dpfs.end) == (0, date(2026, 9, 1))
    assert by(ds.lesions, lesion_id="L2").status == 0


def test_unknown_endpoint() -> None:
    with pytest.raises(ValueError, match="unknown endpoint"):
        derive_datasets([experimental()]).survival("EFS")


def test_docstring_examples_run() -> None:
    import doctest

    import rfatrial.analysis.datasets as datasets
    import rfatrial.analysis.summaries as summaries

    for module in (datasets, summaries):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module


def test_the_stratum_reads_in_the_protocols_order_whatever_order_it_was_stored_in() -> None:
    # PostgreSQL's jsonb gives a stored stratum's keys back in its own order
    h = experimental()
    shuffled = dict(reversed(list(STRATUM.items())))
    assert list(shuffled) != list(STRATUM)
    events = [
        e.model_copy(update={"stratum": shuffled}) if e.type == "randomization" else e
        for e in h.events
    ]
    ds = derive_datasets([h.model_copy(update={"events": events})])
    [patient] = ds.patients
    assert list(patient.stratum) == ["site", "liver_lesions", "ras_status"]
    assert by(ds.endpoints, endpoint="PFS").stratum == "S01/<=5/wild_type"
