"""Benchmark: the pathway engine on generated histories.

Generates a pool of histories with the simulated care team (about 40 records each), makes
100,000 distinct histories from it by shifting every date, then times ``evaluate`` on all of them
on one core and compares with merely iterating over the same records.

Run: ``make bench``, or ``uv run --frozen python benchmarks/engine.py [--histories N] [--pool P]``
(after ``make kernel``, which compiles the engine's hot modules; without it the engine runs as
pure Python, and the benchmark says which one it timed).
Goal on a 2-core machine: at least 20,000 histories/s on one core.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from datetime import date, timedelta
from typing import Any

from rfatrial.kernel import _compiled
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.pathway import evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import simulate_patient


def _shift(value: Any, days: timedelta) -> Any:
    if isinstance(value, dict):
        return {k: _shift(v, days) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, days) for v in value]
    if isinstance(value, date):
        return value + days
    return value


def generate(histories: int, pool: int, seed: int) -> list[PatientHistory]:
    protocol = default_protocol()
    rng = random.Random(seed)
    base = []
    for k in range(pool):
        arm = "experimental" if k % 2 else "control"
        start = date(2025, 1, 1) + timedelta(days=rng.randint(0, 365))
        h = simulate_patient(
            f"P{k:05d}", f"S{k % 7 + 1:02d}", arm, rng, protocol, start=start, horizon_days=900
        )
        base.append(h.model_dump())
    out = []
    for k in range(histories):
        data = base[k % pool]
        shift = timedelta(days=k // pool)
        shifted = _shift(data, shift) if shift else data
        out.append(PatientHistory.model_validate({**shifted, "patient_id": f"H{k:06d}"}))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--histories", type=int, default=100_000)
    parser.add_argument("--pool", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=20261127)
    args = parser.parse_args()

    t0 = time.perf_counter()
    histories = generate(args.histories, args.pool, args.seed)
    t_gen = time.perf_counter() - t0
    records = [len(h.events) for h in histories]
    protocol = default_protocol()
    # each patient is evaluated on the day of his last record, as the study does after a write
    days = [max(e.date for e in h.events) for h in histories]

    t0 = time.perf_counter()
    touched = 0
    for h in histories:
        for e in h.events:
            touched += e.date.toordinal() & 1
    t_iter = time.perf_counter() - t0

    t0 = time.perf_counter()
    deviations = 0
    for h, today in zip(histories, days, strict=True):
        deviations += len(evaluate(h, protocol, today).deviations)
    t_eval = time.perf_counter() - t0

    n = len(histories)
    engine = "compiled (make kernel)" if _compiled.compiled() else "pure Python"
    print(f"engine: {engine}")
    print(f"histories: {n:,} (pool {args.pool:,}, generated in {t_gen:.1f} s)")
    print(
        f"records per history: mean {statistics.mean(records):.1f}, "
        f"median {statistics.median(records):.0f}, max {max(records)}"
    )
    print(f"deviations found: {deviations:,}")
    print(f"iterate only: {t_iter:.3f} s ({n / t_iter:,.0f} histories/s)")
    print(f"evaluate:     {t_eval:.3f} s ({n / t_eval:,.0f} histories/s, one core)")
    print(f"ratio evaluate / iterate: {t_eval / t_iter:.1f}")
    goal = 20_000
    print(f"goal {goal:,} histories/s: {'met' if n / t_eval >= goal else 'NOT met'}")


if __name__ == "__main__":
    main()
