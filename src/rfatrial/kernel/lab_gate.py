"""The pre-RFA lab gate: each criterion of the protocol checked against one lab panel.

A criterion compares a lab value with a fixed threshold (converted to the criterion's unit) or with
a multiple of the upper limit of normal reported with the value (the site's normal range), or
requires a derived score (Child-Pugh class) in an allowed set. A value that is absent, or a ULN that
was not reported, makes the criterion ``missing``: the gate cannot pass on a guess.

The decision for the patient (proceed, postpone, withdrawal proposed) also depends on earlier
failed gates and is made by the pathway engine; this module judges one panel.

Examples
--------
>>> from rfatrial.kernel.history import LabPanel, LabResult
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
from typing import Final, Literal, cast

from rfatrial.kernel._liver_points import class_of, lab_points
from rfatrial.kernel.albi import albi
from rfatrial.kernel.child_pugh import (
    ASCITES_POINTS,
    CLASS_LIMITS,
    ENCEPHALOPATHY_POINTS,
    child_pugh,
)
from rfatrial.kernel.history import LabPanel, LabResult
from rfatrial.kernel.protocol import GateCriterion, ScoreCriterion, ThresholdCriterion
from rfatrial.kernel.units import convert, exact_decimal

__all__ = ["CriterionResult", "PanelResult", "check_panel", "panel_passes", "results_pass"]

Status = Literal["pass", "fail", "missing"]


# Each result writes out its __init__, so that mypyc compiles a native constructor (make kernel).


@dataclass(frozen=True, slots=True, init=False)
class CriterionResult:
    """One criterion on one panel: its value, the threshold it was held to, and the verdict."""

    key: str
    status: Status
    value: float | str | None
    unit: str | None
    threshold: str

    def __init__(
        self, key: str, status: Status, value: float | str | None, unit: str | None, threshold: str
    ) -> None:
        object.__setattr__(self, "key", key)
        object.__setattr__(self, "status", status)
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "unit", unit)
        object.__setattr__(self, "threshold", threshold)


@dataclass(frozen=True, slots=True, init=False)
class PanelResult:
    """All criteria on one panel; ``passed`` only when every criterion passed."""

    panel_date: date
    criteria: tuple[CriterionResult, ...]

    def __init__(self, panel_date: date, criteria: tuple[CriterionResult, ...]) -> None:
        object.__setattr__(self, "panel_date", panel_date)
        object.__setattr__(self, "criteria", criteria)

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


def _fast_child_pugh_class(
    bili: LabResult, alb: LabResult, inr: float, ascites: str, encephalopathy: str
) -> str:
    """The Child-Pugh class where floats decide each point (nearly always); "" where they do
    not, and :func:`child_pugh` must."""
    b = lab_points("bilirubin", bili.value, bili.unit)
    a = lab_points("albumin", alb.value, alb.unit)
    i = lab_points("inr", inr, "ratio")
    if not (b and a and i):
        return ""
    score = b + a + i + ASCITES_POINTS[ascites] + ENCEPHALOPATHY_POINTS[encephalopathy]
    return class_of(score, CLASS_LIMITS)


_Results = dict[str, LabResult]
# One judgement: status, the value compared (in the criterion's unit), its unit, the limit.
_Judgement = tuple[Status, float | str | None, str | None, float | None]


def _threshold(by: _Results, rule: ThresholdCriterion) -> _Judgement:
    result = by.get(rule.analyte)
    if result is None:
        return "missing", None, None, None
    if rule.uln_multiple is not None:
        if result.uln is None:
            return "missing", result.value, result.unit, None
        ok = _compare_uln(result.value, rule.op, rule.uln_multiple, result.uln)
        return ("pass" if ok else "fail"), result.value, result.unit, rule.uln_multiple * result.uln
    assert rule.value is not None and rule.unit is not None  # guaranteed by the protocol model
    same = result.unit == rule.unit
    value = result.value if same else convert(rule.analyte, result.value, result.unit, rule.unit)
    ok = _compare(value, rule.op, rule.value)
    return ("pass" if ok else "fail"), round(value, 6), rule.unit, rule.value


def _score(by: _Results, panel: LabPanel, rule: ScoreCriterion) -> _Judgement:
    bili, alb = by.get("bilirubin"), by.get("albumin")
    if bili is None or alb is None:
        return "missing", None, None, None
    if rule.score == "child_pugh_class":
        inr = by.get("inr")
        if inr is None or panel.ascites is None or panel.encephalopathy is None:
            return "missing", None, None, None
        inr_ratio = (
            inr.value if inr.unit == "ratio" else convert("inr", inr.value, inr.unit, "ratio")
        )
        value = _fast_child_pugh_class(bili, alb, inr_ratio, panel.ascites, panel.encephalopathy)
        if not value:  # a value at a band edge: exact decimals decide
            value = _child_pugh_class(
                bili.value,
                bili.unit,
                alb.value,
                alb.unit,
                inr_ratio,
                panel.ascites,
                panel.encephalopathy,
            )
    else:
        value = str(albi(bili.value, bili.unit, alb.value, alb.unit).grade)
    return ("pass" if value in rule.allowed else "fail"), value, None, None


def _judge(by: _Results, panel: LabPanel, rule: GateCriterion) -> _Judgement:
    if isinstance(rule, ThresholdCriterion):
        return _threshold(by, rule)
    return _score(by, panel, rule)


def _text(rule: GateCriterion, judgement: _Judgement) -> str:
    if isinstance(rule, ScoreCriterion):
        return "in " + ", ".join(rule.allowed)
    sign = "≥" if rule.op == ">=" else "≤"
    if rule.uln_multiple is None:
        return f"{sign} {rule.value:g} {rule.unit}"
    text = f"{sign} {rule.uln_multiple:g} × ULN"
    _, value, unit, limit = judgement
    if limit is not None:
        return f"{text} (= {limit:g} {unit})"
    return text + (" (no ULN)" if value is not None else "")


# The criteria as plain tuples, built once per criteria list: the fast path of the engine reads
# these instead of the validated models. Keyed by identity, holding the list so the id stays its.
# (analyte or None for a score, at least?, value, unit, ULN multiple, the criterion)
_Plain = tuple[str | None, bool, float | None, str | None, float | None, GateCriterion]
_PLAIN: Final[dict[int, tuple[Sequence[GateCriterion], tuple[_Plain, ...]]]] = {}


def _plain(criteria: Sequence[GateCriterion]) -> tuple[_Plain, ...]:
    found = _PLAIN.get(id(criteria))
    if found is not None and found[0] is criteria:
        return found[1]
    plain = tuple(
        (c.analyte, c.op == ">=", c.value, c.unit, c.uln_multiple, c)
        if isinstance(c, ThresholdCriterion)
        else (None, False, None, None, None, c)
        for c in criteria
    )
    if len(_PLAIN) > 256:
        _PLAIN.clear()
    _PLAIN[id(criteria)] = (criteria, plain)
    return plain


def panel_passes(
    panel: LabPanel, criteria: Sequence[GateCriterion], *, missing_ok: bool = False
) -> bool:
    """Whether ``panel`` passes every criterion (stops at the first that does not).

    With ``missing_ok`` an absent value does not fail (pre-cycle labs check what was drawn).
    """
    return results_pass(
        {r.analyte: r for r in panel.results}, panel, criteria, missing_ok=missing_ok
    )


def results_pass(
    by: dict[str, LabResult],
    panel: LabPanel,
    criteria: Sequence[GateCriterion],
    *,
    missing_ok: bool = False,
) -> bool:
    """:func:`panel_passes` with the panel's results already keyed by analyte (``by``)."""
    for analyte, ge, value, unit, multiple, rule in _plain(criteria):
        if analyte is None:  # a derived score
            status = _score(by, panel, cast("ScoreCriterion", rule))[0]
            if status == "pass" or (missing_ok and status == "missing"):
                continue
            return False
        result = by.get(analyte)
        if result is None:
            if missing_ok:
                continue
            return False
        if multiple is not None:
            uln = result.uln
            if uln is None:
                if missing_ok:
                    continue
                return False
            x, limit = result.value, multiple * uln
        else:
            assert unit is not None and value is not None  # guaranteed by the protocol model
            x = (
                result.value
                if result.unit == unit
                else convert(analyte, result.value, result.unit, unit)
            )
            limit = value
        # clear of the cut-off, floats decide; at it, the exact comparison of _judge does
        if abs(x - limit) <= 1e-9 * max(abs(limit), 1.0):
            if _judge(by, panel, rule)[0] != "pass":
                return False
        elif (x < limit) if ge else (x > limit):
            return False
    return True


def check_panel(panel: LabPanel, criteria: Sequence[GateCriterion]) -> PanelResult:
    """Judge ``panel`` against each criterion, in the protocol's order."""
    by = {r.analyte: r for r in panel.results}
    results = []
    for c in criteria:
        judgement = _judge(by, panel, c)
        status, value, unit, _ = judgement
        results.append(CriterionResult(c.key, status, value, unit, _text(c, judgement)))
    return PanelResult(panel.date, tuple(results))
