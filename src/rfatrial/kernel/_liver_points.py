"""Child-Pugh points where floating point decides them: the engine's fast path (compiled).

:func:`rfatrial.kernel.child_pugh.child_pugh` is the calculator, with the point table and the
checks of its inputs. The lab gate judges a Child-Pugh class for nearly every panel, and nearly
every value is plausible and clear of every band edge: then floats give the same points as exact
decimals, and :func:`lab_points` gives them. At an edge, for an implausible value or an unknown
unit it gives 0, and the calculator's exact path decides (and says what is wrong).
"""

from __future__ import annotations

from typing import Final

__all__ = ["class_of", "lab_points"]


class _Bands:
    """The point bands of one analyte and its units, as plain numbers."""

    def __init__(self, analyte: str) -> None:
        from rfatrial.kernel.child_pugh import LAB_POINTS
        from rfatrial.kernel.units import ANALYTES

        spec, bands = ANALYTES[analyte], LAB_POINTS[analyte]
        self.factors: dict[str, float] = dict(spec.units)  # to the canonical unit
        self.low: float = spec.plausible_min
        self.high: float = spec.plausible_max
        self.to_bands: float = spec.units[bands.unit]
        self.limits: list[float] = [s.limit for s in bands.steps]
        self.below: list[bool] = [s.op == "<" for s in bands.steps]  # strictly below the limit
        self.points: list[int] = [s.points for s in bands.steps]
        self.otherwise: int = bands.otherwise

    def points_of(self, value: float, unit: str) -> int:
        factor = self.factors.get(unit)
        if factor is None:
            return 0
        in_canonical = value * factor
        # outside the plausible range (or not finite), the exact path raises the error
        if not self.low < in_canonical < self.high:
            return 0
        x = in_canonical / self.to_bands
        for limit in self.limits:
            if abs(x - limit) <= 1e-9 * limit:
                return 0
        for k, limit in enumerate(self.limits):
            if (x < limit) if self.below[k] else (x <= limit):
                return self.points[k]
        return self.otherwise


_TABLE: Final[dict[str, _Bands]] = {}


def lab_points(analyte: str, value: float, unit: str) -> int:
    """The points of ``value`` (in ``unit``) for ``analyte``; 0 when the exact path must decide."""
    bands = _TABLE.get(analyte)
    if bands is None:
        bands = _TABLE[analyte] = _Bands(analyte)
    return bands.points_of(value, unit)


def class_of(score: int, limits: tuple[tuple[int, str], ...]) -> str:
    """The class of a score from 5 to 15, given the highest score of each class."""
    for highest, klass in limits:
        if score <= highest:
            return klass
    raise AssertionError("unreachable: the class limits end at 15")  # pragma: no cover
