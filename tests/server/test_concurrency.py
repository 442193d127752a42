"""Writers at the same time: no lost update, no forked audit chain, stale edits refused."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from django.db import connection

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, StaleRecordError, audited, verify_audit_trail
from rfatrial.server.study.convert import history_from_db
from rfatrial.server.study.services import (
    amend_event,
    ensure_site,
    record_event,
    register_patient,
)
from tests.kernel.builders import cycle, day, labs
from tests.server.test_services import screening

pytestmark = pytest.mark.django_db(transaction=True)

TODAY = date(2026, 6, 1)


def _in_threads(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs together (each thread with its own connection); results or exceptions."""
    start = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = jobs[i]()
        except Exception as exc:
            results[i] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


@pytest.fixture
def patients() -> list[m.Patient]:
    with audited(Actor("admin"), "site opened") as audit:
        site = ensure_site(audit, "S01")
    out = []
    for k in range(4):
        p = register_patient(site, f"S01-{k}", sex="F", age_at_screening=60, actor=Actor("admin"))
        record_event(p, screening(), actor=Actor("admin"), today=TODAY)
        record_event(
            p,
            {"type": "randomization", "date": day(0), "arm": "control"},
            actor=Actor("admin"),
            today=TODAY,
        )
        out.append(p)
    return out


def test_parallel_writers_lose_nothing_and_keep_one_chain(patients: list[m.Patient]) -> None:
    jobs: list[Callable[[], Any]] = []
    for k, p in enumerate(patients):
        for offset in (1, 15):
            jobs.append(
                lambda p=p, o=offset, k=k: record_event(
                    p, cycle(o), actor=Actor(f"user{k}"), today=TODAY
                )
            )
        jobs.append(lambda p=p: record_event(p, labs(14), actor=Actor("lab"), today=TODAY))
    results = _in_threads(jobs)
    assert not [r for r in results if isinstance(r, Exception)]
    for p in patients:
        kinds = [e.type for e in history_from_db(p).events]
        assert sorted(kinds) == [
            "lab_panel",
            "randomization",
            "screening",
            "systemic_cycle",
            "systemic_cycle",
        ]
        assert m.PatientState.objects.get(patient=p).cycles_given == 2
    report = verify_audit_trail()
    assert report.ok, report.problems


def test_two_editors_of_one_event_one_wins_the_other_is_told(patients: list[m.Patient]) -> None:
    p = patients[0]
    row = record_event(p, cycle(1), actor=Actor("alice"), today=TODAY).row
    assert row is not None

    def edit(who: str, offset: int) -> Any:
        return amend_event(
            p,
            row.seq,
            cycle(offset),
            expected_version=1,
            actor=Actor(who),
            reason="fix",
            today=TODAY,
        )

    results = _in_threads([lambda: edit("alice", 2), lambda: edit("bob", 3)])
    stale = [r for r in results if isinstance(r, StaleRecordError)]
    assert len(stale) == 1 and "now version 2, your copy is version 1" in str(stale[0])
    winner = next(r for r in results if not isinstance(r, Exception))
    assert winner.row.version == 2
    assert verify_audit_trail().ok
