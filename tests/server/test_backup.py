"""``rfatrial backup`` / ``rfatrial restore``: a round trip while another thread writes, into a
fresh database (an SQLite data folder, or a new PostgreSQL database when the tests run there),
checked by the manifest, the patients, the audit chain head and ``rfatrial audit verify``; a
database that holds data is replaced only with ``--force``; a damaged file restores nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from django.db import connection

from rfatrial.server.backup import FORMAT, BackupError, backup, read_manifest
from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited
from rfatrial.server.study.services import ensure_site, load_history, register_patient
from tests.server.conftest import TODAY, simulated_histories

pytestmark = pytest.mark.django_db(transaction=True)

ACTOR = Actor("a coordinator")


@dataclass
class Target:
    """A fresh, empty database for the restore, and how to read it."""

    env: dict[str, str]
    query: Callable[[str], list[tuple[Any, ...]]]


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Target]:
    data = tmp_path / "restored-data"
    data.mkdir()
    env = {"RFATRIAL_DATA_DIR": str(data)}
    if connection.vendor == "sqlite":

        def query_sqlite(sql: str) -> list[tuple[Any, ...]]:
            with sqlite3.connect(data / "rfatrial.sqlite3") as db:
                return db.execute(sql).fetchall()

        yield Target(env, query_sqlite)
        return
    import psycopg

    s = connection.settings_dict
    params = {"host": s["HOST"], "port": s["PORT"], "user": s["USER"], "password": s["PASSWORD"]}
    name = f"{s['NAME']}_restored"
    with psycopg.connect(dbname=s["NAME"], autocommit=True, **params) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
        admin.execute(f'CREATE DATABASE "{name}"')
    user, password = quote(s["USER"], safe=""), quote(s["PASSWORD"], safe="")
    env["DATABASE_URL"] = f"postgres://{user}:{password}@{s['HOST']}:{s['PORT']}/{name}"

    def query_postgres(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(dbname=name, **params) as db:
            return db.execute(sql).fetchall()  # type: ignore[arg-type]

    try:
        yield Target(env, query_postgres)
    finally:
        with psycopg.connect(dbname=s["NAME"], autocommit=True, **params) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def rfatrial(target: Target, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    return subprocess.run(
        [sys.executable, "-m", "rfatrial", *args],
        capture_output=True,
        text=True,
        env={**env, **target.env},
        timeout=300,
    )


def _study(patients: int = 4) -> m.Site:
    for history in simulated_histories(patients, seed=7):
        load_history(history, actor=ACTOR, today=TODAY)
    with audited(ACTOR, "site opened") as audit:
        return ensure_site(audit, "S01")


def test_a_backup_taken_while_another_thread_writes_restores_exactly(
    tmp_path: Path, target: Target
) -> None:
    site = _study()
    started, stop = threading.Event(), threading.Event()
    failures: list[BaseException] = []

    def write() -> None:
        try:
            k = 0
            while not stop.is_set() and k < 200:
                register_patient(site, f"S01-W{k:03d}", sex="M", age_at_screening=60, actor=ACTOR)
                k += 1
                started.set()
        except BaseException as exc:  # reported by the test, not lost in the thread
            failures.append(exc)
            started.set()
        finally:
            connection.close()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert started.wait(120)
        manifest = backup(tmp_path / "study.rfabackup")
    finally:
        stop.set()
        writer.join(120)
    assert not failures
    source_ids = list(m.Patient.objects.order_by("pk").values_list("study_id", flat=True))

    assert manifest["format"] == FORMAT and manifest["database"] == connection.vendor
    assert manifest["software_version"] and manifest["protocol_version"] == "1.0"
    assert "study.0001_initial" in manifest["migrations"]
    assert read_manifest(tmp_path / "study.rfabackup") == manifest

    done = rfatrial(target, "restore", str(tmp_path / "study.rfabackup"))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "audit trail intact" in done.stdout
    restored = [r[0] for r in target.query("SELECT study_id FROM study_patient ORDER BY id")]
    # One snapshot: the patients stored before it, in order, and none written after it.
    assert len(restored) == manifest["patients"] >= 5
    assert restored == source_ids[: len(restored)]
    head = target.query("SELECT seq, hash FROM study_audithead")
    assert head == [(manifest["audit_head"]["seq"], manifest["audit_head"]["hash"])]
    at_head = m.AuditEntry.objects.get(seq=manifest["audit_head"]["seq"])
    assert at_head.hash == manifest["audit_head"]["hash"]
    verify = rfatrial(target, "audit", "verify")
    assert verify.returncode == 0 and "audit trail intact" in verify.stdout


def test_a_database_that_holds_data_is_replaced_only_with_force(
    tmp_path: Path, target: Target
) -> None:
    _study(2)
    first, second = tmp_path / "first.zip", tmp_path / "second.zip"
    backup(first)
    register_patient(
        m.Site.objects.get(code="S01"), "S01-NEW", sex="F", age_at_screening=50, actor=ACTOR
    )
    backup(second)
    assert rfatrial(target, "restore", str(first)).returncode == 0
    refused = rfatrial(target, "restore", str(second))
    assert refused.returncode == 2
    assert "holds data" in refused.stderr and "--force" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert target.query("SELECT COUNT(*) FROM study_patient") == [(2,)]
    forced = rfatrial(target, "restore", "--force", str(second))
    assert forced.returncode == 0, forced.stderr
    assert target.query("SELECT COUNT(*) FROM study_patient") == [(3,)]


def test_a_damaged_backup_restores_nothing(tmp_path: Path, target: Target) -> None:
    _study(2)
    good, bad = tmp_path / "good.zip", tmp_path / "bad.zip"
    manifest = backup(good)
    member = manifest["data"]["member"]
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(bad, "w") as dst:
        for item in src.infolist():
            content = src.read(item)
            if item.filename == member:
                content = content[:-200] + bytes(200)  # the last bytes zeroed
            dst.writestr(item, content)
    done = rfatrial(target, "restore", str(bad))
    assert done.returncode == 2
    assert "checksum" in done.stderr and "nothing was restored" in done.stderr
    assert rfatrial(target, "restore", str(good)).returncode == 0


def test_a_backup_never_overwrites_and_restore_names_a_file_that_is_not_one(
    tmp_path: Path, target: Target
) -> None:
    _study(1)
    path = tmp_path / "study.zip"
    backup(path)
    with pytest.raises(BackupError, match="exists"):
        backup(path)
    text = tmp_path / "notes.txt"
    text.write_text("not a backup\n")
    done = rfatrial(target, "restore", str(text))
    assert done.returncode == 2 and "is not an rfatrial backup" in done.stderr
    missing = rfatrial(target, "restore", str(tmp_path / "none.zip"))
    assert missing.returncode == 2 and "no such file" in missing.stderr
