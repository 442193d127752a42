"""CTCAE v5.0 grading of laboratory values, NCI CTCAE v5.0 (27 Nov 2017).

The grade definitions are data, in ``data/ctcae_v5.toml`` (read once with :mod:`tomllib` and
cached); this module interprets every term the same way and holds no per-term logic. The header of
the TOML file describes the format. In short, a term has criteria, each applying under a condition
(always; baseline normal; baseline abnormal; baseline given; on or off anticoagulation) and made of
steps ``value op threshold`` where the threshold is a multiple of ULN, LLN or baseline, or an
absolute value. A criterion gives the highest grade whose step holds; the term's grade is the
highest over the criteria that apply ("take the worse").

Terms (analyte keys of :mod:`rfatrial.kernel.units`): ``alt``, ``ast``, ``bilirubin``, ``alp``,
``ggt``, ``creatinine``, ``inr``, ``platelets``, ``neutrophils``, ``wbc``, ``lymphocytes``,
``hemoglobin`` (Anemia), ``albumin`` (Hypoalbuminemia).

Choices where the source leaves room:

- ``uln``, ``lln`` and ``baseline`` are in the unit of the value. The normal limit a term needs is
  required even when the value alone would decide the grade (a platelet count of 20 ×10⁹/L without
  its LLN is an error, not grade 4), so that a missing reference range is noticed.
- Abnormal baseline (ALT, AST, bilirubin, ALP, GGT): a baseline above ULN switches the grading to
  multiples of baseline (ALT/AST grade 1 is 1.5-3.0 × baseline, inclusive at 1.5; bilirubin
  > 1.0-1.5 × baseline; ALP/GGT 2.0-2.5 × baseline, inclusive at 2.0). A value above ULN but below
  the grade 1 multiple of an abnormal baseline is grade 0. No baseline given = normal baseline.
- Creatinine: grades 2 and 3 are also given by multiples of baseline when a baseline is given;
  the worse of the ULN-based and baseline-based grades is returned.
- INR: off anticoagulation the absolute cut-offs apply; on anticoagulation the multiples of
  baseline apply instead (a baseline is then required). INR has no grade 4.
- Anemia and hypoalbuminemia: grade 4 is clinical (life-threatening consequences), so a value
  gives at most grade 3. CTCAE states their cut-offs in several units (g/dL, g/L, mmol/L); a
  value is compared with the cut-off stated for its own unit (6.2 mmol/L is grade 1 although it
  converts to 9.99 g/dL), and a value in another accepted unit is converted to the canonical one.
- Values are compared as the exact decimals written (``0.9`` is not above ``3 × 0.3``).
- "Below LLN" terms grade a value by the table even if the local LLN is below a CTCAE cut-off
  (lymphocytes 0.75 ×10⁹/L with LLN 0.7 is grade 2), as the source and admiral do.

Examples
--------
>>> g = grade_lab("alt", 130, "U/L", uln=40)
>>> g.term, g.grade, g.rule
('Alanine aminotransferase increased', 2, '>3.0 - 5.0 x ULN')
>>> grade_lab("platelets", 49_000, "/mm3", lln=150_000).grade
3
"""

from __future__ import annotations

import functools
import itertools
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from importlib import resources
from types import MappingProxyType
from typing import Any, Final, Literal, cast

from rfatrial.kernel.units import (
    ClinicalValueError,
    canonical_unit,
    exact_decimal,
    normalize_analyte,
    normalize_unit,
    to_canonical_exact,
)

__all__ = [
    "CTCAE_VERSION",
    "CtcaeTable",
    "CtcaeTableError",
    "GradeCriterion",
    "GradeStep",
    "LabGrade",
    "TermDefinition",
    "ctcae_table",
    "grade_lab",
    "supported_terms",
]

CTCAE_VERSION: Final = "5.0"
"""The CTCAE version the bundled table encodes."""

Basis = Literal["uln", "lln", "baseline", "absolute"]
Op = Literal[">", ">=", "<", "<="]
When = Literal[
    "always",
    "baseline_normal",
    "baseline_abnormal",
    "baseline_given",
    "on_anticoagulation",
    "off_anticoagulation",
]
Direction = Literal["high", "low"]

