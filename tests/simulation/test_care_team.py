"""The closed loop on thousands of virtual patients: a compliant team's histories break no rule;
every deviation the team commits on purpose is found by the engine, on its code and date."""

from __future__ import annotations

import math
import random
from datetime import date, timedelta

import pytest

from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import (
    DEVIATION_KINDS,
    Compliance,
    SimulatedPatient,
    _days,
    _round,
    simulate_patient_detail,
)

P = default_protocol()
START = date(2026, 1, 5)


def patients(first: int, count: int, rate: float) -> list[SimulatedPatient]:
    out = []
    for k in range(first, first + count):
        arm = "experimental" if k % 2 else "control"
        out.append(
            simulate_patient_detail(
                f"P{k}",
                "S01",
                arm,
                random.Random(k),
                P,
                start=START,
                horizon_days=2000,
                compliance=Compliance(rate=rate),
            )
        )
    return out


def check(sims: list[SimulatedPatient], rate: float) -> set[str]:
    injected: set[str] = set()
    for s in sims:
        h = s.history
        last = max(e.date for e in h.events)
        r = evaluate(h, P, last)
        assert r.data_issues == (), (h.patient_id, r.data_issues)
        found = {(d.code, d.date) for d in r.deviations}
        if rate == 0:
            assert s.injected == ()
            assert r.deviations == (), (h.patient_id, [d.description for d in r.deviations])
        for x in s.injected:
            assert (x.code, x.date) in found, (h.patient_id, x, sorted(found))
            injected.add(x.code)
        if h.events[-1].type == "death":
            assert s.truth.death == h.events[-1].date
    return injected


@pytest.mark.parametrize("rate", [0.0, 0.3])
def test_300_patients(rate: float) -> None:
    kinds = check(patients(0, 300, rate), rate)
    if rate:
        assert {"visit_missed", "cycle_despite_failed_labs", "rfa_lab_gate_stale"} <= kinds


def test_2000_more_patients_half_compliant_half_not() -> None:
    assert not check(patients(10_000, 1000, 0.0), 0.0)
    kinds = check(patients(20_000, 1000, 0.5), 0.5)
    assert kinds == set(DEVIATION_KINDS)


def test_same_seed_same_history_and_both_arms_run_their_course() -> None:
    a, b = patients(7, 1, 0.2)[0], patients(7, 1, 0.2)[0]
    assert a.history == b.history and a.injected == b.injected
    sims = patients(100, 60, 0.0)
    control = [s for s in sims if s.truth.arm == "control"]
    assert all(not any(e.type == "rfa_session" for e in s.history.events) for s in control)
    types = {e.type for s in sims for e in s.history.events}
    assert {"rfa_session", "post_rfa_scan", "adverse_event", "follow_up_visit"} <= types
    sessions = [e for s in sims for e in s.history.events if e.type == "rfa_session"]
    assert any(e.complications for e in sessions)
    assert all(len(e.lesions) <= P.rfa.max_lesions_per_session for e in sessions)


def test_screening_records_the_braf_status_of_the_baseline() -> None:
    sims = patients(400, 80, 0.0)
    statuses = set()
    for s in sims:
        screening = s.history.events[0]
        assert screening.type == "screening"
        if screening.ras_status == "unknown":
            expected = "unknown"  # not tested: RAS and BRAF are read on the same panel
        else:
            expected = "mutant" if s.truth.braf_mutant else "wild_type"
        assert screening.braf_status == expected, s.history.patient_id
        statuses.add(screening.braf_status)
    assert statuses == {"mutant", "wild_type", "unknown"}


def test_compliance_is_validated() -> None:
    with pytest.raises(ValueError, match="rate"):
        Compliance(rate=1.5)
    with pytest.raises(ValueError, match="unknown deviation kinds"):
        Compliance(kinds=frozenset({"nope"}))


def test_the_fast_rounding_gives_the_float_that_round_gives() -> None:
    rng = random.Random(3)
    values = [rng.uniform(0.0, 500.0) for _ in range(50_000)]
    values += [rng.uniform(0.0, 2.0) for _ in range(50_000)]
    # ties and near-ties of the decimal grid, zero, signs and what is out of the fast path
    values += [k / 1000 for k in range(20_000)] + [k / 200 + 1e-12 for k in range(4000)]
    values += [0.15, 0.25, 2.675, 1.005, 0.0, -0.0, -0.04, -2.675, 1e6, 1e300]
    values += [math.inf, -math.inf]
    for x in values:
        for ndigits in (1, 2):
            expected, got = round(x, ndigits), _round(x, ndigits)
            assert repr(got) == repr(expected), (x, ndigits)
    assert math.isnan(_round(math.nan, 1))


def test_the_table_of_days_gives_the_timedelta() -> None:
    for n in (-5, -1, 0, 1, 30, 1023, 1024, 5000):
        assert _days(n) == timedelta(days=n)
