"""Data sets shared by the comparisons with R: ties, strata, heavy censoring, small samples."""

from __future__ import annotations

import numpy as np

from tests.analysis.r_reference import Table


def _survival_table(
    rng: np.random.Generator,
    n: int,
    *,
    groups: int = 2,
    strata: int = 3,
    censor_rate: float = 0.05,
    round_to: float | None = None,
) -> Table:
    arm = rng.integers(0, groups, n)
    stratum = rng.integers(1, strata + 1, n)
    age = np.round(rng.normal(62.0, 9.0, n), 1)
    rate = 0.04 * np.exp(-0.4 * (arm == 1) + 0.2 * (arm == 2) + 0.15 * stratum + 0.02 * (age - 62))
    event_time = rng.exponential(1.0 / rate)
    censor_time = np.minimum(rng.exponential(1.0 / censor_rate, n), 60.0)
    time = np.minimum(event_time, censor_time)
    if round_to is not None:
        time = np.maximum(np.ceil(time / round_to) * round_to, round_to)
    else:
        time = np.round(time, 6)
    event = (event_time <= censor_time).astype(np.int64)
    return {"time": time, "event": event, "arm": arm, "stratum": stratum, "age": age}


def survival_datasets() -> dict[str, Table]:
    """Right-censored data sets (time, event, arm, stratum, age)."""
    rng = np.random.default_rng(20240611)
    small = {
        "time": np.array([2.0, 3.0, 3.0, 5.0, 7.0, 7.0, 7.0, 9.0, 12.0, 12.0, 15.0, 16.0]),
        "event": np.array([1, 1, 0, 1, 1, 1, 0, 1, 0, 1, 1, 0]),
        "arm": np.array([0, 1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0]),
        "stratum": np.array([1, 1, 2, 2, 1, 2, 1, 2, 1, 2, 1, 2]),
        "age": np.array([50.0, 61.0, 70.0, 44.0, 58.0, 66.0, 71.0, 59.0, 63.0, 49.0, 55.0, 68.0]),
    }
    return {
        "ties": _survival_table(rng, 240, round_to=1.0),
        "heavy_censoring": _survival_table(rng, 160, censor_rate=0.25),
        "three_groups": _survival_table(rng, 300, groups=3, strata=2, round_to=0.5),
        "small": small,
    }


def lesion_dataset(seed: int = 7, patients: int = 90) -> Table:
    """Lesions clustered within patients: time to LTP (1), death first (2), censored (0)."""
    rng = np.random.default_rng(seed)
    lesions = rng.integers(1, 5, patients)
    patient = np.repeat(np.arange(1, patients + 1), lesions)
    arm = np.repeat(rng.integers(0, 2, patients), lesions)
    stratum = np.repeat(rng.integers(1, 3, patients), lesions)
    frailty = np.repeat(rng.gamma(2.0, 0.5, patients), lesions)
    death = np.repeat(rng.exponential(40.0, patients), lesions)
    ltp = rng.exponential(1.0 / (0.03 * frailty * np.exp(-0.5 * arm)))
    censor = np.repeat(np.minimum(rng.exponential(50.0, patients), 48.0), lesions)
    time = np.minimum(np.minimum(ltp, death), censor)
    status = np.where(time == censor, 0, np.where(ltp <= death, 1, 2))
    time = np.maximum(np.ceil(time * 2.0) / 2.0, 0.5)  # half-month visits: ties
    return {
        "time": time,
        "status": status.astype(np.int64),
        "event": (status == 1).astype(np.int64),
        "arm": arm,
        "stratum": stratum,
        "id": patient,
    }
