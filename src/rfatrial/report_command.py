"""``rfatrial report COHORT_DIR --out DIR``: the study report from a cohort directory.

Registered in the main command line with ``app.command("report")(report)``. The statistics,
numpy and matplotlib are imported when the command runs, so the command line starts fast.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["report"]


def report(
    cohort_dir: Annotated[
        Path, typer.Argument(help="A cohort directory: one JSON history per patient.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Directory for report.html and report.pdf.")],
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
    """Write the study report (self-contained HTML and PDF) for a cohort directory."""
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
    if not cohort_dir.is_dir():
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

        try:
            result = build_report(
                cohort_dir,
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
