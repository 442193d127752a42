"""Laboratory analytes, their units and exact conversions to one canonical unit per analyte.

Every clinical calculator of the kernel reads its inputs through this module, so that a value is
validated once, in one way: a unit that is not listed, an analyte that is not listed, a value that
is not a finite real number, or a value outside a generous plausible range is an error, never a
guess.

Units are matched exactly after removing all white space, then through a small explicit alias table
(``"umol/L"`` for ``"µmol/L"``, ``"G/L"`` for ``"10^9/L"`` ...). Analyte names are matched after
stripping and lower-casing (``"ALT"`` is ``"alt"``).

Conversion factors are defined as exact decimal fractions and applied to the decimal value the user
wrote (the shortest ``repr`` of the float), so that a conversion is rounded once: ``2 mg/dL`` of
bilirubin is exactly ``34.2 µmol/L`` (factor 17.1) and ``75000 /mm³`` is exactly ``75 ×10⁹/L``. This
matters at the cut-offs of CTCAE, Child-Pugh and the lab gate, which are stated in one unit and
compared with values reported in another.

Sources of the factors:

- bilirubin 17.1 µmol/L per mg/dL and albumin 10 g/L per g/dL (Johnson PJ et al., JCO
  2015;33:550-8);
- creatinine 88.4 µmol/L per mg/dL (Inker LA et al., NEJM 2021;385:1737-49);
- haemoglobin 1 g/dL = 0.6206 mmol/L (the factor behind the mmol/L column of NCI CTCAE v5.0
  (27 Nov 2017));
- cell counts 1 /mm³ = 1 /µL = 10⁻³ ×10⁹/L.

Examples
--------
>>> to_canonical("bilirubin", 2, "mg/dL")
34.2
>>> convert("platelets", 75, "10^9/L", "/mm3")
75000.0
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from types import MappingProxyType
from typing import Final

__all__ = [
    "ANALYTES",
    "AnalyteSpec",
    "ClinicalValueError",
    "UnitError",
    "canonical_unit",
    "check_value",
    "convert",
    "exact_decimal",
    "normalize_analyte",
    "normalize_unit",
    "spec",
    "to_canonical",
    "to_canonical_exact",
]


class ClinicalValueError(ValueError):
    """A clinical input breaks a rule: not finite, negative, implausible, missing or unknown.

    The message names the field or analyte, the value and the rule that was broken.

    Examples
    --------
    >>> try:
    ...     to_canonical("platelets", -1, "10^9/L")
    ... except ClinicalValueError as exc:
    ...     print(type(exc).__name__)
    ClinicalValueError
    """


class UnitError(ClinicalValueError):
    """A unit is not known for the analyte (never converted by guess).

    Examples
    --------
    >>> try:
    ...     to_canonical("albumin", 40, "mg/dL")
    ... except UnitError as exc:
    ...     print("albumin" in str(exc))
    True
    """


@dataclass(frozen=True, slots=True)
class AnalyteSpec:
    """One analyte: its canonical unit, the accepted units and the plausible range.

    Parameters
    ----------
    name
        The analyte key, e.g. ``"alt"``.
    canonical_unit
        The unit every value is converted to.
    units
        Accepted unit spellings mapped to the factor that converts a value in that unit to the
        canonical unit (``canonical = value × factor``).
    plausible_min, plausible_max
        Inclusive bounds, in the canonical unit, outside which a value is rejected as impossible.

    Examples
    --------
    >>> ANALYTES["albumin"].units["g/dL"]
    10.0
    """

    name: str
    canonical_unit: str
    units: Mapping[str, float]
    plausible_min: float
    plausible_max: float


# Exact factors to the canonical unit; the first unit of each analyte is the canonical one.
_U_PER_L: Final = {"U/L": Fraction(1), "IU/L": Fraction(1)}
_CELLS: Final = {
    "10^9/L": Fraction(1),
    "/mm³": Fraction(1, 1000),
    "/mm3": Fraction(1, 1000),
    "/µL": Fraction(1, 1000),
    "cells/uL": Fraction(1, 1000),
}

_TABLE: Final[dict[str, tuple[dict[str, Fraction], Fraction, Fraction]]] = {
    "alt": (_U_PER_L, Fraction(0), Fraction(100_000)),
    "ast": (_U_PER_L, Fraction(0), Fraction(100_000)),
    "alp": (_U_PER_L, Fraction(0), Fraction(100_000)),
    "ggt": (_U_PER_L, Fraction(0), Fraction(100_000)),
    "bilirubin": (
        {"µmol/L": Fraction(1), "mg/dL": Fraction("17.1")},
        Fraction(0),
        Fraction(1500),
    ),
    "albumin": ({"g/L": Fraction(1), "g/dL": Fraction(10)}, Fraction(0), Fraction(80)),
    "creatinine": (
        {"µmol/L": Fraction(1), "mg/dL": Fraction("88.4")},
        Fraction(0),
        Fraction(3000),
    ),
    "platelets": (_CELLS, Fraction(0), Fraction(5000)),
    "neutrophils": (_CELLS, Fraction(0), Fraction(1000)),
    "wbc": (_CELLS, Fraction(0), Fraction(1000)),
    "lymphocytes": (_CELLS, Fraction(0), Fraction(1000)),
    "hemoglobin": (
        # 1 g/dL = 0.6206 mmol/L, so 1 mmol/L = 1 / 0.6206 g/dL.
        {"g/dL": Fraction(1), "g/L": Fraction(1, 10), "mmol/L": 1 / Fraction("0.6206")},
        Fraction(0),
        Fraction(30),
    ),
    "inr": (
        {"ratio": Fraction(1), "": Fraction(1), "1": Fraction(1)},
        Fraction("0.5"),
        Fraction(20),
    ),
    "cea": ({"ng/mL": Fraction(1), "µg/L": Fraction(1)}, Fraction(0), Fraction(1_000_000)),
    "ca19_9": ({"U/mL": Fraction(1), "kU/L": Fraction(1)}, Fraction(0), Fraction(10_000_000)),
}

# Alternative spellings (after white space removal) mapped to the spelling used in ``_TABLE``.
_ALIASES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # micro: Greek mu (U+03BC) and ASCII "u" for the micro sign (U+00B5)
        "umol/L": "µmol/L",
        "μmol/L": "µmol/L",
        "µmol/l": "µmol/L",
        "umol/l": "µmol/L",
        "μmol/l": "µmol/L",
        "ug/L": "µg/L",
        "μg/L": "µg/L",
        "/uL": "/µL",
        "/μL": "/µL",
        "cells/µL": "cells/uL",
        "cells/μL": "cells/uL",
        "/mm^3": "/mm³",
        # lower-case litre
        "mg/dl": "mg/dL",
        "g/dl": "g/dL",
        "g/l": "g/L",
        "mmol/l": "mmol/L",
        "U/l": "U/L",
        "IU/l": "IU/L",
        "ng/ml": "ng/mL",
        "U/ml": "U/mL",
        "kU/l": "kU/L",
        # ×10⁹/L spellings
        "10*9/L": "10^9/L",
        "x10^9/L": "10^9/L",
        "×10^9/L": "10^9/L",
        "G/L": "10^9/L",
        "10⁹/L": "10^9/L",
        "x10⁹/L": "10^9/L",
        "×10⁹/L": "10^9/L",
        "10^9/l": "10^9/L",
    }
)


def _make_spec(name: str, row: tuple[dict[str, Fraction], Fraction, Fraction]) -> AnalyteSpec:
    units, low, high = row
    return AnalyteSpec(
        name=name,
        canonical_unit=next(iter(units)),
        units=MappingProxyType({unit: float(factor) for unit, factor in units.items()}),
        plausible_min=float(low),
        plausible_max=float(high),
    )


ANALYTES: Final[Mapping[str, AnalyteSpec]] = MappingProxyType(
    {name: _make_spec(name, row) for name, row in _TABLE.items()}
)
"""Every analyte the kernel knows, by key (read-only)."""


_EXACT_INT: Final = float(2**53)


def exact_decimal(field: str, value: float) -> Fraction:
    """Return ``value`` as the exact decimal it was written as, after checking it is finite.

    The float is read through its shortest ``repr``, so ``0.3`` becomes exactly ``3/10``: a
    comparison such as ``0.9 > 3 × 0.3`` then has the answer a clinician expects (``False``).

    Parameters
    ----------
    field
        Name used in the error message.
    value
        An ``int`` or ``float``; ``bool``, NaN and infinities are rejected.

    Returns
    -------
    Fraction
        The exact rational value of the decimal.

    Raises
    ------
    ClinicalValueError
        If ``value`` is not a finite real number.

    Examples
    --------
    >>> exact_decimal("ULN", 0.3) * 3 == exact_decimal("value", 0.9)
    True
    """
    kind = type(value)
    if kind is float:
        # integral below 2**53: the shortest repr is the integer itself (NaN and ±inf fail both)
        if -_EXACT_INT < value < _EXACT_INT and value.is_integer():
            return Fraction(int(value))
        if math.isfinite(value):
            return _float_decimal(value)
    elif kind is int:
        return Fraction(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ClinicalValueError(f"{field}: {value!r} is not a number (a finite real is required)")
    if isinstance(value, int):
        return Fraction(int(value))
    if not math.isfinite(value):
        raise ClinicalValueError(f"{field}: {value!r} is not finite (a finite real is required)")
    # repr of the plain float: subclasses (numpy.float64) may wrap it in their type name
    return _float_decimal(float(value))


@lru_cache(maxsize=65536)
def _float_decimal(value: float) -> Fraction:
    """The exact decimal of the shortest ``repr`` of a finite plain float (cached)."""
    text = repr(value)
    if "e" in text:
        return Fraction(text)
    whole, _, decimals = text.partition(".")
    return Fraction(int(whole + decimals), 10 ** len(decimals))


def normalize_analyte(analyte: str) -> str:
    """Return the analyte key for ``analyte`` (stripped, lower-cased), or raise.

    Examples
    --------
    >>> normalize_analyte(" ALT ")
    'alt'
    """
    if type(analyte) is str and analyte in _TABLE:
        return analyte
    if not isinstance(analyte, str):
        raise ClinicalValueError(f"analyte: {analyte!r} is not a string")
    key = analyte.strip().lower()
    if key not in _TABLE:
        known = ", ".join(sorted(_TABLE))
        raise ClinicalValueError(f"analyte: {analyte!r} is not a known analyte (known: {known})")
    return key


def spec(analyte: str) -> AnalyteSpec:
    """Return the :class:`AnalyteSpec` of ``analyte``.

    Examples
    --------
    >>> spec("creatinine").canonical_unit
    'µmol/L'
    """
    return ANALYTES[normalize_analyte(analyte)]


def normalize_unit(analyte: str, unit: str) -> str:
    """Return the spelling of ``unit`` used in ``ANALYTES[analyte].units``.

    White space is removed, then the alias table is consulted; the result must be a unit of the
    analyte.

    Raises
    ------
    UnitError
        If the unit is not a unit of the analyte.

    Examples
    --------
    >>> normalize_unit("bilirubin", "umol / L")
    'µmol/L'
    >>> normalize_unit("platelets", "G/L")
    '10^9/L'
    """
    if type(analyte) is str and type(unit) is str:
        return _resolve(analyte, unit)[1]
    return _normalize_unit(analyte, unit)


def _normalize_unit(analyte: str, unit: str) -> str:
    key = normalize_analyte(analyte)
    if not isinstance(unit, str):
        raise UnitError(f"{key}: unit {unit!r} is not a string")
    compact = "".join(unit.split())
    spelled = _ALIASES.get(compact, compact)
    if spelled not in _TABLE[key][0]:
        accepted = ", ".join(repr(u) for u in _TABLE[key][0])
        raise UnitError(f"{key}: unit {unit!r} is not an accepted unit (accepted: {accepted})")
    return spelled


_Resolved = tuple[str, str, Fraction, Fraction, Fraction]


def _resolve_uncached(analyte: str, unit: str) -> _Resolved:
    """The analyte key, unit spelling, factor to the canonical unit and plausible range.

    Errors are raised as by :func:`normalize_analyte` and :func:`normalize_unit`.
    """
    key = normalize_analyte(analyte)
    spelled = _normalize_unit(key, unit)
    units, low, high = _TABLE[key]
    return key, spelled, units[spelled], low, high


# Keyed on the raw spellings (plain ``str`` only); errors are raised each time, never cached.
_resolve = lru_cache(maxsize=1024)(_resolve_uncached)


def _lookup(analyte: str, unit: str) -> _Resolved:
    if type(analyte) is str and type(unit) is str:
        return _resolve(analyte, unit)
    return _resolve_uncached(analyte, unit)


def canonical_unit(analyte: str) -> str:
    """Return the canonical unit of ``analyte``.

    Examples
    --------
    >>> canonical_unit("hemoglobin")
    'g/dL'
    """
    return spec(analyte).canonical_unit


def to_canonical_exact(analyte: str, value: float, unit: str) -> Fraction:
    """Convert ``value`` to the canonical unit exactly and check it is plausible.

    Parameters
    ----------
    analyte
        Analyte key (see :data:`ANALYTES`).
    value
        The reported value.
    unit
        The unit of ``value``.

    Returns
    -------
    Fraction
        The exact value in the canonical unit.

    Raises
    ------
    UnitError
        Unknown unit for this analyte.
    ClinicalValueError
        Unknown analyte; value not finite; value outside the plausible range.

    Examples
    --------
    >>> to_canonical_exact("platelets", 75000, "/mm3")
    Fraction(75, 1)
    """
    key, spelled, factor, low, high = _lookup(analyte, unit)
    exact = exact_decimal(key, value)
    if factor != 1:
        exact *= factor
    if exact < low or exact > high:
        canon = next(iter(_TABLE[key][0]))
        raise ClinicalValueError(
            f"{key}: {value!r} {spelled} ({_shown(exact)} {canon}) is outside the plausible range "
            f"{float(low):g}-{float(high):g} {canon}"
        )
    return exact


def _shown(exact: Fraction) -> str:
    # a value near the largest float, times a unit's factor, is beyond a float
    try:
        return f"{float(exact):g}"
    except OverflowError:
        return f"{Decimal(exact.numerator) / Decimal(exact.denominator):.6g}"


@lru_cache(maxsize=1024)
def _float_bounds(analyte: str, unit: str) -> tuple[float, float, float]:
    _, _, factor, low, high = _lookup(analyte, unit)
    return float(factor), float(low), float(high)


def check_value(analyte: str, value: float, unit: str) -> None:
    """Raise exactly as :func:`to_canonical` would; cheap when the value is clear of the bounds.

    For validating records: a value well inside the plausible range needs no exact arithmetic.

    Examples
    --------
    >>> check_value("platelets", 180, "10^9/L")
    >>> try:
    ...     check_value("platelets", 180, "furlongs")
    ... except UnitError as exc:
    ...     print(str(exc)[:45])
    platelets: unit 'furlongs' is not an accepted
    """
    if type(analyte) is str and type(unit) is str and type(value) in (int, float):
        clear = _CLEAR.get((analyte, unit))
        if clear is None:
            clear = _CLEAR[(analyte, unit)] = _clear_range(analyte, unit)
        factor, low, high = clear
        # NaN and infinities fail both comparisons and take the exact path, which names them
        if low < value * factor < high:
            return
    to_canonical_exact(analyte, value, unit)


# (factor, low, high) by (analyte, unit): the plausible range in canonical units, narrowed by a
# margin so that a float strictly inside it is inside the exact range too. Known pairs only.
_CLEAR: dict[tuple[str, str], tuple[float, float, float]] = {}


def _clear_range(analyte: str, unit: str) -> tuple[float, float, float]:
    factor, low, high = _float_bounds(analyte, unit)
    margin = 1e-9 * max(1.0, abs(low), abs(high))
    return factor, low + margin, high - margin


def to_canonical(analyte: str, value: float, unit: str) -> float:
    """Convert ``value`` in ``unit`` to the canonical unit of ``analyte``.

    Parameters
    ----------
    analyte
        Analyte key, e.g. ``"creatinine"``.
    value
        The reported value.
    unit
        The unit of ``value``, e.g. ``"mg/dL"``.

    Returns
    -------
    float
        The value in :func:`canonical_unit` ``(analyte)``, rounded once.

    Raises
    ------
    UnitError
        Unknown unit for this analyte.
    ClinicalValueError
        Unknown analyte; value not finite; value outside the plausible range.

    Examples
    --------
    >>> to_canonical("creatinine", 1.0, "mg/dL")
    88.4
    >>> to_canonical("albumin", 3.5, "g/dL")
    35.0
    """
    return float(to_canonical_exact(analyte, value, unit))


def convert(analyte: str, value: float, from_unit: str, to_unit: str) -> float:
    """Convert ``value`` of ``analyte`` from ``from_unit`` to ``to_unit``.

    The value is validated (finite, plausible) on the way through the canonical unit.

    Raises
    ------
    UnitError
        Either unit is unknown for this analyte.
    ClinicalValueError
        Unknown analyte; value not finite; value outside the plausible range.

    Examples
    --------
    >>> convert("hemoglobin", 10, "g/dL", "g/L")
    100.0
    >>> round(convert("hemoglobin", 10, "g/dL", "mmol/L"), 3)
    6.206
    """
    key = normalize_analyte(analyte)
    canonical = to_canonical_exact(key, value, from_unit)
    factor = _lookup(key, to_unit)[2]
    return float(canonical if factor == 1 else canonical / factor)
