"""``rfatrial serve``: the study server on an existing database, with a production WSGI server.

Nothing is loaded and nothing is migrated behind the user's back: a database whose migrations are
not all applied is refused with a message that says which and how to apply them
(``rfatrial migrate``, or ``rfatrial serve --migrate``). Static files are served by WhiteNoise
(settings). One process serves with waitress (threads); ``--workers N`` (N > 1) serves with N
gunicorn worker processes, each with its own threads, for sites with many users (gunicorn runs on
Unix only).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rfatrial.server import setup

__all__ = ["ServeError", "database_label", "pending_migrations", "serve"]


class ServeError(Exception):
    """The server cannot start; the message says why and what to do."""


@dataclass(frozen=True, slots=True)
class _Options:
    host: str
    port: int
    threads: int
    workers: int


def database_label() -> str:
    """Where the data is, without the password: an SQLite file or a PostgreSQL database."""
    setup()
    from django.db import connection

    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"SQLite {s['NAME']}"
    where = f"{s.get('HOST') or 'localhost'}:{s.get('PORT') or 5432}"
    return f"{connection.vendor} database {s['NAME']} at {where}"


def pending_migrations() -> list[str]:
    """The migrations not yet applied to the database (``app.name``), in the order they would run.

    Raises
    ------
    ServeError
        When the database cannot be reached.
    """
    setup()
    from django.db import DatabaseError, connection
    from django.db.migrations.executor import MigrationExecutor

    try:
        executor = MigrationExecutor(connection)
        targets = executor.loader.graph.leaf_nodes()
        plan = executor.migration_plan(targets)
    except DatabaseError as exc:
        raise ServeError(f"cannot read the database ({database_label()}): {exc}") from None
    finally:
        connection.close()
    return [f"{m.app_label}.{m.name}" for m, backwards in plan if not backwards]


def check_database(*, migrate: bool) -> str:
    """Check (or with ``migrate``, bring up to date) the database; a line saying what was done."""
    pending = pending_migrations()
    if not pending:
        return f"serving {database_label()}"
    if not migrate:
        shown = ", ".join(pending[:5]) + (
            f" and {len(pending) - 5} more" if len(pending) > 5 else ""
        )
        raise ServeError(
            f"the database ({database_label()}) needs {len(pending)} migration(s): {shown}."
            " Back it up (`rfatrial backup FILE`), then run `rfatrial migrate`"
            " or start with `rfatrial serve --migrate`."
        )
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", interactive=False, verbosity=0)
    connection.close()
    return f"serving {database_label()} ({len(pending)} migration(s) applied)"


def serve(
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    threads: int = 8,
    workers: int = 1,
    migrate: bool = False,
) -> None:
    """Serve the study web application and API until interrupted.

    Parameters
    ----------
    host, port
        Where to listen (a host other than localhost must be in ``RFATRIAL_ALLOWED_HOSTS``).
    threads
        Threads per process.
    workers
        Processes: 1 serves with waitress, more with gunicorn worker processes.
    migrate
        Apply pending migrations first instead of refusing to start.

    Raises
    ------
    ServeError
        When the database needs migrations (and ``migrate`` is false) or cannot be read.
    """
    if threads < 1 or workers < 1:
        raise ServeError("--threads and --workers must be at least 1")
    line = check_database(migrate=migrate)
    options = _Options(host, port, threads, workers)
    print(f"{line} at http://{host}:{port}/ (API at /api/)", flush=True)
    if workers == 1:
        _serve_waitress(options)
    else:
        _serve_gunicorn(options)


def _serve_waitress(options: _Options) -> None:
    import waitress  # type: ignore[import-untyped]

    from rfatrial.server.wsgi import application

    waitress.serve(
        application,
        host=options.host,
        port=options.port,
        threads=options.threads,
        ident="rfatrial",
    )


def _serve_gunicorn(options: _Options) -> None:
    from gunicorn.app.base import BaseApplication  # type: ignore[import-untyped]

    class _Gunicorn(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": f"{options.host}:{options.port}",
                "workers": options.workers,
                "threads": options.threads,
                "worker_class": "gthread",
                "accesslog": None,  # request lines carry patient study ids: not logged
                "errorlog": "-",
                "loglevel": "warning",
                "proc_name": "rfatrial",
            }
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from rfatrial.server.wsgi import application

            return application

    _Gunicorn().run()
