"""A synthetic cohort: virtual patients screened at several sites, randomized, followed.

:func:`simulate_cohort` draws each patient's baseline from the patient model, randomizes 1:1 by
stratified permuted blocks (the strata and block sizes of the protocol file), follows each patient
with the simulated care team (:mod:`rfatrial.simulation.care_team`) and writes one JSON history
per patient in the kernel's format, plus ``manifest.json``. The same seed gives byte-identical
files.

Examples
--------
>>> import tempfile
>>> with tempfile.TemporaryDirectory() as out:
...     summary = simulate_cohort(6, 2, seed=1, out_dir=out)
...     (Path(out) / "manifest.json").exists(), len(list(Path(out).glob("S*.json")))
(True, 6)
>>> summary.patients, sum(summary.by_arm.values())
(6, 6)
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from rfatrial import __version__
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.kernel.randomization import Stratum, block_arm, minimization_arm, stratum_of
from rfatrial.simulation.care_team import (
    Compliance,
    SimulatedPatient,
    draw_baseline,
    simulate_patient_detail,
)
from rfatrial.simulation.patient_model import (
    DAYS_PER_MONTH,
    CourseTimes,
    PatientModel,
    default_patient_model,
)
from rfatrial.simulation.power import load_scenario

__all__ = ["CohortSummary", "simulate_cohort"]

MANIFEST = "manifest.json"


@dataclass(frozen=True)
class CohortSummary:
    """What :func:`simulate_cohort` wrote."""

    out_dir: Path
    patients: int
    by_arm: dict[str, int]
    by_site: dict[str, int]
    deaths: int
    events: int
    injected: int
    files: tuple[Path, ...]


def simulate_cohort(
    patients: int,
    sites: int,
    seed: int,
    out_dir: str | Path,
    *,
    scenario: str = "clocc",
    compliance: Compliance | float | None = None,
    protocol: Protocol | None = None,
    model: PatientModel | None = None,
    start: date = date(2026, 1, 5),
    follow_up_months: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> CohortSummary:
    """Simulate a randomized cohort and write its histories and manifest to ``out_dir``.

    Parameters
    ----------
    patients, sites
        How many patients, spread evenly at random over ``sites`` sites ("S01", "S02", ...).
    seed
        The seed: the same seed (and parameters) gives byte-identical files.
    out_dir
        Directory for ``<patient_id>.json`` and ``manifest.json`` (created if needed).
    scenario
        A scenario of ``data/scenarios.toml``: survival by arm, and the accrual period over which
        patients are screened.
    compliance
        The care team's compliance, or a non-compliance rate (default: fully compliant).
    protocol, model
        The protocol and patient model (default: the shipped files).
    start
        Date of the first screening.
    follow_up_months
        Follow-up of each patient after randomization (default: the protocol's duration).
    progress
        Called with the number of patients done after each patient.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if sites < 1:
        raise ValueError("sites must be at least 1")
    if sites > 99:
        raise ValueError("sites must be at most 99")
    protocol = protocol or default_protocol()
    model = model or default_patient_model()
    if compliance is None:
        compliance = Compliance()
    elif not isinstance(compliance, Compliance):
        compliance = Compliance(rate=float(compliance))
    course = CourseTimes.from_scenario(scenario)
    accrual_days = load_scenario(scenario, "os").accrual_time * DAYS_PER_MONTH
    months = (
        follow_up_months if follow_up_months is not None else protocol.follow_up.duration_months
    )
    horizon = protocol.randomization.randomize_within_days + round(months * DAYS_PER_MONTH)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    plan_rng = random.Random(f"rfatrial-cohort:{seed}:plan")
    screened = sorted(plan_rng.uniform(0.0, accrual_days) for _ in range(patients))
    site_names = [f"S{k + 1:02d}" for k in range(sites)]
    site_of = [plan_rng.choice(site_names) for _ in range(patients)]
    filled: Counter[Stratum] = Counter()
    allocated: list[tuple[Stratum, str]] = []
    numbers: Counter[str] = Counter()
    entries: list[dict[str, Any]] = []
    files: list[Path] = []
    by_arm: Counter[str] = Counter()
    deaths = events = injected = 0
    for k in range(patients):
        rng = random.Random(f"rfatrial-cohort:{seed}:patient:{k}")
        site = site_of[k]
        numbers[site] += 1
        patient_id = f"{site}-{numbers[site]:03d}"
        baseline = draw_baseline(rng, model)
        key = stratum_of(
            protocol,
            site=site,
            liver_lesion_count=baseline.liver_lesion_count,
            ras_status=baseline.ras_status,
        )
        if protocol.randomization.method == "minimization":
            arm = minimization_arm(protocol, seed=seed, sequence=k, stratum=key, previous=allocated)
        else:
            arm = block_arm(protocol, seed=seed, stratum=key, slot=filled[key])
            filled[key] += 1
        allocated.append((key, arm))
        stratum = dict(key)
        sim: SimulatedPatient = simulate_patient_detail(
            patient_id,
            site,
            arm,
            rng,
            protocol,
            start=start + timedelta(days=int(screened[k])),
            horizon_days=horizon,
            model=model,
            course=course,
            compliance=compliance,
            baseline=baseline,
            stratum=stratum,
        )
        path = out / f"{patient_id}.json"
        path.write_bytes(_history_json(sim.history))
        files.append(path)
        by_arm[arm] += 1
        died = any(e.type == "death" for e in sim.history.events)
        deaths += died
        events += len(sim.history.events)
        injected += len(sim.injected)
        t = sim.truth
        entries.append(
            {
                "patient_id": patient_id,
                "file": path.name,
                "site": site,
                "arm": arm,
                "stratum": stratum,
                "events": len(sim.history.events),
                "injected_deviations": [
                    {"code": x.code, "date": x.date.isoformat()} for x in sim.injected
                ],
                "truth": {
                    "randomized": _iso(t.randomized),
                    "death": _iso(t.death),
                    "progression": _iso(t.progression),
                    "progression_seen": _iso(t.progression_seen),
                    "dropout": _iso(t.dropout),
                    "braf_mutant": t.braf_mutant,
                },
            }
        )
        if progress is not None:
            progress(k + 1)
    by_site = Counter(site_of)
    manifest = {
        "generator": "rfatrial simulate cohort",
        "software_version": __version__,
        "seed": seed,
        "scenario": scenario,
        "protocol_version": protocol.version,
        "patient_model_version": model.version,
        "start": start.isoformat(),
        "follow_up_months": months,
        "non_compliance_rate": compliance.rate,
        "counts": {
            "patients": patients,
            "sites": sites,
            "by_arm": dict(sorted(by_arm.items())),
            "by_site": dict(sorted(by_site.items())),
            "deaths": deaths,
            "events": events,
            "injected_deviations": injected,
        },
        "patients": entries,
    }
    (out / MANIFEST).write_bytes(to_json(manifest, indent=1) + b"\n")
    return CohortSummary(
        out, patients, dict(by_arm), dict(by_site), deaths, events, injected, tuple(files)
    )


def _history_json(history: PatientHistory) -> bytes:
    """The history as UTF-8 JSON, one field a line (indent 1), ``None`` left out.

    The schema's own serializer writes the same bytes as ``json.dumps(history.model_dump(
    mode="json", exclude_none=True), indent=1, ensure_ascii=False)`` for the simulator's records
    (a test holds it to that), at a fifth of the cost."""
    return (
        PatientHistory.__pydantic_serializer__.to_json(history, indent=1, exclude_none=True) + b"\n"
    )


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
