"""The demo server: a multi-site study with simulated patients, demo logins, a production server.

:func:`serve_demo` migrates the database of ``RFATRIAL_DATA_DIR`` and loads a simulated cohort
once: about 60 patients at 3 sites (twice as many are simulated over the accrual period, which is
half over today; those not yet screened are left out and each history is cut at today, so that the
study is under way, some patients in treatment and some in follow-up). It creates one demo user
per role (some at several sites), prints their logins and serves the web application with
waitress (static files by WhiteNoise). Started again, it keeps the data and re-evaluates every
patient as of today.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from rfatrial.server import setup

__all__ = ["DEMO_PASSWORD", "DEMO_USERS", "DemoUser", "prepare_demo", "serve_demo"]

DEMO_PATIENTS = 120  # simulated; about half are screened by today
DEMO_SITES = 3
DEMO_SEED = 20260101
COHORT_FOLDER = "demo-cohort"
LOADED_MARK = "demo-loaded"
DEMO_PASSWORD = "demo-rfatrial"


@dataclass(frozen=True)
class DemoUser:
    username: str
    roles: dict[str, tuple[str, ...]]


DEMO_USERS = (
    DemoUser("coordinator", {"S01": ("coordinator",)}),
    DemoUser("investigator", {"S01": ("investigator",), "S02": ("investigator",)}),
    DemoUser("monitor", {"S01": ("monitor",), "S02": ("monitor",), "S03": ("monitor",)}),
    DemoUser("datamanager", {"S02": ("data_manager",), "S03": ("data_manager",)}),
    DemoUser(
        "statistician",
        {"S01": ("statistician",), "S02": ("statistician",), "S03": ("statistician",)},
    ),
    DemoUser(
        "admin", {"S01": ("administrator",), "S02": ("administrator",), "S03": ("administrator",)}
    ),
    DemoUser("coordinator3", {"S03": ("coordinator",)}),
)


def simulate_demo_cohort(out_dir: Path, today: date, *, patients: int = DEMO_PATIENTS) -> int:
    """Write the demo histories to ``out_dir``, cut at ``today``; the number of patients kept."""
    from rfatrial.simulation.cohort import simulate_cohort
    from rfatrial.simulation.patient_model import DAYS_PER_MONTH
    from rfatrial.simulation.power import load_scenario

    accrual = load_scenario("clocc", "os").accrual_time * DAYS_PER_MONTH
    start = today - timedelta(days=round(accrual / 2))
    summary = simulate_cohort(patients, DEMO_SITES, DEMO_SEED, out_dir, start=start)
    kept = 0
    for path in summary.files:
        data = json.loads(path.read_text(encoding="utf-8"))
        events = [e for e in data["events"] if date.fromisoformat(e["date"]) <= today]
        if not events:
            path.unlink()
            continue
        data["events"] = events
        path.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        kept += 1
    manifest = out_dir / "manifest.json"
    if manifest.exists():  # not a history: keep it beside, out of the loader's way
        manifest.replace(out_dir.parent / f"{COHORT_FOLDER}-manifest.json")
    return kept


def create_demo_users(password: str = DEMO_PASSWORD) -> list[DemoUser]:
    """The demo users with their roles (idempotent; a new user gets ``password``)."""
    from django.contrib.auth import get_user_model

    from rfatrial.server.study import models as m
    from rfatrial.server.study.audit import Actor, audited
    from rfatrial.server.study.services import ensure_site, grant_role

    actor = Actor("demo")
    model = get_user_model()
    for demo in DEMO_USERS:
        user, created = model.objects.get_or_create(username=demo.username)
        if created:
            user.set_password(password)
            user.save()
        for code, roles in demo.roles.items():
            site = m.Site.objects.filter(code=code).first()
            if site is None:
                with audited(actor, "demo site") as audit:
                    site = ensure_site(audit, code)
            for role in roles:
                grant_role(user, site, role, actor=actor, reason="demo user")
    return list(DEMO_USERS)


def prepare_demo(
    data_dir: Path | None = None, *, today: date | None = None, patients: int = DEMO_PATIENTS
) -> str:
    """Migrate, load the demo cohort once, re-evaluate, create the users; a summary line."""
    setup()
    from django.conf import settings

    from rfatrial.server.cli import evaluate_all, load_directory, migrate

    today = today or date.today()
    data_dir = Path(data_dir or settings.DATA_DIR)
    migrate()
    mark = data_dir / LOADED_MARK
    if mark.exists():
        count = evaluate_all(today)
        line = f"demo study: {count} patient(s) re-evaluated as of {today}"
    else:
        cohort = data_dir / COHORT_FOLDER
        kept = simulate_demo_cohort(cohort, today, patients=patients)
        report = load_directory(cohort)
        if report.errors or report.conflicts:
            raise RuntimeError(
                "the demo cohort did not load: " + "; ".join(report.errors + report.conflicts)
            )
        mark.write_text(f"{today.isoformat()} {kept} patients\n", encoding="utf-8")
        line = (
            f"demo study: {len(report.created)} simulated patient(s) loaded at {DEMO_SITES} sites"
        )
    create_demo_users()
    from rfatrial.server.monitoring.demo import seed_demo_monitoring

    seed_demo_monitoring(DEMO_PASSWORD)  # once: a few open queries and a signed casebook
    return line


def logins_text(host: str, port: int) -> str:
    lines = [f"Open http://{host}:{port}/ and sign in as (password '{DEMO_PASSWORD}'):"]
    for demo in DEMO_USERS:
        roles = ", ".join(
            f"{role.replace('_', ' ')} at {code}"
            for code, names in demo.roles.items()
            for role in names
        )
        lines.append(f"  {demo.username:<13} {roles}")
    return "\n".join(lines)


def serve_demo(port: int = 8000, *, host: str = "127.0.0.1", threads: int = 8) -> None:
    """Prepare the demo study and serve it with waitress until interrupted."""
    line = prepare_demo()
    import waitress  # type: ignore[import-untyped]

    from rfatrial.server.wsgi import application

    print(line, flush=True)
    print(logins_text(host, port), flush=True)
    waitress.serve(application, host=host, port=port, threads=threads, ident="rfatrial")
