"""The forest plot of hazard ratios by stratum: every time-to-event endpoint, overall and by each
level of each randomization stratum factor, not-estimable ratios said so. The rows drawn (labels,
squares, intervals, "not estimable" marks) are checked against Cox models fitted here."""

from __future__ import annotations

import io
import math
from datetime import date, timedelta
from typing import Any

import numpy as np
import pytest
from matplotlib.collections import LineCollection

from rfatrial.analysis.cox import cox_ph
from rfatrial.analysis.datasets import ENDPOINTS, AnalysisDatasets, derive_datasets
from rfatrial.analysis.report import ForestRow, _efficacy, _forest_section, forest_rows
from rfatrial.kernel.history import PatientHistory
from rfatrial.simulation.cohort import simulate_cohort


def patient(
    pid: str, arm: str, stratum: dict[str, str], died_after: int | None, followed: int = 400
) -> PatientHistory:
    start = date(2026, 1, 5)
    last: dict[str, Any] = (
        {"type": "death", "date": (start + timedelta(days=died_after)).isoformat()}
        if died_after is not None
        else {"type": "lost_to_follow_up", "date": (start + timedelta(days=followed)).isoformat()}
    )
    return PatientHistory.model_validate(
        {
            "patient_id": pid,
            "site": stratum["site"],
            "sex": "M",
            "age_at_screening": 64,
            "events": [
                {
                    "type": "randomization",
                    "date": start.isoformat(),
                    "arm": arm,
                    "stratum": stratum,
                },
                last,
            ],
        }
    )


def hand_made() -> AnalysisDatasets:
    """Site A: both arms, deaths in both (estimable). Site B: control only (one arm). Site C:
    both arms, nobody dies (no events). RAS mutant: both arms, every death in the experimental
    arm (the likelihood has no finite maximum)."""
    c, e = "control", "experimental"
    a = {"site": "A", "ras_status": "wild_type"}
    am = {"site": "A", "ras_status": "mutant"}
    b = {"site": "B", "ras_status": "wild_type"}
    cm = {"site": "C", "ras_status": "mutant"}
    histories = [
        patient("A1", c, a, 100),
        patient("A2", c, a, 250),
        patient("A3", c, am, None, 300),
        patient("A4", e, am, 180),
        patient("A5", e, a, 200),
        patient("A6", e, a, None, 500),
        patient("A7", e, am, 420),
        patient("A8", e, am, 90),
        patient("B1", c, b, 120),
        patient("B2", c, b, None, 330),
        patient("C1", c, cm, None, 380),
        patient("C2", e, cm, None, 360),
    ]
    return derive_datasets(histories)


def expected(
    ds: AnalysisDatasets, endpoint: str
) -> list[tuple[str, float | None, tuple[float, float] | None]]:
    """(label, HR or None, CI) of every row of one endpoint, with the Cox models fitted here."""
    d = ds.survival(endpoint)
    pts = {p.patient_id: p for p in ds.randomized}
    x = (d.arm == "experimental").astype(float)

    def fit(m: np.ndarray, strata: Any) -> tuple[float | None, tuple[float, float] | None]:
        if len(set(d.arm[m].tolist())) < 2 or d.event[m].sum() == 0:
            return None, None
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                f = cox_ph(d.time[m], d.event[m], x[m], strata=strata)
        except (ValueError, np.linalg.LinAlgError):  # e.g. a singular information matrix
            return None, None
        hr, lo, up = float(f.hazard_ratio[0]), float(f.lower[0]), float(f.upper[0])
        if not all(math.isfinite(v) and v > 0 for v in (hr, lo, up)):
            return None, None
        return hr, (lo, up)

    out = [("Overall", *fit(np.ones(d.time.size, dtype=bool), d.stratum))]
    factors: dict[str, set[str]] = {}
    for p in ds.randomized:
        for k, v in p.stratum.items():
            factors.setdefault(k, set()).add(v)
    for key, levels in factors.items():
        values = np.array([pts[i].stratum[key] for i in d.patient_id.tolist()])
        for level in sorted(levels):
            label = f"{key.replace('_', ' ')}: {level.replace('_', ' ')}"
            out.append((label, *fit(values == level, None)))
    return out