_BASES: Final = ("uln", "lln", "baseline", "absolute")
_OPS: Final[Mapping[str, Direction]] = MappingProxyType(
    {">": "high", ">=": "high", "<": "low", "<=": "low"}
)
_WHENS: Final = (
    "always",
    "baseline_normal",
    "baseline_abnormal",
    "baseline_given",
    "on_anticoagulation",
    "off_anticoagulation",
)
_REFERENCE_NAMES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "uln": "upper limit of normal (uln)",
        "lln": "lower limit of normal (lln)",
        "baseline": "baseline",
    }
)


class CtcaeTableError(ValueError):
    """The CTCAE table file is malformed (a packaging or editing error, not a clinical input).

    Examples
    --------
    >>> try:
    ...     CtcaeTable.from_toml('version = "5.0"')
    ... except CtcaeTableError as exc:
    ...     print("citation" in str(exc))
    True
    """


@dataclass(frozen=True, slots=True)
class GradeStep:
    """One grade of one criterion: ``value op threshold`` gives at least ``grade``.

    ``factor`` is set for the bases ``uln``, ``lln`` and ``baseline``; ``limits`` (by unit) for
    ``absolute``.
    """

    grade: int
    op: Op
    basis: Basis
    factor: Fraction | None
    limits: Mapping[str, Fraction]
    rule: str


@dataclass(frozen=True, slots=True)
class GradeCriterion:
    """Steps that apply together under one condition."""

    when: When
    steps: tuple[GradeStep, ...]


@dataclass(frozen=True, slots=True)
class TermDefinition:
    """A CTCAE term graded from one analyte."""

    analyte: str
    name: str
    direction: Direction
    criteria: tuple[GradeCriterion, ...]


@dataclass(frozen=True, slots=True)
class LabGrade:
    """The CTCAE grade of one laboratory value.

    Attributes
    ----------
    term
        The CTCAE term, e.g. ``"Platelet count decreased"``.
    grade
        0 (no criterion met) to 4.
    rule
        The CTCAE wording of the criterion applied.
    baseline_abnormal
        Whether a baseline was given and is itself outside the normal range of the term.
    analyte
        The analyte key.
    version
        The CTCAE version.

    Examples
    --------
    >>> grade_lab("hemoglobin", 7.9, "g/dL", lln=12).rule
    '<8.0 g/dL; <4.9 mmol/L; <80 g/L'
    """

    term: str
    grade: int
    rule: str
    baseline_abnormal: bool
    analyte: str
    version: str


# ---------------------------------------------------------------------------------- parsing


def _require(mapping: Mapping[str, Any], key: str, kind: type, where: str) -> Any:
    if key not in mapping:
        raise CtcaeTableError(f"{where}: '{key}' is missing")
    value = mapping[key]
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise CtcaeTableError(f"{where}: '{key}' = {value!r} is not a {kind.__name__}")
    return value


def _positive(value: float, where: str) -> Fraction:
    try:
        exact = exact_decimal(where, value)
    except ClinicalValueError as exc:
        raise CtcaeTableError(str(exc)) from exc
    if exact <= 0:
        raise CtcaeTableError(f"{where}: {value!r} must be above 0")
    return exact


def _parse_step(analyte: str, direction: Direction, raw: object, where: str) -> GradeStep:
    if not isinstance(raw, dict):
        raise CtcaeTableError(f"{where}: a step must be a table")
    grade = _require(raw, "grade", int, where)
    if not 1 <= grade <= 4:
        raise CtcaeTableError(f"{where}: grade {grade} is not 1-4")
    op = _require(raw, "op", str, where)
    if op not in _OPS:
        raise CtcaeTableError(f"{where}: op {op!r} is not one of {', '.join(_OPS)}")
    if _OPS[op] != direction:
        raise CtcaeTableError(f"{where}: op {op!r} does not fit direction {direction!r}")
    basis = _require(raw, "basis", str, where)
    if basis not in _BASES:
        raise CtcaeTableError(f"{where}: basis {basis!r} is not one of {', '.join(_BASES)}")
    rule = _require(raw, "rule", str, where)
    if not rule.strip():
        raise CtcaeTableError(f"{where}: the rule text is empty")
    factor: Fraction | None = None
    limits: dict[str, Fraction] = {}
    if basis == "absolute":
        if "factor" in raw:
            raise CtcaeTableError(f"{where}: an absolute step takes 'limits', not 'factor'")
        raw_limits = _require(raw, "limits", dict, where)
        for unit, limit in raw_limits.items():
            try:
                spelled = normalize_unit(analyte, unit)
            except ClinicalValueError as exc:
                raise CtcaeTableError(f"{where}: {exc}") from exc
            if spelled != unit:
                raise CtcaeTableError(f"{where}: write unit {unit!r} as {spelled!r}")
            if isinstance(limit, bool) or not isinstance(limit, (int, float)):
                raise CtcaeTableError(f"{where}: limit {limit!r} is not a number")
            limits[unit] = _positive(limit, f"{where} limit {unit}")
        if canonical_unit(analyte) not in limits:
            raise CtcaeTableError(
                f"{where}: limits must include the canonical unit {canonical_unit(analyte)!r}"
            )
    else:
        if "limits" in raw:
            raise CtcaeTableError(f"{where}: a {basis} step takes 'factor', not 'limits'")
        factor = _positive(_require(raw, "factor", float, where), f"{where} factor")
    unknown = set(raw) - {"grade", "op", "basis", "factor", "limits", "rule"}
    if unknown:
        raise CtcaeTableError(f"{where}: unknown keys {sorted(unknown)}")
    return GradeStep(
        grade=grade,
        op=cast(Op, op),
        basis=cast(Basis, basis),
        factor=factor,
        limits=MappingProxyType(limits),
        rule=rule,
    )


