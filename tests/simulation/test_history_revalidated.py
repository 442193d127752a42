"""A simulated history is what validating it afresh gives: the same records, and the same verdict
of the engine on them."""

from __future__ import annotations

import random
from datetime import date, timedelta

import pytest

from rfatrial.kernel.evaluation import to_json_dict
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import Compliance, simulate_patient_detail

P = default_protocol()


@pytest.mark.parametrize("rate", [0.0, 0.4])
def test_simulated_histories_evaluate_as_if_validated_afresh(rate: float) -> None:
    for k in range(40):
        sim = simulate_patient_detail(
            f"P{k}",
            "S01",
            "experimental" if k % 2 else "control",
            random.Random(k),
            P,
            start=date(2026, 1, 5),
            horizon_days=900,
            compliance=Compliance(rate=rate),
        )
        again = PatientHistory.model_validate_json(sim.history.model_dump_json())
        assert again == sim.history
        last = max(e.date for e in sim.history.events)
        for today in (last, last - timedelta(days=60)):
            assert to_json_dict(evaluate(sim.history, P, today)) == to_json_dict(
                evaluate(again, P, today)
            )