def check_rows(ds: AnalysisDatasets, rows: list[ForestRow]) -> None:
    assert [r.endpoint for r in rows] == [
        e for e in ENDPOINTS for _ in range(len(rows) // len(ENDPOINTS))
    ]
    for endpoint in ENDPOINTS:
        mine = [r for r in rows if r.endpoint == endpoint]
        want = expected(ds, endpoint)
        assert [r.label for r in mine] == [w[0] for w in want]
        for r, (label, hr, ci) in zip(mine, want, strict=True):
            if hr is None:
                assert r.hr is None and r.lower is None and r.upper is None, (endpoint, label)
                assert r.hr_ci.startswith("not estimable (") and r.reason
            else:
                assert ci is not None
                assert (r.hr, r.lower, r.upper) == pytest.approx((hr, *ci), rel=1e-10)


def check_figure(rows: list[ForestRow], fig: Any) -> None:
    """Each endpoint's panel: the subgroup labels top to bottom, a square at each estimable HR
    (red for the overall row) with its interval on the same line, 'not estimable' otherwise."""
    labels = list(dict.fromkeys(r.label for r in rows))
    fig.savefig(io.BytesIO(), format="png")  # tick labels are set when the figure is drawn
    panels = {ax.get_title().split(":")[0]: ax for ax in fig.axes if ax.get_title()}
    assert list(panels) == list(ENDPOINTS)
    for endpoint, ax in panels.items():
        # the panels share the y axis: the labels are shown on the left-hand panels only
        y_label = {int(t.get_loc()): t.label1.get_text() for t in ax.yaxis.get_major_ticks()}
        assert [y_label[y] for y in sorted(y_label, reverse=True)] == labels
        mine = {r.label: r for r in rows if r.endpoint == endpoint}
        squares: dict[str, tuple[float, str]] = {}
        for line in ax.get_lines():
            if line.get_marker() != "s":
                continue
            for xv, yv in zip(line.get_xdata(), line.get_ydata(), strict=True):
                squares[y_label[round(yv)]] = (float(xv), str(line.get_color()))
        assert set(squares) == {k for k, r in mine.items() if r.estimable}
        for label, (hr, color) in squares.items():
            assert hr == pytest.approx(mine[label].hr, rel=1e-12)
            assert (color == "#d62728") == (label == "Overall")
        segments = [
            seg
            for coll in ax.collections
            if isinstance(coll, LineCollection)
            for seg in coll.get_segments()
        ]
        lo, hi = ax.get_xlim()
        intervals = {y_label[round(s[0][1])]: (s[0][0], s[1][0]) for s in segments}
        assert set(intervals) == set(squares)
        for label, (x0, x1) in intervals.items():
            r = mine[label]
            assert r.lower is not None and r.upper is not None
            assert (x0, x1) == pytest.approx((max(lo, r.lower), min(hi, r.upper)), rel=1e-9)
        marks = {
            y_label[round(t.get_position()[1])] for t in ax.texts if t.get_text() == "not estimable"
        }
        assert marks == {k for k, r in mine.items() if not r.estimable}
    # the labels are shown on the left (the first panel of each row of panels)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == labels[::-1]


def test_hand_made_study_rows_and_reasons() -> None:
    ds = hand_made()
    rows = forest_rows(ds)
    check_rows(ds, rows)
    os_rows = {r.label: r for r in rows if r.endpoint == "OS"}
    assert list(os_rows) == [
        "Overall",
        "site: A",
        "site: B",
        "site: C",
        "ras status: mutant",
        "ras status: wild type",
    ]
    assert os_rows["Overall"].estimable and os_rows["site: A"].estimable
    assert (os_rows["site: A"].n, os_rows["site: A"].events) == (8, 6)
    assert os_rows["site: B"].reason == "one arm only"
    assert os_rows["site: C"].reason == "no events"
    # RAS mutant: three deaths, all in the experimental arm: no finite estimate, no number
    assert os_rows["ras status: mutant"].reason == "no finite maximum of the likelihood"
    assert os_rows["ras status: mutant"].hr_ci == (
        "not estimable (no finite maximum of the likelihood)"
    )
    # nobody is rendered free of disease: DFS has no patients, every row says so
    assert {r.reason for r in rows if r.endpoint == "DFS"} == {"no patients"}
    sec = _forest_section(ds)
    check_figure(rows, sec.figures[0][1])
    table = sec.tables[0]
    assert len(table.rows) == len(rows) == 6 * len(ENDPOINTS)
    assert ["OS", "site: B", "2", "1", "not estimable (one arm only)"] in table.rows


def test_simulated_study_every_endpoint_and_stratum() -> None:
    import tempfile
    from pathlib import Path

    from rfatrial.analysis.report import load_cohort

    with tempfile.TemporaryDirectory() as tmp:
        simulate_cohort(80, 3, 11, Path(tmp) / "cohort")
        ds = derive_datasets(load_cohort(Path(tmp) / "cohort").histories)
    efficacy = _efficacy(ds)
    rows = forest_rows(ds, efficacy)
    check_rows(ds, rows)
    # the overall rows are the efficacy section's stratified Cox models
    for endpoint in ENDPOINTS:
        overall = next(r for r in rows if r.endpoint == endpoint and r.label == "Overall")
        fit = efficacy[endpoint].get("cox")
        if overall.estimable:
            assert fit is not None and overall.hr == float(fit.hazard_ratio[0])
    factors = {k for p in ds.randomized for k in p.stratum}
    assert factors == {"site", "liver_lesions", "ras_status"}
    assert sum(r.estimable for r in rows) > 2 * len(ENDPOINTS)
    check_figure(rows, _forest_section(ds, efficacy).figures[0][1])
