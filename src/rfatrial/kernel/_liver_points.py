"""Child-Pugh points where floating point decides them: the engine's fast path (compiled).

:func:`rfatrial.kernel.child_pugh.child_pugh` is the calculator, with the point table and the
checks of its inputs. The lab gate judges a Child-Pugh class for nearly every panel, and nearly
every value is plausible and clear of every band edge: then floats give the same points as exact
decimals, and :func:`lab_points` gives them. At an edge, for an implausible value or an unknown
unit it gives 0, and the calculator's exact path decides (and says what is wrong).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rfatrial.kernel.child_pugh import PointBands
    from rfatrial.kernel.units import AnalyteSpec

__all__ = ["class_of", "lab_points"]


def lab_points(value: float, unit: str, spec: AnalyteSpec, bands: PointBands) -> int:
    """The points of ``value`` (in ``unit``) in ``bands``; 0 when the exact path must decide."""
    units: Mapping[str, float] = spec.units
    factor = units.get(unit)
    to_bands = units.get(bands.unit)
    if factor is None or to_bands is None:
        return 0
    in_canonical = value * factor
    # outside the plausible range (or not finite), the exact path raises the error
    if not spec.plausible_min < in_canonical < spec.plausible_max:
        return 0
    x = in_canonical / to_bands
    for step in bands.steps:
        if abs(x - step.limit) <= 1e-9 * step.limit:
            return 0
    for step in bands.steps:
        if (x < step.limit) if step.op == "<" else (x <= step.limit):
            return step.points
    return bands.otherwise


def class_of(score: int, limits: tuple[tuple[int, str], ...]) -> str:
    """The class of a score from 5 to 15, given the highest score of each class."""
    for highest, klass in limits:
        if score <= highest:
            return klass
    raise AssertionError("unreachable: the class limits end at 15")  # pragma: no cover
