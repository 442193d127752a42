"""The kernel's history -> study tables -> the kernel's history, with no loss."""

from __future__ import annotations

import pytest

from rfatrial.kernel.history import PatientHistory
from rfatrial.server.study import models as m
from rfatrial.server.study.convert import history_from_db
from rfatrial.server.study.services import load_history
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
    histories = simulated_histories(24)
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
