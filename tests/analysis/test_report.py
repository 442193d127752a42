"""The study report on a simulated cohort: sections, numbers recomputed independently, the PDF."""

from __future__ import annotations

import hashlib
import html
import json
import re
import shutil
import subprocess
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from rfatrial import __version__
from rfatrial.analysis import logrank_test
from rfatrial.analysis.datasets import DAYS_PER_MONTH
from rfatrial.analysis.report import REPORT_STEPS, ReportResult, build_report
from rfatrial.kernel.history import PatientHistory
from rfatrial.kernel.protocol import default_protocol
from rfatrial.report_command import report
from rfatrial.simulation.cohort import simulate_cohort

SECTIONS = (
    "Study report",
    "CONSORT flow",
    "Baseline characteristics by arm",
    "Efficacy: time-to-event endpoints",
    "Hazard ratios by stratum",
    "Ablated tumours: technique efficacy and local tumour progression",
    "Feasibility of staged RFA",
    "Systemic therapy",
    "Safety",
    "Liver and renal function before and after each session",
    "Swimmer plot",
)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, ReportResult, list[str]]:
    root = tmp_path_factory.mktemp("report")
    simulate_cohort(60, 3, 17, root / "cohort")
    steps: list[str] = []
    result = build_report(root / "cohort", root / "out", progress=steps.append)
    return root, result, steps


def test_sections_and_first_page(built: tuple[Path, ReportResult, list[str]]) -> None:
    root, result, steps = built
    assert steps == list(REPORT_STEPS)
    text = result.html.read_text("utf-8")
    for title in SECTIONS:
        assert f">{html.escape(title)}</h" in text, title
    # the snapshot hash: each history's canonical JSON (sorted keys, no spaces), one per line,
    # in (site, patient id) order; the manifest is not data
    files = sorted(p for p in (root / "cohort").glob("*.json") if p.name != "manifest.json")
    docs = [json.loads(p.read_text("utf-8")) for p in files]
    docs.sort(key=lambda d: (d["site"], d["patient_id"]))
    lines = [
        json.dumps(
            PatientHistory.model_validate(d).model_dump(mode="json"),
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
        )
        + "\n"
        for d in docs
    ]
    digest = hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
    assert result.data_hash == digest and digest in text
    assert f"<td>Patients</td><td>{len(files)}</td>" in text
    assert f"rfatrial {__version__}" in text
    assert f"<td>Protocol version</td><td>{default_protocol().version}</td>" in text
    # self-contained: nothing is fetched
    assert not re.search(r"""(src|href)=['"]?(https?:)?//""", text)
    assert "<link" not in text and "<script" not in text
    assert text.count("data:image/png;base64,") >= 9


def test_numbers_recomputed_from_the_histories(built: tuple[Path, ReportResult, list[str]]) -> None:
    root, result, _ = built
    text = result.html.read_text("utf-8")
    manifest = json.loads((root / "cohort" / "manifest.json").read_text("utf-8"))
    arms = manifest["counts"]["by_arm"]
    assert result.randomized == arms
    row = f"<tr><td>Randomized</td><td>{arms['control']}</td><td>{arms['experimental']}</td></tr>"
    assert row in text
    # OS straight from the files: death, or censored at the latest record
    time, event, arm, stratum = [], [], [], []
    for entry in manifest["patients"]:
        events = json.loads((root / "cohort" / entry["file"]).read_text("utf-8"))["events"]
        rand = next(e for e in events if e["type"] == "randomization")
        death = [e for e in events if e["type"] == "death"]
        end = death[0]["date"] if death else max(e["date"] for e in events)
        days = (date.fromisoformat(end) - date.fromisoformat(rand["date"])).days
        time.append(days / DAYS_PER_MONTH)
        event.append(1 if death else 0)
        arm.append(rand["arm"])
        stratum.append("/".join(rand["stratum"].values()))
    lr = logrank_test(np.array(time), np.array(event), np.array(arm), np.array(stratum))
    assert f"Stratified log-rank: chi-square = {lr.statistic:.4f}" in text
    assert result.logrank_os == pytest.approx(lr.statistic, rel=1e-12)
    deaths = {a: sum(e for e, x in zip(event, arm, strict=True) if x == a) for a in arms}
    assert f"<td>Died</td><td>{deaths['control']}</td><td>{deaths['experimental']}</td>" in text


def test_clavien_dindo_and_the_ltpfs_and_dfs_endpoints(
    built: tuple[Path, ReportResult, list[str]],
) -> None:
    root, result, _ = built
    text = result.html.read_text("utf-8")
    # worst Clavien-Dindo grade of each session, straight from the files
    order = ["I", "II", "IIIa", "IIIb", "IVa", "IVb", "V"]
    worst: Counter[str] = Counter()
    sessions = 0
    for path in (root / "cohort").glob("S*.json"):
        for e in json.loads(path.read_text("utf-8"))["events"]:
            if e["type"] != "rfa_session":
                continue
            sessions += 1
            grades = [c.get("clavien_dindo") for c in e.get("complications", [])]
            graded = [g for g in grades if g]
            if not grades:
                worst["none"] += 1
            elif not graded:
                worst["not graded"] += 1
            else:
                worst[max(graded, key=order.index)] += 1
    assert sessions > 10 and sum(v for k, v in worst.items() if k != "none") > 0
    cells = "".join(f"<td>{worst[g]}</td>" for g in ["none", "not graded", *order])
    assert f"<tr><td>All sessions</td><td>{sessions}</td>{cells}</tr>" in text
    assert "Complications per patient (worst grade over the patient&#x27;s sessions)" in text
    # LTPFS and DFS: a table, a comparison and a Kaplan-Meier figure each
    for name in ("Local tumour progression-free survival", "Disease-free survival after liver NED"):
        assert f"Kaplan-Meier: {name}" in text
    assert "<tr><td>LTPFS</td>" in text and "<tr><td>DFS</td>" in text
    assert "Liver NED and the DFS population" in text
    # every randomized patient is in LTPFS
    assert f"<td>Control (systemic)</td><td>{result.randomized['control']}</td>" in text


