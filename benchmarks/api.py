"""Benchmark: the REST API served by gunicorn (2 workers), 5,000 patients at 5 sites.

Builds an SQLite database in a temporary ``RFATRIAL_DATA_DIR``: a simulated cohort of ``--pool``
patients is loaded the ordinary way (every record validated, evaluated and audited), then its rows
are copied in SQL (the same copies as ``benchmarks/web.py`` makes), each copy at one of
``--sites`` sites, until there are ``--patients`` patients (1,000 a site by default). Then
``rfatrial serve --workers 2`` (gunicorn, threaded workers) serves it on a free port of
127.0.0.1, and client threads (``--clients``, each with its own keep-alive connection) call,
with the bearer token of an investigator of the first site:

- ``health``: ``GET /api/health``, the trivial endpoint (no database), the server's floor;
- ``patient detail``: ``GET /api/patients/{id}``, over the site's patients in turn;
- ``patient records``: ``GET /api/patients/{id}/records``, the whole history of one (for scale);
- ``worklist``: ``GET /api/sites/S01/worklist``, every action due at the first site.

For each: requests per second (all clients together), median and 99th-percentile latency (client
side, request sent to body read), and each as a ratio to ``health``. Every loop is bounded in
requests and in time. Goals: patient detail p99 under 100 ms; the worklist of one site (1,000
patients) p99 under 300 ms.

Run: ``uv run --frozen python benchmarks/api.py [--patients 5000] [--sites 5] [--pool 100]``
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

# benchmarks/web.py: the ordinary load of the simulated pool (this folder is on sys.path).
from web import build

GOALS_MS = {"patient detail": 100.0, "worklist": 300.0}
SKIPPED = {"Site", "SiteRole", "SiteNormalRange", "AuditEntry", "AuditHead"}
TIME_LIMIT_S = 60.0  # per endpoint, whatever the request count


def replicate(patients: int, sites: int) -> list[str]:
    """Copy the pool's rows until there are ``patients`` patients over ``sites`` sites; the codes.

    Copy ``k`` of the pool goes to site ``k * pool // (patients / sites)``, so that each site has
    ``patients / sites`` patients; every row of every patient table is copied under shifted keys,
    in SQL (``INSERT ... SELECT``), which copies 5,000 patients in seconds.
    """
    from django.apps import apps
    from django.db import connection, transaction

    from rfatrial.server.study import models as m
    from rfatrial.server.study.audit import Actor, audited
    from rfatrial.server.study.services import ensure_site

    first = m.Site.objects.get()
    codes = [first.code] + [f"S{i:02d}" for i in range(2, sites + 1)]
    with audited(Actor("bench"), "benchmark sites") as audit:
        site_ids = [ensure_site(audit, code, f"Hospital {code}").pk for code in codes]
    pool = m.Patient.objects.count()
    per_site = patients // sites
    copies = -(-patients // pool)  # the pool itself is copy 0, at the first site
    tables = [
        model
        for model in apps.get_app_config("study").get_models()
        if model.__name__ not in SKIPPED
    ]
    span = {
        model: (model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0) + 1
        for model in tables
    }
    q = connection.ops.quote_name
    with transaction.atomic(), connection.cursor() as cursor:
        for model in tables:
            fields = model._meta.concrete_fields
            for k in range(1, copies):
                values = []
                for f in fields:
                    column = q(f.column)
                    if f.primary_key:
                        values.append(f"{column} + {k * span[model]}")
                    elif model is m.Patient and f.name == "site":
                        values.append(str(site_ids[min(k * pool // per_site, sites - 1)]))
                    elif model is m.Patient and f.name == "study_id":
                        values.append(f"{column} || '-R{k:02d}'")
                    elif f.is_relation and f.related_model in span:
                        values.append(f"{column} + {k * span[f.related_model]}")
                    else:
                        values.append(column)
                cursor.execute(
                    f"INSERT INTO {q(model._meta.db_table)}"
                    f" ({', '.join(q(f.column) for f in fields)})"
                    f" SELECT {', '.join(values)} FROM {q(model._meta.db_table)}"
                    f" WHERE {q(model._meta.pk.column)} < {span[model]}"
                )
    return codes


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Result:
    requests: int
    seconds: float
    latencies_ms: list[float]

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    def percentile(self, q: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def load(port: int, token: str, paths: list[str], requests: int, clients: int) -> Result:
    """``requests`` GETs over ``paths`` in turn, from ``clients`` threads (bounded in time)."""
    latencies: list[float] = []
    lock = threading.Lock()
    counter = iter(range(requests))
    deadline = time.monotonic() + TIME_LIMIT_S
    errors: list[str] = []

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"}
        mine: list[float] = []
        try:
            while time.monotonic() < deadline:
                with lock:
                    i = next(counter, None)
                if i is None:
                    break
                t = time.perf_counter()
                conn.request("GET", paths[i % len(paths)], headers=headers)
                response = conn.getresponse()
                body = response.read()
                mine.append((time.perf_counter() - t) * 1000)
                if response.status != 200:
                    errors.append(f"{paths[i % len(paths)]}: {response.status} {body[:200]!r}")
                    break
        finally:
            conn.close()
            with lock:
                latencies.extend(mine)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"request failed: {errors[0]}")
    return Result(len(latencies), seconds, latencies)


def wait_for(port: int, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"the server stopped with code {process.returncode}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            conn.request("GET", "/api/health")
            if conn.getresponse().status == 200:
                conn.close()
                return
        except OSError:
            time.sleep(0.3)
    raise SystemExit("the server did not answer in time")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=5000)
    parser.add_argument("--sites", type=int, default=5)
    parser.add_argument("--pool", type=int, default=100, help="patients simulated and loaded")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per worker")
    parser.add_argument("--clients", type=int, default=4, help="concurrent client connections")
    parser.add_argument("--requests", type=int, default=1000, help="per small endpoint")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="rfatrial-bench-api-"))
    os.environ["RFATRIAL_DATA_DIR"] = str(directory)
    os.environ.pop("DATABASE_URL", None)
    server: subprocess.Popen[bytes] | None = None
    try:
        t = time.perf_counter()
        build(directory, args.pool, args.seed)
        print(f"loaded {args.pool} simulated patients in {time.perf_counter() - t:.1f} s")

        from django.contrib.auth import get_user_model
        from django.db import connections

        from rfatrial.server.api.auth import create_token
        from rfatrial.server.study import models as m
        from rfatrial.server.study.audit import Actor
        from rfatrial.server.study.services import grant_role

        t = time.perf_counter()
        codes = replicate(args.patients, args.sites)
        first = m.Site.objects.get(code=codes[0])
        site_patients = list(
            m.Patient.objects.filter(site=first).order_by("pk").values_list("pk", flat=True)
        )
        print(
            f"replicated in {time.perf_counter() - t:.1f} s: {m.Patient.objects.count()} patients"
            f" at {len(codes)} sites ({len(site_patients)} at {first.code}),"
            f" {m.NextAction.objects.filter(patient__site=first).count()} actions due at"
            f" {first.code}"
        )
        user = get_user_model().objects.create_user("bench")
        grant_role(user, first, "investigator", actor=Actor("bench"))
        _, token = create_token(user, "benchmark")
        connections.close_all()

        port = free_port()
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rfatrial",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
                "--threads",
                str(args.threads),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_for(port, server)
        print(
            f"gunicorn: {args.workers} workers x {args.threads} threads on 127.0.0.1:{port};"
            f" {args.clients} client connections"
        )
        worklist = f"/api/sites/{first.code}/worklist"
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        conn.request("GET", worklist, headers={"Authorization": f"Bearer {token}"})
        rows = len(json.loads(conn.getresponse().read()))
        conn.close()
        plan: dict[str, tuple[list[str], int]] = {
            "health": (["/api/health"], args.requests),
            "patient detail": ([f"/api/patients/{pk}" for pk in site_patients], args.requests),
            "patient records": (
                [f"/api/patients/{pk}/records" for pk in site_patients],
                args.requests // 5,
            ),
            "worklist": ([worklist], max(20, args.requests // 25)),
        }
        results: dict[str, Result] = {}
        for name, (paths, count) in plan.items():
            load(port, token, paths, min(count, 3 * args.clients), args.clients)  # warm-up
            results[name] = load(port, token, paths, count, args.clients)
        print(f"worklist of {first.code}: {rows} actions, one JSON array")
        print()
        base = results["health"]
        print(
            f"{'endpoint':<17}{'requests':>9}{'req/s':>8}{'p50 ms':>8}{'p99 ms':>8}"
            f"{'x health p50':>13}{'x health req/s':>15}{'goal p99':>10}  verdict"
        )
        failed = False
        for name, r in results.items():
            p50, p99 = r.percentile(50), r.percentile(99)
            goal = GOALS_MS.get(name)
            ok = goal is None or p99 < goal
            failed |= not ok
            print(
                f"{name:<17}{r.requests:>9}{r.rps:>8.0f}{p50:>8.1f}{p99:>8.1f}"
                f"{p50 / base.percentile(50):>13.1f}{r.rps / base.rps:>15.2f}"
                f"{(f'{goal:.0f}' if goal else '-'):>10}  {'ok' if ok else 'SLOW'}"
            )
        print()
        print("goals met" if not failed else "goals NOT met")
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        shutil.rmtree(directory, ignore_errors=True)


if __name__ == "__main__":
    main()
