"""The pre-RFA lab gate: each criterion of the protocol checked against one lab panel.

A criterion compares a lab value with a fixed threshold (converted to the criterion's unit) or with
a multiple of the upper limit of normal reported with the value (the site's normal range), or
requires a derived score (Child-Pugh class) in an allowed set. A value that is absent, or a ULN that
was not reported, makes the criterion ``missing``: the gate cannot pass on a guess.

The decision for the patient (proceed, postpone, withdrawal proposed) also depends on earlier
failed gates and is made by the pathway engine; this module judges one panel.

Examples
--------
>>> from rfatrial.kernel.history import LabPanel
>>> from rfatrial.kernel.protocol import ThresholdCriterion
>>> panel = LabPanel.model_validate({"date": "2026-03-02", "results": [
...     {"analyte": "platelets", "value": 42, "unit": "10^9/L"}]})
>>> rule = ThresholdCriterion(analyte="platelets", op=">=", value=50, unit="10^9/L")
>>> result = check_panel(panel, [rule])
>>> result.passed, result.failed[0].key, result.failed[0].value
(False, 'platelets', 42.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Literal

from rfatrial.kernel.albi import albi
from rfatrial.kernel.child_pugh import child_pugh
from rfatrial.kernel.history import LabPanel
from rfatrial.kernel.protocol import GateCriterion, ScoreCriterion, ThresholdCriterion
from rfatrial.kernel.units import convert, exact_decimal

__all__ = ["CriterionResult", "PanelResult", "check_panel"]

Status = Literal["pass", "fail", "missing"]


@dataclass(frozen=True, slots=True)
class CriterionResult:
    """One criterion on one panel: its value, the threshold it was held to, and the verdict."""

    key: str
    status: Status
    value: float | str | None
    unit: str | None
    threshold: str


@dataclass(frozen=True, slots=True)
class PanelResult:
    """All criteria on one panel; ``passed`` only when every criterion passed."""

    panel_date: date
    criteria: tuple[CriterionResult, ...]

    @property
    def passed(self) -> bool:
        return all(c.status == "pass" for c in self.criteria)

    @property
    def failed(self) -> tuple[CriterionResult, ...]:
        return tuple(c for c in self.criteria if c.status != "pass")


def _compare(value: float, op: str, limit: float) -> bool:
    # Floats decide unless the two sides are within rounding of each other; then the exact
    # decimals do, so that a value exactly at a cut-off is judged as the protocol states it.
    if abs(value - limit) <= 1e-9 * max(abs(limit), 1.0):
        exact_value, exact_limit = exact_decimal("value", value), exact_decimal("limit", limit)
        return exact_value >= exact_limit if op == ">=" else exact_value <= exact_limit
    return value >= limit if op == ">=" else value <= limit


def _compare_uln(value: float, op: str, multiple: float, uln: float) -> bool:
    limit = multiple * uln
    if abs(value - limit) <= 1e-9 * max(abs(limit), 1.0):
        exact_value = exact_decimal("value", value)
        exact_limit = exact_decimal("multiple", multiple) * exact_decimal("uln", uln)
        return exact_value >= exact_limit if op == ">=" else exact_value <= exact_limit
    return value >= limit if op == ">=" else value <= limit


@lru_cache(maxsize=65536)
def _child_pugh_class(
    bili: float, bili_unit: str, alb: float, alb_unit: str, inr: float, asc: str, enc: str
) -> str:
    return child_pugh(bili, bili_unit, alb, alb_unit, inr, asc, enc).klass  # type: ignore[arg-type]


def _threshold(panel: LabPanel, rule: ThresholdCriterion) -> CriterionResult:
    sign = "≥" if rule.op == ">=" else "≤"
    result = panel.result(rule.analyte)
    if rule.uln_multiple is not None:
        text = f"{sign} {rule.uln_multiple:g} × ULN"
        if result is None:
            return CriterionResult(rule.key, "missing", None, None, text)
        if result.uln is None:
            return CriterionResult(
                rule.key, "missing", result.value, result.unit, text + " (no ULN)"
            )
        limit = rule.uln_multiple * result.uln
        ok = _compare_uln(result.value, rule.op, rule.uln_multiple, result.uln)
        status: Status = "pass" if ok else "fail"
        return CriterionResult(
            rule.key, status, result.value, result.unit, f"{text} (= {limit:g} {result.unit})"
        )
    assert rule.value is not None and rule.unit is not None  # guaranteed by the protocol model
    text = f"{sign} {rule.value:g} {rule.unit}"
    if result is None:
        return CriterionResult(rule.key, "missing", None, None, text)
    same = result.unit == rule.unit
    value = result.value if same else convert(rule.analyte, result.value, result.unit, rule.unit)
    status = "pass" if _compare(value, rule.op, rule.value) else "fail"
    return CriterionResult(rule.key, status, round(value, 6), rule.unit, text)


def _score(panel: LabPanel, rule: ScoreCriterion) -> CriterionResult:
    text = "in " + ", ".join(rule.allowed)
    if rule.score == "child_pugh_class":
        bili, alb, inr = panel.result("bilirubin"), panel.result("albumin"), panel.result("inr")
        if None in (bili, alb, inr) or panel.ascites is None or panel.encephalopathy is None:
            return CriterionResult(rule.key, "missing", None, None, text)
        assert bili is not None and alb is not None and inr is not None
        value: str = _child_pugh_class(
            bili.value,
            bili.unit,
            alb.value,
            alb.unit,
            inr.value if inr.unit == "ratio" else convert("inr", inr.value, inr.unit, "ratio"),
            panel.ascites,
            panel.encephalopathy,
        )
    else:
        bili, alb = panel.result("bilirubin"), panel.result("albumin")
        if bili is None or alb is None:
            return CriterionResult(rule.key, "missing", None, None, text)
        value = str(albi(bili.value, bili.unit, alb.value, alb.unit).grade)
    status: Status = "pass" if value in rule.allowed else "fail"
    return CriterionResult(rule.key, status, value, None, text)


def check_panel(panel: LabPanel, criteria: Sequence[GateCriterion]) -> PanelResult:
    """Judge ``panel`` against each criterion, in the protocol's order."""
    results = tuple(
        _threshold(panel, c) if isinstance(c, ThresholdCriterion) else _score(panel, c)
        for c in criteria
    )
    return PanelResult(panel.date, results)
