"""``rfatrial report [COHORT_DIR] --out DIR``: the study report from a cohort directory or from
the study database (no COHORT_DIR, or ``--database``; ``--site`` narrows it to some sites).

Registered in the main command line with ``app.command("report")(report)``. The statistics,
numpy and matplotlib (and Django, for the database) are imported when the command runs, so the
command line starts fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from rfatrial.analysis.report import Cohort

__all__ = ["report"]


def report(
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and report.pdf.")],
    cohort_dir: Annotated[
        Path | None,
        typer.Argument(
            help="A cohort directory: one JSON history per patient (default: the study database)."
        ),
    ] = None,
    database: Annotated[
        bool,
        typer.Option(
            "--database",
            help="Read every patient from the study database (RFATRIAL_DATA_DIR / DATABASE_URL).",
        ),
    ] = False,
    site: Annotated[
        list[str] | None,
        typer.Option("--site", help="Database only: report on this site (repeatable)."),
    ] = None,
    protocol: Annotated[
        Path | None,
        typer.Option("--protocol", help="A protocol TOML file (default: the shipped protocol)."),
    ] = None,
    cutoff: Annotated[
        str | None, typer.Option("--cutoff", help="Data cut-off date (YYYY-MM-DD).")
    ] = None,
    swimmer_limit: Annotated[
        int, typer.Option("--swimmer-limit", min=1, help="Patients drawn in the swimmer plot.")
    ] = 200,
) -> None:
    """Write the study report (self-contained HTML and PDF) of a cohort directory or database."""
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from rfatrial.kernel.history import HistoryError
    from rfatrial.kernel.protocol import ProtocolError, default_protocol, load_protocol

    err = Console(stderr=True)
    try:
        proto = default_protocol() if protocol is None else load_protocol(protocol)
    except ProtocolError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    day = None
    if cutoff is not None:
        try:
            day = date.fromisoformat(cutoff)
        except ValueError:
            typer.echo(f"error: --cutoff: '{cutoff}' is not a date (YYYY-MM-DD)", err=True)
            raise typer.Exit(2) from None
    if cohort_dir is not None and database:
        typer.echo("error: COHORT_DIR and --database: give one source, not both", err=True)
        raise typer.Exit(2)
    if cohort_dir is not None and site:
        typer.echo("error: --site: only with the study database (no COHORT_DIR)", err=True)
        raise typer.Exit(2)
    if cohort_dir is not None and not cohort_dir.is_dir():
        typer.echo(f"error: {cohort_dir}: not a directory", err=True)
        raise typer.Exit(2)

    from rfatrial.analysis.report import REPORT_STEPS, build_report

    with Progress(
        TextColumn("{task.description:<32}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    ) as bar:
        task = bar.add_task("report", total=len(REPORT_STEPS))
        seen = [0]

        def step(name: str) -> None:
            bar.update(task, description=name, completed=seen[0])
            seen[0] += 1

        def read_database() -> Cohort:
            # the database is read before the report's first step: say so on the bar
            bar.update(task, description="reading the study database")
            return _database_cohort(site or None)

        try:
            source: Path | Cohort = cohort_dir if cohort_dir is not None else read_database()
            result = build_report(
                source,
                out,
                protocol=proto,
                cutoff=day,
                swimmer_limit=swimmer_limit,
                progress=step,
            )
        except (HistoryError, ValueError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from None
        bar.update(task, description="done", completed=len(REPORT_STEPS))
    typer.echo(f"{result.html}")
    typer.echo(f"{result.pdf} ({result.pdf_pages} pages)")
    typer.echo(
        f"{result.patients} patients, protocol {result.protocol_version}, "
        f"data SHA-256 {result.data_hash}, {result.seconds:.1f} s"
    )


def _database_cohort(sites: list[str] | None) -> Cohort:
    """Every patient of the study database (of ``sites``); a clear error if it cannot be read."""
    from rfatrial.server import setup

    setup()
    from django.db import DatabaseError

    from rfatrial.analysis.study_database import database_cohort

    try:
        return database_cohort(sites)
    except DatabaseError as exc:
        raise ValueError(
            f"the study database cannot be read ({exc}); create it with 'rfatrial migrate'"
        ) from None
