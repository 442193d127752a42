"""Our power and sample-size results against R's rpact, run through ``Rscript``.

These tests need R with rpact (``.ci/install-r.sh``). Without it they fail, never skip: the
comparison with rpact is the evidence that the numbers given to the study's designers are
right.

* Analytic results (Schoenfeld: events, patients, analysis time, event probabilities, power)
  must equal rpact's to 1e-6 relative (R prints 17 significant digits).
* Simulated power, mean analysis time and mean events in the experimental arm must agree with
  rpact's ``getSimulationSurvival`` within 4 combined Monte Carlo standard errors.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import math
import random
import shutil
import subprocess
import tempfile
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import pytest

from rfatrial.simulation.power import (
    SurvivalScenario,
    analytic_power,
    event_probability,
    simulate_power,
)
from rfatrial.simulation.sample_size import sample_size

INSTALL_HINT = (
    "R with rpact is required for these tests: run `.ci/install-r.sh` as root (Debian: installs "
    "r-base-core r-cran-survival r-cran-cmprsk r-cran-rpact)."
)
REL = 1e-6

Results = dict[str, dict[str, float]]


_R_FAILURES: list[str] = []  # a failed R run fails the other tests at once


def run_r(script: str, timeout: float = 600) -> Results:
    """Run an R script; collect its ``RESULT<TAB>id<TAB>name<TAB>value`` lines."""
    if _R_FAILURES:
        pytest.fail(_R_FAILURES[0], pytrace=False)
    rscript = shutil.which("Rscript")
    if rscript is None:
        _R_FAILURES.append(f"Rscript not found on PATH. {INSTALL_HINT}")
        pytest.fail(_R_FAILURES[0], pytrace=False)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "rpact_check.R"
        path.write_text(script, encoding="utf-8")
        proc = subprocess.run(
            [rscript, "--vanilla", str(path)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    if proc.returncode != 0:
        hint = INSTALL_HINT if "rpact" in proc.stderr else ""
        _R_FAILURES.append(f"Rscript failed ({proc.returncode}): {proc.stderr[-2000:]}\n{hint}")
        pytest.fail(_R_FAILURES[0], pytrace=False)
    results: Results = defaultdict(dict)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT\t"):
            _, case_id, name, value = line.split("\t")
            results[case_id][name] = float(value)
    return dict(results)


R_HEADER = r"""
if (!requireNamespace("rpact", quietly = TRUE)) {
  stop("R package rpact is not installed")
}
suppressPackageStartupMessages(library(rpact))
out <- function(id, name, value) {
  for (k in seq_along(value)) {
    cat(sprintf("RESULT\t%s\t%s\t%.17g\n", id, name, value[k]))
  }
}
"""


def to_csv(rows: list[dict[str, object]]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:  # NaN is R's NA
        writer.writerow(
            {k: "NA" if isinstance(v, float) and math.isnan(v) else v for k, v in row.items()}
        )
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------
# Analytic grid
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # "ss_follow_up", "ss_subjects", "power", "probability"
    median2: float
    hr: float
    accrual: float
    ratio: float = 1.0
    drop1: float = 0.0  # experimental arm (rpact group 1)
    drop2: float = 0.0  # control arm (rpact group 2)
    drop_time: float = 12.0
    alpha: float = 0.05
    sided: int = 2
    power: float = 0.8
    follow_up: float = math.nan
    n: float = math.nan
    events: float = math.nan
    time: float = math.nan

    @property
    def scenario(self) -> SurvivalScenario:
        return SurvivalScenario(
            control_median=self.median2,
            hazard_ratio=self.hr,
            accrual_time=self.accrual,
            allocation_ratio=self.ratio,
            dropout_rate_control=self.drop2,
            dropout_rate_experimental=self.drop1,
            dropout_time=self.drop_time,
        )


EFFECTS = [(40.5, 0.58), (9.9, 0.63), (24.0, 0.75), (12.0, 1.4)]
TESTS = [(0.05, 2, 0.8), (0.025, 1, 0.9), (0.1, 2, 0.85)]
ACCRUALS = [(36.0, 6.0), (24.0, 12.0)]
RATIOS = [1.0, 2.0]
DROPOUTS = [(0.0, 0.0, 12.0), (0.05, 0.10, 12.0)]


def analytic_cases() -> list[Case]:
    """A deterministic sample of the full grid (each rpact call costs about 0.1 s)."""
    grid = list(itertools.product(EFFECTS, TESTS, ACCRUALS, RATIOS, DROPOUTS))
    picks = random.Random(2024).sample(range(len(grid)), 24 + 16 + 16)
    cases: list[Case] = []
    for i, index in enumerate(picks):
        (median2, hr), (alpha, sided, power), (accrual, follow_up), ratio, dropout = grid[index]
        drop1, drop2, drop_time = dropout
        common = dict(
            median2=median2,
            hr=hr,
            accrual=accrual,
            ratio=ratio,
            drop1=drop1,
            drop2=drop2,
            drop_time=drop_time,
            alpha=alpha,
            sided=sided,
            power=power,
        )
        events = _schoenfeld(hr, alpha, sided, power, ratio)
        # Given the patients: enough for 1.5 to 1.8 times the events.
        n = round(events / 0.45 * (1.5 + 0.1 * (i % 4)))
        if i < 24:
            cases.append(Case(id=f"f{i}", kind="ss_follow_up", follow_up=follow_up, **common))
        elif i < 40:
            cases.append(Case(id=f"n{i}", kind="ss_subjects", n=n, **common))
        else:
            scaled = round(events * (0.7 + 0.1 * (i % 5)))
            cases.append(Case(id=f"p{i}", kind="power", n=n, events=scaled, **common))
    variants = [(EFFECTS[0], 1.0, (0.0, 0.0, 12.0)), (EFFECTS[1], 2.0, (0.2, 0.1, 24.0))]
    for j, time in enumerate([0.5, 6.0, 24.0, 36.0, 42.0, 100.0, 400.0]):
        for (median2, hr), ratio, (drop1, drop2, drop_time) in variants:
            cases.append(
                Case(
                    id=f"e{j}_{median2}",
                    kind="probability",
                    median2=median2,
                    hr=hr,
                    accrual=36.0,
                    ratio=ratio,
                    drop1=drop1,
                    drop2=drop2,
                    drop_time=drop_time,
                    time=time,
                )
            )
    return cases


def _schoenfeld(hr: float, alpha: float, sided: int, power: float, ratio: float) -> float:
    from scipy.special import ndtri

    z = -ndtri(alpha / sided) + ndtri(power)
    return float(z**2 * (1 + ratio) ** 2 / (ratio * math.log(hr) ** 2))


R_ANALYTIC = r"""
cases <- read.csv(text = CASES_CSV, stringsAsFactors = FALSE)
for (i in seq_len(nrow(cases))) {
  k <- cases[i, ]
  common <- list(lambda2 = log(2) / k$median2, hazardRatio = k$hr, accrualTime = c(0, k$accrual),
                 dropoutRate1 = k$drop1, dropoutRate2 = k$drop2, dropoutTime = k$drop_time)
  if (k$kind == "ss_follow_up" || k$kind == "ss_subjects") {
    args <- c(common, list(sided = k$sided, alpha = k$alpha, beta = 1 - k$power,
                           allocationRatioPlanned = k$ratio))
    if (k$kind == "ss_follow_up") {
      args$followUpTime <- k$follow_up
    } else {
      args$maxNumberOfSubjects <- k$n
    }
    x <- do.call(getSampleSizeSurvival, args)
    out(k$id, "events", x$eventsFixed)
    out(k$id, "n_subjects", x$nFixed)
    out(k$id, "n_experimental", x$nFixed1)
    out(k$id, "n_control", x$nFixed2)
    out(k$id, "analysis_time", x$analysisTime[1, 1])
    out(k$id, "follow_up_time", x$followUpTime)
    out(k$id, "event_probability", x$omega)
    out(k$id, "accrual_intensity", x$accrualIntensity)
    if (k$sided == 2) {
      out(k$id, "critical_hazard_ratio", x$criticalValuesEffectScaleLower[1, 1])
    } else if (k$hr < 1) {
      out(k$id, "critical_hazard_ratio", x$criticalValuesEffectScale[1, 1])
    }
  } else if (k$kind == "power") {
    args <- c(common, list(sided = k$sided, alpha = k$alpha,
                           allocationRatioPlanned = k$ratio, maxNumberOfSubjects = k$n,
                           maxNumberOfEvents = k$events))
    if (k$sided == 1) args$directionUpper <- FALSE  # one-sided: benefit of experimental
    x <- do.call(getPowerSurvival, args)
    out(k$id, "power", x$overallReject)
    out(k$id, "analysis_time", x$analysisTime[1, 1])
    out(k$id, "follow_up_time", x$followUpTime)
    out(k$id, "subjects_at_analysis", x$expectedNumberOfSubjects)
  } else if (k$kind == "probability") {
    args <- c(common, list(time = k$time, allocationRatioPlanned = k$ratio,
                           maxNumberOfSubjects = 100))
    x <- do.call(getEventProbabilities, args)
    out(k$id, "overall", x$cumulativeEventProbabilities)
    out(k$id, "experimental", x$eventProbabilities1)
    out(k$id, "control", x$eventProbabilities2)
  }
}
"""

CASES = analytic_cases()


@pytest.fixture(scope="module")
def rpact_analytic() -> Results:
    rows: list[dict[str, object]] = [dataclasses.asdict(case) for case in CASES]
    script = R_HEADER + f"CASES_CSV <- {_r_string(to_csv(rows))}\n" + R_ANALYTIC
    return run_r(script)


def _r_string(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _by_kind(kind: str) -> list[Case]:
    return [c for c in CASES if c.kind == kind]


@pytest.mark.parametrize("case", _by_kind("ss_follow_up"), ids=lambda c: c.id)
def test_sample_size_given_follow_up_equals_rpact(case: Case, rpact_analytic: Results) -> None:
    expected = rpact_analytic[case.id]
    ours = sample_size(
        case.scenario,
        alpha=case.alpha,
        power=case.power,
        sided=case.sided,
        follow_up_time=case.follow_up,
    )
    for name in (
        "events",
        "n_subjects",
        "n_experimental",
        "n_control",
        "analysis_time",
        "follow_up_time",
        "event_probability",
        "accrual_intensity",
        "critical_hazard_ratio",
    ):
        if name in expected:  # rpact gives no benefit boundary one-sided when HR > 1
            assert getattr(ours, name) == pytest.approx(expected[name], rel=REL), name


@pytest.mark.parametrize("case", _by_kind("ss_subjects"), ids=lambda c: c.id)
def test_sample_size_given_subjects_equals_rpact(case: Case, rpact_analytic: Results) -> None:
    expected = rpact_analytic[case.id]
    ours = sample_size(
        case.scenario, alpha=case.alpha, power=case.power, sided=case.sided, n_subjects=case.n
    )
    for name in (
        "events",
        "n_subjects",
        "n_experimental",
        "n_control",
        "analysis_time",
        "follow_up_time",
        "event_probability",
    ):
        assert getattr(ours, name) == pytest.approx(expected[name], rel=REL), name


@pytest.mark.parametrize("case", _by_kind("power"), ids=lambda c: c.id)
def test_analytic_power_equals_rpact(case: Case, rpact_analytic: Results) -> None:
    expected = rpact_analytic[case.id]
    ours = analytic_power(
        case.scenario, n_subjects=case.n, events=case.events, alpha=case.alpha, sided=case.sided
    )
    assert ours.power == pytest.approx(expected["power"], rel=REL)
    assert ours.analysis_time == pytest.approx(expected["analysis_time"], rel=REL)
    assert ours.follow_up_time == pytest.approx(expected["follow_up_time"], rel=REL, abs=1e-6)
    assert ours.subjects_at_analysis == pytest.approx(expected["subjects_at_analysis"], rel=REL)


@pytest.mark.parametrize("case", _by_kind("probability"), ids=lambda c: c.id)
def test_event_probabilities_equal_rpact(case: Case, rpact_analytic: Results) -> None:
    expected = rpact_analytic[case.id]
    ours = event_probability(case.scenario, case.time)
    assert ours.overall == pytest.approx(expected["overall"], rel=REL)
    assert ours.experimental == pytest.approx(expected["experimental"], rel=REL)
    assert ours.control == pytest.approx(expected["control"], rel=REL)


def test_the_sampled_grid_covers_every_level() -> None:
    for kind in ("ss_follow_up", "ss_subjects", "power"):
        chosen = _by_kind(kind)
        assert {(c.median2, c.hr) for c in chosen} == set(EFFECTS), kind
        assert {(c.alpha, c.sided, c.power) for c in chosen} == set(TESTS), kind
        assert {c.ratio for c in chosen} == set(RATIOS), kind
        assert {(c.drop1, c.drop2, c.drop_time) for c in chosen} == set(DROPOUTS), kind
    assert {c.accrual for c in _by_kind("ss_follow_up")} == {a for a, _ in ACCRUALS}


def test_reference_numbers_of_the_brief() -> None:
    """CLOCC OS: 105.8 events for 80% power; 200 patients analysed at 106 events: 0.80."""
    clocc = SurvivalScenario(control_median=40.5, hazard_ratio=0.58, accrual_time=36.0)
    plan = sample_size(clocc, follow_up_time=6.0)
    assert round(plan.events, 1) == 105.8
    assert round(analytic_power(clocc, 200, 106).power, 2) == 0.80


# ---------------------------------------------------------------------------------------------
# Simulation
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SimCase:
    id: str
    median2: float
    hr: float
    accrual: float
    n: int
    events: int
    alpha: float
    sided: int
    alloc1: int = 1  # experimental patients per block
    alloc2: int = 1  # control patients per block
    drop1: float = 0.0
    drop2: float = 0.0
    drop_time: float = 12.0

    @property
    def scenario(self) -> SurvivalScenario:
        return SurvivalScenario(
            control_median=self.median2,
            hazard_ratio=self.hr,
            accrual_time=self.accrual,
            allocation_ratio=self.alloc1 / self.alloc2,
            dropout_rate_control=self.drop2,
            dropout_rate_experimental=self.drop1,
            dropout_time=self.drop_time,
        )


SIM_CASES = [
    SimCase("clocc_os", 40.5, 0.58, 36.0, 200, 106, 0.05, 2),
    SimCase("null_os", 40.5, 1.0, 36.0, 200, 106, 0.05, 2),
    SimCase("pfs_dropout", 9.9, 0.63, 24.0, 170, 110, 0.025, 1, drop1=0.1, drop2=0.1),
    SimCase("ratio2", 24.0, 0.7, 30.0, 240, 150, 0.025, 1, 2, 1, 0.05, 0.15),
    SimCase("small", 12.0, 0.5, 12.0, 60, 30, 0.05, 1),
    SimCase("during_accrual", 6.0, 0.7, 48.0, 200, 60, 0.025, 1),
]
RPACT_ITERATIONS = 4000
OUR_TRIALS = 20_000

R_SIMULATION = r"""
cases <- read.csv(text = CASES_CSV, stringsAsFactors = FALSE)
for (i in seq_len(nrow(cases))) {
  k <- cases[i, ]
  # rpact simulates one-sided tests only: a two-sided test at level alpha is the union of
  # two one-sided tests at alpha / 2, simulated separately (independent runs).
  directions <- if (k$sided == 2) c(FALSE, TRUE) else c(FALSE)
  for (upper in directions) {
    design <- getDesignGroupSequential(kMax = 1, alpha = k$alpha / k$sided, sided = 1)
    s <- getSimulationSurvival(design = design, directionUpper = upper,
      median2 = k$median2, hazardRatio = k$hr, accrualTime = c(0, k$accrual),
      maxNumberOfSubjects = k$n, plannedEvents = k$events,
      allocation1 = k$alloc1, allocation2 = k$alloc2,
      dropoutRate1 = k$drop1, dropoutRate2 = k$drop2, dropoutTime = k$drop_time,
      maxNumberOfIterations = k$iterations, seed = k$seed + upper)
    d <- getData(s)
    tag <- paste0(k$id, if (upper) "_upper" else "_lower")
    out(tag, "power", s$overallReject)
    out(tag, "not_reached", s$eventsNotAchieved)
    out(tag, "mean_time", mean(d$analysisTime))
    out(tag, "sd_time", sd(d$analysisTime))
    out(tag, "mean_events1", mean(d$overallEvents1))
    out(tag, "sd_events1", sd(d$overallEvents1))
  }
}
"""


@pytest.fixture(scope="module")
def rpact_simulated() -> Results:
    rows: list[dict[str, object]] = [
        {**dataclasses.asdict(case), "iterations": RPACT_ITERATIONS, "seed": 1000 + 10 * i}
        for i, case in enumerate(SIM_CASES)
    ]
    script = R_HEADER + f"CASES_CSV <- {_r_string(to_csv(rows))}\n" + R_SIMULATION
    return run_r(script)


@pytest.mark.parametrize("case", SIM_CASES, ids=lambda c: c.id)
def test_simulated_power_agrees_with_rpact(case: SimCase, rpact_simulated: Results) -> None:
    lower = rpact_simulated[f"{case.id}_lower"]
    ours = simulate_power(
        case.scenario,
        case.n,
        case.events,
        alpha=case.alpha,
        sided=case.sided,
        n_trials=OUR_TRIALS,
        seed=20_000 + SIM_CASES.index(case),
    )
    assert lower["not_reached"] == 0
    assert ours.fraction_events_not_reached == 0

    # Power: the tail favouring the experimental arm, and for two-sided tests the other tail.
    r_power = lower["power"]
    r_var = r_power * (1 - r_power) / RPACT_ITERATIONS
    if case.sided == 2:
        upper = rpact_simulated[f"{case.id}_upper"]
        r_power += upper["power"]
        r_var += upper["power"] * (1 - upper["power"]) / RPACT_ITERATIONS
    our_var = max(ours.power * (1 - ours.power), 1e-4) / OUR_TRIALS
    assert abs(ours.power - r_power) <= 4 * math.sqrt(r_var + our_var), (ours.power, r_power)
    # Each one-sided tail separately.
    benefit = ours.rejections_benefit / OUR_TRIALS
    se = math.sqrt(
        max(benefit * (1 - benefit), 1e-4) / OUR_TRIALS
        + max(lower["power"] * (1 - lower["power"]), 1e-4) / RPACT_ITERATIONS
    )
    assert abs(benefit - lower["power"]) <= 4 * se

    # Trial duration and events in the experimental arm.
    se_time = math.sqrt(
        lower["sd_time"] ** 2 / RPACT_ITERATIONS + ours.sd_analysis_time**2 / OUR_TRIALS
    )
    assert abs(ours.mean_analysis_time - lower["mean_time"]) <= 4 * se_time
    assert ours.sd_analysis_time == pytest.approx(lower["sd_time"], rel=0.1)
    se_events = lower["sd_events1"] * math.sqrt(1 / RPACT_ITERATIONS + 1 / OUR_TRIALS)
    assert abs(ours.mean_events_experimental - lower["mean_events1"]) <= 4 * se_events
    assert ours.mean_events == pytest.approx(case.events, abs=0.01)