def _step_key(step: GradeStep, analyte: str) -> Fraction:
    if step.factor is not None:
        return step.factor
    return step.limits[canonical_unit(analyte)]


def _parse_criterion(analyte: str, direction: Direction, raw: object, where: str) -> GradeCriterion:
    if not isinstance(raw, dict):
        raise CtcaeTableError(f"{where}: a criterion must be a table")
    when = _require(raw, "when", str, where)
    if when not in _WHENS:
        raise CtcaeTableError(f"{where}: when {when!r} is not one of {', '.join(_WHENS)}")
    raw_steps = _require(raw, "steps", list, where)
    if not raw_steps:
        raise CtcaeTableError(f"{where}: no steps")
    steps = tuple(
        _parse_step(analyte, direction, s, f"{where} step {i + 1}") for i, s in enumerate(raw_steps)
    )
    for before, after in itertools.pairwise(steps):
        if after.grade <= before.grade:
            raise CtcaeTableError(f"{where}: grades must increase from step to step")
        if after.basis == before.basis:
            rising = _step_key(after, analyte) > _step_key(before, analyte)
            if rising != (direction == "high"):
                raise CtcaeTableError(
                    f"{where}: the thresholds of grades {before.grade} and {after.grade} are not "
                    f"ordered for direction {direction!r}"
                )
    unknown = set(raw) - {"when", "steps"}
    if unknown:
        raise CtcaeTableError(f"{where}: unknown keys {sorted(unknown)}")
    return GradeCriterion(when=cast(When, when), steps=steps)


_SITUATIONS: Final = tuple(
    (state, anticoagulated)
    for state in ("none", "normal", "abnormal")
    for anticoagulated in (False, True)
)


def _applies(when: str, baseline_state: str, on_anticoagulation: bool) -> bool:
    return {
        "always": True,
        "baseline_normal": baseline_state != "abnormal",
        "baseline_abnormal": baseline_state == "abnormal",
        "baseline_given": baseline_state != "none",
        "on_anticoagulation": on_anticoagulation,
        "off_anticoagulation": not on_anticoagulation,
    }[when]


def _parse_term(key: str, raw: object) -> TermDefinition:
    where = f"terms.{key}"
    try:
        analyte = normalize_analyte(key)
    except ClinicalValueError as exc:
        raise CtcaeTableError(f"{where}: {exc}") from exc
    if analyte != key:
        raise CtcaeTableError(f"{where}: write the analyte key as {analyte!r}")
    if not isinstance(raw, dict):
        raise CtcaeTableError(f"{where}: a term must be a table")
    name = _require(raw, "name", str, where)
    direction = _require(raw, "direction", str, where)
    if direction not in ("high", "low"):
        raise CtcaeTableError(f"{where}: direction {direction!r} is not 'high' or 'low'")
    raw_criteria = _require(raw, "criteria", list, where)
    if not raw_criteria:
        raise CtcaeTableError(f"{where}: no criteria")
    criteria = tuple(
        _parse_criterion(key, cast(Direction, direction), c, f"{where}.criteria[{i}]")
        for i, c in enumerate(raw_criteria)
    )
    if any(step.basis == "baseline" for step in criteria[0].steps):
        raise CtcaeTableError(
            f"{where}: the first criterion defines the normal range and cannot use the baseline"
        )
    for state, anticoagulated in _SITUATIONS:
        if not any(_applies(c.when, state, anticoagulated) for c in criteria):
            raise CtcaeTableError(
                f"{where}: no criterion applies with baseline {state} and "
                f"on_anticoagulation={anticoagulated}"
            )
    unknown = set(raw) - {"name", "direction", "criteria"}
    if unknown:
        raise CtcaeTableError(f"{where}: unknown keys {sorted(unknown)}")
    return TermDefinition(
        analyte=key, name=name, direction=cast(Direction, direction), criteria=criteria
    )


