"""Benchmark: server time and SQL queries of the worklist, the patient page and the dashboard
with 2,000 patients at one site.

Builds a SQLite database in a temporary ``RFATRIAL_DATA_DIR``: a simulated cohort of ``--pool``
patients at one site is loaded the ordinary way (``simulate_cohort`` + ``load_directory``: every
record validated, evaluated and audited, about 0.14 s a patient), then its rows are replicated
until there are ``--patients`` patients. Replication copies every row of every patient table
(patients, lesions, each event table and its child tables, the engine's state, next actions and
deviations) with the same data under shifted primary keys and study ids ``<id>-Rkk``, with
``bulk_create``: the copies are what loading the same histories again would store, except the
audit trail (which no page reads).

Each page is requested through Django's test client as a coordinator of the site (in-process:
middleware, view, queries and template rendering, no network): a few warm-up requests, then the
median of ``--repeat`` requests, and the number of SQL queries of one request, measured both on the
pool alone and on the full database (constant: not one per patient).

Run: ``uv run --frozen python benchmarks/web.py [--patients 2000] [--pool 100] [--repeat 9]``
Goal: under 300 ms a page, the same number of queries with 100 and with 2,000 patients.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

GOAL_MS = 300.0
SKIPPED = {"Site", "SiteRole", "SiteNormalRange", "AuditEntry", "AuditHead"}


def build(directory: Path, pool: int, seed: int) -> None:
    from rfatrial.server.cli import load_directory
    from rfatrial.simulation.cohort import simulate_cohort

    histories = directory / "histories"
    simulate_cohort(pool, 1, seed, histories)
    shutil.move(histories / "manifest.json", directory / "manifest.json")
    report = load_directory(histories)
    if report.errors or report.conflicts or len(report.created) != pool:
        raise SystemExit(f"loading failed: {report.errors[:3]} {report.conflicts[:3]}")


def replicate(patients: int) -> int:
    """Copy the patient rows until there are ``patients`` patients; the number of copies made."""
    from django.apps import apps
    from django.db import transaction

    from rfatrial.server.study import models as m

    pool = m.Patient.objects.count()
    copies = max(0, -(-patients // pool) - 1)
    # The study app's models in definition order: a table comes after the tables it refers to.
    tables = [
        model
        for model in apps.get_app_config("study").get_models()
        if model.__name__ not in SKIPPED
    ]
    span = {
        model: (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        for model in tables
    }
    with transaction.atomic():
        for model in tables:
            rows = list(model.objects.order_by("pk").values())
            fks = [
                f for f in model._meta.concrete_fields if f.is_relation and f.related_model in span
            ]
            for k in range(1, copies + 1):
                objects = []
                for row in rows:
                    new = dict(row)
                    if model is m.Patient:
                        new["study_id"] = f"{row['study_id']}-R{k:02d}"
                    new["id"] = row["id"] + k * span[model]
                    for f in fks:
                        if new[f.attname] is not None:
                            new[f.attname] += k * span[f.related_model]
                    objects.append(model(**new))
                model.objects.bulk_create(objects, batch_size=1000)
    return copies


def measure(client: Any, url: str, repeat: int) -> tuple[float, int, int]:
    """Median milliseconds of ``repeat`` requests, queries of one request, response bytes."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(2):
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        client.get(url)
        times.append((time.perf_counter() - t) * 1000)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return statistics.median(times), len(queries), len(response.content)


def pages(client: Any, patient_pk: int, repeat: int) -> dict[str, tuple[float, int, int]]:
    from django.urls import reverse

    urls = {
        "worklist": reverse("web:worklist"),
        "worklist, all": reverse("web:worklist") + "?to=2999-12-31",
        "patient page": reverse("web:patient", args=[patient_pk]),
        "dashboard": reverse("web:dashboard"),
    }
    return {name: measure(client, url, repeat) for name, url in urls.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=2000)
    parser.add_argument("--pool", type=int, default=100, help="patients simulated and loaded")
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="rfatrial-bench-web-"))
    os.environ["RFATRIAL_DATA_DIR"] = str(directory)
    os.environ["RFATRIAL_ALLOWED_HOSTS"] = "testserver"
    os.environ.pop("DATABASE_URL", None)
    try:
        t = time.perf_counter()
        build(directory, args.pool, args.seed)
        print(f"loaded {args.pool} simulated patients in {time.perf_counter() - t:.1f} s")

        from django.contrib.auth import get_user_model
        from django.db.models import Count
        from django.test import Client
        from django.urls import reverse

        from rfatrial.server.study import models as m
        from rfatrial.server.study.audit import Actor
        from rfatrial.server.study.services import grant_role

        site = m.Site.objects.get()
        user = get_user_model().objects.create_user("bench", password="bench bench bench")
        grant_role(user, site, "coordinator", actor=Actor("bench"))
        client = Client()
        client.force_login(user)
        # the patient page of the patient with the most lab panels (the longest history)
        busiest = (
            m.LabPanel.objects.values("patient")
            .annotate(n=Count("id"))
            .order_by("-n", "patient")
            .first()
        )
        patient_pk = busiest["patient"] if busiest else m.Patient.objects.first().pk
        small = pages(client, patient_pk, 3)

        t = time.perf_counter()
        copies = replicate(args.patients)
        total = m.Patient.objects.filter(site=site).count()
        print(
            f"replicated the rows {copies} times in {time.perf_counter() - t:.1f} s:"
            f" {total} patients at site {site.code},"
            f" {m.NextAction.objects.count()} next actions,"
            f" {m.LabResult.objects.count()} lab results"
        )
        large = pages(client, patient_pk, args.repeat)
        rows = [
            client.get(reverse("web:worklist") + query).content.decode().count('<tr class="')
            for query in ("", "?to=2999-12-31")
        ]
        print(
            f"worklist rows: {rows[0]} with the default filter (due within 14 days),"
            f" {rows[1]} with every action ('worklist, all')"
        )
        print()
        print(
            f"{'page':<15}{'median ms':>10}{'goal ms':>9}{'queries':>9}"
            f"{f'queries@{args.pool}':>13}{'KB':>7}  verdict"
        )
        failed = False
        for name, (ms, queries, size) in large.items():
            constant = queries == small[name][1]
            ok = ms < GOAL_MS and constant
            failed |= not ok
            verdict = (
                "ok"
                if ok
                else ("SLOW" if ms >= GOAL_MS else "") + ("" if constant else " QUERIES GROW")
            )
            print(
                f"{name:<15}{ms:>10.1f}{GOAL_MS:>9.0f}{queries:>9}{small[name][1]:>13}"
                f"{size / 1024:>7.0f}  {verdict}"
            )
        print()
        print("goal met" if not failed else "goal NOT met")
    finally:
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
