"""The protocol file: loaded into validated models; a wrong file names the key and the rule."""

import tomllib
from pathlib import Path
from typing import Any

import pytest

from rfatrial.kernel.protocol import (
    ProtocolError,
    default_protocol,
    default_protocol_path,
    load_protocol,
    parse_protocol,
)


def shipped() -> dict[str, Any]:
    return tomllib.loads(default_protocol_path().read_text(encoding="utf-8"))


def test_shipped_protocol_holds_every_number_of_the_study() -> None:
    p = default_protocol()
    assert p.randomization.ratio == [1, 1]
    assert (p.induction.min_cycles, p.induction.max_cycles) == (2, 4)
    assert (p.consolidation.min_cycles, p.consolidation.max_cycles) == (1, 2)
    assert (p.rfa.min_lesions_per_session, p.rfa.max_lesions_per_session) == (2, 6)
    assert p.rfa.max_sessions == 3
    assert p.rfa.separation_days == 7
    assert p.response.effective == ["CR", "PR", "SD"]
    assert p.lab_gate.freshness_days == 7
    assert p.lab_gate.postponement_limit_days == 56
    assert p.lab_gate.postponement_limit_failures == 3
    assert p.post_rfa_scan.days_after_rfa == 30 and p.post_rfa_scan.window_days == 7
    assert p.follow_up.anchor == "randomization"
    keys = {c.key for c in p.lab_gate.criteria}
    assert keys == {
        "platelets",
        "inr",
        "neutrophils",
        "hemoglobin",
        "bilirubin",
        "alt",
        "ast",
        "albumin",
        "creatinine",
        "child_pugh",
    }
    assert p.version == "1.0" and p.study.effective_date.isoformat() == "2026-01-01"


def test_agent_hold_is_the_longer_of_hold_and_separation() -> None:
    p = default_protocol()
    assert p.rfa.hold_days("Bevacizumab", before_rfa=True) == 28
    assert p.rfa.hold_days("bevacizumab", before_rfa=False) == 14
    assert p.rfa.hold_days("oxaliplatin", before_rfa=True) == 7


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d["induction"].update(min_cycles=5), "induction: min_cycles must not exceed"),
        (lambda d: d["rfa"].update(max_sesions=3), "rfa.max_sesions: unknown key"),
        (lambda d: d["rfa"].pop("max_sessions"), "rfa.max_sessions: required key is missing"),
        (lambda d: d["rfa"].update(max_sessions=0), "rfa.max_sessions: Input should be greater"),
        (lambda d: d["lab_gate"]["criteria"][0].update(op=">"), "lab_gate.criteria.0.op"),
        (lambda d: d["lab_gate"]["criteria"][0].pop("unit"), "needs its 'unit'"),
        (lambda d: d["response"].update(effective=["PD"]), "cannot include PD"),
        (lambda d: d["randomization"].update(block_sizes=[3]), "not multiples of the ratio"),
        (lambda d: d["study"].update(effective_date="soon"), "study.effective_date"),
        (
            lambda d: d["response"]["scan_after_last_cycle_days"].update(earliest=30),
            "earliest <= target <= latest",
        ),
    ],
)
def test_a_wrong_protocol_names_the_key_and_the_rule(edit: Any, expected: str) -> None:
    data = shipped()
    edit(data)
    with pytest.raises(ProtocolError) as info:
        parse_protocol(data)
    assert expected in str(info.value)


def test_load_reports_bad_toml_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text("[study\n", encoding="utf-8")
    with pytest.raises(ProtocolError, match="not valid TOML"):
        load_protocol(bad)
    with pytest.raises(ProtocolError, match="cannot read"):
        load_protocol(tmp_path / "absent.toml")


def test_protocols_with_equal_content_hash_equal() -> None:
    a, b = parse_protocol(shipped()), parse_protocol(shipped())
    assert a == b and hash(a) == hash(b)
    data = shipped()
    data["rfa"]["max_sessions"] = 2
    assert hash(parse_protocol(data)) != hash(a)
