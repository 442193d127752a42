"""The study report: patient histories in, a self-contained HTML file and a PDF out.

:func:`build_report` reads every history of a cohort directory (a simulated cohort, or an export
of the study database in the same format) or takes a :class:`Cohort` read from the study database
(:mod:`rfatrial.analysis.study_database`), derives the analysis datasets
(:mod:`rfatrial.analysis.datasets`), runs the statistics (:mod:`rfatrial.analysis`) and writes

* ``report.html``: one file, CSS inline, figures as base64 PNG, nothing fetched from the network;
* ``report.pdf``: the same content on A4 pages (matplotlib, Agg backend).

The first page names the protocol version, the SHA-256 of the data snapshot (:func:`snapshot_hash`:
the canonical JSON of every history in site and patient order, so a directory and the database
holding the same histories have the same hash; ``manifest.json`` is not part of it) and the
software version. Sections: CONSORT flow, baseline by arm, efficacy (Kaplan-Meier curves with
numbers at risk, medians and landmark rates, log-rank and Cox models stratified as randomized,
test of proportional hazards, RMST difference), hazard ratios of every time-to-event endpoint
overall and by each randomization stratum factor level (forest plot, :func:`forest_rows`), local
tumour progression (cumulative incidence with death competing, Gray's test, patient-clustered
jackknife intervals), feasibility, systemic therapy, adverse events, complications, liver and
renal function around the sessions, and a swimmer plot of each patient's course (all patients up
to ``swimmer_limit``, a seeded random sample beyond).
"""

from __future__ import annotations

import base64
import gc
import hashlib
import html
import io
import json
import math
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from rfatrial import __version__
from rfatrial.analysis.competing_risks import (
    clustered_cumulative_incidence,
    cumulative_incidence,
    gray_test,
)
from rfatrial.analysis.cox import cox_ph, cox_zph
from rfatrial.analysis.datasets import (
    ENDPOINT_NAMES,
    ENDPOINTS,
    LAB_MEASURES,
    AnalysisDatasets,
    LabPairRow,
    SurvivalData,
    derive_datasets,
)
from rfatrial.analysis.kaplan_meier import KaplanMeierCurve, kaplan_meier_by_group
from rfatrial.analysis.logrank import logrank_test
from rfatrial.analysis.rmst import rmst_difference
from rfatrial.analysis.summaries import (
    CLAVIEN_DINDO_COLUMNS,
    adverse_event_table,
    clavien_dindo_table,
    complication_table,
    complications_per_patient,
    feasibility,
    lab_comparisons,
    systemic_summary,
)
from rfatrial.kernel.history import PatientHistory, parse_history
from rfatrial.kernel.protocol import Protocol, default_protocol

__all__ = [
    "REPORT_STEPS",
    "Cohort",
    "ForestRow",
    "ReportResult",
    "build_report",
    "canonical_history",
    "cohort_of",
    "forest_rows",
    "gc_paused",
    "load_cohort",
    "snapshot_hash",
]

ARMS = ("control", "experimental")
ARM_LABEL = {"control": "Control (systemic)", "experimental": "Experimental (systemic + RFA)"}
COLORS = {"control": "#1f77b4", "experimental": "#d62728"}
LANDMARKS = (12.0, 24.0, 36.0, 60.0)
REPORT_STEPS = (
    "reading histories",
    "deriving datasets",
    "survival statistics",
    "CONSORT and baseline",
    "survival figures",
    "forest plot",
    "local tumour progression",
    "feasibility, therapy, safety",
    "liver and renal function",
    "swimmer plot",
    "writing HTML",
    "writing PDF",
)


# --- input ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cohort:
    """The histories of a cohort, where they come from, the manifest (if any), the snapshot's hash.

    ``source`` names the origin for the first page (a directory, or the study database and its
    sites); ``files`` are the history files of a directory (empty for the database).
    """

    source: str
    histories: list[PatientHistory]
    files: list[Path]
    manifest: dict[str, Any] | None
    data_hash: str
    directory: Path | None = None


def canonical_history(history: PatientHistory) -> bytes:
    """The history as canonical JSON: sorted keys, no spaces, UTF-8 (one line)."""
    return json.dumps(
        history.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def snapshot_hash(histories: Sequence[PatientHistory]) -> str:
    """SHA-256 of the data snapshot: the canonical JSON of every history, one per line, in
    (site, patient id) order.

    The hash depends on the histories' content only, not on how they were stored: the same
    patients read from a cohort directory or from the study database have the same hash.
    """
    digest = hashlib.sha256()
    for h in sorted(histories, key=lambda h: (h.site, h.patient_id)):
        digest.update(canonical_history(h))
        digest.update(b"\n")
    return digest.hexdigest()


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic garbage collector paused while a cohort is read.

    Every object made while reading histories lives as long as the cohort, yet the collector's
    full passes, triggered by the growing number of objects, walk all of them again and again
    and find nothing to free: about a second of processor time for 500 patients.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def load_cohort(directory: str | Path) -> Cohort:
    """Read every ``*.json`` history of ``directory`` (``manifest.json`` apart)."""
    d = Path(directory)
    if not d.is_dir():
        raise ValueError(f"{d}: not a directory")
    files = sorted((p for p in d.glob("*.json") if p.name != "manifest.json"), key=lambda p: p.name)
    if not files:
        raise ValueError(f"{d}: no history files (*.json)")
    with gc_paused():
        histories = [parse_history(p.read_bytes(), source=p.name) for p in files]
    manifest_path = d / "manifest.json"
    manifest = json.loads(manifest_path.read_text("utf-8")) if manifest_path.exists() else None
    return Cohort(
        f"directory {d} ({len(files)} history files)",
        histories,
        files,
        manifest,
        snapshot_hash(histories),
        d,
    )


def cohort_of(histories: Sequence[PatientHistory], source: str) -> Cohort:
    """A cohort of histories read elsewhere (the study database), with its snapshot hash."""
    if not histories:
        raise ValueError(f"{source}: no patients")
    ordered = sorted(histories, key=lambda h: (h.site, h.patient_id))
    return Cohort(source, ordered, [], None, snapshot_hash(ordered))


# --- tables ---------------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]]
    note: str = ""


@dataclass
class Section:
    anchor: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, Any]] = field(default_factory=list)  # (caption, Figure)


def _pct(k: int, n: int) -> str:
    return f"{k} ({100.0 * k / n:.1f}%)" if n else f"{k}"


def _num(x: float | None, digits: int = 2) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "NR" if x is not None else "-"
    return f"{x:.{digits}f}"


def _estimable(hr: float, lower: float, upper: float) -> bool:
    """A hazard ratio worth printing: its estimate and interval are finite and positive.

    A Cox fit whose likelihood has no finite maximum (no event in one arm, say) stops at an
    arbitrary huge or tiny ratio with an undefined interval; that number means nothing.
    """
    return all(math.isfinite(v) and v > 0 for v in (hr, lower, upper))


def _hr_ci(hr: float, lower: float, upper: float) -> str:
    if not _estimable(hr, lower, upper):
        return "not estimable (no finite maximum of the likelihood)"
    return f"{hr:.3f} ({lower:.3f}-{upper:.3f})"


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "-"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _median_iqr(values: Sequence[float]) -> str:
    if not values:
        return "-"
    q = np.percentile(np.asarray(values, dtype=float), [50, 25, 75])
    return f"{q[0]:.1f} ({q[1]:.1f}-{q[2]:.1f})"


# --- figures --------------------------------------------------------------------------------------


