"""The speed-ups of the engine (quick frozen records, the brief RECIST answer, cached calendars,
the cached plausible ranges of lab values) change no result."""

from __future__ import annotations

import math
import pickle
from dataclasses import FrozenInstanceError, dataclass
from datetime import timedelta

import pytest

from rfatrial.kernel._frozen import quick
from rfatrial.kernel.evaluation import NextAction, to_json_dict
from rfatrial.kernel.follow_up import follow_up_calendar, planned_visits
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.messages import render
from rfatrial.kernel.pathway import PathwayState, evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.kernel.recist import LesionObservation, RecistSeries, Timepoint
from rfatrial.kernel.units import ClinicalValueError, check_value

from .builders import BASELINE, START, cycle, history, labs, post_scan, rfa, scan

P = default_protocol()


def course() -> PatientHistory:
    """An experimental-arm patient up to the 1-month scan after a first session."""
    return history(
        "experimental",
        labs(4),
        cycle(5),
        cycle(19),
        cycle(33),
        scan(50, {"L1": 20.0, "L2": 16.0, "L3": 12.0, "L4": 10.0}),
        labs(52),
        rfa(60, ["L1", "L2"]),
        post_scan(90, {"L1": "complete", "L2": "residual"}),
    )


def test_pathway_state_in_and_out_of_order_equals_evaluate() -> None:
    h = course()
    today = START + timedelta(days=95)
    for events in (h.events, list(reversed(h.events))):
        same = PatientHistory.model_validate({**h.model_dump(), "events": events})
        state = PathwayState(P, h.patient_id)
        for e in events:
            state.add(e)
        assert to_json_dict(state.evaluate(today)) == to_json_dict(evaluate(same, P, today))
        assert state.evaluate(today).rfa_sessions_done == 1


@dataclass(frozen=True, slots=True)
class _Point:
    x: int
    y: tuple[int, ...] = ()


def test_quick_builds_ordinary_frozen_instances() -> None:
    made = quick(_Point)(1)
    assert type(made) is _Point and made == _Point(1) and hash(made) == hash(_Point(1))
    assert repr(made) == "_Point(x=1, y=())"
    with pytest.raises(FrozenInstanceError):
        made.x = 2  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(made)) == made
    args = ("randomize", "r", START, START, START, False, "action.randomize", "why.randomize", {})
    action = quick(NextAction)(*args)
    assert action == NextAction(*args)
    assert action.what == render("action.randomize", {})  # rendered when read


def test_quick_refuses_what_is_not_a_slotted_dataclass() -> None:
    @dataclass(frozen=True)
    class Loose:
        x: int

    with pytest.raises(TypeError, match="not a slotted dataclass"):
        quick(Loose)


def test_brief_recist_answer_agrees_with_the_full_one() -> None:
    base = [LesionObservation(k, "liver", v) for k, v in BASELINE.items()]
    full, brief = RecistSeries(base), RecistSeries(base)
    steps = [
        ({"L1": 20.0, "L2": 16.0, "L3": 12.0, "L4": 10.0}, frozenset[str](), False),
        ({"L1": 20.0, "L2": 18.0, "L3": 14.0, "L4": 12.0}, frozenset({"L1"}), False),
        ({"L1": 20.0, "L2": 30.0, "L3": 20.0, "L4": 12.0}, frozenset({"L1"}), False),
        ({"L1": 0.0, "L2": 0.0, "L3": 0.0, "L4": 0.0}, frozenset({"L1", "L2"}), True),
    ]
    for sizes, treated, new in steps:
        seen = {k: LesionObservation(k, "liver", v) for k, v in sizes.items()}
        r = full.add(Timepoint(tuple(seen.values()), new_lesion=new, treated=treated))
        b = brief.add_brief(seen, treated, new_lesion=new, non_target_progression=False)
        assert b == (
            r.overall,
            r.target_response,
            r.non_target_response,
            r.sum_mm,
            r.change_from_baseline,
            r.change_from_nadir,
        )


def test_planned_visits_are_the_calendar_by_id_and_read_only() -> None:
    anchor = START + timedelta(days=3)
    calendar = follow_up_calendar(anchor, P)
    by_id = planned_visits(anchor, P)
    assert list(by_id) == [v.visit_id for v in calendar]
    assert all(by_id[v.visit_id] is v for v in calendar)
    with pytest.raises(TypeError):
        by_id["M3"] = calendar[0]  # type: ignore[index]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, 5001.0, -0.5])
def test_check_value_still_refuses_impossible_platelets(value: float) -> None:
    with pytest.raises(ClinicalValueError):
        check_value("platelets", value, "10^9/L")


def test_check_value_at_the_bounds_decides_exactly() -> None:
    check_value("platelets", 0.0, "10^9/L")
    check_value("platelets", 5000.0, "10^9/L")
    with pytest.raises(ClinicalValueError):
        check_value("platelets", math.nextafter(5000.0, 6000.0), "10^9/L")
    with pytest.raises(ClinicalValueError):
        check_value("platelets", 180, "furlongs")
