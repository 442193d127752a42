"""Survival statistics on 100,000 simulated rows: rfatrial side by side with R's ``survival``.

Data: two arms (hazard ratio 0.75), four strata with different baseline hazards, follow-up
times rounded to 0.1 month (ties), about 30% censored. The same CSV file is read by R; R's
time is measured inside R with ``system.time`` around each call only (no start-up, no file
reading), ours with ``time.perf_counter`` around each call; the median of ``--repeats`` runs
is printed for both, with the ratio ours / R (goal: at most 1.0) and whether the numbers agree.

* KM by arm: ``survfit(Surv(time, event) ~ arm)`` vs ``kaplan_meier_by_group``
* stratified log-rank: ``survdiff(... ~ arm + strata(stratum))`` vs ``logrank_test``
* stratified Cox, Efron: ``coxph(... ~ arm + strata(stratum))`` vs ``cox_ph``

Usage::

    uv run --frozen python benchmarks/analysis.py [--rows 100000] [--repeats 5]

Needs R with survival (``.ci/install-r.sh``).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rfatrial.analysis import cox_ph, kaplan_meier_by_group, logrank_test

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
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
