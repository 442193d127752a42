"""The command line as a user runs it: a real subprocess, exit codes, no tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rfatrial.cli import example_paths
from rfatrial.kernel.protocol import default_protocol_path

EXAMPLES = {p.stem: p for p in example_paths()}


def rfatrial(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "rfatrial", *args], capture_output=True, text=True, timeout=120
    )


def test_examples_ship_one_per_arm_and_one_with_deviations() -> None:
    assert set(EXAMPLES) == {"control_arm", "experimental_arm", "with_deviations"}


def test_evaluate_prints_json_with_actions_and_deviations() -> None:
    done = rfatrial("evaluate", str(EXAMPLES["with_deviations"]), "--today", "2027-10-01")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    codes = {d["code"] for d in result["deviations"]}
    assert {"rfa_too_many_lesions", "rfa_within_separation", "rfa_lab_gate_failed"} <= codes
    assert {"visit_missed", "visit_out_of_window"} <= codes
    assert result["arm"] == "experimental" and result["today"] == "2027-10-01"
    for action in result["next_actions"]:
        assert action["earliest"] <= action["target"] <= action["latest"]


def test_clean_examples_have_no_deviation() -> None:
    for name in ("control_arm", "experimental_arm"):
        last = max(e["date"] for e in json.loads(EXAMPLES[name].read_text())["events"])
        done = rfatrial("evaluate", str(EXAMPLES[name]), "--today", last)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["deviations"] == [], name


def test_evaluate_as_a_table() -> None:
    done = rfatrial(
        "evaluate", str(EXAMPLES["experimental_arm"]), "--today", "2026-06-01", "--format", "table"
    )
    assert done.returncode == 0, done.stderr
    assert "Next actions" in done.stdout and "RECIST" in done.stdout


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "not valid JSON"),
        ('{"patient_id": "P1"}', "site: required key is missing"),
        (
            json.dumps(
                {
                    "patient_id": "P1",
                    "site": "S01",
                    "sex": "F",
                    "age_at_screening": 60,
                    "events": [
                        {
                            "type": "lab_panel",
                            "date": "2026-01-02",
                            "results": [{"analyte": "platelets", "value": 90, "unit": "bags"}],
                        }
                    ],
                }
            ),
            "events.0.lab_panel.results.0",
        ),
        (
            json.dumps(
                {
                    "patient_id": "P1",
                    "site": "S01",
                    "sex": "F",
                    "age_at_screening": 60,
                    "events": [{"type": "rfa_session", "date": "2026-13-01", "lesions": []}],
                }
            ),
            "events.0.rfa_session.date",
        ),
    ],
)
def test_bad_history_exits_2_with_the_field_path(
    tmp_path: Path, content: str, expected: str
) -> None:
    path = tmp_path / "h.json"
    path.write_text(content, encoding="utf-8")
    done = rfatrial("evaluate", str(path))
    assert done.returncode == 2
    assert expected in done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_missing_file_and_bad_date_exit_2(tmp_path: Path) -> None:
    done = rfatrial("evaluate", str(tmp_path / "absent.json"))
    assert done.returncode == 2 and "cannot read" in done.stderr
    done = rfatrial("evaluate", str(EXAMPLES["control_arm"]), "--today", "yesterday")
    assert done.returncode == 2 and "--today" in done.stderr


def test_schema_history_is_a_json_schema() -> None:
    done = rfatrial("schema", "history")
    assert done.returncode == 0
    schema = json.loads(done.stdout)
    assert schema["title"] == "PatientHistory"
    assert "RfaSession" in schema["$defs"] and "events" in schema["properties"]


def test_protocol_show_and_check(tmp_path: Path) -> None:
    done = rfatrial("protocol", "show")
    assert done.returncode == 0 and "max_sessions" in done.stdout and "1.0" in done.stdout
    assert rfatrial("protocol", "check", str(default_protocol_path())).returncode == 0
    bad = tmp_path / "p.toml"
    bad.write_text(
        default_protocol_path().read_text().replace("max_sessions = 3", "max_sessions = -1"),
        encoding="utf-8",
    )
    done = rfatrial("protocol", "check", str(bad))
    assert done.returncode == 2 and "rfa.max_sessions" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_amended_protocol_file_changes_the_evaluation(tmp_path: Path) -> None:
    amended = tmp_path / "amended.toml"
    amended.write_text(
        default_protocol_path()
        .read_text()
        .replace("max_lesions_per_session = 6", "max_lesions_per_session = 8"),
        encoding="utf-8",
    )
    args = ("evaluate", str(EXAMPLES["with_deviations"]), "--today", "2027-10-01")
    before = {d["code"] for d in json.loads(rfatrial(*args).stdout)["deviations"]}
    after = {
        d["code"]
        for d in json.loads(rfatrial(*args, "--protocol", str(amended)).stdout)["deviations"]
    }
    assert "rfa_too_many_lesions" in before and "rfa_too_many_lesions" not in after


def test_examples_are_evaluated() -> None:
    done = rfatrial("examples")
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("Next actions") == 3


def test_simulate_commands_are_part_of_the_main_command(tmp_path: Path) -> None:
    done = rfatrial(
        "simulate",
        "cohort",
        "--patients",
        "6",
        "--sites",
        "2",
        "--seed",
        "3",
        "--out",
        str(tmp_path / "c"),
    )
    assert done.returncode == 0, done.stderr
    histories = sorted((tmp_path / "c").glob("S*.json"))
    assert len(histories) == 6
    check = rfatrial("evaluate", str(histories[0]))
    assert check.returncode == 0 and json.loads(check.stdout)["patient_id"]


def test_load_and_audit_verify_from_the_main_command(tmp_path: Path) -> None:
    env_cmd = [sys.executable, "-m", "rfatrial"]
    env = {**os.environ, "RFATRIAL_DATA_DIR": str(tmp_path / "data")}
    folder = str(EXAMPLES["control_arm"].parent)
    first = subprocess.run([*env_cmd, "load", folder], capture_output=True, text=True, env=env)
    assert first.returncode == 0, first.stderr
    assert "3 patient(s) stored" in first.stdout
    again = subprocess.run([*env_cmd, "load", folder], capture_output=True, text=True, env=env)
    assert "0 patient(s) stored, 3 already stored" in again.stdout
    verify = subprocess.run([*env_cmd, "audit", "verify"], capture_output=True, text=True, env=env)
    assert verify.returncode == 0 and "intact" in verify.stdout


def test_the_command_line_starts_without_the_numeric_libraries() -> None:
    code = (
        "import sys, rfatrial.cli; "
        "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'django') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_plan_proposes_the_next_session() -> None:
    done = rfatrial(
        "plan", str(EXAMPLES["with_deviations"]), "--today", "2026-03-20", "--format", "json"
    )
    assert done.returncode == 0, done.stderr
    proposal = json.loads(done.stdout)
    assert proposal["sessions_left"] == 3
    assert {v["verdict"] for v in proposal["verdicts"]} == {"to_assess"}  # features not recorded
