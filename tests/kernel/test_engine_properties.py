"""Property tests of the engine's promises, on virtual patients followed by a compliant team.

The simulated care team does what the engine proposes, inside each window; so at every day of
such a history the engine must find no deviation, and its proposals must keep every rule. Then
one deviation at a time is injected into a clean history, and the engine must find it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rfatrial.kernel._walk import RANK
from rfatrial.kernel.evaluation import Evaluation
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.pathway import PathwayState, evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import simulate_patient
from rfatrial.simulation.patient_model import CourseTimes, PatientModel, default_patient_model

P = default_protocol()
START = date(2026, 1, 5)
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@dataclass(frozen=True)
class Variant:
    """A variation of the shipped patient model, to explore the engine's paths."""

    shrink_per_scan: float
    progression_per_scan: float  # monthly hazard of progression
    gate_failure: float
    residual_after_rfa: float
    new_lesion_per_scan: float  # weight of new liver lesions as the form of progression
    monthly_death: float
    monthly_dropout: float

    def build(self) -> tuple[PatientModel, CourseTimes]:
        base = default_patient_model()
        rfa = base.rfa.model_copy(
            update={"residual": tuple(self.residual_after_rfa for _ in base.rfa.residual)}
        )
        labs = base.labs.model_copy(update={"gate_failure": self.gate_failure})
        systemic = base.systemic.model_copy(
            update={"later_factor": (min(self.shrink_per_scan, 0.99), 1.0)}
        )
        forms = dict(base.disease.progression_form_weights)
        forms["new_liver"] = self.new_lesion_per_scan
        disease = base.disease.model_copy(update={"progression_form_weights": forms})
        model = base.model_copy(
            update={"rfa": rfa, "labs": labs, "systemic": systemic, "disease": disease}
        )
        arms = ("control", "experimental")
        course = CourseTimes(
            "variant",
            dict.fromkeys(arms, self.monthly_death),
            dict.fromkeys(arms, self.progression_per_scan),
            dict.fromkeys(arms, self.monthly_dropout),
        )
        return model, course


models = st.builds(
    Variant,
    shrink_per_scan=st.floats(0.5, 1.0),
    progression_per_scan=st.floats(0.0, 0.4),
    gate_failure=st.floats(0.0, 0.7),
    residual_after_rfa=st.floats(0.0, 0.4),
    new_lesion_per_scan=st.floats(0.0, 0.3),
    monthly_death=st.floats(0.0, 0.03),
    monthly_dropout=st.just(0.0),
)


def simulate(seed: int, arm: str, variant: Variant, horizon: int = 800) -> PatientHistory:
    model, course = variant.build()
    return simulate_patient(
        f"P{seed}",
        "S01",
        arm,
        random.Random(seed),
        P,
        start=START,
        horizon_days=horizon,
        model=model,
        course=course,
    )


def truncated(h: PatientHistory, today: date) -> PatientHistory:
    return h.model_copy(update={"events": [e for e in h.events if e.date <= today]})


def check_promises(h: PatientHistory, r: Evaluation) -> None:
    cycles = [e for e in h.events if e.type == "systemic_cycle" and e.date <= r.today]
    for a in r.next_actions:
        assert a.earliest <= a.target <= a.latest, a
        if a.kind != "rfa_session":
            continue
        assert a.session is not None and a.session <= P.rfa.max_sessions
        assert r.rfa_sessions_done < P.rfa.max_sessions
        assert r.rfa_stopped is None
        assert r.responses and r.responses[-1].effective
        assert r.lab_gate is not None and r.lab_gate.decision == "proceed"
        assert r.lab_gate.panel is not None and r.lab_gate.panel.passed
        assert a.latest <= r.lab_gate.panel.panel_date + timedelta(days=P.lab_gate.freshness_days)
        for c in cycles:
            hold = max(
                [P.rfa.hold_days(x.name, before_rfa=True) for x in c.agents]
                or [P.rfa.separation_days]
            )
            assert a.earliest >= c.date + timedelta(days=hold), (a, c)
        assert len(a.lesions) > 0


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    arm=st.sampled_from(["experimental", "control"]),
    model=models,
    fraction=st.floats(0.0, 1.0),
)
def test_compliant_histories_have_no_deviation_and_proposals_keep_every_rule(
    seed: int, arm: str, model: Variant, fraction: float
) -> None:
    h = simulate(seed, arm, model)
    last = max(e.date for e in h.events)
    today = START + timedelta(days=int((last - START).days * fraction))
    part = truncated(h, today)
    r = evaluate(part, P, today)
    assert r.deviations == (), [d.description for d in r.deviations]
    assert r.data_issues == ()
    check_promises(part, r)
    final = evaluate(h, P, last)
    assert final.deviations == (), [d.description for d in final.deviations]
    if arm == "control":
        assert final.rfa_sessions_done == 0
    assert final.rfa_sessions_done <= P.rfa.max_sessions


# --- injected deviations -------------------------------------------------------------------


