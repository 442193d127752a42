"""The study report from the study database: a simulated cohort loaded through the migrations'
tables gives the same report (same numbers, same snapshot hash) as its cohort directory."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from rfatrial.analysis.report import load_cohort, snapshot_hash
from rfatrial.analysis.study_database import database_cohort
from rfatrial.report_command import report
from rfatrial.server.study.loading import load_directory
from rfatrial.simulation.cohort import simulate_cohort

pytestmark = pytest.mark.django_db

# Rows of the first page that name the source and the time, not the data.
_SOURCE_ROWS = re.compile(r"<tr><td>(Data source|Generated|Cohort)</td><td>[^<]*</td></tr>\n?")


def _app() -> typer.Typer:
    app = typer.Typer()
    app.command()(report)
    app.command("noop")(lambda: None)
    return app


def _comparable(html_text: str) -> str:
    return _SOURCE_ROWS.sub("", html_text)


@pytest.fixture
def cohort_dir(tmp_path: Path) -> Path:
    simulate_cohort(24, 2, 5, tmp_path / "cohort")
    # the loader reads every *.json as a history: the histories only, not the manifest
    (tmp_path / "histories").mkdir()
    for path in (tmp_path / "cohort").glob("S*.json"):
        (tmp_path / "histories" / path.name).write_bytes(path.read_bytes())
    loaded = load_directory(tmp_path / "histories")
    assert loaded.ok and len(loaded.created) == 24, loaded
    return tmp_path / "cohort"


def test_database_report_equals_the_directory_report(cohort_dir: Path, tmp_path: Path) -> None:
    from_dir = load_cohort(cohort_dir)
    from_db = database_cohort()
    # the same histories, so the same snapshot hash
    assert [h.model_dump() for h in from_db.histories] == [
        h.model_dump() for h in sorted(from_dir.histories, key=lambda h: (h.site, h.patient_id))
    ]
    assert from_db.data_hash == from_dir.data_hash
    assert from_db.source == "study database (every site)"

    runner = CliRunner()
    by_db = runner.invoke(_app(), ["report", "--out", str(tmp_path / "db")])
    assert by_db.exit_code == 0, by_db.output
    assert f"data SHA-256 {from_dir.data_hash}" in by_db.output
    by_dir = runner.invoke(_app(), ["report", str(cohort_dir), "--out", str(tmp_path / "dir")])
    assert by_dir.exit_code == 0, by_dir.output

    db_html = (tmp_path / "db" / "report.html").read_text("utf-8")
    dir_html = (tmp_path / "dir" / "report.html").read_text("utf-8")
    assert "<td>Data source</td><td>study database (every site)</td>" in db_html
    assert f"<td>Data snapshot SHA-256</td><td>{from_dir.data_hash}</td>" in db_html
    # every table, number and figure is the same
    assert _comparable(db_html) == _comparable(dir_html)
    assert (tmp_path / "db" / "report.pdf").read_bytes().startswith(b"%PDF")


def test_the_batch_reader_reads_what_the_converter_reads(
    cohort_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rfatrial.analysis import study_database
    from rfatrial.server.study import models as m
    from rfatrial.server.study.convert import history_from_db

    one_by_one = [
        history_from_db(p)
        for p in m.Patient.objects.select_related("site").order_by("site__code", "study_id")
    ]
    monkeypatch.setattr(study_database, "BATCH", 5)  # several batches, one of them short
    batched = study_database.database_histories()
    assert [h.model_dump() for h in batched] == [h.model_dump() for h in one_by_one]
    assert sum(len(h.events) for h in batched) > 24 * 10


def test_database_report_of_one_site(cohort_dir: Path, tmp_path: Path) -> None:
    site_histories = [h for h in load_cohort(cohort_dir).histories if h.site == "S01"]
    assert 0 < len(site_histories) < 24
    # --database says the default source explicitly
    out = CliRunner().invoke(
        _app(), ["report", "--database", "--site", "S01", "--out", str(tmp_path / "s1")]
    )
    assert out.exit_code == 0, out.output
    assert f"data SHA-256 {snapshot_hash(site_histories)}" in out.output
    assert f"{len(site_histories)} patients" in out.output
    assert database_cohort(["S01"]).source == "study database (site S01)"


def test_bad_sources_are_refused(cohort_dir: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    both = runner.invoke(_app(), ["report", str(cohort_dir), "--database", "--out", str(tmp_path)])
    assert both.exit_code == 2 and "give one source" in both.output
    site = runner.invoke(_app(), ["report", str(cohort_dir), "--site", "S01", "--out", "x"])
    assert site.exit_code == 2 and "--site" in site.output
    nowhere = runner.invoke(_app(), ["report", "--site", "S99", "--out", str(tmp_path / "n")])
    assert nowhere.exit_code == 2
    assert "study database (site S99): no patients" in nowhere.output
    assert not (tmp_path / "n" / "report.html").exists()
