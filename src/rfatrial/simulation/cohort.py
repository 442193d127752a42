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

import multiprocessing
import os
import random
from collections import Counter, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pydantic_core import to_json

from rfatrial import __version__
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.protocol import Protocol, default_protocol
from rfatrial.kernel.randomization import (
    Allocation,
    Stratum,
    allocation_list,
    minimization_arm,
    stratum_of,
)
from rfatrial.simulation.care_team import (
    Compliance,
    PatientBaseline,
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
    workers: int = 1,
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
    workers
        Processes that follow the patients (1: this process only). Each patient's course depends
        on the seed and the patient's number alone, and the randomization is done here in
        screening order, so that the files are the same whatever the number of workers.
    """
    if patients < 1:
        raise ValueError("patients must be at least 1")
    if sites < 1:
        raise ValueError("sites must be at least 1")
    if sites > 99:
        raise ValueError("sites must be at most 99")
    if workers < 1:
        raise ValueError("workers must be at least 1")
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
    setup = _Setup(seed, protocol, model, course, compliance, horizon, out)

    plan_rng = random.Random(f"rfatrial-cohort:{seed}:plan")
    screened = sorted(plan_rng.uniform(0.0, accrual_days) for _ in range(patients))
    site_names = [f"S{k + 1:02d}" for k in range(sites)]
    site_of = [plan_rng.choice(site_names) for _ in range(patients)]
    filled: Counter[Stratum] = Counter()
    lists: dict[Stratum, tuple[Allocation, ...]] = {}

    def block_arm(key: Stratum, slot: int) -> str:
        """The arm of ``slot`` in the stratum's permuted-block list (as the kernel's block_arm
        gives it: a list's first slots do not depend on its length), the list made once per
        stratum and extended as it fills, not made again for every patient."""
        found = lists.get(key)
        if found is None or len(found) <= slot:
            length = max(64, 2 * (slot + 1))
            found = lists[key] = allocation_list(protocol, seed=seed, stratum=key, length=length)
        return found[slot].arm

    allocated: list[tuple[Stratum, str]] = []
    numbers: Counter[str] = Counter()
    done: list[_Done] = []

    def plans() -> Iterator[tuple[_Plan, random.Random, PatientBaseline]]:
        """Each patient in screening order, randomized: the plan, the patient's rng, baseline."""
        for k in range(patients):
            rng = _patient_rng(seed, k)
            site = site_of[k]
            numbers[site] += 1
            baseline = draw_baseline(rng, model)
            key = stratum_of(
                protocol,
                site=site,
                liver_lesion_count=baseline.liver_lesion_count,
                ras_status=baseline.ras_status,
            )
            if protocol.randomization.method == "minimization":
                arm = minimization_arm(
                    protocol, seed=seed, sequence=k, stratum=key, previous=allocated
                )
            else:
                arm = block_arm(key, filled[key])
                filled[key] += 1
            allocated.append((key, arm))
            plan = _Plan(
                k,
                f"{site}-{numbers[site]:03d}",
                site,
                arm,
                dict(key),
                start + timedelta(days=int(screened[k])),
            )
            yield plan, rng, baseline

    def collect(results: list[_Done]) -> None:
        for result in results:
            done.append(result)
            if progress is not None:
                progress(len(done))

    if workers == 1:
        for plan, rng, baseline in plans():
            collect([_follow(setup, plan, rng, baseline)])
    else:
        _in_workers(setup, plans(), workers, collect)

    by_arm: Counter[str] = Counter(d.entry["arm"] for d in done)
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
            "deaths": sum(d.died for d in done),
            "events": sum(d.entry["events"] for d in done),
            "injected_deviations": sum(len(d.entry["injected_deviations"]) for d in done),
        },
        "patients": [d.entry for d in done],
    }
    (out / MANIFEST).write_bytes(to_json(manifest, indent=1) + b"\n")
    counts: dict[str, Any] = manifest["counts"]  # type: ignore[assignment]
    return CohortSummary(
        out,
        patients,
        dict(by_arm),
        dict(by_site),
        counts["deaths"],
        counts["events"],
        counts["injected_deviations"],
        tuple(out / d.entry["file"] for d in done),
    )


# --- one patient, here or in a worker process ------------------------------------------------


@dataclass(frozen=True)
class _Setup:
    """What every patient of the cohort shares."""

    seed: int
    protocol: Protocol
    model: PatientModel
    course: CourseTimes
    compliance: Compliance
    horizon: int
    out: Path


