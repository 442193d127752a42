"""The server commands: load a directory (idempotent), verify the audit trail, migrate."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from django.db import connection
from typer.testing import CliRunner

from rfatrial.server.cli import audit_verify, load_directory, server_app
from rfatrial.server.study import models as m

pytestmark = pytest.mark.django_db

runner = CliRunner()


def test_loading_twice_stores_nothing_new(examples_dir: Path) -> None:
    first = load_directory(examples_dir)
    assert len(first.created) == 3 and first.ok
    entries = m.AuditEntry.objects.count()
    second = load_directory(examples_dir)
    assert (len(second.created), len(second.unchanged), second.ok) == (0, 3, True)
    assert m.AuditEntry.objects.count() == entries
    assert m.Patient.objects.count() == 3
    assert audit_verify().ok


def test_load_command_reports_and_refuses_to_overwrite(examples_dir: Path, tmp_path: Path) -> None:
    for path in examples_dir.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    done = runner.invoke(server_app, ["load", str(tmp_path)])
    assert done.exit_code == 0, done.output
    assert "3 patient(s) stored" in done.output
    changed = tmp_path / "control_arm.json"
    data = json.loads(changed.read_text())
    data["age_at_screening"] += 1
    changed.write_text(json.dumps(data))
    (tmp_path / "broken.json").write_text("{")
    done = runner.invoke(server_app, ["load", str(tmp_path)])
    assert done.exit_code == 2
    assert "2 already stored, 1 conflict(s), 1 error(s)" in done.output
    assert "amendments" in done.output and "not valid JSON" in done.output


def test_audit_verify_command_exit_codes(examples_dir: Path) -> None:
    load_directory(examples_dir)
    done = runner.invoke(server_app, ["audit", "verify"])
    assert done.exit_code == 0 and "audit trail intact" in done.output
    with connection.cursor() as cursor:
        cursor.execute("UPDATE study_patient SET age_at_screening = 99")
    done = runner.invoke(server_app, ["audit", "verify"])
    assert done.exit_code == 1
    assert "age_at_screening is 99 in the database" in done.output


def test_migrate_command_is_idempotent() -> None:
    assert runner.invoke(server_app, ["migrate"]).exit_code == 0


def _server(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE")
    }
    env["RFATRIAL_DATA_DIR"] = str(data_dir)
    code = "from rfatrial.server.cli import server_app; server_app()"
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=data_dir.parent,
        timeout=300,
    )


def test_commands_as_a_user_runs_them(examples_dir: Path, tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = _server(data, "load", str(examples_dir))
    assert first.returncode == 0, first.stderr
    assert "3 patient(s) stored" in first.stdout
    again = _server(data, "load", str(examples_dir))
    assert "0 patient(s) stored, 3 already stored" in again.stdout
    assert _server(data, "audit", "verify").returncode == 0
    with sqlite3.connect(data / "rfatrial.sqlite3") as db:
        db.execute("DELETE FROM study_auditentry WHERE seq = 7")
    tampered = _server(data, "audit", "verify")
    assert tampered.returncode == 1
    assert "audit entry 7 removed" in tampered.stdout


def test_evaluate_command_moves_the_verdict_to_the_new_day(examples_dir: Path) -> None:
    load_directory(examples_dir)
    done = runner.invoke(server_app, ["evaluate", "--today", "2027-10-01"])
    assert done.exit_code == 0 and "3 patient(s) evaluated" in done.output
    assert set(m.PatientState.objects.values_list("evaluated_on", flat=True)) == {date(2027, 10, 1)}
    assert {s.evaluation["today"] for s in m.PatientState.objects.all()} == {"2027-10-01"}
    assert runner.invoke(server_app, ["evaluate", "--today", "tomorrow"]).exit_code == 2


def test_a_simulated_cohort_directory_loads_with_its_manifest_passed_over(tmp_path: Path) -> None:
    from rfatrial.simulation.cohort import MANIFEST, simulate_cohort

    simulate_cohort(4, 2, 5, tmp_path, follow_up_months=6)
    assert (tmp_path / MANIFEST).exists()
    report = load_directory(tmp_path)
    assert report.ok, report.errors
    assert len(report.created) == 4
    assert m.Patient.objects.count() == 4
