"""Survival statistics on 100,000 simulated rows: rfatrial side by side with R's ``survival``.

Data: two arms (hazard ratio 0.75), four strata with different baseline hazards, follow-up
times rounded to 0.1 month (ties), about 30% censored. The same CSV file is read by R; R's
time is measured inside R with ``system.time`` around each call only (no start-up, no file
reading), ours with ``time.perf_counter`` around each call; the median of ``--repeats`` runs
is printed for both, with the ratio ours / R (goal: at most 1.0) and whether the numbers agree.

* KM by arm: ``survfit(Surv(time, event) ~ arm)`` vs ``kaplan_meier_by_group``
* stratified log-rank: ``survdiff(... ~ arm + strata(stratum))`` vs ``logrank_test``
* stratified Cox, Efron: ``coxph(... ~ arm + strata(stratum))`` vs ``cox_ph``

Second part (``--part cohort``): the study's own pipeline on simulated patients. A cohort of
``--base`` patients (500) is simulated once with the closed-loop care team; larger cohorts are made
by replicating it, each copy with new patient ids and every date shifted by a few days (the closed
loop is not run 100,000 times; the copies' follow-up times repeat the base cohort's, so the data
hold more ties than a real cohort would). For each size (``--sizes``, default 500 to 100,000) it
times the derivation of the analysis datasets (engine included) and all statistics (KM by arm,
stratified log-rank, stratified Cox and cox.zph, RMST for the six endpoints; cumulative incidence,
Gray's test and the patient-clustered jackknife of LTP; feasibility, exposure, AE, complication
(CIRSE and Clavien-Dindo, per session and per patient) and paired lab summaries), prints how
the time grows with the number of patients, and times the
full report (HTML and PDF) for the base cohort (goal: under 30 s), with the wall time of each of
its steps.

Third part (``--part database``, not in ``all``): the report from the study database, as the
web application's Report page makes it. The base cohort is loaded into a new SQLite database in a
temporary data folder (migrations, the loader: every patient stored, evaluated and audited); it
times reading every history back (the snapshot and its hash: what the page does before it knows
whether the report is cached) and the full report from the database.

Usage::

    uv run --frozen python benchmarks/analysis.py [--rows 100000] [--repeats 5]
    uv run --frozen python benchmarks/analysis.py --part cohort [--base 500] [--sizes 500,100000]
    uv run --frozen python benchmarks/analysis.py --part database [--base 500]

The R part needs R with survival (``.ci/install-r.sh``).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import deque
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from rfatrial.analysis import (
    clustered_cumulative_incidence,
    cox_ph,
    cox_zph,
    cumulative_incidence,
    gray_test,
    kaplan_meier_by_group,
    logrank_test,
    rmst_difference,
)
from rfatrial.analysis.datasets import ENDPOINTS, AnalysisDatasets, derive_datasets
from rfatrial.analysis.report import build_report, load_cohort
from rfatrial.analysis.summaries import (
    adverse_event_table,
    clavien_dindo_table,
    complication_table,
    complications_per_patient,
    feasibility,
    lab_comparisons,
    systemic_summary,
)
from rfatrial.kernel.history import Event, PatientHistory
from rfatrial.simulation.cohort import simulate_cohort

R_SCRIPT = r"""
suppressPackageStartupMessages(library(survival))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1]); repeats <- as.integer(args[2])
out <- function(key, v) cat(key, "\t", paste(sprintf("%.17g", v), collapse = ","), "\n", sep = "")
for (i in seq_len(repeats)) {
  out("km_time", system.time(km <- survfit(Surv(time, event) ~ arm, data = d))[["elapsed"]])
  out("lr_time", system.time(
    lr <- survdiff(Surv(time, event) ~ arm + strata(stratum), data = d))[["elapsed"]])
  out("cox_time", system.time(
    cx <- coxph(Surv(time, event) ~ arm + strata(stratum), data = d))[["elapsed"]])
}
out("km_surv", km$surv)
out("km_stderr", km$std.err)
out("km_median", summary(km)$table[, "median"])
out("lr_chisq", lr$chisq)
out("cox_coef", coef(cx))
out("cox_se", sqrt(diag(vcov(cx))))
cat("R_VERSION\t", R.version.string, " survival ", as.character(packageVersion("survival")), "\n",
    sep = "")
