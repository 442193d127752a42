"""The kernel's history -> study tables -> the kernel's history, with no loss."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfatrial.kernel.history import PatientHistory
from rfatrial.server.study import models as m
from rfatrial.server.study.convert import history_from_db
from rfatrial.server.study.services import load_history
from tests.kernel import test_engine_robustness as robust
from tests.server.conftest import TODAY, example_histories, simulated_histories

pytestmark = pytest.mark.django_db


def _round_trip(history: PatientHistory) -> PatientHistory:
    patient = load_history(history, today=TODAY)
    return history_from_db(m.Patient.objects.get(pk=patient.pk))


@pytest.mark.parametrize("name", sorted(example_histories()))
def test_every_example_reads_back_equal(name: str) -> None:
    history = example_histories()[name]
    assert _round_trip(history).model_dump() == history.model_dump()


def test_simulated_histories_read_back_equal() -> None:
    histories = simulated_histories(40)
    kinds = {e.type for h in histories for e in h.events}
    assert {"systemic_cycle", "imaging", "lab_panel", "rfa_session", "post_rfa_scan"} <= kinds
    for history in histories:
        assert _round_trip(history).model_dump() == history.model_dump(), history.patient_id


def test_order_of_events_and_of_lists_is_kept() -> None:
    history = example_histories()["with_deviations"]
    shuffled = history.model_copy(update={"events": list(reversed(history.events))})
    assert _round_trip(shuffled).model_dump() == shuffled.model_dump()


def test_lesions_are_entities_referenced_by_every_record() -> None:
    history = example_histories()["experimental_arm"]
    patient = load_history(history, today=TODAY)
    labels = set(m.Lesion.objects.filter(patient=patient).values_list("label", flat=True))
    ablated = {x.lesion_id for e in history.events if e.type == "rfa_session" for x in e.lesions}
    assert ablated and ablated <= labels
    assert m.AblationRecord.objects.filter(lesion__patient=patient).count() == sum(
        len(e.lesions) for e in history.events if e.type == "rfa_session"
    )


def test_load_stores_the_engine_verdict() -> None:
    history = example_histories()["with_deviations"]
    patient = load_history(history, today=TODAY)
    state = m.PatientState.objects.get(patient=patient)
    assert state.arm == "experimental" and state.evaluated_on == TODAY
    codes = set(m.Deviation.objects.filter(patient=patient).values_list("code", flat=True))
    assert {"rfa_too_many_lesions", "rfa_within_separation"} <= codes
    tied = m.Deviation.objects.filter(patient=patient, code="rfa_too_many_lesions").first()
    assert tied is not None and tied.event_kind == "rfa_session" and tied.event_seq is not None


def _every_field() -> PatientHistory:
    """One history in which every optional field of every event type holds a value."""
    measured = {
        "lesion_id": "L1",
        "organ": "liver",
        "segment": "S4a",
        "diameter_mm": 21.3,
        "is_node": False,
        "too_small_to_measure": False,
        "us_visible": True,
        "distance_to_vessel_mm": 4.5,
    }
    return PatientHistory.model_validate(
        {
            "patient_id": "S09-0001",
            "site": "S09",
            "sex": "M",
            "age_at_screening": 70,
            "events": [
                {
                    "type": "screening",
                    "date": "2025-01-02",
                    "consent_date": "2025-01-01",
                    "eligible": True,
                    "liver_lesion_count": 3,
                    "ras_status": "mutant",
                    "ecog": 1,
                    "extrahepatic_disease": True,
                },
                {
                    "type": "randomization",
                    "date": "2025-01-05",
                    "arm": "experimental",
                    "stratum": {"site": "S09", "lesions": "<=5", "ras": "mutant"},
                },
                {
                    "type": "systemic_cycle",
                    "date": "2025-01-06",
                    "regimen": "FOLFOX+bev",
                    "line": 2,
                    "agents": [
                        {"name": "oxaliplatin", "dose": 85.0, "unit": "mg/m2"},
                        {"name": "bevacizumab", "dose": 5.0, "unit": "mg/kg"},
                        {"name": "carboplatin", "dose": 5.0, "unit": "AUC"},
                        {"name": "x", "dose": 0.1, "unit": "mg"},
                    ],
                },
                {
                    "type": "imaging",
                    "date": "2025-03-01",
                    "modality": "MRI",
                    "purpose": "follow_up",
                    "lesions": [measured, {**measured, "lesion_id": "N1", "is_node": True}],
                    "new_lesions": [{**measured, "lesion_id": "L9", "too_small_to_measure": True}],
                    "local_progression": ["L1", "L7"],
                    "non_target_progression": True,
                    "extrahepatic_progression": True,
                    "visit_id": "M3",
                },
                {
                    "type": "lab_panel",
                    "date": "2025-03-02",
                    "results": [
                        {"analyte": "alt", "value": 33.3, "unit": "U/L", "lln": 7, "uln": 40},
                        {"analyte": "platelets", "value": 1.5e2, "unit": "10^9/L"},
                    ],
                    "ascites": "moderate_severe",
                    "encephalopathy": "grade_3_4",
                },
                {
                    "type": "rfa_session",
                    "date": "2025-03-05",
                    "lesions": [
                        {
                            "lesion_id": "L1",
                            "technical_success": False,
                            "margin_mm": 7.5,
                            "electrode": "cool-tip 3 cm",
                            "power_w": 200,
                            "time_min": 12.5,
                        }
                    ],
                    "complications": [
                        {
                            "description": "subcapsular haematoma",
                            "cirse_grade": 3,
                            "clavien_dindo": "IIIa",
                            "onset_date": "2025-03-06",
                        },
                        {"description": "pain", "cirse_grade": 1},
                    ],
                    "justification": "tumour board 2025-03-01",
                },
                {
                    "type": "post_rfa_scan",
                    "date": "2025-04-05",
                    "modality": "CT",
                    "results": [{"lesion_id": "L1", "outcome": "residual"}],
                    "new_lesions": [{**measured, "lesion_id": "L10"}],
                    "extrahepatic_progression": True,
                },
                {
                    "type": "follow_up_visit",
                    "date": "2025-04-06",
                    "visit_id": "M3",
                    "components": ["ecg", "labs", "us_ceus", "ct_mri", "tumour_markers"],
                },
                {
                    "type": "adverse_event",
                    "date": "2025-04-07",
                    "term": "Fatigue",
                    "grade": 3,
                    "serious": True,
                    "related_to": ["rfa", "systemic"],
                    "end_date": "2025-04-20",
                    "outcome": "sequelae",
                },
                {
                    "type": "withdrawal",
                    "date": "2025-05-01",
                    "reason": "moved abroad",
                    "initiated_by": "patient",
                },
                {"type": "lost_to_follow_up", "date": "2025-06-01"},
                {"type": "death", "date": "2025-07-01", "cause": "disease progression"},
            ],
        }
    )


def test_every_field_of_every_event_type_reads_back_equal() -> None:
    history = _every_field()
    assert _round_trip(history).model_dump() == history.model_dump()


_patients = itertools.count()


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(items=st.lists(robust.events, max_size=25).map(robust._once))
def test_any_well_formed_history_reads_back_equal(items: list[dict[str, Any]]) -> None:
    history = PatientHistory.model_validate(
        {
            "patient_id": f"H{next(_patients)}",
            "site": "S01",
            "sex": "F",
            "age_at_screening": 50,
            "events": items,
        }
    )
    assert _round_trip(history).model_dump() == history.model_dump()