# ---------------------------------------------------------------------------------- grading


@dataclass(frozen=True, slots=True)
class _Value:
    """A value in the unit it was reported in, and in the canonical unit, both exact."""

    own: Fraction
    canonical: Fraction


def _holds(left: Fraction, op: Op, right: Fraction) -> bool:
    if op == ">":
        return left > right
    if op == ">=":
        return left >= right
    if op == "<":
        return left < right
    return left <= right


@dataclass(frozen=True, slots=True)
class CtcaeTable:
    """A parsed CTCAE grading table.

    Examples
    --------
    >>> table = ctcae_table()
    >>> table.version, table.terms["inr"].name
    ('5.0', 'INR increased')
    """

    version: str
    citation: str
    terms: Mapping[str, TermDefinition]

    @classmethod
    def from_toml(cls, text: str) -> CtcaeTable:
        """Parse and validate a table in the format of ``data/ctcae_v5.toml``.

        Raises
        ------
        CtcaeTableError
            If the text is not valid TOML or breaks the table format.
        """
        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise CtcaeTableError(f"CTCAE table: invalid TOML: {exc}") from exc
        version = _require(doc, "version", str, "CTCAE table")
        citation = _require(doc, "citation", str, "CTCAE table")
        raw_terms = _require(doc, "terms", dict, "CTCAE table")
        unknown = set(doc) - {"version", "citation", "terms"}
        if unknown:
            raise CtcaeTableError(f"CTCAE table: unknown keys {sorted(unknown)}")
        terms = {key: _parse_term(key, raw) for key, raw in raw_terms.items()}
        return cls(version=version, citation=citation, terms=MappingProxyType(terms))

    def grade(
        self,
        term: str,
        value: float,
        unit: str,
        *,
        uln: float | None = None,
        lln: float | None = None,
        baseline: float | None = None,
        on_anticoagulation: bool = False,
    ) -> LabGrade:
        """Grade one value with this table (see :func:`grade_lab`)."""
        key = normalize_analyte(term)
        if key not in self.terms:
            known = ", ".join(sorted(self.terms))
            raise ClinicalValueError(f"term: {term!r} has no CTCAE grading (graded: {known})")
        definition = self.terms[key]
        spelled = normalize_unit(key, unit)
        canon_unit = canonical_unit(key)

        def read(field: str, raw: float) -> _Value:
            canonical = to_canonical_exact(key, raw, spelled)
            return _Value(own=exact_decimal(field, raw), canonical=canonical)

        current = read(key, value)
        references: dict[str, _Value | None] = {"uln": None, "lln": None, "baseline": None}
        for name, raw in (("uln", uln), ("lln", lln), ("baseline", baseline)):
            if raw is not None:
                references[name] = read(f"{key} {name}", raw)
        for name in ("uln", "lln"):
            ref = references[name]
            if ref is not None and ref.own <= 0:
                raise ClinicalValueError(
                    f"{key}: {name} {ref.own} {spelled} must be above 0 (a normal limit)"
                )
        low, high = references["lln"], references["uln"]
        if low is not None and high is not None and low.own >= high.own:
            raise ClinicalValueError(
                f"{key}: lln {float(low.own):g} must be below uln {float(high.own):g} {spelled}"
            )
        if not isinstance(on_anticoagulation, bool):
            raise ClinicalValueError(f"on_anticoagulation: {on_anticoagulation!r} is not a bool")

        def threshold_holds(step: GradeStep, x: _Value) -> bool:
            if step.basis == "absolute":
                if spelled in step.limits:
                    return _holds(x.own, step.op, step.limits[spelled])
                return _holds(x.canonical, step.op, step.limits[canon_unit])
            ref = references[step.basis]
            if ref is None:
                raise ClinicalValueError(
                    f"{key}: the {_REFERENCE_NAMES[step.basis]} is required to grade "
                    f"{definition.name!r} (criterion {step.rule!r})"
                )
            if step.basis == "baseline" and ref.own <= 0:
                raise ClinicalValueError(
                    f"{key}: baseline {float(ref.own):g} {spelled} must be above 0 to grade by "
                    f"multiples of baseline ({step.rule!r})"
                )
            assert step.factor is not None  # guaranteed by the parser
            return _holds(x.own, step.op, step.factor * ref.own)

        def evaluate(criterion: GradeCriterion, x: _Value) -> GradeStep | None:
            met: GradeStep | None = None
            for step in criterion.steps:
                if threshold_holds(step, x) and (met is None or step.grade > met.grade):
                    met = step
            return met

        base = references["baseline"]
        baseline_abnormal = base is not None and evaluate(definition.criteria[0], base) is not None
        state = "none" if base is None else "abnormal" if baseline_abnormal else "normal"
        applicable = [c for c in definition.criteria if _applies(c.when, state, on_anticoagulation)]
        best: GradeStep | None = None
        for criterion in applicable:
            met = evaluate(criterion, current)
            if met is not None and (best is None or met.grade > best.grade):
                best = met
        if best is None:
            rule = f"grade 0 (grade {applicable[0].steps[0].grade}: {applicable[0].steps[0].rule})"
            grade = 0
        else:
            rule, grade = best.rule, best.grade
        return LabGrade(
            term=definition.name,
            grade=grade,
            rule=rule,
            baseline_abnormal=baseline_abnormal,
            analyte=key,
            version=self.version,
        )