"""


def simulate(rows: int, seed: int = 2024) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    arm = rng.integers(0, 2, rows)
    stratum = rng.integers(1, 5, rows)
    rate = 0.03 * np.exp(np.log(0.75) * arm + 0.25 * stratum)
    event_time = rng.exponential(1.0 / rate)
    censor_time = rng.uniform(12.0, 84.0, rows)
    time_ = np.maximum(np.round(np.minimum(event_time, censor_time), 1), 0.1)
    event = (event_time <= censor_time).astype(np.int64)
    return {"time": time_, "event": event, "arm": arm, "stratum": stratum}


def timed(call: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def _shift_event(e: Event, delta: timedelta) -> Event:
    update: dict[str, Any] = {"date": e.date + delta}
    if e.type == "screening":
        update["consent_date"] = e.consent_date + delta
    elif e.type == "adverse_event" and e.end_date is not None:
        update["end_date"] = e.end_date + delta
    elif e.type == "rfa_session" and any(c.onset_date for c in e.complications):
        update["complications"] = [
            c.model_copy(update={"onset_date": c.onset_date + delta}) if c.onset_date else c
            for c in e.complications
        ]
    return e.model_copy(update=update)


def replicate(base: list[PatientHistory], n: int, seed: int = 7) -> Iterator[PatientHistory]:
    """``n`` histories, one at a time: ``base`` first, then copies of it with new ids and every
    date shifted by 0-364 days (generated lazily, so 100,000 histories never sit in memory)."""
    rng = np.random.default_rng(seed)
    yield from base[:n]
    done, copy = min(n, len(base)), 0
    while done < n:
        copy += 1
        for h in base:
            if done == n:
                break
            delta = timedelta(days=int(rng.integers(0, 365)))
            done += 1
            yield h.model_copy(
                update={
                    "patient_id": f"R{copy:04d}-{h.patient_id}",
                    "events": [_shift_event(e, delta) for e in h.events],
                }
            )


def all_statistics(ds: AnalysisDatasets) -> dict[str, float]:
    """Every statistic of the report (no figures); returns a few numbers to check."""
    out: dict[str, float] = {}
    for endpoint in ENDPOINTS:
        d = ds.survival(endpoint)
        x = (d.arm == "experimental").astype(float)
        kaplan_meier_by_group(d.time, d.event, d.arm)
        if len(set(d.arm.tolist())) < 2:  # DFS: only patients rendered NED, maybe one arm
            continue
        out[f"{endpoint} log-rank"] = logrank_test(d.time, d.event, d.arm, d.stratum).statistic
        fit = cox_ph(d.time, d.event, x, strata=d.stratum)
        cox_zph(d.time, d.event, x, strata=d.stratum, fit=fit)
        out[f"{endpoint} HR"] = float(fit.hazard_ratio[0])
        tau = min(36.0, *(float(d.time[d.arm == a].max()) for a in ("control", "experimental")))
        rmst_difference(d.time, d.event, d.arm, tau, reference="control")
    les = ds.lesions
    t = np.array([r.time_months for r in les])
    st = np.array([r.status for r in les])
    margin = np.array(["<5" if (r.margin_mm or 0) < 5 else ">=5" for r in les])
    cumulative_incidence(t, st, margin)
    out["LTP Gray"] = gray_test(t, st, margin)[1].statistic
    ci = clustered_cumulative_incidence(t, st, [r.patient_id for r in les], [12.0, 24.0])
    out["LTP 24 months"] = float(ci.estimate[0, 1])
    feasibility(ds)
    systemic_summary(ds)
    adverse_event_table(ds)
    complication_table(ds)
    clavien_dindo_table(ds)
    complications_per_patient(ds)
    lab_comparisons(ds)
    return out


def cohort_benchmark(base_n: int, sizes: list[int], seed: int) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        simulate_cohort(base_n, 8, seed, Path(tmp) / "cohort")
        t_sim = time.perf_counter() - start
        cohort = load_cohort(Path(tmp) / "cohort")
        base = cohort.histories
        steps: list[tuple[str, float]] = []
        start, cpu = time.perf_counter(), time.process_time()
        result = build_report(
            Path(tmp) / "cohort",
            Path(tmp) / "report",
            progress=lambda name: steps.append((name, time.perf_counter())),
        )
        t_report, t_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"base cohort: {base_n:,} patients simulated in {t_sim:.1f} s (closed loop, seed {seed})")
    print(
        f"full report, {base_n:,} patients: {t_report:.1f} s (HTML + PDF, "
        f"{result.pdf_pages} pages; goal < 30 s: {'met' if t_report < 30 else 'NOT met'}); "
        f"{t_cpu:.1f} s of processor time ({_load()})"
    )
    ends = [t for _, t in steps[1:]] + [start + t_report]
    print(
        "  by step (wall, s): "
        + ", ".join(f"{name} {end - t:.1f}" for (name, t), end in zip(steps, ends, strict=True))
    )
    print(
        f"{'patients':>9}{'lesions':>9}{'derive (s)':>12}{'statistics (s)':>16}"
        f"{'total (s)':>11}{'us/patient':>12}  OS log-rank, OS HR"
    )
    rows: list[tuple[int, float]] = []
    for n in sizes:
        start = time.perf_counter()
        deque(replicate(base, n), maxlen=0)  # only make the copies, to time them
        t_copy = time.perf_counter() - start  # making the copies is not part of the derivation
        start = time.perf_counter()
        ds = derive_datasets(replicate(base, n))
        t_derive = time.perf_counter() - start - t_copy
        start = time.perf_counter()
        numbers = all_statistics(ds)
        t_stats = time.perf_counter() - start
        total = t_derive + t_stats
        rows.append((n, total))
        print(
            f"{n:>9,}{len(ds.lesions):>9,}{t_derive:>12.2f}{t_stats:>16.2f}{total:>11.2f}"
            f"{1e6 * total / n:>12.0f}  {numbers['OS log-rank']:.3f}, {numbers['OS HR']:.3f}"
        )
    if len(rows) > 1:
        (n0, t0), (n1, t1) = rows[0], rows[-1]
        slope = math.log(t1 / t0) / math.log(n1 / n0)
        print(f"growth: time ~ n^{slope:.2f} from {n0:,} to {n1:,} patients")
    return 0


def _load() -> str:
    """The machine's load: on a shared machine the wall time is worth little without it."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return "load unknown"
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} cores"