def _with_session(seed: int, model: Variant) -> PatientHistory | None:
    h = simulate(seed, "experimental", model, horizon=500)
    return h if any(e.type == "rfa_session" for e in h.events) else None


def _edit(h: PatientHistory, events: list[dict[str, Any]]) -> PatientHistory:
    return PatientHistory.model_validate({**h.model_dump(), "events": events})


def _inject(h: PatientHistory, kind: str) -> tuple[PatientHistory, str]:
    events = [e.model_dump() for e in h.events]
    sessions = [i for i, e in enumerate(events) if e["type"] == "rfa_session"]
    s = events[sessions[0]]
    d: date = s["date"]
    if kind == "separation":
        events.append(
            {
                "type": "systemic_cycle",
                "date": d - timedelta(days=P.rfa.separation_days - 1),
                "regimen": "FOLFOX",
                "agents": [],
            }
        )
        return _edit(h, events), "rfa_within_separation"
    if kind == "after_rfa":
        events.append(
            {
                "type": "systemic_cycle",
                "date": d + timedelta(days=P.rfa.separation_days - 1),
                "regimen": "FOLFOX",
                "agents": [],
            }
        )
        return _edit(h, events), "cycle_within_separation"
    if kind == "too_many":
        extra = P.rfa.max_lesions_per_session + 1 - len(s["lesions"])
        s["lesions"] = s["lesions"] + [
            {"lesion_id": f"X{k}", "technical_success": True} for k in range(extra)
        ]
        return _edit(h, events), "rfa_too_many_lesions"
    if kind == "failed_gate":
        panel = {
            "type": "lab_panel",
            "date": d,
            "ascites": "none",
            "encephalopathy": "none",
            "results": [{"analyte": "platelets", "value": 20, "unit": "10^9/L"}],
        }
        events.append(panel)
        return _edit(h, events), "rfa_lab_gate_failed"
    if kind == "stale_gate":
        fresh = P.lab_gate.freshness_days
        events = [
            e
            for e in events
            if not (e["type"] == "lab_panel" and 0 <= (d - e["date"]).days <= fresh)
        ]
        return _edit(h, events), "rfa_lab_gate_stale"
    if kind == "fourth_session":
        last = max(e["date"] for e in events)
        for k in range(P.rfa.max_sessions + 1 - len(sessions)):
            copy = dict(s)
            copy["date"] = last + timedelta(days=30 * (k + 1))
            events.append(copy)
        return _edit(h, events), "rfa_session_beyond_max"
    if kind == "no_response_scan":
        before = [
            i
            for i, e in enumerate(events)
            if e["type"] == "imaging" and e["purpose"] == "response" and e["date"] <= d
        ]
        del events[before[-1]]
        return _edit(h, events), "rfa_without_effective_response"
    if kind == "post_scan_window":
        scans = [i for i, e in enumerate(events) if e["type"] == "post_rfa_scan"]
        if not scans:
            return _edit(h, events), "post_rfa_scan_missed"
        late = P.post_rfa_scan.days_after_rfa + P.post_rfa_scan.window_days + 1
        events[scans[0]]["date"] = d + timedelta(days=late)
        return _edit(h, events), "post_rfa_scan_out_of_window"
    raise AssertionError(kind)


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    model=models,
    kind=st.sampled_from(
        [
            "separation",
            "after_rfa",
            "too_many",
            "failed_gate",
            "stale_gate",
            "fourth_session",
            "no_response_scan",
            "post_scan_window",
        ]
    ),
)
def test_every_injected_deviation_is_found(seed: int, model: Variant, kind: str) -> None:
    model = replace(model, progression_per_scan=min(model.progression_per_scan, 0.1))
    model = replace(model, monthly_death=0.0)
    h = None
    for offset in range(20):
        h = _with_session(seed + offset, model)
        if h is not None:
            break
    assert h is not None, "no virtual patient reached a session"
    broken, code = _inject(h, kind)
    last = max(e.date for e in broken.events)
    r = evaluate(broken, P, last)
    assert code in {d.code for d in r.deviations}, (code, [d.code for d in r.deviations])
    assert code not in {d.code for d in evaluate(h, P, last).deviations}


@SETTINGS
@given(
    seed=st.integers(0, 10**6),
    arm=st.sampled_from(["experimental", "control"]),
    model=models,
    shuffle=st.booleans(),
)
def test_the_incremental_state_says_what_evaluate_says(
    seed: int, arm: str, model: PatientModel, shuffle: bool
) -> None:
    h = simulate(seed, arm, model)
    events = sorted(h.events, key=lambda e: (e.date, RANK[e.type]))
    if shuffle:
        random.Random(seed).shuffle(events)
    state = PathwayState(P, h.patient_id)
    checkpoints = {len(events) // 3, len(events) // 2, len(events) - 1}
    for k, event in enumerate(events):
        state.add(event)
        if k in checkpoints:
            today = max(e.date for e in events[: k + 1]) + timedelta(days=k % 40)
            part = h.model_copy(update={"events": events[: k + 1]})
            expected = evaluate(part, P, today)
            assert state.evaluate(today) == expected
            assert state.next_actions(today) == expected.next_actions
