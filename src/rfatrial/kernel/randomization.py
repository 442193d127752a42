"""Randomization: stratified permuted blocks from a recorded seed, or Pocock-Simon minimization.

The allocation list is generated in the system from a seed recorded when the study opens; each
stratum has its own sequence, drawn from a generator seeded by the study seed and the stratum, so
a list never depends on the order in which strata fill. The list's SHA-256 is fixed at opening:
any later change to it shows. Whoever assigns reads one slot at a time (concealment is the
database's job: nobody reads ahead).

Examples
--------
>>> from rfatrial.kernel.protocol import default_protocol
>>> p = default_protocol()
>>> stratum = stratum_of(p, site="S01", liver_lesion_count=7, ras_status="mutant")
>>> stratum
(('site', 'S01'), ('liver_lesions', '>5'), ('ras_status', 'mutant'))
>>> arms = [block_arm(p, seed=2026, stratum=stratum, slot=k) for k in range(12)]
>>> arms.count("control"), arms.count("experimental")
(6, 6)
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from rfatrial.kernel.protocol import Protocol, Randomization

__all__ = [
    "Allocation",
    "Stratum",
    "allocation_list",
    "block_arm",
    "list_hash",
    "minimization_arm",
    "stratum_of",
]

Stratum = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Allocation:
    """One slot of a stratum's list: its number, block and arm."""

    slot: int
    block: int
    block_size: int
    arm: str


def stratum_of(
    protocol: Protocol, *, site: str, liver_lesion_count: int, ras_status: str
) -> Stratum:
    """The stratum of a patient, one level per stratification factor of the protocol.

    Raises
    ------
    ValueError
        For a factor the protocol lists but this function cannot place, or a level the protocol
        does not list.
    """
    levels: list[tuple[str, str]] = []
    for factor in protocol.randomization.strata:
        if factor.name == "site":
            level = site
        elif factor.name == "liver_lesions":
            cut = factor.cut_point if factor.cut_point is not None else 5
            level = f"<={cut}" if liver_lesion_count <= cut else f">{cut}"
        elif factor.name == "ras_status":
            level = ras_status
        else:
            raise ValueError(f"randomization.strata: no rule places a patient in '{factor.name}'")
        if factor.levels and level not in factor.levels:
            raise ValueError(
                f"randomization.strata.{factor.name}: '{level}' is not one of {factor.levels}"
            )
        levels.append((factor.name, level))
    return tuple(levels)


def _stratum_seed(seed: int, stratum: Stratum) -> str:
    return f"{seed}|" + "|".join(f"{k}={v}" for k, v in stratum)


def _blocks(r: Randomization, seed: int, stratum: Stratum, upto: int) -> tuple[Allocation, ...]:
    rng = random.Random(_stratum_seed(seed, stratum))
    unit = sum(r.ratio)
    out: list[Allocation] = []
    block = 0
    while len(out) <= upto:
        size = rng.choice(r.block_sizes)
        per = size // unit
        arms = [arm for arm, k in zip(r.arms, r.ratio, strict=True) for _ in range(k * per)]
        rng.shuffle(arms)
        start = len(out)
        out.extend(Allocation(start + j, block, size, arm) for j, arm in enumerate(arms))
        block += 1
    return tuple(out)


def allocation_list(
    protocol: Protocol, *, seed: int, stratum: Stratum, length: int
) -> tuple[Allocation, ...]:
    """The first ``length`` slots of a stratum's permuted-block list (whole blocks beyond)."""
    if length < 1:
        raise ValueError("length: at least one slot")
    return _blocks(protocol.randomization, seed, stratum, length - 1)[:length]


def block_arm(protocol: Protocol, *, seed: int, stratum: Stratum, slot: int) -> str:
    """The arm of slot ``slot`` (0-based) in a stratum's list."""
    if slot < 0:
        raise ValueError("slot: 0 or more")
    return allocation_list(protocol, seed=seed, stratum=stratum, length=slot + 1)[slot].arm


def list_hash(lists: Mapping[Stratum, Sequence[Allocation]]) -> str:
    """SHA-256 of the allocation lists in a canonical form (strata sorted, slots in order)."""
    canonical = [
        [
            "|".join(f"{k}={v}" for k, v in stratum),
            [[a.slot, a.block, a.block_size, a.arm] for a in slots],
        ]
        for stratum, slots in sorted(lists.items())
    ]
    text = json.dumps(canonical, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def minimization_arm(
    protocol: Protocol,
    *,
    seed: int,
    sequence: int,
    stratum: Stratum,
    previous: Iterable[tuple[Stratum, str]],
) -> str:
    """The arm for the next patient by Pocock-Simon minimization over the strata factors.

    For each arm, the imbalance it would create is the sum over factors of the range of the
    ratio-weighted counts at the patient's level; the arm with the least imbalance is chosen with
    probability ``randomization.minimization_probability``. Draws come from a generator seeded by
    the study seed and the patient's sequence number, so a replay gives the same arms.
    """
    r = protocol.randomization
    counts: dict[tuple[str, str, str], int] = {}
    for their_stratum, arm in previous:
        for factor, level in their_stratum:
            key = (factor, level, arm)
            counts[key] = counts.get(key, 0) + 1
    imbalance = []
    for candidate in r.arms:
        total = 0.0
        for factor, level in stratum:
            weighted = [
                (counts.get((factor, level, arm), 0) + (arm == candidate)) / weight
                for arm, weight in zip(r.arms, r.ratio, strict=True)
            ]
            total += max(weighted) - min(weighted)
        imbalance.append(total)
    rng = random.Random(f"{seed}|minimization|{sequence}")
    best = min(imbalance)
    preferred = [arm for arm, value in zip(r.arms, imbalance, strict=True) if value == best]
    if len(preferred) == len(r.arms):
        return rng.choice(r.arms)
    others = [arm for arm in r.arms if arm not in preferred]
    if rng.random() < r.minimization_probability:
        return rng.choice(preferred)
    return rng.choice(others)
