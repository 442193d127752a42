"""The ablation batch planner: each lesion judged at every rule's boundary, sessions split."""

from __future__ import annotations

import doctest
from datetime import date
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


# --- check_plan: the investigator's plan judged before it is confirmed ----------------------------


def _features(sizes: dict[str, float], **override: Any) -> list[dict[str, Any]]:
    out = []
    for k, v in sizes.items():
        item: dict[str, Any] = {
            "lesion_id": k,
            "organ": "liver",
            "diameter_mm": v,
            "us_visible": True,
            "distance_to_critical_mm": 20.0,
            "margin_achievable_mm": 10.0,
        }
        item.update(override.get(k, {}))
        out.append(item)
    return out


EIGHT = {f"L{k}": 10.0 + 3 * k for k in range(1, 9)}  # L8 the largest


def _course(
    arm: str = "experimental",
    sizes: dict[str, float] | None = None,
    *,
    features: dict[str, dict[str, Any]] | None = None,
    labs_day: int = 27,
    more: tuple[dict[str, Any], ...] = (),
    **lab_values: float,
) -> Any:
    """Induction cycles on days 10 and 24, a partial response on day 26, labs on ``labs_day``."""
    from rfatrial.kernel.history import PatientHistory

    from .builders import cycle, day, labs

    sizes = sizes or EIGHT
    shrunk = {k: round(v * 0.7, 1) for k, v in sizes.items()}
    events = [
        {
            "type": "screening",
            "date": day(0),
            "consent_date": day(0),
            "eligible": True,
            "liver_lesion_count": len(sizes),
        },
        {
            "type": "imaging",
            "date": day(0),
            "modality": "CT",
            "purpose": "baseline",
            "lesions": _features(sizes),
        },
        {"type": "randomization", "date": day(3), "arm": arm},
        cycle(10),
        cycle(24),
        {
            "type": "imaging",
            "date": day(26),
            "modality": "CT",
            "purpose": "response",
            "lesions": _features(shrunk, **(features or {})),
        },
        labs(labs_day, **lab_values),
        *more,
    ]
    return PatientHistory.model_validate(
        {"patient_id": "T-002", "site": "S01", "sex": "M", "age_at_screening": 64, "events": events}
    )


def _on(offset: int) -> Any:
    from .builders import START

    return date.fromordinal(START.toordinal() + offset)


def _check(
    history: Any, lesions: list[str], planned: int | None = 30, today: int = 28, **kw: Any
) -> Any:
    from rfatrial.kernel.batch_planner import check_plan

    return check_plan(
        history,
        kw.get("protocol", P),
        lesions=lesions,
        planned_date=None if planned is None else _on(planned),
        today=_on(today),
    )


def _codes(findings: Any) -> set[str]:
    return {f.code for f in findings}


def test_the_proposal_itself_is_confirmed_without_a_reason() -> None:
    check = _check(_course(), ["L8", "L7", "L6", "L5"], planned=31)
    assert check.proposal.next_session == ("L8", "L7", "L6", "L5")  # 8 lesions: 4 + 4
    assert check.session == 1
    assert check.findings == ()
    assert check.blocking(None) == ()


@pytest.mark.parametrize(
    ("n", "refused", "code"),
    [
        (6, False, None),
        (7, True, "rfa_too_many_lesions"),
        (2, False, None),
        (1, True, "rfa_too_few_lesions"),
        (0, True, "no_lesion"),
    ],
)
def test_lesions_per_session_at_the_boundaries(n: int, refused: bool, code: str | None) -> None:
    chosen = [f"L{k}" for k in range(8, 8 - n, -1)]
    check = _check(_course(), chosen, planned=31)
    assert bool(check.refusals) is refused, check.refusals
    if code:
        [finding] = [f for f in check.refusals if f.code == code]
        assert finding.rule in ("rfa.max_lesions_per_session", "rfa.min_lesions_per_session")
        assert finding.source.endswith("(protocol 1.0)")
        assert "= 6" in finding.source or "= 2" in finding.source
    # any change from the proposal of 4 needs a reason, never more than a reason
    assert "changed_from_proposal" in _codes(check.reasons_required)


