"""Simulated power: rpact's getSimulationSurvival against rfatrial's vectorized simulation.

Scenario (CLOCC overall survival): control median 40.5 months, hazard ratio 0.58, 36 months
of uniform accrual, 200 patients, analysis at 106 events, 10,000 simulated trials, two-sided
alpha 5%.

rpact simulates one-sided tests only: it runs the one-sided test at 2.5% in favour of the
experimental arm (``directionUpper = FALSE``), which is the two-sided 5% test's power up to
the probability of rejecting in the wrong direction (below 1e-6 here). The rpact time is
measured inside R around the ``getSimulationSurvival`` call only (``system.time``); the wall
time of the whole ``Rscript`` run (R start-up, package loading) is printed too.

Usage::

    uv run --frozen python benchmarks/simulate.py [--trials 10000] [--repeats 5]

Needs R with rpact (``.ci/install-r.sh``).
"""

from __future__ import annotations

import argparse
import math
import shutil
import statistics
import subprocess
import sys
import time

from rfatrial.simulation.power import SurvivalScenario, analytic_power, simulate_power

MEDIAN, HAZARD_RATIO, ACCRUAL, PATIENTS, EVENTS, ALPHA = 40.5, 0.58, 36.0, 200, 106, 0.05

R_SCRIPT = (
    r"""
suppressPackageStartupMessages(library(rpact))
args <- commandArgs(trailingOnly = TRUE)
trials <- as.integer(args[1]); repeats <- as.integer(args[2]); seed <- as.integer(args[3])
design <- getDesignGroupSequential(kMax = 1, alpha = ALPHA / 2, sided = 1)
for (i in seq_len(repeats)) {
  timing <- system.time(
    s <- getSimulationSurvival(design = design, directionUpper = FALSE,
      lambda2 = log(2) / MEDIAN, hazardRatio = HAZARD_RATIO, accrualTime = c(0, ACCRUAL),
      maxNumberOfSubjects = PATIENTS, plannedEvents = EVENTS,
      maxNumberOfIterations = trials, seed = seed + i)
  )
  cat(sprintf("RPACT\t%.17g\t%.17g\t%.17g\t%s\n", s$overallReject, timing[["elapsed"]],
              s$studyDuration, as.character(packageVersion("rpact"))))
}
""".replace("ALPHA", repr(ALPHA))
    .replace("MEDIAN", repr(MEDIAN))
    .replace("HAZARD_RATIO", repr(HAZARD_RATIO))
    .replace("ACCRUAL", repr(ACCRUAL))
    .replace("PATIENTS", repr(PATIENTS))
    .replace("EVENTS", repr(EVENTS))
)


RpactRun = tuple[float, float, float]  # power, seconds in R, mean trial duration


def run_rpact(trials: int, repeats: int, seed: int) -> tuple[list[RpactRun], str, float]:
    """(power, seconds in R, mean duration) per repeat, rpact's version, subprocess wall time."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        sys.exit("Rscript not found: run .ci/install-r.sh (as root) to install R and rpact")
    start = time.perf_counter()
    proc = subprocess.run(
        [rscript, "--vanilla", "-e", R_SCRIPT, str(trials), str(repeats), str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.exit(f"Rscript failed: {proc.stderr}")
    runs: list[RpactRun] = []
    version = "?"
    for line in proc.stdout.splitlines():
        if line.startswith("RPACT\t"):
            _, power, seconds, duration, version = line.split("\t")
            runs.append((float(power), float(seconds), float(duration)))
    return runs, version, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2024)
    args = parser.parse_args()

    scenario = SurvivalScenario(
        control_median=MEDIAN, hazard_ratio=HAZARD_RATIO, accrual_time=ACCRUAL
    )
    print(
        f"Scenario: control median {MEDIAN} months, HR {HAZARD_RATIO}, accrual {ACCRUAL} "
        f"months, {PATIENTS} patients, analysis at {EVENTS} events, {args.trials} trials"
    )
    analytic = analytic_power(scenario, PATIENTS, EVENTS, alpha=ALPHA)
    print(f"Analytic (Schoenfeld) power, two-sided {ALPHA}: {analytic.power:.4f}")

    rpact_runs, version, wall = run_rpact(args.trials, args.repeats, args.seed)
    rpact_seconds = statistics.median(s for _, s, _ in rpact_runs)
    rpact_power = rpact_runs[0][0]
    print(
        f"rpact {version} getSimulationSurvival: power {rpact_power:.4f} ± "
        f"{math.sqrt(rpact_power * (1 - rpact_power) / args.trials):.4f} "
        f"(one-sided 2.5%, benefit), mean duration {rpact_runs[0][2]:.2f} months; "
        f"time in R {rpact_seconds:.3f} s (median of {len(rpact_runs)}: "
        + ", ".join(f"{s:.3f}" for _, s, _ in rpact_runs)
        + f"); Rscript wall time {wall:.2f} s for all runs"
    )

    results = {}
    for workers in (1, None):
        label = "1 thread" if workers == 1 else "all cores"
        times = []
        for i in range(args.repeats + 1):  # the first run is a warm-up
            start = time.perf_counter()
            sim = simulate_power(
                scenario,
                PATIENTS,
                EVENTS,
                alpha=ALPHA,
                n_trials=args.trials,
                seed=args.seed + i,
                workers=workers,
            )
            times.append(time.perf_counter() - start)
            if i == 0:
                first = sim
        seconds = statistics.median(times[1:])
        results[label] = seconds
        print(
            f"rfatrial simulate_power ({label}): power {first.power:.4f} ± {first.power_se:.4f} "
            f"(two-sided 5%; benefit tail {first.rejections_benefit / first.n_trials:.4f}), "
            f"mean duration {first.mean_analysis_time:.2f} months; time {seconds:.4f} s "
            f"(median of {args.repeats}; first call {times[0]:.4f} s)"
        )
    for label, seconds in results.items():
        print(f"Speed ratio rpact / rfatrial ({label}): {rpact_seconds / seconds:.1f}x")


if __name__ == "__main__":
    main()
