"""Benchmark: closed-loop cohort generation, in full histories per second.

Each virtual patient is followed by the simulated care team from screening to death, loss to
follow-up or the end of the protocol's follow-up (60 months): the engine (the incremental
``PathwayState``) is asked what is due after every action, and every record is validated by the
history schema. Timed on one core, first without writing files (``simulate_patient_detail``),
then end to end with ``simulate_cohort`` (JSON files and manifest written).

Run: ``uv run --frozen python benchmarks/cohort.py [--patients N] [--non-compliance R]``
Goal: at least 1,000 full histories per second.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date

from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import Compliance, simulate_patient_detail
from rfatrial.simulation.cohort import simulate_cohort
from rfatrial.simulation.patient_model import DAYS_PER_MONTH


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--non-compliance", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    protocol = default_protocol()
    horizon = protocol.randomization.randomize_within_days + round(
        protocol.follow_up.duration_months * DAYS_PER_MONTH
    )
    compliance = Compliance(rate=args.non_compliance)
    events = evaluations = 0
    start = time.perf_counter()
    for k in range(args.patients):
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
        events += len(sim.history.events)
        evaluations += sim.evaluations
    loop = time.perf_counter() - start
    print(
        f"closed loop: {args.patients} histories in {loop:.2f} s = "
        f"{args.patients / loop:,.0f} histories/s (one core); "
        f"{events / args.patients:.0f} events and {evaluations / args.patients:.0f} engine "
        f"calls per history; {loop / evaluations * 1e6:.0f} µs per engine call + records"
    )
    times = []
    for repeat in range(2):
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            simulate_cohort(args.patients, 10, args.seed + repeat, out, compliance=compliance)
            times.append(time.perf_counter() - start)
    seconds = statistics.median(times)
    print(
        f"simulate_cohort with files: {args.patients} histories in {seconds:.2f} s = "
        f"{args.patients / seconds:,.0f} histories/s (goal 1,000/s)"
    )


if __name__ == "__main__":
    main()
