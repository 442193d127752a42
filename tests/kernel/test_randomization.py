"""Randomization: stratified permuted blocks from a recorded seed, and Pocock-Simon minimization."""

from __future__ import annotations

import doctest
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rfatrial.kernel import randomization
from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.kernel.randomization import (
    allocation_list,
    block_arm,
    list_hash,
    minimization_arm,
    stratum_of,
)

P = default_protocol()
S1 = stratum_of(P, site="S01", liver_lesion_count=3, ras_status="wild_type")
S2 = stratum_of(P, site="S02", liver_lesion_count=9, ras_status="mutant")


def amended(**changes: Any) -> Protocol:
    data = P.model_dump()
    data["randomization"].update(changes)
    return Protocol.model_validate(data)


def test_docstring_examples() -> None:
    assert doctest.testmod(randomization).failed == 0


def test_strata_follow_the_protocol_cut_point_and_levels() -> None:
    assert dict(stratum_of(P, site="S01", liver_lesion_count=5, ras_status="unknown")) == {
        "site": "S01",
        "liver_lesions": "<=5",
        "ras_status": "unknown",
    }
    assert dict(S2)["liver_lesions"] == ">5"
    with pytest.raises(ValueError, match="ras_status"):
        stratum_of(P, site="S01", liver_lesion_count=3, ras_status="braf")
    data = P.model_dump()
    data["randomization"]["strata"][1]["cut_point"] = 2
    data["randomization"]["strata"][1]["levels"] = ["<=2", ">2"]
    assert (
        dict(
            stratum_of(
                Protocol.model_validate(data), site="S01", liver_lesion_count=3, ras_status="mutant"
            )
        )["liver_lesions"]
        == ">2"
    )


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 120))
def test_every_prefix_is_balanced_within_half_the_largest_block(seed: int, n: int) -> None:
    slots = allocation_list(P, seed=seed, stratum=S1, length=n)
    assert [a.slot for a in slots] == list(range(n))
    biggest = max(P.randomization.block_sizes)
    counts: Counter[str] = Counter()
    for a in slots:
        counts[a.arm] += 1
        assert abs(counts["control"] - counts["experimental"]) <= biggest // 2
        assert a.block_size in P.randomization.block_sizes
    # complete blocks are exactly balanced
    done = [a for a in slots if sum(1 for b in slots if b.block == a.block) == a.block_size]
    c = Counter(a.arm for a in done)
    assert c["control"] == c["experimental"]


def test_the_list_is_reproducible_and_strata_are_independent() -> None:
    a = allocation_list(P, seed=11, stratum=S1, length=40)
    assert a == allocation_list(P, seed=11, stratum=S1, length=40)
    assert a[:10] == allocation_list(P, seed=11, stratum=S1, length=10)
    assert a != allocation_list(P, seed=12, stratum=S1, length=40)
    assert [x.arm for x in a] != [x.arm for x in allocation_list(P, seed=11, stratum=S2, length=40)]
    assert block_arm(P, seed=11, stratum=S1, slot=17) == a[17].arm


def test_the_list_hash_fixes_the_list() -> None:
    lists = {s: allocation_list(P, seed=3, stratum=s, length=20) for s in (S1, S2)}
    h = list_hash(lists)
    assert len(h) == 64 and h == list_hash(dict(reversed(list(lists.items()))))
    changed = dict(lists)
    first = changed[S1][0]
    other = "control" if first.arm == "experimental" else "experimental"
    changed[S1] = (
        randomization.Allocation(0, first.block, first.block_size, other),
        *lists[S1][1:],
    )
    assert list_hash(changed) != h


def test_a_two_to_one_ratio_is_followed() -> None:
    two = amended(ratio=[1, 2], block_sizes=[3, 6])
    slots = allocation_list(two, seed=5, stratum=S1, length=300)
    complete = [a for a in slots if a.block < slots[-1].block]
    c = Counter(a.arm for a in complete)
    assert c["experimental"] == 2 * c["control"]


def test_minimization_keeps_every_factor_balanced() -> None:
    rng = random.Random(9)
    previous: list[tuple[Any, str]] = []
    for k in range(400):
        s = stratum_of(
            P,
            site=rng.choice(["S01", "S02", "S03"]),
            liver_lesion_count=rng.randint(2, 12),
            ras_status=rng.choice(["wild_type", "mutant", "unknown"]),
        )
        arm = minimization_arm(P, seed=1, sequence=k, stratum=s, previous=previous)
        previous.append((s, arm))
    for factor_index in range(3):
        levels = Counter((s[factor_index][1], arm) for s, arm in previous)
        for level in {s[factor_index][1] for s, _ in previous}:
            assert abs(levels[(level, "control")] - levels[(level, "experimental")]) <= 6


def test_minimization_is_deterministic_and_follows_its_probability() -> None:
    history = [(S1, "control")] * 3
    arms = [
        minimization_arm(P, seed=s, sequence=4, stratum=S1, previous=history) for s in range(400)
    ]
    assert arms == [
        minimization_arm(P, seed=s, sequence=4, stratum=S1, previous=history) for s in range(400)
    ]
    share = arms.count("experimental") / len(arms)
    assert 0.72 < share < 0.88  # protocol: 0.8 for the arm that reduces imbalance
    always = amended(minimization_probability=1.0)
    assert {
        minimization_arm(always, seed=s, sequence=4, stratum=S1, previous=history)
        for s in range(50)
    } == {"experimental"}
