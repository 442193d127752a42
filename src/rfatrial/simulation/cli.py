"""``rfatrial simulate``: virtual cohorts and the in-silico trial (Typer + Rich).

Commands
--------
``cohort``  write a synthetic cohort (one JSON history per patient and a manifest);
``power``   analytic and simulated power of the log-rank test, or the sample size for a target;
``trial``   one simulated trial: its duration and events, beside what is expected.

Bad arguments exit with code 2 and a message naming the option, never a traceback. Run
``python -m rfatrial.simulation.cli --help`` (or ``rfatrial simulate --help`` once registered).
"""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

if TYPE_CHECKING:
    from rfatrial.simulation.power import SurvivalScenario


# numpy and scipy load only when a command runs, so `rfatrial --help` and the kernel's commands
# start quickly.
def _power() -> Any:
    from rfatrial.simulation import power

    return power


def _sizes() -> Any:
    from rfatrial.simulation import sample_size

    return sample_size


def _cohorts() -> Any:
    from rfatrial.simulation import cohort

    return cohort


__all__ = ["simulate_app"]

simulate_app = typer.Typer(
    help="Virtual patients and the in-silico trial: cohorts, power, sample size.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
out = Console()


def _fail(message: str) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(2)


ScenarioOption = Annotated[
    str, typer.Option("--scenario", help="A scenario of data/scenarios.toml (e.g. clocc, null).")
]
EndpointOption = Annotated[
    str, typer.Option("--endpoint", help="os, pfs, or both.", case_sensitive=False)
]
AccrualOption = Annotated[
    float | None,
    typer.Option("--accrual", min=0.001, help="Accrual duration, months (default: scenario)."),
]
DropoutOption = Annotated[
    float | None,
    typer.Option(
        "--dropout",
        min=0.0,
        max=0.999,
        help="Probability of loss to follow-up by --dropout-months (default: scenario).",
    ),
]
DropoutMonthsOption = Annotated[
    float | None, typer.Option("--dropout-months", min=0.001, help="Months for --dropout.")
]
HazardRatioOption = Annotated[
    float | None, typer.Option("--hazard-ratio", min=0.001, help="Override the hazard ratio.")
]
AlphaOption = Annotated[
    float, typer.Option("--alpha", min=1e-6, max=0.5, help="Significance level (two-sided).")
]
SidedOption = Annotated[int, typer.Option("--sided", min=1, max=2, help="1 or 2.")]
TrialsOption = Annotated[
    int, typer.Option("--trials", min=0, max=10_000_000, help="Simulated trials (0: none).")
]
SeedOption = Annotated[int, typer.Option("--seed", min=0, help="Seed of the simulation.")]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _endpoints(endpoint: str) -> list[str]:
    e = endpoint.lower()
    if e == "both":
        return ["os", "pfs"]
    if e not in ("os", "pfs"):
        raise _fail(f"--endpoint: '{endpoint}' is not one of os, pfs, both")
    return [e]


def _scenario(
    name: str,
    endpoint: str,
    accrual: float | None,
    dropout: float | None,
    dropout_months: float | None,
    hazard_ratio: float | None,
) -> SurvivalScenario:
    if name not in _power().scenario_names():
        raise _fail(
            f"--scenario: unknown scenario '{name}' (known: {', '.join(_power().scenario_names())})"
        )
    s = _power().load_scenario(name, endpoint)
    changes: dict[str, Any] = {}
    if accrual is not None:
        changes["accrual_time"] = accrual
    if dropout is not None:
        changes["dropout_rate_control"] = changes["dropout_rate_experimental"] = dropout
    if dropout_months is not None:
        changes["dropout_time"] = dropout_months
    if hazard_ratio is not None:
        changes["hazard_ratio"] = hazard_ratio
    try:
        scenario: SurvivalScenario = replace(s, **changes)
        return scenario
    except ValueError as exc:
        raise _fail(str(exc)) from None


def _print(rows: list[dict[str, Any]], title: str, as_json: bool) -> None:
    if as_json:
        out.print_json(json.dumps(rows, default=float))
        return
    for row in rows:
        table = Table(title=f"{title}: {row.get('endpoint', '').upper()}", show_header=False)
        table.add_column("", style="bold")
        table.add_column("")
        for key, value in row.items():
            if isinstance(value, float):
                value = f"{value:.4g}"
            table.add_row(key.replace("_", " "), str(value))
        out.print(table)


@simulate_app.command()
def cohort(
    patients: Annotated[int, typer.Option("--patients", min=1, max=1_000_000, help="Patients.")],
    seed: Annotated[int, typer.Option("--seed", min=0, help="Seed (same seed, same files).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the histories.")],
    sites: Annotated[int, typer.Option("--sites", min=1, max=99, help="Number of sites.")] = 1,
    scenario: ScenarioOption = "clocc",
    non_compliance: Annotated[
        float,
        typer.Option(
            "--non-compliance",
            min=0.0,
            max=1.0,
            help="Probability of a deviation at each opportunity (0: compliant team).",
        ),
    ] = 0.0,
    follow_up_months: Annotated[
        int | None,
        typer.Option("--follow-up-months", min=1, max=240, help="Default: the protocol's."),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            "--workers", min=1, max=256, help="Processes (the files do not depend on it)."
        ),
    ] = 1,
) -> None:
    """Write a synthetic cohort: one JSON history per patient and manifest.json."""
    known = _power().scenario_names()
    if scenario not in known:
        raise _fail(f"--scenario: unknown scenario '{scenario}' (known: {', '.join(known)})")
    if out_dir.exists() and not out_dir.is_dir():
        raise _fail(f"--out: {out_dir} exists and is not a directory")
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=False) as bar:
        task = bar.add_task("patients", total=patients)
        try:
            summary = _cohorts().simulate_cohort(
                patients,
                sites,
                seed,
                out_dir,
                scenario=scenario,
                compliance=non_compliance,
                follow_up_months=follow_up_months,
                progress=lambda done: bar.update(task, completed=done),
                workers=workers,
            )
        except OSError as exc:
            raise _fail(f"--out: cannot write to {out_dir} ({exc.strerror})") from None
    arms = ", ".join(f"{k} {v}" for k, v in sorted(summary.by_arm.items()))
    out.print(
        f"{summary.patients} histories written to {summary.out_dir} ({arms}; "
        f"{summary.deaths} deaths; {summary.events} events; "
        f"{summary.injected} injected deviations)"
    )


