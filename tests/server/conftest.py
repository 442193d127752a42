"""Django for the study database tests: a private data folder, the study settings, real migrations.

Set here (not in pyproject) so that the other test packages run without Django. pytest-django
builds the test database by running the migrations.
"""

from __future__ import annotations

import os
import random
import tempfile
from datetime import date, timedelta
from pathlib import Path

import pytest

os.environ.setdefault("RFATRIAL_DATA_DIR", tempfile.mkdtemp(prefix="rfatrial-test-data-"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "rfatrial.server.settings")

from rfatrial.server import setup

setup()

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
