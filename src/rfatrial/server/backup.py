"""``rfatrial backup FILE`` and ``rfatrial restore FILE``: the whole study database in one file.

A backup is a zip file of two members: ``manifest.json`` and the data. The data is taken as one
consistent snapshot while the server keeps running:

- SQLite: the database file copied by SQLite's online backup API in a single step (one read
  transaction: writers wait or go on in the write-ahead log; the copy is never half-written);
- PostgreSQL: ``pg_dump`` in its custom format, run in a transaction snapshot exported by the
  connection that reads the manifest's facts, so that both see the same data. ``pg_dump`` and
  ``pg_restore`` (Debian: ``postgresql-client``, of the server's major version or newer) must be on
  ``PATH``; without them the backup is refused, never approximated.

The manifest says what the file holds: the software and protocol versions, the database kind, the
schema migrations applied, the audit chain head (sequence number and hash), the number of patients
and audit entries, and the SHA-256 of the data member. Restore checks the checksum before touching
anything, refuses to replace a database that holds data unless forced, restores, then checks that
the restored audit chain ends at the manifest's head and verifies the whole audit trail
(:func:`~rfatrial.server.study.audit.verify_audit_trail`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rfatrial.server import setup

__all__ = [
    "FORMAT",
    "BackupError",
    "RestoreReport",
    "backup",
    "read_manifest",
    "restore",
]

FORMAT = "rfatrial-backup/1"
MANIFEST = "manifest.json"
SQLITE_MEMBER = "database.sqlite3"
POSTGRES_MEMBER = "database.pgdump"
# Rows in any of these tables make a database "not empty" (a freshly migrated one has none).
DATA_TABLES = ("study_auditentry", "study_patient", "auth_user")


class BackupError(Exception):
    """A backup or restore that cannot be done; the message says why."""


@dataclass(slots=True)
class RestoreReport:
    """What :func:`restore` did and found."""

    manifest: dict[str, Any]
    pending_migrations: list[str] = field(default_factory=list)
    audit_entries: int = 0
    audit_records: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


# --- facts of a database, read with a plain DB-API cursor --------------------------------------


def _facts(cursor: Any, tables: set[str]) -> dict[str, Any]:
    if "django_migrations" not in tables:
        raise BackupError("the database has no tables yet: nothing to back up (rfatrial migrate)")
    cursor.execute("SELECT app, name FROM django_migrations ORDER BY app, name")
    migrations = [f"{app}.{name}" for app, name in cursor.fetchall()]
    seq, head_hash = 0, "0" * 64
    if "study_audithead" in tables:
        cursor.execute("SELECT seq, hash FROM study_audithead WHERE id = 1")
        row = cursor.fetchone()
        if row is not None:
            seq, head_hash = int(row[0]), str(row[1])
    counts = {}
    for table, key in (("study_patient", "patients"), ("study_auditentry", "audit_entries")):
        counts[key] = 0
        if table in tables:
            cursor.execute(f"SELECT COUNT(*) FROM {table}")
            counts[key] = int(cursor.fetchone()[0])
    return {
        "migrations": migrations,
        "audit_head": {"seq": seq, "hash": head_hash},
        **counts,
    }


def _sqlite_tables(conn: sqlite3.Connection) -> set[str]:
    rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
    return {r[0] for r in rows}


def _postgres_tables(cursor: Any) -> set[str]:
    cursor.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {r[0] for r in cursor.fetchall()}


def _has_data(cursor: Any, tables: set[str]) -> bool:
    for table in DATA_TABLES:
        if table in tables:
            cursor.execute(f"SELECT 1 FROM {table} LIMIT 1")
            if cursor.fetchone() is not None:
                return True
    return False


# --- backup ------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _settings() -> dict[str, Any]:
    setup()
    from django.db import connection

    return dict(connection.settings_dict) | {"vendor": connection.vendor}


def backup(path: str | Path) -> dict[str, Any]:
    """Write a consistent backup of the study database to ``path``; its manifest.

    Parameters
    ----------
    path
        The backup file to write (a zip file); it must not exist yet.

    Returns
    -------
    dict
        The manifest written into the file.

    Raises
    ------
    BackupError
        When ``path`` exists, the database cannot be read, or ``pg_dump`` is missing.
    """
    path = Path(path)
    if path.exists():
        raise BackupError(f"{path} exists: a backup never overwrites a file")
    db = _settings()
    with tempfile.TemporaryDirectory(prefix="rfatrial-backup-") as tmp:
        if db["vendor"] == "sqlite":
            member, data = SQLITE_MEMBER, Path(tmp) / SQLITE_MEMBER
            facts = _backup_sqlite(Path(db["NAME"]), data)
        elif db["vendor"] == "postgresql":
            member, data = POSTGRES_MEMBER, Path(tmp) / POSTGRES_MEMBER
            facts = _backup_postgres(db, data)
        else:
            raise BackupError(f"no backup for a {db['vendor']} database")
        manifest = _manifest(db["vendor"], member, data, facts)
        partial = path.with_name(path.name + ".partial")
        with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as z:
            z.writestr(MANIFEST, json.dumps(manifest, indent=1) + "\n")
            z.write(data, member)
        partial.replace(path)
    return manifest


def _manifest(vendor: str, member: str, data: Path, facts: dict[str, Any]) -> dict[str, Any]:
    from rfatrial import __version__
    from rfatrial.kernel.protocol import default_protocol

    return {
        "format": FORMAT,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "software_version": __version__,
        "protocol_version": default_protocol().version,
        "database": vendor,
        **facts,
        "data": {"member": member, "bytes": data.stat().st_size, "sha256": _sha256(data)},
    }


def _backup_sqlite(source: Path, data: Path) -> dict[str, Any]:
    if not source.exists():
        raise BackupError(f"no database at {source}: nothing to back up")
    src = sqlite3.connect(source, timeout=30)
    dst = sqlite3.connect(data)
    try:
        # pages=-1: the whole database in one step, i.e. one read transaction, one snapshot.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        facts = _facts(dst.cursor(), _sqlite_tables(dst))
    except sqlite3.Error as exc:
        raise BackupError(f"cannot back up {source}: {exc}") from None
    finally:
        dst.close()
        src.close()
    return facts


def _pg_tool(name: str) -> str:
    tool = shutil.which(name)
    if tool is None:
        raise BackupError(
            f"{name} is not on PATH: PostgreSQL databases are backed up and restored with"
            " pg_dump/pg_restore (Debian: postgresql-client, the server's major version or newer)"
        )
    return tool


def _pg_env(db: dict[str, Any]) -> dict[str, str]:
    """libpq's environment for the client programs (the password never on a command line)."""
    env = dict(os.environ)
    for key, setting in (
        ("PGHOST", "HOST"),
        ("PGPORT", "PORT"),
        ("PGUSER", "USER"),
        ("PGPASSWORD", "PASSWORD"),
        ("PGDATABASE", "NAME"),
    ):
        if db.get(setting):
            env[key] = str(db[setting])
    return env


