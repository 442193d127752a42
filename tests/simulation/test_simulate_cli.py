"""``simulate`` commands: cohort, power, trial; bad arguments exit 2 naming the option."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rfatrial.simulation.cli import simulate_app
from rfatrial.simulation.power import analytic_power, load_scenario

runner = CliRunner()


def test_cohort_as_a_subprocess(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "rfatrial.simulation.cli", "cohort", "--patients", "8",
         "--sites", "2", "--seed", "3", "--out", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "8 histories written" in done.stdout
    assert len(list(tmp_path.glob("S0*.json"))) == 8
    assert json.loads((tmp_path / "manifest.json").read_text("utf-8"))["seed"] == 3


def test_cohort_workers_write_the_same_files(tmp_path: Path) -> None:
    args = ["cohort", "--patients", "10", "--sites", "2", "--seed", "5", "--non-compliance", "0.3"]
    one = runner.invoke(simulate_app, [*args, "--out", str(tmp_path / "one")])
    two = runner.invoke(simulate_app, [*args, "--out", str(tmp_path / "two"), "--workers", "2"])
    assert one.exit_code == 0 and two.exit_code == 0, (one.output, two.output)
    names = sorted(p.name for p in (tmp_path / "one").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "two").iterdir()) and len(names) == 11
    for name in names:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    bad = runner.invoke(simulate_app, [*args, "--out", str(tmp_path / "bad"), "--workers", "0"])
    assert bad.exit_code == 2 and "--workers" in bad.output


def test_power_json_equals_the_library() -> None:
    r = runner.invoke(
        simulate_app, ["power", "--n", "200", "--events", "106", "--trials", "500", "--json"]
    )
    assert r.exit_code == 0, r.output
    row = json.loads(r.output)[0]
    assert row["analytic_power"] == pytest.approx(
        analytic_power(load_scenario("clocc"), 200, 106).power
    )
    assert abs(row["simulated_power"] - row["analytic_power"]) < 4 * row["monte_carlo_se"] + 0.01


def test_target_power_gives_the_sample_size() -> None:
    r = runner.invoke(
        simulate_app,
        ["power", "--target-power", "0.8", "--follow-up", "6", "--trials", "0", "--json"],
    )
    assert r.exit_code == 0, r.output
    row = json.loads(r.output)[0]
    assert row["required_events"] == pytest.approx(105.8, abs=0.05)
    assert row["patients"] == pytest.approx(396.2, abs=0.05)


def test_trial_both_endpoints() -> None:
    r = runner.invoke(simulate_app, ["trial", "--events", "106", "--endpoint", "both", "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert [x["endpoint"] for x in rows] == ["os", "pfs"]
    assert rows[0]["expected_duration_months"] == pytest.approx(76.15, abs=0.01)


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["cohort", "--patients", "0", "--seed", "1", "--out", "x"], "--patients"),
        (["cohort", "--patients", "2", "--seed", "1", "--out", "x", "--scenario", "no"],
         "--scenario"),
        (["cohort", "--patients", "2", "--seed", "1", "--out", "x",
          "--non-compliance", "2"], "--non-compliance"),
        (["power", "--events", "10"], "--n"),
        (["power", "--n", "20", "--events", "30"], "--events"),
        (["power", "--n", "20", "--events", "10", "--endpoint", "dfs"], "--endpoint"),
        (["power", "--target-power", "0.8"], "--follow-up"),
        (["trial", "--n", "50"], "--events"),
    ],
)  # fmt: skip
def test_bad_arguments_exit_2_naming_the_option(args: list[str], option: str) -> None:
    r = runner.invoke(simulate_app, args)
    assert r.exit_code == 2, r.output
    assert option in r.output
    assert "Traceback" not in r.output
