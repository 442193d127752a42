"""The engine and the simulated care team compiled with mypyc (``make kernel``) give the results
of their Python sources.

The comparison runs the pure-Python modules in a subprocess (``RFATRIAL_PURE=1``): the engine on
the same histories, every result compared field by field, and the care team on the same patients
and seeds, every history compared. Where nothing is compiled it compares the sources with
themselves; on CI, which builds them, the compiled modules must be the ones loaded.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest

from rfatrial.kernel import _compiled
from rfatrial.kernel.evaluation import to_json_dict
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.pathway import PathwayState, evaluate
from rfatrial.kernel.protocol import default_protocol
from rfatrial.simulation.care_team import Compliance, simulate_patient

P = default_protocol()

_RUN = """
import json, sys
from datetime import date
from rfatrial.kernel import _compiled
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.protocol import default_protocol
sys.path.insert(0, sys.argv[3])
from test_compiled import results
from test_compiled import simulated
histories = [PatientHistory.model_validate(h) for h in json.load(open(sys.argv[1]))]
json.dump({"compiled": _compiled.compiled(), "results": results(histories, default_protocol()),
           "simulated": [h.model_dump(mode="json") for h in simulated()]},
          open(sys.argv[2], "w"))
"""


def results(histories: list[PatientHistory], protocol: Any) -> list[Any]:
    """What the engine says about each history on several days, and after each event."""
    out: list[Any] = []
    for h in histories:
        days = sorted({e.date for e in h.events})
        for on in [*days[:: max(1, len(days) // 5)], days[-1] + timedelta(days=400)]:
            out.append(to_json_dict(evaluate(h, protocol, on)))
        state = PathwayState(protocol, h.patient_id)
        for e in h.events:
            state.add(e)
            out.append(to_json_dict(state.next_actions(e.date)))
    return out


def simulated() -> list[PatientHistory]:
    """Patients of the simulated care team (both arms, with and without non-compliance)."""
    out = []
    for k in range(36):
        rng = random.Random(500 + k)
        out.append(
            simulate_patient(
                f"C{k}",
                "S01",
                "experimental" if k % 3 else "control",
                rng,
                P,
                start=date(2025, 1, 1) + timedelta(days=rng.randint(0, 365)),
                horizon_days=rng.choice([250, 900]),
                compliance=Compliance(rate=[0.0, 0.1, 0.4][k % 3]),
            )
        )
    return out


def test_compiled_engine_gives_the_results_of_the_pure_one(tmp_path: Path) -> None:
    histories = simulated()
    source = tmp_path / "histories.json"
    source.write_text(json.dumps([h.model_dump(mode="json") for h in histories]))
    out = tmp_path / "pure.json"
    env = {**os.environ, "RFATRIAL_PURE": "1"}
    here = str(Path(__file__).parent)
    subprocess.run([sys.executable, "-c", _RUN, str(source), str(out), here], check=True, env=env)
    pure = json.loads(out.read_text())
    assert pure["compiled"] is False
    # the care team: the same patients from the same seeds
    assert json.loads(source.read_text()) == pure["simulated"]
    reread = [PatientHistory.model_validate(h) for h in json.loads(source.read_text())]
    mine = json.loads(json.dumps(results(reread, P)))
    assert len(mine) == len(pure["results"])
    for k, (a, b) in enumerate(zip(mine, pure["results"], strict=True)):
        assert a == b, k


def test_the_compiled_engine_is_the_one_loaded_on_ci() -> None:
    if not os.environ.get("CI"):
        pytest.skip("only CI must have built it (make kernel)")
    assert _compiled.current() and _compiled.compiled()
    loaded = [sys.modules[f"rfatrial.{name}"].__file__ for name in _compiled.COMPILED]
    assert not [path for path in loaded if str(path).endswith(".py")]


def test_pure_is_asked_for_with_an_environment_variable() -> None:
    code = "import rfatrial.simulation.care_team as c, rfatrial.kernel.pathway as p; "
    code += "print(p.__file__, c.__file__)"
    env = {**os.environ, "RFATRIAL_PURE": "1"}
    run = subprocess.run(
        [sys.executable, "-c", code], check=True, env=env, capture_output=True, text=True
    )
    engine, care_team = run.stdout.split()
    assert engine.endswith("pathway.py") and care_team.endswith("care_team.py")
