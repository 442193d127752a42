"""Django for the study database tests: a private data folder, the study settings, real migrations.

Set here (not in pyproject) so that the other test packages run without Django. pytest-django
builds the test database by running the migrations.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
from datetime import date, timedelta
from pathlib import Path

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
