"""``rfatrial serve`` over real HTTP: a subprocess serving the test database (SQLite or PostgreSQL)
with waitress, or with gunicorn workers; a database with pending migrations is refused unless
``--migrate`` is given."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.request import urlopen

import pytest

from rfatrial.server.study import models as m
from rfatrial.server.study.audit import Actor, audited
from rfatrial.server.study.services import ensure_site
from tests.server.conftest import running_server

pytestmark = pytest.mark.django_db(transaction=True)


def _get(url: str) -> tuple[int, str, bytes]:
    with urlopen(url, timeout=30) as response:
        return response.status, response.headers.get("Content-Type", ""), response.read()


def _serve_in(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["RFATRIAL_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "rfatrial", "serve", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_serve_answers_the_login_page_the_api_and_static_files() -> None:
    with audited(Actor("setup"), "site opened") as audit:
        ensure_site(audit, "S01", "Hospital A")
    with running_server("--threads", "4") as base:
        status, kind, body = _get(f"{base}/login/")
        assert status == 200 and kind.startswith("text/html")
        assert b'name="password"' in body and b"csrfmiddlewaretoken" in body
        status, kind, body = _get(f"{base}/api/openapi.json")
        doc: dict[str, Any] = json.loads(body)
        assert status == 200 and kind == "application/json"
        assert "/api/patients/{patient_id}" in doc["paths"]
        assert "/api/sites/{code}/worklist" in doc["paths"]
        status, kind, body = _get(f"{base}/static/web/site.css")
        assert status == 200 and kind.startswith("text/css") and len(body) > 100
        status, _, body = _get(f"{base}/api/health")
        assert status == 200 and json.loads(body) == {"status": "ok"}
    # The server read the test database: the site made here is the one it serves.
    assert m.Site.objects.filter(code="S01").exists()


def test_serve_with_gunicorn_workers() -> None:
    with running_server("--workers", "2", "--threads", "2") as base:
        for _ in range(4):
            status, _, body = _get(f"{base}/api/health")
            assert status == 200 and json.loads(body) == {"status": "ok"}
        status, _, body = _get(f"{base}/login/")
        assert status == 200 and b'name="password"' in body


def test_a_database_with_pending_migrations_is_refused(tmp_path: Path) -> None:
    done = _serve_in(tmp_path / "data", "--port", "1")
    assert done.returncode == 2
    assert "needs" in done.stderr and "migration(s)" in done.stderr
    assert "rfatrial migrate" in done.stderr and "--migrate" in done.stderr
    assert "Traceback" not in done.stderr


def test_serve_migrates_only_when_asked(tmp_path: Path) -> None:
    data = tmp_path / "data"
    env = {"RFATRIAL_DATA_DIR": str(data), "DATABASE_URL": f"sqlite:///{data / 'db.sqlite3'}"}
    with running_server("--migrate", env=env) as base:
        status, _, body = _get(f"{base}/api/openapi.json")
        assert status == 200 and json.loads(body)["paths"]
    with running_server(env=env) as base:  # up to date now: served without --migrate
        status, _, _ = _get(f"{base}/login/")
        assert status == 200