def _figure(
    width: float,
    height: float,
    *,
    left: float = 0.7,
    right: float = 0.2,
    top: float = 0.4,
    bottom: float = 0.55,
    wspace: float | None = None,
    hspace: float | None = None,
) -> Any:
    """A figure of ``width`` x ``height`` inches whose subplots leave fixed margins (inches).

    No layout engine: a constrained layout measures every text of the figure several times
    before drawing it, and each figure is drawn twice (PNG and PDF); margins fixed in inches
    keep the titles and labels in place whatever the figure's height.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout=None)
    fig.subplots_adjust(
        left=left / width,
        right=1.0 - right / width,
        top=1.0 - top / height,
        bottom=bottom / height,
        wspace=wspace,
        hspace=hspace,
    )
    return fig


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _km_figure(
    curves: dict[Any, KaplanMeierCurve],
    title: str,
    horizon: float,
    origin: str = "randomization",
) -> Any:
    fig = _figure(8.0, 5.2, left=1.0, right=0.15, top=0.3, bottom=0.45)
    grid = fig.add_gridspec(2, 1, height_ratios=[4, 1], hspace=0.3)
    ax = fig.add_subplot(grid[0])
    ticks = np.arange(0.0, horizon + 1e-9, 12.0 if horizon > 24 else 6.0)
    for arm, c in curves.items():
        t = np.concatenate(([0.0], c.time))
        s = np.concatenate(([1.0], c.survival))
        lo = np.concatenate(([1.0], np.nan_to_num(c.lower, nan=0.0)))
        up = np.concatenate(([1.0], np.nan_to_num(c.upper, nan=1.0)))
        color = COLORS.get(str(arm), "grey")
        keep = t <= horizon
        t, s, lo, up = t[keep], s[keep], lo[keep], up[keep]
        ax.step(t, s, where="post", color=color, label=ARM_LABEL.get(str(arm), str(arm)))
        ax.fill_between(t, lo, up, step="post", color=color, alpha=0.12)
        cens = (c.n_censor > 0) & (c.time <= horizon)
        ax.plot(c.time[cens], c.survival[cens], "|", color=color, markersize=6)
    ax.set_xlim(0, horizon)
    ax.set_ylim(0, 1.02)
    ax.set_xticks(ticks)
    ax.set_ylabel("Probability")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(loc="upper right", fontsize=8)
    risk = fig.add_subplot(grid[1], sharex=ax)
    risk.set_ylim(-0.5, len(curves) - 0.5)
    risk.set_yticks(range(len(curves)))
    risk.set_yticklabels([str(a) for a in curves][::-1], fontsize=8)
    risk.tick_params(axis="y", length=0, pad=18)
    for k, (arm, c) in enumerate(curves.items()):
        y = len(curves) - 1 - k
        for tick, n in zip(ticks.tolist(), c.n_at_risk(ticks).tolist(), strict=True):
            risk.text(
                tick,
                y,
                str(int(n)),
                ha="center",
                va="center",
                fontsize=8,
                color=COLORS.get(str(arm), "black"),
            )
    risk.set_xlabel(f"Months since {origin}")
    risk.set_title("Number at risk", fontsize=8, loc="left")
    risk.tick_params(axis="x", labelsize=8)
    for side in ("top", "right", "left"):
        risk.spines[side].set_visible(False)
    return fig


def _horizon(curves: dict[Any, KaplanMeierCurve]) -> float:
    """Plot up to the last time at which at least 10 patients (or 10%) remain in some arm."""
    last = 0.0
    for c in curves.values():
        enough = c.time[c.n_risk >= min(10, max(1, math.ceil(0.1 * c.n)))]
        if enough.size:
            last = max(last, float(enough[-1]))
    step = 12.0 if last > 24 else 6.0
    return max(step, math.ceil(last / step) * step)


# --- the report -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportResult:
    """What :func:`build_report` wrote, and the headline numbers."""

    html: Path
    pdf: Path
    pdf_pages: int
    data_hash: str
    protocol_version: str
    patients: int
    randomized: dict[str, int]
    logrank_os: float
    seconds: float


def build_report(
    cohort_dir: str | Path | Cohort,
    out_dir: str | Path,
    *,
    protocol: Protocol | None = None,
    cutoff: date | None = None,
    swimmer_limit: int = 200,
    progress: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write ``report.html`` and ``report.pdf`` for the cohort in ``cohort_dir``.

    Parameters
    ----------
    cohort_dir
        A directory of history files (``rfatrial simulate cohort`` writes one), or a
        :class:`Cohort` already read (:func:`cohort_of`, e.g. from the study database).
    out_dir
        Where the report goes (created if needed).
    protocol
        The protocol (default: the shipped one).
    cutoff
        Data cut-off date: later records are ignored.
    swimmer_limit
        Patients drawn in the swimmer plot; beyond, a seeded random sample of that many.
    progress
        Called with the name of each step (:data:`REPORT_STEPS`) as it starts.
    """
    started = time.perf_counter()
    step = progress or (lambda _name: None)
    protocol = protocol or default_protocol()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)

    step(REPORT_STEPS[0])
    with gc_paused():
        cohort = cohort_dir if isinstance(cohort_dir, Cohort) else load_cohort(cohort_dir)
        # the histories live until the report is written: the collector's passes skip them
        # (they walked the whole cohort for nothing, most of a second for 500 patients)
        gc.freeze()
    try:
        step(REPORT_STEPS[1])
        ds = derive_datasets(cohort.histories, protocol, cutoff=cutoff)
        randomized = ds.randomized
        n_arm = {arm: sum(1 for p in randomized if p.arm == arm) for arm in ARMS}

        sections: list[Section] = []
        step(REPORT_STEPS[2])
        efficacy = _efficacy(ds)

        step(REPORT_STEPS[3])
        sections.append(_title_section(cohort, ds, protocol, cutoff))
        sections.append(_consort_section(ds))
        sections.append(_baseline_section(ds))

        step(REPORT_STEPS[4])
        sections.append(_efficacy_section(ds, efficacy))
        step(REPORT_STEPS[5])
        sections.append(_forest_section(ds, efficacy))
        step(REPORT_STEPS[6])
        sections.append(_ltp_section(ds))
        step(REPORT_STEPS[7])
        sections.append(_feasibility_section(ds, protocol))
        sections.append(_systemic_section(ds))
        sections.append(_safety_section(ds))
        step(REPORT_STEPS[8])
        sections.append(_labs_section(ds))
        step(REPORT_STEPS[9])
        sections.append(_swimmer_section(ds, swimmer_limit))

        step(REPORT_STEPS[10])
        html_path = out / "report.html"
        html_path.write_text(_html(sections), encoding="utf-8")
        step(REPORT_STEPS[11])
        pdf_path = out / "report.pdf"
        pages = _pdf(sections, pdf_path, cohort.data_hash)
    finally:
        gc.unfreeze()
    return ReportResult(
        html_path,
        pdf_path,
        pages,
        cohort.data_hash,
        protocol.version,
        len(ds.patients),
        n_arm,
        efficacy["OS"]["logrank"].statistic if efficacy["OS"].get("logrank") else math.nan,
        time.perf_counter() - started,
    )


# --- sections -------------------------------------------------------------------------------------