def database_benchmark(base_n: int, seed: int) -> int:
    """Load ``base_n`` simulated patients into a new database, then time the report from it."""
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["RFATRIAL_DATA_DIR"] = str(Path(tmp) / "data")
        os.environ.pop("DATABASE_URL", None)
        from rfatrial.server.cli import migrate

        migrate()
        from rfatrial.analysis.study_database import database_cohort
        from rfatrial.server.study.loading import load_directory

        simulate_cohort(base_n, 8, seed, Path(tmp) / "cohort")
        histories = Path(tmp) / "histories"  # the loader reads every *.json: not the manifest
        histories.mkdir()
        for path in (Path(tmp) / "cohort").glob("S*.json"):
            (histories / path.name).write_bytes(path.read_bytes())
        start = time.perf_counter()
        loaded = load_directory(histories)
        t_load = time.perf_counter() - start
        start = time.perf_counter()
        cohort = database_cohort()
        t_read = time.perf_counter() - start
        same = cohort.data_hash == load_cohort(Path(tmp) / "cohort").data_hash
        start, cpu = time.perf_counter(), time.process_time()
        result = build_report(database_cohort(), Path(tmp) / "report")
        t_report, t_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"loaded {len(loaded.created):,} patients into SQLite in {t_load:.1f} s")
    print(
        f"read back every history and hash the snapshot: {t_read:.2f} s "
        f"(same hash as the directory: {'yes' if same else 'NO'})"
    )
    print(
        f"full report from the database, {result.patients:,} patients: {t_report:.1f} s "
        f"(goal < 30 s: {'met' if t_report < 30 else 'NOT met'}); {t_cpu:.1f} s of processor "
        f"time ({_load()})"
    )
    return 0 if same else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--part", choices=("r", "cohort", "database", "all"), default="all")
    parser.add_argument("--base", type=int, default=500)
    parser.add_argument("--sizes", default="500,2000,10000,100000")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    code = 0
    if args.part in ("r", "all"):
        code = versus_r(args)
    if args.part in ("cohort", "all"):
        print()
        sizes = [int(x) for x in args.sizes.split(",")]
        code = max(code, cohort_benchmark(args.base, sizes, args.seed))
    if args.part == "database":
        code = database_benchmark(args.base, args.seed)
    return code