def test_pdf_pages(built: tuple[Path, ReportResult, list[str]]) -> None:
    root, result, _ = built
    data = result.pdf.read_bytes()
    assert data.startswith(b"%PDF")
    pages = len(re.findall(rb"/Type\s*/Page\b(?!s)", data))
    assert pages == result.pdf_pages >= 12
    if shutil.which("pdftoppm"):  # optional: render the first page
        subprocess.run(
            [
                "pdftoppm",
                "-png",
                "-r",
                "40",
                "-f",
                "1",
                "-l",
                "1",
                str(result.pdf),
                str(root / "p"),
            ],
            check=True,
        )
        assert list(root.glob("p*.png"))


def test_command_line(tmp_path: Path) -> None:
    simulate_cohort(12, 2, 3, tmp_path / "cohort")
    app = typer.Typer()
    app.command()(report)
    app.command("noop")(lambda: None)
    out = CliRunner().invoke(
        app, ["report", str(tmp_path / "cohort"), "--out", str(tmp_path / "out")]
    )
    assert out.exit_code == 0, out.output
    assert (tmp_path / "out" / "report.html").exists()
    assert (tmp_path / "out" / "report.pdf").exists()
    bad = CliRunner().invoke(app, ["report", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert bad.exit_code == 2 and "not a directory" in bad.output
    bad = CliRunner().invoke(
        app, ["report", str(tmp_path / "cohort"), "--out", str(tmp_path), "--cutoff", "x"]
    )
    assert bad.exit_code == 2


def test_distant_progression_matches_the_simulated_truth(
    built: tuple[Path, ReportResult, list[str]],
) -> None:
    """The simulator's hidden progression (not LTP) is what the datasets call distant progression:
    derived from the records alone, its dates agree with the truth in the manifest."""
    from rfatrial.analysis.datasets import derive_datasets
    from rfatrial.analysis.report import load_cohort

    root, _, _ = built
    cohort = load_cohort(root / "cohort")
    assert cohort.manifest is not None
    truth = {e["patient_id"]: e["truth"] for e in cohort.manifest["patients"]}
    ds = derive_datasets(cohort.histories)
    seen = 0
    for row in ds.endpoint_rows("DPFS"):
        t = truth[row.patient_id]
        if row.event and row.reason != "death":
            assert row.end.isoformat() == t["progression_seen"], row
            seen += 1
        else:
            assert t["progression_seen"] is None or (
                t["death"] is not None and t["death"] < t["progression_seen"]
            ), row
    assert seen > 10


def test_a_small_study_whose_ph_test_cannot_be_done(tmp_path: Path) -> None:
    """Twelve patients: every local tumour progression is in one arm, so the LTPFS Cox model has
    no finite estimate (and its test of proportional hazards is singular); the report says so
    instead of failing or printing the arbitrary number where the fit stopped."""
    import random
    from datetime import timedelta

    from rfatrial.analysis.report import cohort_of
    from rfatrial.simulation.care_team import simulate_patient

    rng, protocol = random.Random(20260101), default_protocol()
    histories = [
        simulate_patient(
            f"S0{i % 3 + 1}-{i:04d}",
            f"S0{i % 3 + 1}",
            "experimental" if i % 2 == 0 else "control",
            rng,
            protocol,
            start=date(2024, 1, 8) + timedelta(days=7 * i),
            horizon_days=rng.randint(30, 700),
        )
        for i in range(12)
    ]
    result = build_report(cohort_of(histories, "twelve patients"), tmp_path, swimmer_limit=12)
    text = result.html.read_text("utf-8")
    assert "Stratified Cox: HR not estimable (no finite maximum of the likelihood)" in text
    assert "Proportional hazards test not estimable" not in text
    assert "<td>Data source</td><td>twelve patients</td>" in text


def test_forest_table_covers_every_endpoint(built: tuple[Path, ReportResult, list[str]]) -> None:
    """The hazard ratios by stratum: every time-to-event endpoint, overall and by each level of
    each randomization stratum factor, in the report's table."""
    from rfatrial.analysis.datasets import ENDPOINTS

    _, result, _ = built
    text = result.html.read_text("utf-8")
    table = text.split("<caption>Hazard ratios by stratum</caption>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td>([A-Z]+)</td><td>([^<]+)</td>", table)
    assert sorted({e for e, _ in rows}) == sorted(ENDPOINTS)
    per_endpoint = Counter(e for e, _ in rows)
    assert len(set(per_endpoint.values())) == 1  # the same subgroups for each endpoint
    labels = [label for e, label in rows if e == "OS"]
    assert labels[0] == "Overall"
    assert {label.split(":")[0] for label in labels[1:]} == {
        "site",
        "liver lesions",
        "ras status",
    }
    assert "<figcaption>Forest plot</figcaption>" in text


def test_the_garbage_collector_is_left_as_found(
    built: tuple[Path, ReportResult, list[str]],
) -> None:
    """Reading a cohort pauses the collector and the report freezes the histories: both undone."""
    import gc

    from rfatrial.analysis.report import gc_paused, load_cohort

    root, _, _ = built
    assert gc.isenabled() and gc.get_freeze_count() == 0
    load_cohort(root / "cohort")
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # paused when it was off: still off
    finally:
        gc.enable()
    with pytest.raises(ValueError), gc_paused():
        raise ValueError("a history that cannot be read")
    assert gc.isenabled()
