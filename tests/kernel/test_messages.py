"""The texts of next actions and deviations are messages: a stable id, values as parameters, and
an English template that renders them (what an application translates)."""

from __future__ import annotations

import json
import random
from datetime import date, timedelta
from functools import cache
from typing import Any

import pytest

from rfatrial.kernel.evaluation import Deviation, Evaluation, NextAction, to_json_dict
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.messages import TEMPLATES, placeholders, render
from rfatrial.kernel.pathway import PathwayState, evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import Compliance, simulate_patient

from .builders import BASELINE, INDUCTION, START, cycle, day, history, labs, post_scan, rfa, scan

P = default_protocol()


def _check_action(a: NextAction, seen: set[str]) -> None:
    assert a.what_key.startswith("action.") and a.why_key.startswith("why."), a
    assert set(a.params) == placeholders(a.what_key) | placeholders(a.why_key), a
    assert a.what == render(a.what_key, a.params)
    assert a.why == render(a.why_key, a.params)
    _check_values(a.params)
    seen.update((a.what_key, a.why_key))


def _check_deviation(d: Deviation, seen: set[str]) -> None:
    assert d.description_key.startswith(f"deviation.{d.code}"), d
    assert set(d.params) == placeholders(d.description_key), d
    assert d.description == render(d.description_key, d.params)
    _check_values(d.params)
    seen.add(d.description_key)


def _check_values(params: object) -> None:
    assert isinstance(params, dict)
    for value in params.values():
        assert isinstance(value, (str, int, float, date)), value


def _check(result: Evaluation, seen: set[str]) -> None:
    for a in result.next_actions:
        _check_action(a, seen)
    for d in result.deviations:
        _check_deviation(d, seen)


def _simulated(k: int, rate: float) -> PatientHistory:
    rng = random.Random(1000 + k)
    arm = "experimental" if k % 3 else "control"
    start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 365))
    return simulate_patient(
        f"P{k}",
        "S01",
        arm,
        rng,
        P,
        start=start,
        horizon_days=rng.choice([300, 900]),
        compliance=Compliance(rate=rate),
    )