def _title_section(
    cohort: Cohort, ds: AnalysisDatasets, protocol: Protocol, cutoff: date | None
) -> Section:
    m = cohort.manifest or {}
    rows = [
        ["Protocol version", protocol.version],
        ["Data snapshot SHA-256", cohort.data_hash],
        ["Software version", f"rfatrial {__version__}"],
        ["Classifications", "RECIST 1.1, CTCAE v5.0, CIRSE 2017, Clavien-Dindo (2004)"],
        ["Data source", cohort.source],
        ["Patients", str(len(cohort.histories))],
        ["Data cut-off", cutoff.isoformat() if cutoff else "none (all records)"],
        ["Generated", datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")],
    ]
    if m:
        rows.append(
            [
                "Cohort",
                f"{m.get('generator', '')} seed {m.get('seed', '-')}, scenario "
                f"{m.get('scenario', '-')}, protocol {m.get('protocol_version', '-')}",
            ]
        )
    paragraphs = [
        "Systemic therapy with or without staged radiofrequency ablation (RFA) for multifocal "
        "colorectal liver metastasis recurrence: feasibility, efficacy and safety.",
        "Time zero is randomization; times are in months (365.25/12 days). Endpoints follow the "
        "DATECAN/SIO consensus (Puijk et al. 2021): OS, PFS, intrahepatic PFS (IHPFS), distant "
        "PFS (DPFS), local tumour progression-free survival (LTPFS) per patient, disease-free "
        "survival (DFS) from liver NED, and per ablated tumour technique efficacy and local "
        "tumour progression.",
    ]
    if m.get("protocol_version") not in (None, protocol.version):
        paragraphs.append(
            f"Warning: the cohort was generated under protocol {m['protocol_version']}, the "
            f"report applies protocol {protocol.version}."
        )
    return Section("title", "Study report", paragraphs, [Table("Data", ["", ""], rows)])


def _consort_section(ds: AnalysisDatasets) -> Section:
    pts = ds.patients
    screened = [p for p in pts if p.screened is not None]
    ineligible = sum(1 for p in screened if p.eligible is False)
    not_rand = sum(1 for p in pts if p.arm is None)
    counts: dict[str, dict[str, int]] = {}
    for arm in ARMS:
        a = [p for p in pts if p.arm == arm]
        received = (
            sum(1 for p in a if p.rfa_sessions > 0)
            if arm == "experimental"
            else sum(1 for p in a if p.cycles > 0)
        )
        counts[arm] = {
            "Randomized": len(a),
            "Received allocated intervention": received,
            "Withdrawn": sum(1 for p in a if p.disposition == "withdrawn"),
            "Lost to follow-up": sum(1 for p in a if p.disposition == "lost_to_follow_up"),
            "Died": sum(1 for p in a if p.died),
            "Analysed (intention to treat)": len(a),
        }
    rows = [["Screened", str(len(screened)), ""], ["Not eligible", str(ineligible), ""]]
    rows.append(["Screened, not randomized", str(not_rand), ""])
    for key in counts["control"]:
        rows.append([key, str(counts["control"][key]), str(counts["experimental"][key])])

    fig = _figure(8.0, 5.5, left=0.1, right=0.1, top=0.35, bottom=0.1)
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.set_xlim(0, 10)
    ax.set_ylim(0, 10)

    def box(x: float, y: float, text: str) -> None:
        ax.text(
            x,
            y,
            text,
            ha="center",
            va="center",
            fontsize=8,
            bbox={"boxstyle": "round", "facecolor": "#f4f4f4", "edgecolor": "#444"},
        )

    box(5, 9.3, f"Screened\nn = {len(screened)}")
    box(8.3, 8.2, f"Excluded\nnot eligible n = {ineligible}\nnot randomized n = {not_rand}")
    box(5, 7.4, f"Randomized\nn = {sum(counts[a]['Randomized'] for a in ARMS)}")
    for x, arm in ((2.6, "control"), (7.4, "experimental")):
        c = counts[arm]
        box(
            x,
            5.6,
            f"{ARM_LABEL[arm]}\nn = {c['Randomized']}\n"
            f"received allocated intervention n = {c['Received allocated intervention']}",
        )
        box(
            x,
            3.4,
            f"Withdrawn n = {c['Withdrawn']}\nLost to follow-up n = "
            f"{c['Lost to follow-up']}\nDied n = {c['Died']}",
        )
        box(x, 1.4, f"Analysed (ITT)\nn = {c['Analysed (intention to treat)']}")
        for y0, y1 in ((6.9, 6.2), (4.9, 4.1), (2.8, 1.9)):
            ax.annotate(
                "",
                (x, y1),
                (x if y0 < 6.9 else 5, y0),
                arrowprops={"arrowstyle": "->", "color": "#444"},
            )
    ax.annotate("", (5, 7.9), (5, 8.8), arrowprops={"arrowstyle": "->", "color": "#444"})
    ax.set_title("CONSORT flow")
    return Section(
        "consort",
        "CONSORT flow",
        [],
        [Table("Patient flow", ["", ARM_LABEL["control"], ARM_LABEL["experimental"]], rows)],
        [("CONSORT diagram", fig)],
    )


def _baseline_section(ds: AnalysisDatasets) -> Section:
    groups = {arm: [p for p in ds.randomized if p.arm == arm] for arm in ARMS}
    allp = ds.randomized
    cols = [*groups.values(), allp]
    rows: list[list[str]] = [["Patients", *(str(len(g)) for g in cols)]]

    def mean_sd(values: list[float]) -> str:
        if not values:
            return "-"
        a = np.asarray(values, dtype=float)
        return f"{a.mean():.1f} ({a.std(ddof=1) if a.size > 1 else 0.0:.1f})"

    rows.append(["Age, years: mean (SD)", *(mean_sd([p.age for p in g]) for g in cols)])
    rows.append(["Female", *(_pct(sum(p.sex == "F" for p in g), len(g)) for g in cols)])
    for ecog in (0, 1, 2):
        rows.append([f"ECOG {ecog}", *(_pct(sum(p.ecog == ecog for p in g), len(g)) for g in cols)])
    for gene, status in (("RAS", "ras_status"), ("BRAF", "braf_status")):
        for level in ("wild_type", "mutant", "unknown"):
            rows.append(
                [
                    f"{gene} {level.replace('_', ' ')}",
                    *(_pct(sum(getattr(p, status) == level for p in g), len(g)) for g in cols),
                ]
            )
    rows.append(
        [
            "Liver lesions: median (IQR)",
            *(_median_iqr([p.liver_lesion_count for p in g if p.liver_lesion_count]) for g in cols),
        ]
    )
    rows.append(
        [
            "Liver lesions > 5",
            *(_pct(sum((p.liver_lesion_count or 0) > 5 for p in g), len(g)) for g in cols),
        ]
    )
    rows.append(
        [
            "Extrahepatic disease",
            *(_pct(sum(bool(p.extrahepatic_disease) for p in g), len(g)) for g in cols),
        ]
    )
    rows.append(
        [
            "Sum of liver lesion diameters, mm: median (IQR)",
            *(
                _median_iqr([p.baseline_sum_mm for p in g if p.baseline_sum_mm is not None])
                for g in cols
            ),
        ]
    )
    rows.append(
        [
            "ALBI score: median (IQR)",
            *(
                _median_iqr([p.baseline_albi for p in g if p.baseline_albi is not None])
                for g in cols
            ),
        ]
    )
    rows.append(
        [
            "CEA, ng/mL: median (IQR)",
            *(_median_iqr([p.baseline_cea for p in g if p.baseline_cea is not None]) for g in cols),
        ]
    )
    if any(p.baseline_cea is None for p in allp):
        rows.append(
            [
                "CEA not measured before randomization",
                *(_pct(sum(p.baseline_cea is None for p in g), len(g)) for g in cols),
            ]
        )
    sites = sorted({p.site for p in allp})
    for s in sites:
        rows.append([f"Site {s}", *(_pct(sum(p.site == s for p in g), len(g)) for g in cols)])
    header = ["", ARM_LABEL["control"], ARM_LABEL["experimental"], "All"]
    return Section(
        "baseline",
        "Baseline characteristics by arm",
        [],
        [
            Table(
                "Baseline",
                header,
                rows,
                "RAS, BRAF, ECOG, liver lesions and extrahepatic disease as recorded at "
                "screening; lesion diameters from the last baseline scan; ALBI and CEA from the "
                "last lab panel on or before randomization with the measure (median and IQR of "
                "the patients with a value).",
            )
        ],
    )


def _efficacy(ds: AnalysisDatasets) -> dict[str, dict[str, Any]]:
    results: dict[str, dict[str, Any]] = {}
    for endpoint in ENDPOINTS:
        d = ds.survival(endpoint)
        r: dict[str, Any] = {"data": d}
        results[endpoint] = r
        if d.time.size == 0:
            continue
        r["km"] = kaplan_meier_by_group(d.time, d.event, d.arm)
        if len(set(d.arm.tolist())) < 2 or d.event.sum() == 0:
            continue
        try:  # in a small study every stratum may hold one arm only: no test
            r["logrank"] = logrank_test(d.time, d.event, d.arm, d.stratum)
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
            r["logrank_error"] = str(exc)
        x = (d.arm == "experimental").astype(float)
        try:  # a likelihood without a finite maximum overflows the interval: not estimable
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                fit = cox_ph(d.time, d.event, x, strata=d.stratum, names=["experimental"])
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
            r["cox_error"] = str(exc)
        else:
            r["cox"] = fit
            try:  # the model may fit where the test of proportional hazards cannot be done
                with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                    r["zph"] = cox_zph(
                        d.time, d.event, x, strata=d.stratum, fit=fit, names=["experimental"]
                    )
            except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
                r["zph_error"] = str(exc)
        last = min(float(d.time[d.arm == a].max()) for a in ARMS)
        tau = min(36.0, last)
        if tau > 0:
            try:
                r["rmst"] = rmst_difference(d.time, d.event, d.arm, tau, reference="control")
            except ValueError as exc:
                r["rmst_error"] = str(exc)
    return results


def _efficacy_section(ds: AnalysisDatasets, eff: dict[str, dict[str, Any]]) -> Section:
    sec = Section("efficacy", "Efficacy: time-to-event endpoints")
    sec.paragraphs.append(
        "Kaplan-Meier estimates with log-transformed 95% confidence intervals (Greenwood); "
        "log-rank test and Cox model (Efron ties) stratified by the randomization strata "
        "(site, number of liver lesions, RAS status); hazard ratio experimental vs control; "
        "test of proportional hazards as R's cox.zph (KM transform); restricted mean survival "
        "time (RMST) difference up to 36 months or the shorter arm's follow-up."
    )
    sec.paragraphs.append(
        "PFS and intrahepatic PFS count local tumour progression at an ablation zone, which only "
        "ablated tumours (the experimental arm) can show, and the experimental arm is scanned "
        "more often (1-month post-RFA scans); distant PFS leaves local progression out and "
        "compares the arms on the disease outside the ablation zones."
    )
    sec.paragraphs.append(
        "Local tumour progression-free survival (LTPFS) per patient: the first local tumour "
        "progression of any ablated tumour, or death; control-arm patients have no ablated "
        "tumour, so their LTPFS events are deaths. Disease-free survival (DFS) is measured from "
        "the day the liver is free of disease (liver NED: every liver lesion completely ablated "
        "or disappeared), for the patients rendered NED without extrahepatic disease, to any "
        "progression after that day or death; its time zero is not randomization, so its "
        "comparison of the arms is descriptive (conditional on reaching NED)."
    )
    ned_rows = []
    for arm in ARMS:
        group = [p for p in ds.randomized if p.arm == arm]
        dfs = sum(1 for r in ds.endpoint_rows("DFS") if r.arm == arm)
        ned_rows.append(
            [
                ARM_LABEL[arm],
                str(len(group)),
                _pct(sum(1 for p in group if p.liver_ned_reached is not None), len(group)),
                _pct(dfs, len(group)),
            ]
        )
    sec.tables.append(
        Table(
            "Liver NED and the DFS population",
            ["Arm", "Randomized", "Liver NED reached", "Rendered NED (DFS population)"],
            ned_rows,
        )
    )
    if not ds.endpoint_rows("DFS"):
        sec.paragraphs.append("DFS: no patient was rendered free of disease.")
    summary_rows: list[list[str]] = []
    for endpoint in ENDPOINTS:
        r = eff[endpoint]
        if "km" not in r:
            continue
        rows: list[list[str]] = []
        for arm, c in r["km"].items():
            med = c.median()
            at = c.at(LANDMARKS)
            rows.append(
                [
                    ARM_LABEL.get(str(arm), str(arm)),
                    str(c.n),
                    str(c.events),
                    f"{_num(med.median, 1)} ({_num(med.lower, 1)}-{_num(med.upper, 1)})",
                    *(
                        f"{100 * s:.1f} ({100 * lo:.1f}-{100 * up:.1f})"
                        if math.isfinite(lo) and math.isfinite(up)
                        else f"{100 * s:.1f}"
                        for s, lo, up in zip(at.survival, at.lower, at.upper, strict=True)
                    ),
                ]
            )
        header = [
            "Arm",
            "N",
            "Events",
            "Median, months (95% CI)",
            *(f"{int(t / 12)}-year % (95% CI)" for t in LANDMARKS),
        ]
        notes = []
        lr = r.get("logrank")
        if lr is not None:
            notes.append(
                f"Stratified log-rank: chi-square = {lr.statistic:.4f}, df = {lr.df}, "
                f"p = {_p(lr.p_value)}"
            )
        elif "logrank_error" in r:
            notes.append(f"Stratified log-rank not estimable: {r['logrank_error']}")
        cox = r.get("cox")
        if cox is not None:
            ci = (float(cox.hazard_ratio[0]), float(cox.lower[0]), float(cox.upper[0]))
            cox_p = _p(float(cox.p_value[0])) if _estimable(*ci) else "-"
            notes.append(
                f"Stratified Cox: HR = {cox.hazard_ratio[0]:.3f} (95% CI {cox.lower[0]:.3f}-"
                f"{cox.upper[0]:.3f}), p = {cox_p}"
                if _estimable(*ci)
                else f"Stratified Cox: HR {_hr_ci(*ci)}"
            )
            # a test of proportional hazards of a model without a finite estimate means nothing
            zph = r.get("zph") if _estimable(*ci) else None
            if zph is not None:
                notes.append(
                    f"Proportional hazards (cox.zph): chi-square = {zph.global_chisq:.3f}, "
                    f"p = {_p(zph.global_p_value)}"
                )
            elif _estimable(*ci):
                notes.append(f"Proportional hazards test not estimable: {r.get('zph_error')}")
            summary_rows.append(
                [
                    endpoint,
                    f"{lr.statistic:.4f}" if lr is not None else "-",
                    _p(lr.p_value) if lr is not None else "-",
                    _hr_ci(*ci),
                    cox_p,
                    _p(zph.global_p_value) if zph is not None else "-",
                ]
            )
        elif "cox_error" in r:
            notes.append(f"Cox model not estimable: {r['cox_error']}")
        rm = r.get("rmst")
        if rm is not None:
            notes.append(
                f"RMST to {rm.tau:.1f} months: experimental - control = {rm.difference:.2f} "
                f"months (95% CI {rm.lower:.2f} to {rm.upper:.2f}), p = {_p(rm.p_value)}"
            )
        sec.tables.append(
            Table(ENDPOINT_NAMES[endpoint] + f" ({endpoint})", header, rows, "; ".join(notes))
        )
        horizon = _horizon(r["km"])
        sec.figures.append(
            (
                f"Kaplan-Meier: {ENDPOINT_NAMES[endpoint]}",
                _km_figure(
                    r["km"],
                    ENDPOINT_NAMES[endpoint],
                    horizon,
                    "liver NED" if endpoint == "DFS" else "randomization",
                ),
            )
        )
        reasons = Counter(
            row.reason.split(";")[0].split(" L")[0] if row.event else "censored"
            for row in ds.endpoint_rows(endpoint)
        )
        sec.paragraphs.append(
            f"{endpoint} events by first site: "
            + ", ".join(f"{k} {v}" for k, v in reasons.most_common())
        )
    sec.tables.insert(
        0,
        Table(
            "Summary of the comparisons (experimental vs control)",
            ["Endpoint", "Log-rank chi-square", "p", "HR (95% CI)", "p (Wald)", "PH test p"],
            summary_rows,
        ),
    )
    return sec


@dataclass(frozen=True)
class ForestRow:
    """One row of the forest plot: the hazard ratio of the arm (experimental / control) in one
    subgroup of one endpoint, or why it cannot be estimated.

    ``factor`` and ``level`` name the randomization stratum factor and its level (``None`` for
    the overall row, stratified as randomized); ``hr``, ``lower`` and ``upper`` are ``None`` when
    the ratio is not estimable, ``reason`` then says why.
    """

    endpoint: str
    factor: str | None
    level: str | None
    n: int
    events: int
    hr: float | None
    lower: float | None
    upper: float | None
    reason: str = ""

    @property
    def label(self) -> str:
        """The row's label in the plot and the table (``Overall``, ``site: S01``...)."""
        if self.factor is None or self.level is None:
            return "Overall"
        return f"{self.factor.replace('_', ' ')}: {self.level.replace('_', ' ')}"

    @property
    def estimable(self) -> bool:
        return self.hr is not None

    @property
    def hr_ci(self) -> str:
        if self.hr is None or self.lower is None or self.upper is None:
            return f"not estimable ({self.reason})"
        return f"{self.hr:.3f} ({self.lower:.3f}-{self.upper:.3f})"


_NO_FINITE_MAXIMUM = "no finite maximum of the likelihood"


def _forest_fit(
    d: SurvivalData,
    m: NDArray[np.bool_],
    stratified: bool,
    factor: str | None,
    level: str | None,
    fit: Any = None,
) -> ForestRow:
    """The hazard ratio of the arm in the rows ``m`` of ``d`` (``fit``: a fit already made)."""
    n, events = int(m.sum()), int(d.event[m].sum())

    def not_estimable(reason: str) -> ForestRow:
        return ForestRow(d.endpoint, factor, level, n, events, None, None, None, reason)

    arms = set(d.arm[m].tolist())
    if len(arms) < 2:
        return not_estimable("one arm only" if arms else "no patients")
    if events == 0:
        return not_estimable("no events")
    if fit is None:
        x = (d.arm[m] == "experimental").astype(float)
        try:
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                fit = cox_ph(
                    d.time[m],
                    d.event[m],
                    x,
                    strata=d.stratum[m] if stratified else None,
                    names=["experimental"],
                )
        except (ValueError, np.linalg.LinAlgError, ArithmeticError) as exc:
            return not_estimable(str(exc))
    ci = (float(fit.hazard_ratio[0]), float(fit.lower[0]), float(fit.upper[0]))
    if not _estimable(*ci):
        return not_estimable(_NO_FINITE_MAXIMUM)
    return ForestRow(d.endpoint, factor, level, n, events, *ci)


def forest_rows(
    ds: AnalysisDatasets, efficacy: dict[str, dict[str, Any]] | None = None
) -> list[ForestRow]:
    """The rows of the forest plot: for every time-to-event endpoint (:data:`ENDPOINTS`), the
    overall hazard ratio (Cox, Efron ties, stratified as randomized) and one per level of each
    randomization stratum factor (Cox of the arm within the level, unstratified), in the order
    endpoint, overall, factor (in the order of the randomization record), level (sorted).

    Every level of every factor has a row in every endpoint, estimable or not (one arm only, no
    events, or a likelihood without a finite maximum: all events in one arm). ``efficacy``: the
    report's fits, whose overall Cox models are reused instead of being fitted again.
    """
    pts = {p.patient_id: p for p in ds.randomized}
    factors: dict[str, set[str]] = {}
    for p in pts.values():
        for key, value in p.stratum.items():
            factors.setdefault(key, set()).add(value)
    rows: list[ForestRow] = []
    for endpoint in ENDPOINTS:
        d = ds.survival(endpoint)
        everyone = np.ones(d.time.size, dtype=bool)
        done = (efficacy or {}).get(endpoint, {})
        if "cox_error" in done:
            n, events = int(d.time.size), int(d.event.sum())
            rows.append(
                ForestRow(endpoint, None, None, n, events, None, None, None, done["cox_error"])
            )
        else:
            rows.append(_forest_fit(d, everyone, True, None, None, done.get("cox")))
        for key, levels in factors.items():
            values = np.array([pts[i].stratum.get(key, "-") for i in d.patient_id.tolist()])
            for level in sorted(levels):
                rows.append(_forest_fit(d, values == level, False, key, level))
    return rows


def _forest_section(
    ds: AnalysisDatasets, efficacy: dict[str, dict[str, Any]] | None = None
) -> Section:
    sec = Section("forest", "Hazard ratios by stratum")
    sec.paragraphs.append(
        "Hazard ratio experimental vs control of every time-to-event endpoint: overall (Cox "
        "model, Efron ties, stratified as randomized) and within each level of each "
        "randomization stratum factor (Cox model of the arm within the level, unstratified). "
        "A level without both arms or without events, or whose events are all in one arm (the "
        "likelihood has no finite maximum), has no hazard ratio: it is shown as not estimable. "
        "DFS is measured from liver NED in the patients rendered free of disease."
    )
    rows = forest_rows(ds, efficacy)
    sec.tables.append(
        Table(
            "Hazard ratios by stratum",
            ["Endpoint", "Subgroup", "N", "Events", "HR (95% CI)"],
            [[r.endpoint, r.label, str(r.n), str(r.events), r.hr_ci] for r in rows],
        )
    )
    sec.figures.append(("Forest plot", _forest_figure(rows)))
    return sec


def _forest_figure(rows: Sequence[ForestRow]) -> Any:
    """One panel per endpoint (2 rows of 3), the same subgroups on the same lines of each."""
    endpoints = list(dict.fromkeys(r.endpoint for r in rows))
    labels = list(dict.fromkeys(r.label for r in rows))
    ncols = 3
    nrows = max(1, math.ceil(len(endpoints) / ncols))
    panel, gap = 0.3 + 0.2 * len(labels), 0.6  # inches: a panel's height, between two rows
    fig = _figure(
        11.0,
        0.35 + 0.45 + nrows * panel + (nrows - 1) * gap,
        left=0.3 + 0.06 * max(len(label) for label in labels),  # the labels at 7 points
        right=0.15,
        top=0.35,
        bottom=0.45,
        wspace=0.06,
        hspace=gap / panel,
    )
    axes = fig.subplots(nrows, ncols, sharey=True, squeeze=False)
    found = [r for r in rows if r.estimable]
    lo = min([0.1, *(0.8 * r.lower for r in found if r.lower is not None)])
    hi = max([10.0, *(1.25 * r.upper for r in found if r.upper is not None)])
    lo, hi = max(lo, 1e-3), min(hi, 1e3)
    ticks = [2.0**k for k in range(-10, 11) if lo <= 2.0**k <= hi]
    if len(ticks) > 9:  # a wide range: powers of 10
        ticks = [10.0**k for k in range(-3, 4) if lo <= 10.0**k <= hi]
    y_of = {label: len(labels) - 1 - k for k, label in enumerate(labels)}
    for k, ax in enumerate(axes.flat):
        if k >= len(endpoints):
            ax.set_axis_off()
            continue
        endpoint = endpoints[k]
        mine = [r for r in rows if r.endpoint == endpoint]
        est = [r for r in mine if r.estimable]
        ys = [y_of[r.label] for r in est]
        ax.hlines(
            ys,
            [max(lo, r.lower or lo) for r in est],
            [min(hi, r.upper or hi) for r in est],
            color="black",
            lw=1,
        )
        for overall, color in ((False, "black"), (True, "#d62728")):
            pick = [r for r in est if (r.factor is None) == overall]
            ax.plot(
                [r.hr for r in pick],
                [y_of[r.label] for r in pick],
                "s",
                ls="",
                color=color,
                markersize=5,
            )
        for r in mine:
            if not r.estimable:
                ax.text(
                    1.0,
                    y_of[r.label],
                    "not estimable",
                    ha="center",
                    va="center",
                    fontsize=6,
                    color="grey",
                )
        ax.axvline(1.0, color="grey", ls="--", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlim(lo, hi)
        ax.set_xticks(ticks)
        ax.set_xticklabels([f"{t:g}" for t in ticks], fontsize=7)
        ax.minorticks_off()
        ax.set_ylim(-0.7, len(labels) - 0.3)
        ax.set_yticks(range(len(labels)))
        ax.set_yticklabels(labels[::-1], fontsize=7)
        ax.set_title(f"{endpoint}: hazard ratio (experimental / control)", fontsize=8)
        ax.grid(alpha=0.3, axis="x")
    return fig


def _ltp_section(ds: AnalysisDatasets) -> Section:
    sec = Section("ltp", "Ablated tumours: technique efficacy and local tumour progression")
    les = ds.lesions
    n = len(les)
    sec.paragraphs.append(
        "Per tumour (every lesion treated in an RFA session). Technique efficacy: complete "
        "ablation on the 1-month scan after the first ablation; assisted: complete after the "
        "last (repeat) ablation. Time to local tumour progression (LTP) from randomization with "
        "death a competing event; cumulative incidence (Aalen-Johansen, R's cmprsk), Gray's "
        "test between minimal ablative margins < 5 mm and >= 5 mm, and the cumulative incidence "
        "at 12 and 24 months with a jackknife over patients (tumours clustered in patients)."
    )
    if n == 0:
        sec.paragraphs.append("No ablated tumours.")
        return sec
    te = [r.technique_efficacy for r in les if r.technique_efficacy is not None]
    ate = [r.assisted_technique_efficacy for r in les if r.assisted_technique_efficacy is not None]
    rows = [
        ["Ablated tumours", str(n)],
        ["Patients", str(len({r.patient_id for r in les}))],
        ["Technical success", _pct(sum(r.technical_success for r in les), n)],
        ["Technique efficacy (1-month scan)", _pct(sum(te), len(te))],
        ["Assisted technique efficacy", _pct(sum(ate), len(ate))],
        ["Repeat ablation", _pct(sum(len(r.sessions) > 1 for r in les), n)],
        ["Local tumour progression", _pct(sum(r.status == 1 for r in les), n)],
        ["Death before LTP", _pct(sum(r.status == 2 for r in les), n)],
    ]
    sec.tables.append(Table("Ablated tumours", ["", "n (%)"], rows))
    t = np.array([r.time_months for r in les])
    st = np.array([r.status for r in les])
    cl = np.array([r.patient_id for r in les])
    margin = np.array(
        [
            "unknown" if r.margin_mm is None else ("< 5 mm" if r.margin_mm < 5 else ">= 5 mm")
            for r in les
        ]
    )
    fig = _figure(8.0, 4.8, left=0.75, top=0.35, bottom=0.55)
    ax = fig.add_subplot()
    groups = sorted(set(margin.tolist()))
    curves = cumulative_incidence(t, st, margin) if len(groups) > 1 else cumulative_incidence(t, st)
    styles = {"< 5 mm": "#d62728", ">= 5 mm": "#1f77b4", "unknown": "grey", 1: "#d62728"}
    for (group, cause), c in curves.items():
        if cause != 1:
            continue
        x = np.concatenate(([0.0], c.time, [c.last_time]))
        y = np.concatenate(([0.0], c.estimate, [c.estimate[-1] if c.estimate.size else 0.0]))
        ax.step(
            x,
            y,
            where="post",
            color=styles.get(group, "black"),
            label=f"margin {group}" if group != 1 else "all tumours",
        )
    ax.set_xlabel("Months since randomization")
    ax.set_ylabel("Cumulative incidence of LTP")
    ax.set_ylim(0, 1)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Local tumour progression (death competing)")
    notes = []
    if len(groups) > 1 and (st == 1).any():
        g = gray_test(t, st, margin)
        if 1 in g:
            notes.append(
                f"Gray's test (LTP by margin): chi-square = {g[1].statistic:.4f}, "
                f"df = {g[1].df}, p = {_p(g[1].p_value)}"
            )
    inc_rows = []
    if (st == 1).any():
        ci = clustered_cumulative_incidence(t, st, cl, [12.0, 24.0], cause=1)
        for j, when in enumerate(ci.times):
            e, se = float(ci.estimate[0, j]), float(ci.se[0, j])
            inc_rows.append(
                [
                    f"{when:.0f} months",
                    f"{100 * e:.1f}",
                    f"{100 * max(0.0, e - 1.96 * se):.1f}-{100 * min(1.0, e + 1.96 * se):.1f}"
                    if math.isfinite(e)
                    else "-",
                ]
            )
    sec.tables.append(
        Table(
            "Cumulative incidence of LTP (patient-clustered jackknife)",
            ["Time", "Incidence %", "95% CI"],
            inc_rows,
            "; ".join(notes),
        )
    )
    sec.figures.append(("Cumulative incidence of LTP", fig))
    return sec


def _feasibility_section(ds: AnalysisDatasets, protocol: Protocol) -> Section:
    f = feasibility(ds, protocol.rfa.max_sessions)
    n = f.experimental
    rows = [["Experimental arm", str(n)]]
    rows += [[f"Reached RFA session {k}", _pct(v, n)] for k, v in f.reached_session.items()]
    rows.append(["Reached liver NED", _pct(f.liver_ned, n)])
    rows.append(["Patients with a postponed session", _pct(f.patients_postponed, n)])
    rows.append(["Postponements (failed pre-RFA gates)", str(f.postponements)])
    rows += [[f"  cause: {k}", str(v)] for k, v in f.postponement_causes.items()]
    rows += [[f"RFA pathway: {k.replace('_', ' ')}", _pct(v, n)] for k, v in f.rfa_stopped.items()]
    rows += [[f"Withdrawals, {arm}", str(v)] for arm, v in f.withdrawals.items()]
    rows += [[f"  reason: {k}", str(v)] for k, v in f.withdrawal_reasons.items()]
    return Section(
        "feasibility", "Feasibility of staged RFA", [], [Table("Feasibility", ["", "n (%)"], rows)]
    )


def _systemic_section(ds: AnalysisDatasets) -> Section:
    rows = [
        [
            s.arm,
            s.agent,
            _pct(s.patients, s.of),
            f"{s.cycles_median:.0f} ({s.cycles_q1:.0f}-{s.cycles_q3:.0f})",
            f"{s.dose_median:.0f} ({s.dose_q1:.0f}-{s.dose_q3:.0f}) {s.unit}",
        ]
        for s in systemic_summary(ds)
    ]
    per_arm = [
        [arm, _median_iqr([float(p.cycles) for p in ds.randomized if p.arm == arm])] for arm in ARMS
    ]
    return Section(
        "systemic",
        "Systemic therapy",
        [],
        [
            Table("Cycles per patient: median (IQR)", ["Arm", "Cycles"], per_arm),
            Table(
                "Exposure by agent",
                [
                    "Arm",
                    "Agent",
                    "Patients exposed",
                    "Cycles: median (IQR)",
                    "Cumulative dose: median (IQR)",
                ],
                rows,
            ),
        ],
    )


def _safety_section(ds: AnalysisDatasets) -> Section:
    n_arm = Counter(p.arm for p in ds.randomized)
    table = adverse_event_table(ds)
    terms = list(dict.fromkeys(s.term for s in table))
    by = {(s.term, s.arm): s for s in table}
    rows = []
    for term in terms:
        row = [term]
        for arm in ARMS:
            s = by.get((term, arm))
            if s is None:
                row += ["0", "0", "0", "0", "-"]
            else:
                row += [
                    _pct(s.any_grade, n_arm[arm]),
                    _pct(s.grade3plus, n_arm[arm]),
                    str(s.serious),
                    str(s.related_rfa if arm == "experimental" else s.related_systemic),
                    str(s.worst),
                ]
        rows.append(row)
    header = ["Term (CTCAE v5)"] + [
        f"{a[:4]}. {h}"
        for a in ARMS
        for h in ("any grade", "grade >= 3", "serious", "related (RFA/systemic)", "worst grade")
    ]
    comp = complication_table(ds)
    comp_rows = [
        [
            "All sessions" if k == 0 else f"Session {k}",
            str(sum(v.values())),
            *(str(v[g]) for g in range(7)),
        ]
        for k, v in comp.items()
    ]
    comp_header = ["Session", "Sessions", "None", *(f"CIRSE {g}" for g in range(1, 7))]
    cd_rows = [
        [
            "All sessions" if k == 0 else f"Session {k}",
            str(sum(v.values())),
            *(str(v[g]) for g in CLAVIEN_DINDO_COLUMNS),
        ]
        for k, v in clavien_dindo_table(ds).items()
    ]
    cd_header = ["Session", "Sessions", *(_cd_label(g) for g in CLAVIEN_DINDO_COLUMNS)]
    per_patient_rows = []
    for pc in complications_per_patient(ds):
        n = pc.patients
        per_patient_rows.append([pc.arm, "Patients with a session", str(n)])
        per_patient_rows += [
            [pc.arm, "Worst CIRSE: none" if g == 0 else f"Worst CIRSE {g}", _pct(k, n)]
            for g, k in pc.cirse.items()
        ]
        per_patient_rows += [
            [pc.arm, f"Worst Clavien-Dindo: {_cd_label(g)}", _pct(k, n)]
            for g, k in pc.clavien_dindo.items()
        ]
        per_patient_rows += [
            [pc.arm, "Major complication (CIRSE >= 3)", _pct(pc.major_cirse, n)],
            [pc.arm, "Major complication (Clavien-Dindo >= IIIa)", _pct(pc.major_clavien_dindo, n)],
            [
                pc.arm,
                "Sessions with a major complication (either scale)",
                _pct(pc.major_sessions, pc.sessions),
            ],
        ]
    terms_rows = Counter(d for s in ds.sessions for d, _ in s.complications)
    return Section(
        "safety",
        "Safety",
        [
            "Adverse events: patients with the term (worst grade per patient); related: to RFA "
            "in the experimental arm, to systemic therapy in the control arm. Complications "
            "are counted per session by the worst CIRSE 2017 grade and by the worst Clavien-Dindo "
            "grade of the session ('not graded': complications without a Clavien-Dindo grade), "
            "and per patient by the worst grade over the patient's sessions.",
        ],
        [
            Table("Adverse events by arm", header, rows),
            Table("Complications per session (worst CIRSE grade)", comp_header, comp_rows),
            Table("Complications per session (worst Clavien-Dindo grade)", cd_header, cd_rows),
            Table(
                "Complications per patient (worst grade over the patient's sessions)",
                ["Arm", "", "Patients n (%)"],
                per_patient_rows,
            ),
            Table(
                "Complications by description",
                ["Complication", "n"],
                [[k, str(v)] for k, v in terms_rows.most_common()],
            ),
        ],
    )


def _cd_label(grade: str) -> str:
    return grade.capitalize() if grade in ("none", "not graded") else f"CD {grade}"


_MEASURE_LABEL = {
    "bilirubin": "Bilirubin",
    "albumin": "Albumin",
    "child_pugh": "Child-Pugh",
    "creatinine": "Creatinine",
    "egfr": "eGFR",
}


def _labs_section(ds: AnalysisDatasets) -> Section:
    comps = lab_comparisons(ds)
    rows = [
        [
            _MEASURE_LABEL.get(c.measure, c.measure.upper()),
            c.unit,
            str(c.session),
            str(c.n),
            f"{c.before_median:.2f}",
            f"{c.after_median:.2f}",
            f"{c.change_median:+.2f}",
            _p(c.p_value),
        ]
        for c in comps
    ]
    fig = _figure(11.0, 9.0, left=0.55, right=0.22, top=0.45, bottom=0.81, wspace=0.25, hspace=0.6)
    axes = fig.subplots(3, 3)
    pairs: dict[tuple[str, int], list[LabPairRow]] = {}
    for r in ds.lab_pairs:
        pairs.setdefault((r.measure, r.session), []).append(r)
    for ax, measure in zip(axes.flat, LAB_MEASURES, strict=True):
        sessions = sorted(s for m, s in pairs if m == measure)
        data, labels = [], []
        for s in sessions:
            data += [[r.before for r in pairs[measure, s]], [r.after for r in pairs[measure, s]]]
            labels += [f"S{s} pre", f"S{s} post"]
        if data:
            _boxplot(ax, data, labels, ["#cfe2f3", "#f4cccc"] * len(sessions))
        label = _MEASURE_LABEL.get(measure, measure.upper())
        ax.set_title(f"{label} ({LAB_MEASURES[measure]})", fontsize=9)
        ax.tick_params(axis="x", labelsize=7, rotation=45)
        ax.tick_params(axis="y", labelsize=7)
    return Section(
        "labs",
        "Liver and renal function before and after each session",
        [
            "Last panel within 30 days before the session (the session day included) and first "
            "panel within 30 days after; paired Wilcoxon signed-rank test (two-sided)."
        ],
        [
            Table(
                "Paired comparisons",
                [
                    "Measure",
                    "Unit",
                    "Session",
                    "Pairs",
                    "Before (median)",
                    "After (median)",
                    "Change (median)",
                    "p (Wilcoxon)",
                ],
                rows,
            )
        ],
        [("Liver and renal function around RFA sessions", fig)],
    )


def _boxplot(ax: Any, data: list[list[float]], labels: list[str], colors: list[str]) -> None:
    """Box plots as matplotlib's ``boxplot`` draws them (quartiles, whiskers to the furthest
    point within 1.5 IQR, no fliers; the same statistics, ``cbook.boxplot_stats``), drawn as
    three collections instead of six artists per box."""
    from matplotlib.cbook import boxplot_stats
    from matplotlib.collections import LineCollection, PolyCollection

    stats = boxplot_stats(data, whis=1.5)
    half = 0.5 * min(0.15 * max(len(data) - 1, 1), 0.5)  # boxplot's default box width
    boxes: list[list[tuple[float, float]]] = []
    lines: list[list[tuple[float, float]]] = []
    medians: list[list[tuple[float, float]]] = []
    for x, st in enumerate(stats, start=1):
        q1, q3, med = float(st["q1"]), float(st["q3"]), float(st["med"])
        lo, hi = float(st["whislo"]), float(st["whishi"])
        boxes.append([(x - half, q1), (x + half, q1), (x + half, q3), (x - half, q3)])
        lines += [
            [(x, q1), (x, lo)],
            [(x, q3), (x, hi)],
            [(x - half / 2, lo), (x + half / 2, lo)],
            [(x - half / 2, hi), (x + half / 2, hi)],
        ]
        medians.append([(x - half, med), (x + half, med)])
    ax.add_collection(
        PolyCollection(boxes, facecolors=colors, edgecolors="black", linewidths=1.0),
        autolim=True,
    )
    ax.add_collection(LineCollection(lines, colors="black", linewidths=1.0), autolim=True)
    ax.add_collection(LineCollection(medians, colors="C1", linewidths=1.0), autolim=True)
    ax.autoscale_view()
    ax.set_xlim(0.5, len(data) + 0.5)
    ax.set_xticks(range(1, len(data) + 1), labels)


def _swimmer_section(ds: AnalysisDatasets, limit: int) -> Section:
    pts = ds.randomized
    note = f"All {len(pts)} randomized patients."
    if len(pts) > limit:
        pts = random.Random(0).sample(pts, limit)
        note = f"A random sample (seed 0) of {limit} of {len(ds.randomized)} randomized patients."
    pts.sort(key=lambda p: (p.arm or "", p.follow_up_months))
    sessions: dict[str, list[date]] = {}
    for s in ds.sessions:
        sessions.setdefault(s.patient_id, []).append(s.date)
    prog = {
        r.patient_id: r
        for r in ds.endpoints
        if r.endpoint == "PFS" and r.event and r.reason != "death"
    }
    height = max(4.0, min(40.0, 0.09 * len(pts) + 1.5))
    fig = _figure(9.0, height, left=0.3, right=0.2, top=0.35, bottom=0.5)
    ax = fig.add_subplot()
    month = 365.25 / 12
    from matplotlib.collections import PolyCollection

    # the bars as one collection (one artist), not one rectangle per patient
    bars = PolyCollection(
        [
            [
                (0.0, y - 0.4),
                (p.follow_up_months, y - 0.4),
                (p.follow_up_months, y + 0.4),
                (0.0, y + 0.4),
            ]
            for y, p in enumerate(pts)
        ],
        facecolors=[COLORS.get(p.arm or "", "grey") for p in pts],
        edgecolors="none",
        alpha=0.45,
    )
    ax.add_collection(bars, autolim=True)
    marks: dict[str, tuple[list[float], list[int]]] = {k: ([], []) for k in "rpdw"}
    for y, p in enumerate(pts):
        assert p.randomized is not None
        for d in sessions.get(p.patient_id, []):
            marks["r"][0].append((d - p.randomized).days / month)
            marks["r"][1].append(y)
        if p.patient_id in prog:
            marks["p"][0].append(prog[p.patient_id].time_months)
            marks["p"][1].append(y)
        if p.died and p.death_date is not None:
            marks["d"][0].append((p.death_date - p.randomized).days / month)
            marks["d"][1].append(y)
        elif p.disposition in ("withdrawn", "lost_to_follow_up"):
            marks["w"][0].append(p.follow_up_months)
            marks["w"][1].append(y)
    for key, style, color in (
        ("r", "v", "black"),
        ("p", "x", "darkorange"),
        ("d", "s", "black"),
        ("w", "o", "purple"),
    ):
        ax.plot(marks[key][0], marks[key][1], style, ls="", color=color, markersize=3)
    ax.autoscale_view()
    ax.set_xlim(left=0.0)  # the bars start at randomization
    ax.set_ylim(-1, len(pts))
    ax.set_yticks([])
    ax.set_xlabel("Months since randomization")
    ax.set_title("Each patient's course (bar colour: arm)")
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    ax.legend(
        handles=[
            Patch(color=COLORS["control"], alpha=0.45, label="control"),
            Patch(color=COLORS["experimental"], alpha=0.45, label="experimental"),
            Line2D([], [], marker="v", ls="", color="black", label="RFA session"),
            Line2D([], [], marker="x", ls="", color="darkorange", label="progression"),
            Line2D([], [], marker="s", ls="", color="black", label="death"),
            Line2D([], [], marker="o", ls="", color="purple", label="withdrawn / lost"),
        ],
        fontsize=7,
        loc="lower right",
    )
    return Section("swimmer", "Swimmer plot", [note], [], [("Swimmer plot", fig)])


# --- output ---------------------------------------------------------------------------------------

_CSS = """
body{font-family:Helvetica,Arial,sans-serif;margin:2em auto;max-width:1100px;color:#222;
line-height:1.4}
h1{border-bottom:2px solid #444}h2{border-bottom:1px solid #bbb;margin-top:2em}
table{border-collapse:collapse;margin:1em 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#f0f0f0}
td.num{text-align:right}caption{font-weight:bold;text-align:left;padding:4px 0}
p.note{font-size:13px;color:#333;margin-top:-0.6em}figure{margin:1em 0}
figcaption{font-size:13px;color:#555}img{max-width:100%}
nav a{margin-right:1em}code{font-size:12px}
"""


def _html(sections: list[Section]) -> str:
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        "<title>rfatrial study report</title>",
        f"<style>{_CSS}</style></head><body>",
        "<nav>"
        + "".join(f"<a href='#{s.anchor}'>{html.escape(s.title)}</a>" for s in sections)
        + "</nav>",
    ]
    for k, s in enumerate(sections):
        tag = "h1" if k == 0 else "h2"
        parts.append(f"<section id='{s.anchor}'><{tag}>{html.escape(s.title)}</{tag}>")
        parts += [f"<p>{html.escape(p)}</p>" for p in s.paragraphs]
        for t in s.tables:
            parts.append(f"<table><caption>{html.escape(t.title)}</caption>")
            if any(h for h in t.header):
                parts.append(
                    "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in t.header) + "</tr>"
                )
            for row in t.rows:
                parts.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
            parts.append("</table>")
            if t.note:
                parts.append(f"<p class='note'>{html.escape(t.note)}</p>")
        for caption, fig in s.figures:
            parts.append(
                f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,"
                f"{_png(fig)}'><figcaption>{html.escape(caption)}</figcaption></figure>"
            )
        parts.append("</section>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _wrap_rows(t: Table, width: int) -> list[str]:
    cols = len(t.header)
    cells = [t.header, *t.rows] if any(t.header) else list(t.rows)
    widths = [min(max(len(r[j]) for r in cells if j < len(r)), width) for j in range(cols)]
    lines = []
    for k, r in enumerate(cells):
        lines.append("  ".join(c[:w].ljust(w) for c, w in zip(r, widths, strict=False)))
        if k == 0 and any(t.header):
            lines.append("-" * min(150, sum(widths) + 2 * cols))
    return lines


def _core_fonts(text: str) -> bool:
    """Whether the PDF's standard fonts (Helvetica, Courier: Windows-1252) can show ``text``."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def _pdf(sections: list[Section], path: Path, data_hash: str) -> int:
    import textwrap

    import matplotlib
    from matplotlib.backends.backend_pdf import PdfPages

    pages = 0
    with PdfPages(
        path, metadata={"Title": "rfatrial study report", "Subject": f"data snapshot {data_hash}"}
    ) as pdf:

        def text_page(title: str, lines: list[str]) -> None:
            """Pages of text in the PDF's standard fonts, which need neither glyph rendering
            nor embedding (ten times faster than embedded DejaVu); a page with a character
            they lack (outside Windows-1252) keeps the embedded fonts."""
            nonlocal pages
            per_page = 62
            for start in range(0, max(1, len(lines)), per_page):
                body = "\n".join(lines[start : start + per_page])
                core = _core_fonts(title + body)
                fig = _figure(11.69, 8.27)  # A4 landscape
                fig.text(0.04, 0.96, title, fontsize=12, weight="bold", va="top")
                fig.text(
                    0.04,
                    0.92,
                    body,
                    fontsize=6.5,
                    family="monospace",
                    weight="medium" if core else "normal",  # Courier's only upright weight
                    # Courier's ascent and descent are smaller: the same line pitch as DejaVu
                    linespacing=1.53 if core else 1.2,
                    va="top",
                )
                with matplotlib.rc_context({"pdf.use14corefonts": core}):
                    pdf.savefig(fig)
                pages += 1

        for s in sections:
            lines: list[str] = []
            for p in s.paragraphs:
                lines += [*textwrap.wrap(p, 190), ""]
            for t in s.tables:
                lines += [t.title.upper(), *_wrap_rows(t, 60)]
                if t.note:
                    lines += textwrap.wrap(t.note, 190)
                lines.append("")
            if lines:
                text_page(s.title, lines)
            for _caption, fig in s.figures:
                pdf.savefig(fig)
                pages += 1
    return pages