@dataclass(frozen=True, slots=True)
class _Plan:
    """One patient as randomized: number in screening order, id, site, arm, stratum, screening."""

    k: int
    patient_id: str
    site: str
    arm: str
    stratum: dict[str, str]
    start: date


@dataclass(frozen=True, slots=True)
class _Done:
    """A patient whose history is written: the manifest's entry and whether the patient died."""

    entry: dict[str, Any]
    died: bool


def _patient_rng(seed: int, k: int) -> random.Random:
    return random.Random(f"rfatrial-cohort:{seed}:patient:{k}")


def _follow(
    setup: _Setup,
    plan: _Plan,
    rng: random.Random | None = None,
    baseline: PatientBaseline | None = None,
) -> _Done:
    """Follow one patient and write the history; without ``rng``, the baseline is drawn again
    from the patient's own seed (as the plan drew it)."""
    if rng is None or baseline is None:
        rng = _patient_rng(setup.seed, plan.k)
        baseline = draw_baseline(rng, setup.model)
    sim: SimulatedPatient = simulate_patient_detail(
        plan.patient_id,
        plan.site,
        plan.arm,
        rng,
        setup.protocol,
        start=plan.start,
        horizon_days=setup.horizon,
        model=setup.model,
        course=setup.course,
        compliance=setup.compliance,
        baseline=baseline,
        stratum=plan.stratum,
    )
    path = setup.out / f"{plan.patient_id}.json"
    _write(path, _history_json(sim.history))
    t = sim.truth
    entry = {
        "patient_id": plan.patient_id,
        "file": path.name,
        "site": plan.site,
        "arm": plan.arm,
        "stratum": plan.stratum,
        "events": len(sim.history.events),
        "injected_deviations": [{"code": x.code, "date": x.date.isoformat()} for x in sim.injected],
        "truth": {
            "randomized": _iso(t.randomized),
            "death": _iso(t.death),
            "progression": _iso(t.progression),
            "progression_seen": _iso(t.progression_seen),
            "dropout": _iso(t.dropout),
            "braf_mutant": t.braf_mutant,
        },
    }
    return _Done(entry, any(e.type == "death" for e in sim.history.events))


_WORKER: _Setup | None = None
_CHUNK = 16  # patients per task sent to a worker


def _start_worker(setup: _Setup) -> None:
    global _WORKER
    _WORKER = setup


def _follow_chunk(chunk: list[_Plan]) -> list[_Done]:
    assert _WORKER is not None
    return [_follow(_WORKER, plan) for plan in chunk]


def _in_workers(
    setup: _Setup,
    plans: Iterator[tuple[_Plan, random.Random, PatientBaseline]],
    workers: int,
    collect: Callable[[list[_Done]], None],
) -> None:
    """Follow the planned patients in ``workers`` processes; results are collected in order.

    Plans are sent in chunks as they are made (the randomization is sequential), and the
    results collected in the order of the plans."""
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pending: deque[Future[list[_Done]]] = deque()
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_start_worker, initargs=(setup,)
    ) as pool:
        chunk: list[_Plan] = []
        for plan, _, _ in plans:
            chunk.append(plan)
            if len(chunk) == _CHUNK:
                pending.append(pool.submit(_follow_chunk, chunk))
                chunk = []
            while pending and pending[0].done():
                collect(pending.popleft().result())
        if chunk:
            pending.append(pool.submit(_follow_chunk, chunk))
        while pending:
            collect(pending.popleft().result())


def _write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (created or truncated) without a buffered file object."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def _history_json(history: PatientHistory) -> bytes:
    """The history as UTF-8 JSON, one field a line (indent 1), ``None`` left out.

    The same bytes as ``json.dumps(history.model_dump(mode="json", exclude_none=True),
    indent=1, ensure_ascii=False)`` for the simulator's records (a test holds it to that), at a
    fraction of the cost: each event is written by its own type's serializer (the serializer of
    the union of event types costs twice as much as the events themselves) and indented to its
    place in the list (a JSON text holds no raw line break but those of its layout)."""
    head = PatientHistory.__pydantic_serializer__.to_json(
        history.model_copy(update={"events": []}), indent=1, exclude_none=True
    )
    if not history.events:
        return head + b"\n"
    events = b",\n".join(
        b"  "
        + type(e)
        .__pydantic_serializer__.to_json(e, indent=1, exclude_none=True)
        .replace(b"\n", b"\n  ")
        for e in history.events
    )
    return head.replace(b'"events": []', b'"events": [\n' + events + b"\n ]", 1) + b"\n"


def _iso(day: date | None) -> str | None:
    return None if day is None else day.isoformat()