@cache
def _simulated_messages() -> frozenset[str]:
    """The message ids that come up on simulated histories (with and without deviations)."""
    seen: set[str] = set()
    for k in range(120):
        h = _simulated(k, [0.0, 0.1, 0.3, 0.6][k % 4])
        days = sorted({e.date for e in h.events})
        for on in [*days[:: max(1, len(days) // 8)], days[-1] + timedelta(days=500)]:
            _check(evaluate(h, P, on), seen)
        state = PathwayState(P, h.patient_id)
        for e in h.events:
            state.add(e)
            for a in state.next_actions(e.date):
                _check_action(a, seen)
    return frozenset(seen)


def test_every_text_of_simulated_histories_is_a_message_with_its_parameters() -> None:
    seen = _simulated_messages()
    assert seen <= set(TEMPLATES)
    # the simulated care team makes most of the messages come up
    assert len(seen) >= len(TEMPLATES) // 2, sorted(set(TEMPLATES) - seen)


def _raw(*events: dict[str, Any]) -> PatientHistory:
    return PatientHistory.model_validate(
        {"patient_id": "T-2", "site": "S01", "sex": "M", "age_at_screening": 60, "events": events}
    )


def _screening(eligible: bool) -> dict[str, Any]:
    return {
        "type": "screening",
        "date": day(0),
        "consent_date": day(0),
        "eligible": eligible,
        "liver_lesion_count": 4,
    }


def _randomization(offset: int) -> dict[str, Any]:
    return {"type": "randomization", "date": day(offset), "arm": "experimental"}


_FOUR = {"L1": 20.0, "L2": 16.0, "L3": 12.0, "L4": 10.0}

# Hand-made histories for the rarer rules: (history, days after START to evaluate on).
_RARE: list[tuple[PatientHistory, int]] = [
    (_raw(scan(0, BASELINE, purpose="baseline"), rfa(1, ["L1", "L2"]), _randomization(3)), 10),
    (_raw(_screening(False), _randomization(3)), 10),
    (history("control", rfa(10, ["L1", "L2"])), 20),
    (history("experimental", rfa(10, ["L1"])), 20),
    (history("experimental", cycle(10), scan(30, _FOUR)), 300),
    (
        history(
            "experimental",
            *INDUCTION,
            labs(40),
            rfa(42, ["L1", "L2", "L3"]),
            scan(60, {"L1": 0.0, "L2": 0.0, "L3": 0.0, "L4": 10.0}),
            labs(62),
            rfa(63, ["L4"]),
            {
                "type": "follow_up_visit",
                "date": day(94),
                "visit_id": "M3",
                "components": ["us_ceus"],
            },
        ),
        200,
    ),
    (history("experimental", *INDUCTION, labs(200), rfa(201, ["L1", "L2"])), 210),
    (
        history(
            "experimental",
            *INDUCTION,
            labs(40),
            *(rfa(41 + 2 * k, [f"L{k + 1}"], justification="one at a time") for k in range(4)),
        ),
        60,
    ),
    (
        history(
            "experimental",
            cycle(10),
            cycle(24),
            scan(38, {"L1": 40.0, "L2": 30.0, "L3": 20.0, "L4": 15.0}),
            rfa(45, ["L1", "L2"]),
        ),
        50,
    ),
    (
        history(
            "experimental",
            *INDUCTION,
            scan(45, _FOUR, extrahepatic_progression=True),
            rfa(50, ["L1", "L2"]),
        ),
        55,
    ),
    (history("experimental", *INDUCTION, *(cycle(50 + 14 * k) for k in range(6))), 121),
    (history("experimental", scan(30, _FOUR), labs(31), rfa(32, ["L1", "L2"])), 70),
]


def test_every_message_comes_up_on_simulated_or_hand_made_histories() -> None:
    seen = set(_simulated_messages())
    for h, offset in _RARE:
        _check(evaluate(h, P, START + timedelta(days=offset)), seen)
    assert seen == set(TEMPLATES), sorted(set(TEMPLATES) - seen)


def test_hand_made_deviations_render_from_their_parameters() -> None:
    h = history(
        "experimental",
        *INDUCTION,
        labs(40, platelets=30),
        rfa(41, ["L1", "L2", "L3", "L4", "L5", "L6", "L7"]),
        cycle(44),
        post_scan(100, {"L1": "complete"}),
        scan(120, {"L1": 0.0}, purpose="response"),
    )
    seen: set[str] = set()
    result = evaluate(h, P, START + timedelta(days=400))
    _check(result, seen)
    by_code = {d.code: d for d in result.deviations}
    gate = by_code["rfa_lab_gate_failed"]
    assert gate.params["session"] == 1 and "platelets" in str(gate.params["failed"])
    many = by_code["rfa_too_many_lesions"]
    assert many.params == {"count": 7, "session": 1, "maximum": P.rfa.max_lesions_per_session}
    assert "visit_missed" in by_code
    assert isinstance(by_code["visit_missed"].params["latest"], date)


def test_every_template_has_named_placeholders_only() -> None:
    for key, text in TEMPLATES.items():
        names = placeholders(key)
        params = {name: 1 for name in names}
        assert render(key, params) == text.format(**params)
        assert "{}" not in text and "{0" not in text, key
    assert set(placeholders("deviation.visit_out_of_window")) == {
        "visit",
        "day",
        "earliest",
        "latest",
    }


def test_render_writes_dates_in_iso_format_and_refuses_a_missing_parameter() -> None:
    assert render("why.follow_up_visit", {"every_months": 3, "randomized": date(2026, 1, 5)}) == (
        "every 3 months from randomization (2026-01-05)"
    )
    with pytest.raises(KeyError):
        render("action.rfa_session", {"session": 1})


def test_json_of_an_evaluation_keeps_message_ids_and_parameters() -> None:
    h = history("experimental", *INDUCTION, labs(40))
    data = json.loads(json.dumps(to_json_dict(evaluate(h, P, START + timedelta(days=41)))))
    action = next(a for a in data["next_actions"] if a["kind"] == "rfa_session")
    assert action["what_key"] == "action.rfa_session"
    assert action["why_key"] == "why.rfa_session"
    assert action["params"]["session"] == 1
    assert action["params"]["scan_date"] == (START + timedelta(days=38)).isoformat()