@simulate_app.command()
def power(
    n: Annotated[
        int | None, typer.Option("--n", min=2, help="Patients randomized (both arms).")
    ] = None,
    events: Annotated[
        int | None, typer.Option("--events", min=1, help="Events at the analysis.")
    ] = None,
    follow_up: Annotated[
        float | None,
        typer.Option("--follow-up", min=0.0, help="Months from the end of accrual to analysis."),
    ] = None,
    target_power: Annotated[
        float | None,
        typer.Option("--target-power", min=0.01, max=0.999, help="Search the sample size."),
    ] = None,
    scenario: ScenarioOption = "clocc",
    endpoint: EndpointOption = "os",
    accrual: AccrualOption = None,
    dropout: DropoutOption = None,
    dropout_months: DropoutMonthsOption = None,
    hazard_ratio: HazardRatioOption = None,
    alpha: AlphaOption = 0.05,
    sided: SidedOption = 2,
    trials: TrialsOption = 10_000,
    seed: SeedOption = 2024,
    as_json: JsonOption = False,
) -> None:
    """Power of the log-rank test (analytic and simulated), or the sample size for a target.

    Give --n with --events (or --follow-up) for the power; give --target-power with --follow-up
    (or --n) for the sample size.
    """
    rows = []
    for ep in _endpoints(endpoint):
        s = _scenario(scenario, ep, accrual, dropout, dropout_months, hazard_ratio)
        if target_power is not None:
            rows.append(_sample_size_row(s, target_power, n, follow_up, alpha, sided, trials, seed))
        else:
            rows.append(_power_row(s, n, events, follow_up, alpha, sided, trials, seed))
    _print(rows, "Sample size" if target_power is not None else "Power", as_json)


def _events_for(s: SurvivalScenario, n: int, events: int | None, follow_up: float | None) -> int:
    if events is not None:
        if events > n:
            raise _fail(f"--events: {events} events cannot come from --n {n} patients")
        return events
    if follow_up is None:
        raise _fail("--events or --follow-up: give one of them with --n")
    omega: float = _power().event_probability(s, s.accrual_time + follow_up).overall
    return max(1, min(n, math.ceil(n * omega - 1e-9)))


def _power_row(
    s: SurvivalScenario,
    n: int | None,
    events: int | None,
    follow_up: float | None,
    alpha: float,
    sided: int,
    trials: int,
    seed: int,
) -> dict[str, Any]:
    if n is None:
        raise _fail("--n: the number of patients is needed for the power (or give --target-power)")
    d = _events_for(s, n, events, follow_up)
    try:
        a = _power().analytic_power(s, n, d, alpha=alpha, sided=sided)
    except ValueError as exc:
        raise _fail(f"--n/--events: {exc}") from None
    row: dict[str, Any] = {
        "endpoint": s.endpoint,
        "scenario": s.name,
        "control_median_months": s.control_median,
        "hazard_ratio": s.hazard_ratio,
        "accrual_months": s.accrual_time,
        "dropout_rate": s.dropout_rate_control,
        "patients": n,
        "events": d,
        "alpha": alpha,
        "sided": sided,
        "analytic_power": a.power,
        "expected_duration_months": a.analysis_time,
        "expected_follow_up_months": a.follow_up_time,
    }
    if trials > 0:
        sim = _power().simulate_power(s, n, d, alpha=alpha, sided=sided, n_trials=trials, seed=seed)
        row |= {
            "simulated_power": sim.power,
            "monte_carlo_se": sim.power_se,
            "trials": sim.n_trials,
            "mean_duration_months": sim.mean_analysis_time,
            "events_not_reached": sim.fraction_events_not_reached,
        }
    return row


