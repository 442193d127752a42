"""Benchmark: closed-loop cohort generation, in full histories per second.

Each virtual patient is followed by the simulated care team from screening to death, loss to
follow-up or the end of the protocol's follow-up (60 months): the engine (the incremental
``PathwayState``) is asked what is due after every action. Timed first without writing files
(``simulate_patient_detail``; run as pure Python, with the share of the time spent in the
engine), then end to end with ``simulate_cohort`` (JSON files and manifest written), in one
process and in ``--workers`` processes (default: one per core). ``make kernel`` compiles the
engine and the care team; ``RFATRIAL_PURE=1`` runs their Python sources.

The machine is shared: the load average is printed, and each rate is given both by the wall
clock and by the process's CPU time (which other processes on the cores inflate much less); the
best of ``--repeats`` runs is kept.

Run: ``uv run --frozen python benchmarks/cohort.py [--patients N] [--non-compliance R]
[--workers W]``
Goal: at least 1,000 full histories per second.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from collections.abc import Callable
from datetime import date
from typing import Any

from rfatrial.kernel import _compiled
from rfatrial.kernel.pathway import PathwayState
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import Compliance, simulate_patient_detail
from rfatrial.simulation.cohort import simulate_cohort
from rfatrial.simulation.patient_model import DAYS_PER_MONTH


def load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} (5 min {five:.2f}) on {os.cpu_count()} cores"


def timed(run: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best wall-clock and best CPU seconds of ``repeats`` runs."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        cpus.append(time.process_time() - cpu)
        walls.append(time.perf_counter() - wall)
    return min(walls), min(cpus)


class EngineClock:
    """Time spent in the engine's ``add`` and ``next_actions`` (wraps them while in use)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def __enter__(self) -> EngineClock:
        self.saved = PathwayState.add, PathwayState.next_actions
        add, next_actions = self.saved

        def timed_add(state: PathwayState, event: Any) -> None:
            t = time.process_time()
            add(state, event)
            self.seconds += time.process_time() - t

        def timed_next(state: PathwayState, today: date) -> Any:
            t = time.process_time()
            out = next_actions(state, today)
            self.seconds += time.process_time() - t
            self.calls += 1
            return out

        PathwayState.add, PathwayState.next_actions = timed_add, timed_next  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        PathwayState.add, PathwayState.next_actions = self.saved  # type: ignore[method-assign]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--non-compliance", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="for simulate_cohort"
    )
    parser.add_argument(
        "--dir",
        default=None,
        help="where the cohorts are written (default: the system's temporary directory)",
    )
    args = parser.parse_args()
    protocol = default_protocol()
    horizon = protocol.randomization.randomize_within_days + round(
        protocol.follow_up.duration_months * DAYS_PER_MONTH
    )
    compliance = Compliance(rate=args.non_compliance)
    n = args.patients
    counts = {"events": 0, "evaluations": 0}

    def loop() -> None:
        counts["events"] = counts["evaluations"] = 0
        for k in range(n):
            sim = simulate_patient_detail(
                f"P{k}",
                "S01",
                "experimental" if k % 2 else "control",
                random.Random(args.seed * 1_000_003 + k),
                protocol,
                start=date(2026, 1, 5),
                horizon_days=horizon,
                compliance=compliance,
            )
            counts["events"] += len(sim.history.events)
            counts["evaluations"] += sim.evaluations

    print(load())
    print(
        "engine and care team: "
        + ("compiled (make kernel)" if _compiled.compiled() else "pure Python")
    )
    wall, cpu = timed(loop, args.repeats)
    print(
        f"closed loop: {n} histories: {n / wall:,.0f} histories/s by the wall clock, "
        f"{n / cpu:,.0f}/s by CPU time (one core); {counts['events'] / n:.0f} events and "
        f"{counts['evaluations'] / n:.0f} engine calls per history"
    )
    if _compiled.compiled():
        # the compiled care team calls the engine directly, past any wrapper
        print("  (compiled by make kernel: the engine's share is not timed apart)")
    else:
        with EngineClock() as engine:
            _, clocked = timed(loop, 1)
        print(
            f"  CPU time per history {clocked / n * 1e3:.2f} ms, of which the engine (add, "
            f"next_actions) {engine.seconds / n * 1e3:.2f} ms = {engine.seconds / clocked:.0%}"
        )

    for workers in sorted({1, args.workers}):

        def cohort(workers: int = workers) -> None:
            with tempfile.TemporaryDirectory(dir=args.dir) as out:
                simulate_cohort(n, 10, args.seed, out, compliance=compliance, workers=workers)

        print(load())
        wall, cpu = timed(cohort, args.repeats)
        if workers == 1:
            print(
                f"simulate_cohort with files, 1 process: {n} histories: {n / wall:,.0f} "
                f"histories/s by the wall clock, {n / cpu:,.0f}/s by CPU time (goal 1,000/s)"
            )
        else:
            before = os.times()
            cohort()
            after = os.times()
            children = (
                after.children_user
                - before.children_user
                + after.children_system
                - before.children_system
            )
            own = after.user - before.user + after.system - before.system
            print(
                f"simulate_cohort with files, {workers} worker processes: {n} histories: "
                f"{n / wall:,.0f} histories/s by the wall clock (goal 1,000/s); CPU per "
                f"history {children / n * 1e3:.2f} ms in the workers + {own / n * 1e3:.2f} ms "
                f"planning in this process: {workers * n / (children + own):,.0f}/s if "
                f"{workers} cores were free"
            )
    print(load())


if __name__ == "__main__":
    main()
