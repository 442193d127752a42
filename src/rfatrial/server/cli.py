"""The study database's commands, a Typer sub-app of the main command line.

``load DIR`` stores the histories of a directory (idempotent), ``audit verify`` checks the audit
trail against the data, ``evaluate`` refreshes every patient's next actions (daily), ``migrate``
creates or updates the database, ``serve`` serves an existing database, ``backup FILE`` and
``restore FILE`` copy the whole database to and from one file. Django is set up only when a
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

__all__ = [
    "audit_verify",
    "backup_command",
    "evaluate_all",
    "load_directory",
    "migrate",
    "restore_command",
    "serve_command",
    "server_app",
]

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


@server_app.command("serve")
def serve_command(
    port: Annotated[int, typer.Option(help="Port of the web server.")] = 8000,
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (add it to RFATRIAL_ALLOWED_HOSTS unless local)."),
    ] = "127.0.0.1",
    threads: Annotated[int, typer.Option(help="Threads per worker process.")] = 8,
    workers: Annotated[
        int, typer.Option(help="Worker processes (more than 1: gunicorn; 1: waitress).")
    ] = 1,
    apply_migrations: Annotated[
        bool,
        typer.Option("--migrate", help="Apply pending migrations first instead of refusing."),
    ] = False,
) -> None:
    """Serve the web application and API on the existing database (nothing is loaded)."""
    from rfatrial.server.serve import ServeError, serve

    try:
        serve(host=host, port=port, threads=threads, workers=workers, migrate=apply_migrations)
    except ServeError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


@server_app.command("backup")
def backup_command(
    file: Annotated[Path, typer.Argument(help="The backup file to write (must not exist).")],
) -> None:
    """Write the whole database to FILE, consistently, while the server may keep running."""
    setup()
    from rfatrial.server.backup import BackupError, backup

    try:
        manifest = backup(file)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    head = manifest["audit_head"]
    typer.echo(
        f"backup {file}: {manifest['patients']} patient(s), {manifest['audit_entries']} audit"
        f" entries, audit head {head['seq']} ({head['hash'][:12]}),"
        f" {len(manifest['migrations'])} migrations, sha256 {manifest['data']['sha256'][:12]}"
    )


@server_app.command("restore")
def restore_command(
    file: Annotated[Path, typer.Argument(help="A file written by `rfatrial backup`.")],
    force: Annotated[
        bool, typer.Option("--force", help="Replace a database that holds data.")
    ] = False,
) -> None:
    """Restore FILE into the database (empty unless --force), then verify the audit trail."""
    setup()
    from rfatrial.server.backup import BackupError, restore

    try:
        report = restore(file, force=force)
    except BackupError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    manifest = report.manifest
    typer.echo(
        f"restored {file} (made {manifest['created']} by rfatrial {manifest['software_version']}):"
        f" {manifest['patients']} patient(s), audit head {manifest['audit_head']['seq']}"
    )
    if report.pending_migrations:
        typer.echo(
            f"the restored schema is older than this software ({len(report.pending_migrations)}"
            " migration(s) pending): run `rfatrial migrate`, then `rfatrial audit verify`"
        )
        return
    for line in report.problems:
        typer.echo(line)
    if not report.ok:
        typer.echo(f"audit trail: {len(report.problems)} problem(s)", err=True)
        raise typer.Exit(1)
    typer.echo(
        f"audit trail intact: {report.audit_entries} entries, {report.audit_records} records"
    )
