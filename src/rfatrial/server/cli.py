"""The study database's commands, a Typer sub-app of the main command line.

``load DIR`` stores the histories of a directory (idempotent), ``audit verify`` checks the audit
trail against the data, ``evaluate`` refreshes every patient's next actions (daily), ``migrate``
creates or updates the database. Django is set up only when a
command runs, so the main command line stays fast. Exit codes: 0 success, 1 a check found
problems (a conflict, a tampered audit trail), 2 bad input.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from rfatrial.server import setup

if TYPE_CHECKING:
    from rfatrial.server.study.audit import AuditReport
    from rfatrial.server.study.loading import LoadReport

__all__ = ["audit_verify", "evaluate_all", "load_directory", "migrate", "server_app"]

server_app = typer.Typer(
    help="The study database: load histories, verify the audit trail, migrate.",
    no_args_is_help=True,
)
audit_app = typer.Typer(help="The audit trail of the study data.", no_args_is_help=True)
server_app.add_typer(audit_app, name="audit")


def migrate(*, verbosity: int = 0) -> None:
    """Create or update the database tables (idempotent)."""
    setup()
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=verbosity)


def load_directory(directory: str | Path) -> LoadReport:
    """Store the histories of ``directory`` (migrating the database first; idempotent)."""
    migrate()
    from rfatrial.server.study import loading

    return loading.load_directory(directory)


def audit_verify() -> AuditReport:
    """Check the audit chain and that the study data is what the audit trail says."""
    setup()
    from rfatrial.server.study.audit import verify_audit_trail

    return verify_audit_trail()


def evaluate_all(today: date | None = None) -> int:
    """Re-evaluate every stored patient as of ``today``; the number of patients."""
    setup()
    from rfatrial.server.study import services

    return services.evaluate_all(today=today)


@server_app.command("evaluate")
def evaluate_command(
    today: Annotated[
        str | None, typer.Option(help="Evaluate as of this date (YYYY-MM-DD; default today).")
    ] = None,
) -> None:
    """Re-evaluate every patient (run daily: what is due and overdue moves with the calendar)."""
    try:
        day = date.fromisoformat(today) if today else None
    except ValueError:
        typer.echo(f"error: --today: '{today}' is not a date (YYYY-MM-DD)", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"{evaluate_all(day)} patient(s) evaluated")


@server_app.command("migrate")
def migrate_command() -> None:
    """Create or update the database tables."""
    migrate(verbosity=1)


@server_app.command("load")
def load_command(
    directory: Annotated[Path, typer.Argument(help="A directory of history JSON files.")],
) -> None:
    """Store each history of DIR whose patient is not stored yet (loading twice adds nothing)."""
    report = load_directory(directory)
    typer.echo(
        f"{len(report.created)} patient(s) stored, {len(report.unchanged)} already stored,"
        f" {len(report.conflicts)} conflict(s), {len(report.errors)} error(s)"
    )
    for line in report.conflicts:
        typer.echo(f"conflict: {line}", err=True)
    for line in report.errors:
        typer.echo(f"error: {line}", err=True)
    if report.errors:
        raise typer.Exit(2)
    if report.conflicts:
        raise typer.Exit(1)


@audit_app.command("verify")
def audit_verify_command() -> None:
    """Report any audit entry or study record changed or removed behind the application's back."""
    report = audit_verify()
    for line in report.problems:
        typer.echo(line)
    if not report.ok:
        typer.echo(f"audit trail: {len(report.problems)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(f"audit trail intact: {report.entries} entries, {report.records} records")
