"""Storage with no set-up: SQLite in WAL mode in the data folder, or a DATABASE_URL."""

from __future__ import annotations

import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

from rfatrial.server.settings import database_config


def test_default_is_sqlite_in_the_data_folder(tmp_path: Path) -> None:
    config = database_config(None, tmp_path / "data")
    assert config["ENGINE"] == "django.db.backends.sqlite3"
    assert config["NAME"] == str(tmp_path / "data" / "rfatrial.sqlite3")
    assert "journal_mode=WAL" in config["OPTIONS"]["init_command"]
    assert config["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_database_url_selects_postgresql_or_another_sqlite_file(tmp_path: Path) -> None:
    pg = database_config("postgres://trial:secret@db.example:5433/rfatrial", tmp_path)
    assert pg["ENGINE"] == "django.db.backends.postgresql"
    assert (pg["HOST"], pg["PORT"], pg["NAME"], pg["USER"]) == (
        "db.example",
        5433,
        "rfatrial",
        "trial",
    )
    other = database_config(f"sqlite:///{tmp_path}/other.sqlite3", tmp_path)
    assert other["NAME"] == f"{tmp_path}/other.sqlite3"
    assert other["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_migrate_creates_a_wal_database_and_a_private_secret_key(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "RFATRIAL_SECRET_KEY")}
    env["RFATRIAL_DATA_DIR"] = str(tmp_path / "data")
    env.pop("DJANGO_SETTINGS_MODULE", None)
    done = subprocess.run(
        [sys.executable, "-m", "rfatrial.server", "migrate", "-v", "0"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    db = tmp_path / "data" / "rfatrial.sqlite3"
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT seq, hash FROM study_audithead").fetchall() == [(0, "0" * 64)]
    key = tmp_path / "data" / "secret_key"
    assert len(key.read_text()) >= 50
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