def _sample_size_row(
    s: SurvivalScenario,
    target: float,
    n: int | None,
    follow_up: float | None,
    alpha: float,
    sided: int,
    trials: int,
    seed: int,
) -> dict[str, Any]:
    if (n is None) == (follow_up is None):
        raise _fail("--follow-up or --n: give exactly one of them with --target-power")
    try:
        plan = _sizes().sample_size(
            s, alpha=alpha, power=target, sided=sided, follow_up_time=follow_up, n_subjects=n
        )
    except ValueError as exc:
        raise _fail(f"--target-power/--n/--follow-up: {exc}") from None
    row: dict[str, Any] = {
        "endpoint": s.endpoint,
        "scenario": s.name,
        "hazard_ratio": s.hazard_ratio,
        "target_power": target,
        "required_events": plan.events,
        "patients": plan.n_subjects,
        "patients_rounded_up": plan.n_subjects_rounded_up,
        "follow_up_months": plan.follow_up_time,
        "duration_months": plan.analysis_time,
    }
    if trials > 0 and follow_up is not None:
        try:
            found = _sizes().simulated_sample_size(
                s,
                follow_up_time=follow_up,
                alpha=alpha,
                power=target,
                sided=sided,
                n_trials=trials,
                seed=seed,
            )
        except ValueError as exc:
            raise _fail(f"--target-power: {exc}") from None
        row |= {
            "simulated_patients": found.n_subjects,
            "simulated_events": found.events,
            "simulated_power": found.simulated.power,
            "monte_carlo_se": found.simulated.power_se,
            "trials": trials,
        }
    return row


@simulate_app.command()
def trial(
    n: Annotated[int, typer.Option("--n", min=2, help="Patients randomized.")] = 200,
    events: Annotated[
        int | None, typer.Option("--events", min=1, help="Events at the analysis.")
    ] = None,
    follow_up: Annotated[
        float | None, typer.Option("--follow-up", min=0.0, help="Months after accrual.")
    ] = None,
    scenario: ScenarioOption = "clocc",
    endpoint: EndpointOption = "os",
    accrual: AccrualOption = None,
    dropout: DropoutOption = None,
    dropout_months: DropoutMonthsOption = None,
    hazard_ratio: HazardRatioOption = None,
    alpha: AlphaOption = 0.05,
    sided: SidedOption = 2,
    seed: SeedOption = 2024,
    as_json: JsonOption = False,
) -> None:
    """One simulated trial: its duration, events by arm and test result, beside the expected."""
    rows = []
    for ep in _endpoints(endpoint):
        s = _scenario(scenario, ep, accrual, dropout, dropout_months, hazard_ratio)
        if events is None and follow_up is None:
            raise _fail("--events or --follow-up: give one of them")
        d = _events_for(s, n, events, follow_up)
        try:
            a = _power().analytic_power(s, n, d, alpha=alpha, sided=sided)
        except ValueError as exc:
            raise _fail(f"--n/--events: {exc}") from None
        one = _power().simulate_power(s, n, d, alpha=alpha, sided=sided, n_trials=1, seed=seed)
        per_arm = _power().event_probability(s, a.analysis_time)
        reached = one.fraction_events_not_reached == 0
        rows.append(
            {
                "endpoint": s.endpoint,
                "scenario": s.name,
                "patients": n,
                "planned_events": d,
                "expected_duration_months": a.analysis_time,
                "expected_events_control": n / (1 + s.allocation_ratio) * per_arm.control,
                "expected_events_experimental": n
                * s.allocation_ratio
                / (1 + s.allocation_ratio)
                * per_arm.experimental,
                "expected_events_at_end_of_accrual": _power().expected_events(s, n, s.accrual_time),
                "analytic_power": a.power,
                "simulated_duration_months": one.mean_analysis_time if reached else None,
                "simulated_events_control": one.mean_events_control if reached else None,
                "simulated_events_experimental": one.mean_events_experimental if reached else None,
                "rejected": bool(one.rejections),
                "seed": seed,
            }
        )
    _print(rows, "One simulated trial", as_json)


if __name__ == "__main__":
    simulate_app()
