"""Django for the study database tests: a private data folder, the study settings, real migrations.

Set here (not in pyproject) so that the other test packages run without Django. pytest-django
builds the test database by running the migrations. With ``DATABASE_URL=postgres://...`` the same
tests run on PostgreSQL (pytest-django creates ``test_<name>``): ``make test-postgres`` starts a
private cluster for them (``.ci/with-postgres.sh``).
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote
from urllib.request import urlopen

import pytest

DATA_DIR = tempfile.mkdtemp(prefix="rfatrial-test-data-")
atexit.register(shutil.rmtree, DATA_DIR, ignore_errors=True)
os.environ["RFATRIAL_DATA_DIR"] = DATA_DIR
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rfatrial.server.settings")

from rfatrial.server import setup  # noqa: E402

setup()

from django.db import connections  # noqa: E402

# The test database is a file in WAL mode, as in production (an in-memory database would hide
# locking), so that tests can write from several threads.
if connections["default"].vendor == "sqlite":
    connections["default"].settings_dict.setdefault("TEST", {})["NAME"] = str(
        Path(DATA_DIR) / "test.sqlite3"
    )


def database_url() -> str:
    """The URL of the test database (SQLite file or PostgreSQL), for a server in a subprocess."""
    settings = connections["default"].settings_dict
    if connections["default"].vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user, password = quote(settings["USER"], safe=""), quote(settings["PASSWORD"], safe="")
    return f"postgres://{user}:{password}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def running_server(
    *args: str, env: dict[str, str] | None = None, timeout: float = 90.0
) -> Iterator[str]:
    """``rfatrial serve ARGS`` in a subprocess on a free port, until the block ends; its base URL.

    By default it serves the test database (``database_url``) with the tests' data folder.
    """
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": database_url(), **(env or {})}
    environment.pop("DJANGO_SETTINGS_MODULE", None)
    # The server's output goes to a file: a pipe nobody reads fills up with its request log
    # and stops the server in the middle of a write.
    log = tempfile.TemporaryFile(mode="w+")  # noqa: SIM115 - closed when the server stops
    process = subprocess.Popen(
        [sys.executable, "-m", "rfatrial", "serve", "--port", str(port), *args],
        env=environment,
        stdout=log,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise AssertionError(f"the server stopped ({process.returncode}): {log.read()}")
            try:
                with urlopen(f"{base}/api/health", timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError("the server did not answer in time")
            time.sleep(0.2)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


from rfatrial.cli import example_paths  # noqa: E402
from rfatrial.kernel.history import PatientHistory, parse_history  # noqa: E402
from rfatrial.kernel.protocol import default_protocol  # noqa: E402
from rfatrial.simulation.care_team import simulate_patient  # noqa: E402

TODAY = date(2026, 11, 1)


def example_histories() -> dict[str, PatientHistory]:
    return {p.stem: parse_history(p.read_bytes(), source=str(p)) for p in example_paths()}


def simulated_histories(n: int, seed: int = 20260101) -> list[PatientHistory]:
    """``n`` virtual patients of three sites, both arms, followed up to two years."""
    rng = random.Random(seed)
    protocol = default_protocol()
    out = []
    for i in range(n):
        site = f"S0{i % 3 + 1}"
        out.append(
            simulate_patient(
                f"{site}-{i:04d}",
                site,
                "experimental" if i % 2 == 0 else "control",
                rng,
                protocol,
                start=date(2024, 1, 8) + timedelta(days=7 * i),
                horizon_days=rng.randint(30, 700),
            )
        )
    return out


@pytest.fixture
def examples_dir() -> Path:
    return example_paths()[0].parent