@contextmanager
def _pg_connect(db: dict[str, Any]) -> Iterator[Any]:
    import psycopg

    try:
        conn = psycopg.connect(
            host=db.get("HOST") or None,
            port=db.get("PORT") or None,
            user=db.get("USER") or None,
            password=db.get("PASSWORD") or None,
            dbname=db["NAME"],
        )
    except psycopg.Error as exc:
        raise BackupError(f"cannot connect to the database {db['NAME']}: {exc}") from None
    try:
        yield conn
    finally:
        conn.close()


def _backup_postgres(db: dict[str, Any], data: Path) -> dict[str, Any]:
    import psycopg

    pg_dump = _pg_tool("pg_dump")
    with _pg_connect(db) as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        with conn.cursor() as cur:
            cur.execute("SELECT pg_export_snapshot()")
            row = cur.fetchone()
            assert row is not None
            snapshot = row[0]
            facts = _facts(cur, _postgres_tables(cur))
            # pg_dump reads the very snapshot of this transaction, still open.
            run = subprocess.run(
                [
                    pg_dump,
                    "--format=custom",
                    "--no-owner",
                    "--no-privileges",
                    f"--snapshot={snapshot}",
                    f"--file={data}",
                ],
                env=_pg_env(db),
                capture_output=True,
                text=True,
                check=False,
            )
        conn.rollback()
    if run.returncode != 0:
        raise BackupError(f"pg_dump failed: {run.stderr.strip()}")
    return facts


# --- restore -----------------------------------------------------------------------------------


def read_manifest(path: str | Path) -> dict[str, Any]:
    """The manifest of a backup file.

    Raises
    ------
    BackupError
        When ``path`` is not a backup file of this format.
    """
    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            manifest = json.loads(z.read(MANIFEST))
    except FileNotFoundError:
        raise BackupError(f"{path}: no such file") from None
    except (zipfile.BadZipFile, KeyError, ValueError):
        raise BackupError(f"{path} is not an rfatrial backup (no readable {MANIFEST})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise BackupError(f"{path}: format is not {FORMAT}")
    return manifest


def _extract(path: Path, manifest: dict[str, Any], folder: Path) -> Path:
    member = manifest["data"]["member"]
    out = folder / Path(member).name
    with zipfile.ZipFile(path) as z, z.open(member) as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)
    checksum = _sha256(out)
    if checksum != manifest["data"]["sha256"]:
        raise BackupError(
            f"{path}: the data's checksum is {checksum}, the manifest says"
            f" {manifest['data']['sha256']}: the file is damaged, nothing was restored"
        )
    return out


