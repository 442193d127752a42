"""Cohort generation: reproducible from the seed, stratified permuted blocks, kernel format."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rfatrial.kernel.history import parse_history
from rfatrial.kernel.protocol import default_protocol
from rfatrial.kernel.randomization import block_arm
from rfatrial.simulation.cohort import simulate_cohort


def files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def test_same_seed_gives_byte_identical_files(tmp_path: Path) -> None:
    a = simulate_cohort(30, 3, 11, tmp_path / "a", compliance=0.2)
    simulate_cohort(30, 3, 11, tmp_path / "b", compliance=0.2)
    assert files(tmp_path / "a") == files(tmp_path / "b")
    simulate_cohort(30, 3, 12, tmp_path / "c", compliance=0.2)
    assert files(tmp_path / "a") != files(tmp_path / "c")
    assert len(a.files) == 30


def test_workers_write_the_same_files(tmp_path: Path) -> None:
    seen: list[int] = []
    one = simulate_cohort(40, 3, 21, tmp_path / "one", compliance=0.3)
    two = simulate_cohort(
        40, 3, 21, tmp_path / "two", compliance=0.3, workers=2, progress=seen.append
    )
    assert files(tmp_path / "one") == files(tmp_path / "two")
    assert seen == list(range(1, 41))
    assert [p.name for p in one.files] == [p.name for p in two.files]
    assert (one.deaths, one.events, one.injected) == (two.deaths, two.events, two.injected)


def test_manifest_and_histories(tmp_path: Path) -> None:
    s = simulate_cohort(40, 2, 5, tmp_path, scenario="null", compliance=0.3)
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    assert manifest["seed"] == 5 and manifest["scenario"] == "null"
    assert manifest["protocol_version"] == default_protocol().version
    assert manifest["counts"]["patients"] == 40
    assert sum(manifest["counts"]["by_arm"].values()) == 40
    assert manifest["counts"]["injected_deviations"] == s.injected > 0
    for entry in manifest["patients"]:
        h = parse_history((tmp_path / entry["file"]).read_text("utf-8"))
        assert h.patient_id == entry["patient_id"] and h.site == entry["site"]
        r = next(e for e in h.events if e.type == "randomization")
        assert r.arm == entry["arm"] and r.stratum == entry["stratum"]


def test_arms_are_the_kernels_permuted_blocks(tmp_path: Path) -> None:
    protocol = default_protocol()
    simulate_cohort(400, 1, 8, tmp_path, follow_up_months=1)
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    filled: Counter[tuple[tuple[str, str], ...]] = Counter()
    for entry in manifest["patients"]:
        key = tuple(entry["stratum"].items())
        assert entry["arm"] == block_arm(protocol, seed=8, stratum=key, slot=filled[key])
        filled[key] += 1
    assert max(filled.values()) > 64  # beyond the first allocation list the cohort makes


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="patients"):
        simulate_cohort(0, 1, 1, "/nonexistent")
    with pytest.raises(ValueError, match="workers"):
        simulate_cohort(1, 1, 1, "/nonexistent", workers=0)
    with pytest.raises(KeyError, match="unknown scenario"):
        simulate_cohort(1, 1, 1, "/tmp/never-written", scenario="nope")


def test_files_are_the_history_as_json_dumps_writes_it(tmp_path: Path) -> None:
    simulate_cohort(12, 2, 3, tmp_path, compliance=0.4)
    for path in sorted(tmp_path.glob("S*.json")):
        h = parse_history(path.read_text("utf-8"))
        data = h.model_dump(mode="json", exclude_none=True)
        text = json.dumps(data, indent=1, ensure_ascii=False) + "\n"
        assert path.read_bytes() == text.encode("utf-8")
    manifest = json.loads((tmp_path / "manifest.json").read_text("utf-8"))
    text = json.dumps(manifest, indent=1, ensure_ascii=False) + "\n"
    assert (tmp_path / "manifest.json").read_bytes() == text.encode("utf-8")