@functools.cache
def ctcae_table() -> CtcaeTable:
    """Return the bundled CTCAE v5.0 table (read once, then cached).

    Examples
    --------
    >>> ctcae_table() is ctcae_table()
    True
    """
    text = resources.files("rfatrial.kernel").joinpath("data", "ctcae_v5.toml").read_text("utf-8")
    table = CtcaeTable.from_toml(text)
    if table.version != CTCAE_VERSION:
        raise CtcaeTableError(f"bundled CTCAE table is v{table.version}, expected v{CTCAE_VERSION}")
    return table


def supported_terms() -> tuple[str, ...]:
    """Return the analyte keys :func:`grade_lab` can grade, in table order.

    Examples
    --------
    >>> "platelets" in supported_terms()
    True
    """
    return tuple(ctcae_table().terms)


def grade_lab(
    term: str,
    value: float,
    unit: str,
    *,
    uln: float | None = None,
    lln: float | None = None,
    baseline: float | None = None,
    on_anticoagulation: bool = False,
) -> LabGrade:
    """Grade a laboratory value by NCI CTCAE v5.0 (27 Nov 2017).

    Parameters
    ----------
    term
        Analyte key: ``"alt"``, ``"ast"``, ``"bilirubin"``, ``"alp"``, ``"ggt"``,
        ``"creatinine"``, ``"inr"``, ``"platelets"``, ``"neutrophils"``, ``"wbc"``,
        ``"lymphocytes"``, ``"hemoglobin"`` or ``"albumin"``.
    value, unit
        The value and its unit (any unit :mod:`rfatrial.kernel.units` accepts for the analyte).
    uln, lln
        Upper / lower limit of normal of the reporting laboratory, in ``unit``. Required by the
        terms graded against them.
    baseline
        The patient's baseline value, in ``unit``; decides abnormal-baseline grading (ALT, AST,
        bilirubin, ALP, GGT), the baseline multiples of creatinine, and INR on anticoagulation.
    on_anticoagulation
        INR only: grade by multiples of baseline instead of absolute values.

    Returns
    -------
    LabGrade

    Raises
    ------
    UnitError
        Unknown unit for the analyte.
    ClinicalValueError
        Unknown term; value, limit or baseline not finite or implausible; a normal limit or
        baseline that the applicable criterion needs is missing; ``lln`` not below ``uln``.

    Examples
    --------
    >>> grade_lab("bilirubin", 35, "µmol/L", uln=21, baseline=30).rule
    '>1.0 - 1.5 x baseline (abnormal baseline)'
    >>> grade_lab("inr", 2.6, "ratio").grade
    3
    >>> grade_lab("creatinine", 160, "µmol/L", uln=110, baseline=50).grade
    3
    """
    return ctcae_table().grade(
        term,
        value,
        unit,
        uln=uln,
        lln=lln,
        baseline=baseline,
        on_anticoagulation=on_anticoagulation,
    )
