"""Small inline SVG trend charts of lab values with the pre-RFA gate threshold drawn."""

from __future__ import annotations

from datetime import date
from html import escape

from django.utils.translation import gettext

from rfatrial.kernel.albi import albi
from rfatrial.kernel.egfr import egfr_ckd_epi_2021
from rfatrial.kernel.protocol import Protocol, ThresholdCriterion
from rfatrial.kernel.units import ClinicalValueError
from rfatrial.server.web.terms import term

__all__ = ["DERIVED", "TREND_ANALYTES", "age_on", "derived_values", "gate_limits", "sparkline"]

TREND_ANALYTES = ("alt", "ast", "bilirubin", "albumin", "platelets", "creatinine")
# Computed from a panel's values: eGFR (CKD-EPI 2021) from creatinine, ALBI from bilirubin and
# albumin (the kernel's calculators).
DERIVED = ("egfr", "albi")


def age_on(day: date, age_at_screening: int, screened: date | None) -> float:
    """The age in years on ``day`` (for eGFR, which falls with age), from the age recorded at
    screening; the age at screening itself when the screening date is not known."""
    if screened is None:
        return float(age_at_screening)
    return age_at_screening + (day - screened).days / 365.25


def derived_values(
    panel: dict[str, tuple[float, str]], *, age_years: float, sex: str
) -> dict[str, float]:
    """eGFR and ALBI score of one panel (``analyte: (value, unit)``), where its values allow.

    An implausible value or an unknown unit gives no estimate rather than a guess.
    """
    out: dict[str, float] = {}
    if "creatinine" in panel and sex in ("F", "M"):
        value, unit = panel["creatinine"]
        try:
            out["egfr"] = round(egfr_ckd_epi_2021(value, unit, age_years, sex), 1)  # type: ignore[arg-type]
        except ClinicalValueError:
            out.pop("egfr", None)
    if "bilirubin" in panel and "albumin" in panel:
        (bili, bili_unit), (alb, alb_unit) = panel["bilirubin"], panel["albumin"]
        try:
            out["albi"] = round(albi(bili, bili_unit, alb, alb_unit).score, 2)
        except ClinicalValueError:
            out.pop("albi", None)
    return out


# (operator, fixed limit, ULN multiple)
Limit = tuple[str, float | None, float | None]


def gate_limits(protocol: Protocol) -> dict[str, Limit]:
    """The gate's threshold of each analyte that has one."""
    out: dict[str, Limit] = {}
    for c in protocol.lab_gate.criteria:
        if isinstance(c, ThresholdCriterion):
            out[c.analyte] = (c.op, c.value, c.uln_multiple)
    return out


def sparkline(
    analyte: str,
    points: list[tuple[date, float, float | None]],
    limit: Limit | None,
    *,
    width: int = 220,
    height: int = 60,
) -> str:
    """An SVG line of ``(date, value, uln)`` points; the gate's limit as a dashed red line."""
    pad = 6
    values = [v for _, v, _ in points]
    line_at: float | None = None
    label = ""
    if limit is not None:
        op, fixed, multiple = limit
        sign = "≥" if op == ">=" else "≤"
        uln = next((u for _, _, u in reversed(points) if u is not None), None)
        if fixed is not None:
            line_at, label = fixed, gettext("gate %(limit)s") % {"limit": f"{sign} {fixed:g}"}
        elif multiple is not None and uln is not None:
            line_at = multiple * uln
            label = gettext("gate %(limit)s") % {"limit": f"{sign} {multiple:g}×ULN"}
    lo = min([*values, *([line_at] if line_at is not None else [])])
    hi = max([*values, *([line_at] if line_at is not None else [])])
    if hi == lo:
        hi, lo = hi + 1, lo - 1
    first, last = points[0][0].toordinal(), points[-1][0].toordinal()
    span = max(last - first, 1)

    def xy(d: date, v: float) -> tuple[float, float]:
        x = pad + (d.toordinal() - first) / span * (width - 2 * pad)
        if len(points) == 1:
            x = width / 2
        y = height - pad - (v - lo) / (hi - lo) * (height - 2 * pad)
        return round(x, 1), round(y, 1)

    coords = [xy(d, v) for d, v, _ in points]
    path = " ".join(f"{x},{y}" for x, y in coords)
    parts = [
        f'<svg class="spark" role="img" width="{width}" height="{height}"'
        f' viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        "<title>"
        + escape(
            gettext("%(analyte)s: %(n)d value(s), last %(last)s")
            % {"analyte": term(analyte), "n": len(points), "last": f"{values[-1]:g}"}
        )
        + (f" ({escape(label)})" if label else "")
        + "</title>",
    ]
    if line_at is not None:
        _, y = xy(points[0][0], line_at)
        parts.append(
            f'<line class="limit" x1="{pad}" x2="{width - pad}" y1="{y}" y2="{y}"'
            ' stroke="#c0392b" stroke-dasharray="4 3" stroke-width="1"/>'
        )
    parts.append(f'<polyline fill="none" stroke="#1f5f8b" stroke-width="1.6" points="{path}"/>')
    for x, y in coords:
        parts.append(f'<circle cx="{x}" cy="{y}" r="2" fill="#1f5f8b"/>')
    parts.append("</svg>")
    return "".join(parts)