def versus_r(args: argparse.Namespace) -> int:
    rscript = shutil.which("Rscript")
    if rscript is None:
        print("Rscript not found: run .ci/install-r.sh", file=sys.stderr)
        return 1
    data = simulate(args.rows)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "data.csv"
        columns = list(data)
        table = np.column_stack([data[c] for c in columns])
        np.savetxt(path, table, delimiter=",", header=",".join(columns), comments="", fmt="%.17g")
        script = Path(tmp) / "bench.R"
        script.write_text(R_SCRIPT, encoding="utf-8")
        proc = subprocess.run(
            [rscript, "--vanilla", str(script), str(path), str(args.repeats)],
            capture_output=True,
            text=True,
            check=False,
        )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return 1
    r: dict[str, list[float]] = {}
    version = ""
    for line in proc.stdout.splitlines():
        key, value = line.split("\t", 1)
        if key == "R_VERSION":
            version = value
            continue
        r.setdefault(key, []).extend(float(v) for v in value.split(","))

    t, e, arm, stratum = data["time"], data["event"], data["arm"], data["stratum"]
    # warm-up (imports, caches), not timed
    kaplan_meier_by_group(t[:100], e[:100], arm[:100])
    logrank_test(t[:100], e[:100], arm[:100], stratum[:100])
    cox_ph(t[:100], e[:100], arm[:100], strata=stratum[:100])

    km_s, km = timed(lambda: kaplan_meier_by_group(t, e, arm), args.repeats)
    lr_s, lr = timed(lambda: logrank_test(t, e, arm, stratum), args.repeats)
    cx_s, cx = timed(lambda: cox_ph(t, e, arm, strata=stratum), args.repeats)

    ours_surv = np.concatenate([c.survival for c in km.values()])
    ours_se = np.concatenate([c.std_err for c in km.values()])
    finite = np.isfinite(ours_se)
    checks = {
        "KM by arm": bool(
            np.allclose(ours_surv, r["km_surv"], atol=1e-10, rtol=0)
            and np.allclose(ours_se[finite], np.asarray(r["km_stderr"])[finite], atol=1e-10)
            and [c.median().median for c in km.values()] == r["km_median"]
        ),
        "stratified log-rank": abs(lr.statistic - r["lr_chisq"][0]) < 1e-6,
        "stratified Cox (Efron)": abs(cx.coef[0] - r["cox_coef"][0]) < 1e-6
        and abs(cx.se[0] - r["cox_se"][0]) < 1e-6,
    }
    rows = [
        ("KM by arm", statistics.median(r["km_time"]), km_s),
        ("stratified log-rank", statistics.median(r["lr_time"]), lr_s),
        ("stratified Cox (Efron)", statistics.median(r["cox_time"]), cx_s),
    ]
    print(
        f"{args.rows:,} rows, 2 arms, 4 strata, {int(e.sum()):,} events; median of "
        f"{args.repeats} runs; {version}"
    )
    print(f"{'statistic':<24}{'R (s)':>9}{'ours (s)':>10}{'ours/R':>8}  same numbers")
    for name, r_s, ours in rows:
        print(f"{name:<24}{r_s:>9.3f}{ours:>10.4f}{ours / r_s:>8.2f}  {checks[name]}")
    print(f"log-rank chi2: ours {lr.statistic:.10f}  R {r['lr_chisq'][0]:.10f}")
    print(
        f"Cox coef (se): ours {cx.coef[0]:.10f} ({cx.se[0]:.10f})  "
        f"R {r['cox_coef'][0]:.10f} ({r['cox_se'][0]:.10f})"
    )
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
