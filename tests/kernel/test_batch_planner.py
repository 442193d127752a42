"""The ablation batch planner: each lesion judged at every rule's boundary, sessions split."""

from __future__ import annotations

import doctest
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel import batch_planner
from rfatrial.kernel.batch_planner import LesionFeatures, judge_lesion, plan_sessions
from rfatrial.kernel.protocol import Protocol, default_protocol

P = default_protocol()


def lesion(lesion_id: str = "L1", **changes: Any) -> LesionFeatures:
    values: dict[str, Any] = {
        "diameter_mm": 20.0,
        "us_visible": True,
        "distance_to_vessel_mm": 15.0,
        "distance_to_critical_mm": 20.0,
        "margin_achievable_mm": 10.0,
    }
    values.update(changes)
    return LesionFeatures(lesion_id, **values)


def test_docstring_examples() -> None:
    assert doctest.testmod(batch_planner).failed == 0


@pytest.mark.parametrize(
    ("changes", "verdict", "reason"),
    [
        ({"diameter_mm": 50.0}, "ablatable", None),
        ({"diameter_mm": 50.1}, "not_ablatable", "planner.max_diameter_mm"),
        ({"us_visible": False}, "not_ablatable", "planner.require_us_visible"),
        ({"us_visible": None}, "to_assess", "US/CEUS visibility not recorded"),
        ({"distance_to_critical_mm": 5.0}, "ablatable", None),
        ({"distance_to_critical_mm": 4.9}, "not_ablatable", "planner.min_distance_to_critical_mm"),
        ({"distance_to_critical_mm": None}, "to_assess", "critical structures not recorded"),
        ({"margin_achievable_mm": 5.0}, "ablatable", None),
        ({"margin_achievable_mm": 4.9}, "not_ablatable", "rfa.min_margin_mm"),
        ({"margin_achievable_mm": None}, "to_assess", "margin not assessed"),
        ({"diameter_mm": None}, "to_assess", "diameter not measured"),
    ],
)
def test_each_rule_at_its_boundary(
    changes: dict[str, Any], verdict: str, reason: str | None
) -> None:
    v = judge_lesion(lesion(**changes), P)
    assert v.verdict == verdict
    if reason is None:
        assert v.reasons == ()
    else:
        assert any(reason in r for r in v.reasons), v.reasons


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"diameter_mm": 30.1}, "planner.ideal_max_diameter_mm"),
        ({"margin_achievable_mm": 9.9}, "ideal 10 mm"),
        ({"distance_to_vessel_mm": 4.9}, "heat sink"),
    ],
)
def test_risks_that_do_not_block_are_warnings(changes: dict[str, Any], warning: str) -> None:
    v = judge_lesion(lesion(**changes), P)
    assert v.verdict == "ablatable" and any(warning in w for w in v.warnings)
    assert judge_lesion(lesion(), P).warnings == ()


@pytest.mark.parametrize(
    ("n", "done", "sizes", "beyond"),
    [
        (0, 0, [], 0),
        (1, 0, [1], 0),
        (2, 0, [2], 0),
        (6, 0, [6], 0),
        (7, 0, [4, 3], 0),
        (13, 0, [5, 4, 4], 0),
        (18, 0, [6, 6, 6], 0),
        (20, 0, [6, 6, 6], 2),
        (9, 2, [6], 3),
        (5, 3, [], 5),
    ],
)
def test_split_over_the_sessions_left(n: int, done: int, sizes: list[int], beyond: int) -> None:
    lesions = [lesion(f"L{k}", diameter_mm=10.0 + k) for k in range(n)]
    plan = plan_sessions(lesions, P, sessions_done=done)
    assert [len(s) for s in plan.sessions] == sizes
    assert len(plan.beyond_limit) == beyond
    assert plan.sessions_left == max(0, 3 - done)
    planned = [x for s in plan.sessions for x in s]
    # largest first, every lesion once
    diameters = [10.0 + int(x[1:]) for x in planned]
    assert diameters == sorted(diameters, reverse=True)
    assert sorted(planned + list(plan.beyond_limit)) == sorted(x.lesion_id for x in lesions)


def test_only_ablatable_lesions_are_planned() -> None:
    lesions = [
        lesion("L1"),
        lesion("L2", us_visible=False),
        lesion("L3", margin_achievable_mm=None),
    ]
    plan = plan_sessions(lesions, P, sessions_done=0)
    assert plan.sessions == (("L1",),)
    assert {v.lesion_id: v.verdict for v in plan.verdicts} == {
        "L1": "ablatable",
        "L2": "not_ablatable",
        "L3": "to_assess",
    }


def test_the_protocol_file_decides() -> None:
    data = P.model_dump()
    data["planner"]["max_diameter_mm"] = 60
    data["rfa"]["max_lesions_per_session"] = 4
    amended = Protocol.model_validate(data)
    assert judge_lesion(lesion(diameter_mm=55.0), amended).verdict == "ablatable"
    lesions = [lesion(f"L{k}") for k in range(7)]
    assert [len(s) for s in plan_sessions(lesions, amended, sessions_done=0).sessions] == [4, 3]


@given(
    n=st.integers(0, 25),
    done=st.integers(0, 4),
    sizes=st.lists(st.floats(5, 60), min_size=25, max_size=25),
)
def test_never_more_sessions_or_lesions_than_allowed(n: int, done: int, sizes: list[float]) -> None:
    lesions = [lesion(f"L{k}", diameter_mm=round(sizes[k], 1)) for k in range(n)]
    plan = plan_sessions(lesions, P, sessions_done=done)
    assert len(plan.sessions) <= max(0, P.rfa.max_sessions - done)
    for session in plan.sessions:
        assert 1 <= len(session) <= P.rfa.max_lesions_per_session
        if len(plan.sessions) > 1:
            assert len(session) >= P.rfa.min_lesions_per_session


def test_the_plan_for_a_patient_reads_the_latest_features() -> None:
    from datetime import date

    from rfatrial.kernel.batch_planner import plan_for_patient
    from rfatrial.kernel.pathway import evaluate

    from .builders import INDUCTION, START, history, labs

    base = history("experimental", *INDUCTION, labs(40))
    data = base.model_dump()
    scan = next(e for e in data["events"] if e["type"] == "imaging" and e["purpose"] == "response")
    for m in scan["lesions"]:
        m.update(us_visible=True, distance_to_critical_mm=12.0, margin_achievable_mm=8.0)
    scan["lesions"][3]["us_visible"] = False  # L4: not seen on ultrasound
    h = type(base).model_validate(data)
    today = date.fromordinal(START.toordinal() + 40)
    result = evaluate(h, P, today)
    proposal = plan_for_patient(h, result, P)
    verdicts = {v.lesion_id: v.verdict for v in proposal.verdicts}
    assert verdicts == {
        "L1": "ablatable",
        "L2": "ablatable",
        "L3": "ablatable",
        "L4": "not_ablatable",
    }
    assert proposal.next_session == ("L1", "L2", "L3")  # 20, 16, 12 mm: largest first
    assert proposal.sessions_left == 3