def test_seven_lesions_are_refused_with_the_rule_and_its_value() -> None:
    check = _check(_course(), [f"L{k}" for k in range(1, 8)], planned=31)
    [finding] = check.refusals
    assert finding.code == "rfa_too_many_lesions"
    assert "7 lesions planned for session 1 (at most 6)" in finding.message
    assert finding.source == "rfa.max_lesions_per_session = 6 (protocol 1.0)"
    assert check.blocking("the surgeon asked for it") == (finding,)  # a reason does not help
    # said with its own message id, so a page can say it in another language
    assert finding.note.key == "planned.deviation.rfa_too_many_lesions"
    assert dict(finding.note.params) == {"count": 7, "session": 1, "maximum": 6}


def test_every_deviation_of_the_engine_has_a_planned_wording() -> None:
    from rfatrial.kernel.batch_planner import PLANNER_TEMPLATES
    from rfatrial.kernel.messages import TEMPLATES

    for key, text in TEMPLATES.items():
        if key.startswith("deviation."):
            assert PLANNER_TEMPLATES["planned." + key] == text.replace(
                " ablated in", " planned for"
            )


def test_one_lesion_when_only_one_remains_needs_a_reason() -> None:
    check = _check(_course(sizes={"L1": 20.0}), ["L1"], planned=31)
    assert check.refusals == ()
    assert _codes(check.reasons_required) == {"rfa_too_few_lesions_without_reason"}
    assert check.blocking(None) and check.blocking("a single lesion is left") == ()


@pytest.mark.parametrize(("planned", "refused"), [(30, True), (31, False)])
def test_the_separation_from_the_last_cycle(planned: int, refused: bool) -> None:
    # the last cycle is on day 24; separation_days = 7
    check = _check(_course(), ["L8", "L7", "L6", "L5"], planned=planned)
    assert ("rfa_within_separation" in _codes(check.refusals)) is refused
    if refused:
        [f] = check.refusals
        assert f.source == "rfa.separation_days = 7 (protocol 1.0)"
        assert "6 days after a FOLFOX cycle" in f.message


def test_an_agent_hold_longer_than_the_separation() -> None:
    from .builders import cycle

    h = _course(labs_day=50)
    data = h.model_dump(mode="json")
    data["events"][4] = cycle(24, bevacizumab=True)
    h = type(h).model_validate(data)
    # bevacizumab: 28 days before an RFA session (rfa.agent_holds)
    early = _check(h, ["L8", "L7", "L6", "L5"], 51, today=50)
    assert _codes(early.refusals) == {"rfa_within_separation"}
    assert "27 days after" in early.refusals[0].message
    assert _check(h, ["L8", "L7", "L6", "L5"], 52, today=50).findings == ()


@pytest.mark.parametrize(("planned", "refused"), [(34, False), (35, True)])
def test_the_labs_must_be_fresh_at_the_planned_date(planned: int, refused: bool) -> None:
    # labs on day 27; lab_gate.freshness_days = 7
    check = _check(_course(), ["L8", "L7", "L6", "L5"], planned=planned)
    assert ("rfa_lab_gate_stale" in _codes(check.refusals)) is refused


@pytest.mark.parametrize(("platelets", "refused"), [(50, False), (49, True)])
def test_the_labs_must_pass_the_gate(platelets: float, refused: bool) -> None:
    check = _check(_course(platelets=platelets), ["L8", "L7", "L6", "L5"], planned=31)
    assert ("rfa_lab_gate_failed" in _codes(check.refusals)) is refused


@pytest.mark.parametrize(("planned", "refused"), [(27, True), (28, False)])
def test_a_plan_is_for_today_or_later(planned: int, refused: bool) -> None:
    h = _course(labs_day=26)
    check = _check(h, ["L8", "L7", "L6", "L5"], planned=planned, today=28)
    assert ("planned_in_the_past" in _codes(check.refusals)) is refused


def test_a_plan_needs_a_date() -> None:
    assert "no_planned_date" in _codes(_check(_course(), ["L8", "L7"], planned=None).refusals)


def test_a_patient_of_the_control_arm_is_not_planned() -> None:
    check = _check(_course("control"), ["L8", "L7", "L6", "L5"], planned=31)
    assert "rfa_in_control_arm" in _codes(check.refusals)


def test_no_session_after_progression() -> None:
    from .builders import day

    grown = {k: round(v * 1.5, 1) for k, v in EIGHT.items()}
    progression = {
        "type": "imaging",
        "date": day(27),
        "modality": "CT",
        "purpose": "response",
        "lesions": _features(grown),
    }
    check = _check(_course(more=(progression,)), ["L8", "L7", "L6", "L5"], planned=31)
    assert check.refusals and all(f.rule == "response.effective" for f in check.refusals)