def restore(path: str | Path, *, force: bool = False) -> RestoreReport:
    """Restore a backup into the configured database, then verify the audit trail.

    Parameters
    ----------
    path
        A file written by :func:`backup`.
    force
        Replace a database that holds data (patients, audit entries or users).

    Returns
    -------
    RestoreReport
        ``ok`` when the restored audit chain ends at the manifest's head and verifies.

    Raises
    ------
    BackupError
        When the file is damaged or of another database kind, the database holds data and
        ``force`` is false, or the restore itself fails. The database is then left as it was.
    """
    path = Path(path)
    manifest = read_manifest(path)
    db = _settings()
    if manifest["database"] != db["vendor"]:
        raise BackupError(
            f"{path} is a backup of a {manifest['database']} database; this one is {db['vendor']}"
        )
    _check_migrations_known(manifest)
    from django.db import connections

    connections.close_all()
    with tempfile.TemporaryDirectory(prefix="rfatrial-restore-") as tmp:
        data = _extract(path, manifest, Path(tmp))
        if db["vendor"] == "sqlite":
            _restore_sqlite(data, Path(db["NAME"]), force=force)
        else:
            _restore_postgres(data, db, force=force)
    connections.close_all()
    return _verify(manifest)


def _check_migrations_known(manifest: dict[str, Any]) -> None:
    from django.db import connection
    from django.db.migrations.loader import MigrationLoader

    known = {f"{app}.{name}" for app, name in MigrationLoader(connection).disk_migrations}
    unknown = sorted(set(manifest["migrations"]) - known)
    if unknown:
        raise BackupError(
            f"the backup was made by a newer rfatrial ({manifest['software_version']}): its"
            f" schema has migrations this one does not know ({', '.join(unknown[:5])})"
        )


def _restore_sqlite(data: Path, target: Path, *, force: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    dst = sqlite3.connect(target, timeout=30)
    try:
        tables = _sqlite_tables(dst)
        if _has_data(dst.cursor(), tables) and not force:
            raise BackupError(
                f"the database {target} holds data: restore replaces it only with --force"
            )
        src = sqlite3.connect(data)
        try:
            # The backup API replaces the whole target in one write transaction.
            src.backup(dst, pages=-1)
        finally:
            src.close()
        dst.execute("PRAGMA journal_mode=WAL")
    except sqlite3.Error as exc:
        raise BackupError(f"cannot restore into {target}: {exc}") from None
    finally:
        dst.close()


def _restore_postgres(data: Path, db: dict[str, Any], *, force: bool) -> None:
    pg_restore, psql = _pg_tool("pg_restore"), _pg_tool("psql")
    with _pg_connect(db) as conn, conn.cursor() as cur:
        tables = _postgres_tables(cur)
        if _has_data(cur, tables) and not force:
            raise BackupError(
                f"the database {db['NAME']} holds data: restore replaces it only with --force"
            )
        conn.rollback()
    with tempfile.TemporaryDirectory(prefix="rfatrial-restore-") as tmp:
        script = Path(tmp) / "restore.sql"
        with script.open("w", encoding="utf-8") as f:
            # The tables there now (a newer or empty schema) go in the same transaction as the
            # restore: a failure leaves the database exactly as it was.
            if tables:
                f.write("DROP TABLE IF EXISTS ")
                f.write(", ".join(f'"{t}"' for t in sorted(tables)))
                f.write(" CASCADE;\n")
            f.flush()
            listing = subprocess.run(
                [pg_restore, "--no-owner", "--no-privileges", "--file=-", str(data)],
                stdout=f,
                stderr=subprocess.PIPE,
                text=True,
                check=False,
            )
        if listing.returncode != 0:
            raise BackupError(f"pg_restore cannot read the backup: {listing.stderr.strip()}")
        run = subprocess.run(
            [
                psql,
                "--quiet",
                "--no-psqlrc",
                "--single-transaction",
                "--set=ON_ERROR_STOP=1",
                f"--file={script}",
            ],
            env=_pg_env(db),
            capture_output=True,
            text=True,
            check=False,
        )
    if run.returncode != 0:
        raise BackupError(f"the restore failed, nothing was changed: {run.stderr.strip()}")


def _verify(manifest: dict[str, Any]) -> RestoreReport:
    from rfatrial.server.serve import pending_migrations

    report = RestoreReport(manifest=manifest)
    report.pending_migrations = pending_migrations()
    if report.pending_migrations:
        # The schema is older than this software's: the audit check needs the current tables.
        return report
    from rfatrial.server.study.audit import verify_audit_trail
    from rfatrial.server.study.models import AuditHead

    audit = verify_audit_trail()
    report.audit_entries, report.audit_records = audit.entries, audit.records
    report.problems.extend(audit.problems)
    head = AuditHead.objects.filter(pk=1).first()
    seq, head_hash = (head.seq, head.hash) if head else (0, "0" * 64)
    expected = manifest["audit_head"]
    if (seq, head_hash) != (expected["seq"], expected["hash"]):
        report.problems.append(
            f"the restored audit chain ends at entry {seq} ({head_hash[:12]}),"
            f" the manifest says {expected['seq']} ({expected['hash'][:12]})"
        )
    return report