def test_lesions_that_are_not_the_patients_or_not_remaining_are_refused() -> None:
    from .builders import cycle, day, labs, post_scan, rfa

    after_first = (
        rfa(31, ["L8", "L7", "L6", "L5"]),
        cycle(40),
        post_scan(61, {"L8": "complete", "L7": "complete", "L6": "complete", "L5": "complete"}),
        {
            "type": "imaging",
            "date": day(62),
            "modality": "CT",
            "purpose": "response",
            "lesions": _features({"L1": 9.0, "L2": 11.0, "L3": 13.0, "L4": 15.0}),
        },
        labs(63),
    )
    h = _course(more=after_first)
    check = _check(h, ["L4", "L3", "L8", "L99"], planned=64, today=63)
    assert check.session == 2
    refused = {(f.code, f.lesion_id) for f in check.refusals}
    assert refused == {("lesion_not_remaining", "L8"), ("unknown_lesion", "L99")}
    ok = _check(h, list(check.proposal.next_session), planned=64, today=63)
    assert ok.findings == () and set(ok.proposal.next_session) == {"L1", "L2", "L3", "L4"}


def test_a_session_beyond_the_maximum_is_refused() -> None:
    from rfatrial.kernel.protocol import parse_protocol

    from .builders import cycle, day, labs, post_scan, rfa

    after_first = (
        rfa(31, ["L8", "L7", "L6", "L5"]),
        cycle(40),
        post_scan(61, {"L8": "complete", "L7": "complete", "L6": "complete", "L5": "complete"}),
        {
            "type": "imaging",
            "date": day(62),
            "modality": "CT",
            "purpose": "response",
            "lesions": _features({"L1": 9.0, "L2": 11.0, "L3": 13.0, "L4": 15.0}),
        },
        labs(63),
    )
    h = _course(more=after_first)
    data = P.model_dump(mode="json")
    data["rfa"]["max_sessions"] = 1
    one = parse_protocol(data)
    check = _check(h, ["L4", "L3"], planned=64, today=63, protocol=one)
    assert "rfa_session_beyond_max" in _codes(check.refusals)
    assert check.proposal.sessions == ()  # nothing is proposed beyond the limit
    [f] = [f for f in check.refusals if f.code == "rfa_session_beyond_max"]
    assert f.source == "rfa.max_sessions = 1 (protocol 1.0)"


def test_a_lesion_judged_not_ablatable_needs_a_reason() -> None:
    h = _course(features={"L8": {"us_visible": False}, "L7": {"distance_to_critical_mm": 3.0}})
    check = _check(h, ["L8", "L7", "L6", "L5"], planned=31)
    assert check.refusals == ()
    needs = {(f.code, f.lesion_id) for f in check.reasons_required}
    assert needs == {
        ("lesion_not_ablatable", "L8"),
        ("lesion_not_ablatable", "L7"),
        ("changed_from_proposal", None),
    }
    [l7] = [f for f in check.reasons_required if f.lesion_id == "L7"]
    assert "planner.min_distance_to_critical_mm" in l7.message
    assert "L8" not in check.proposal.next_session
    assert check.removed and check.added == ("L8", "L7")
    assert check.blocking("CEUS shows L8; margin of L7 assessed on the planning CT") == ()


def test_warnings_never_block() -> None:
    h = _course(features={"L8": {"distance_to_vessel_mm": 3.0}})
    check = _check(h, ["L8", "L7", "L6", "L5"], planned=31)
    assert [f.code for f in check.findings] == ["lesion_risk"]
    assert check.blocking(None) == ()


def test_an_amended_protocol_moves_the_limit() -> None:
    from rfatrial.kernel.protocol import parse_protocol

    data = P.model_dump(mode="json")
    data["rfa"]["max_lesions_per_session"] = 5
    data["study"]["version"] = "1.1"
    five = parse_protocol(data)
    six = ["L8", "L7", "L6", "L5", "L4", "L3"]
    assert not _check(_course(), six, planned=31).refusals
    [f] = _check(_course(), six, planned=31, protocol=five).refusals
    assert f.source == "rfa.max_lesions_per_session = 5 (protocol 1.1)"
