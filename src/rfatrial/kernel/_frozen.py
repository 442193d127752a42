"""Cheaper construction of frozen slotted dataclasses, for result records built on the hot path.

A frozen dataclass's ``__init__`` sets each field through ``object.__setattr__``, which costs
about five times a plain slotted ``__init__``. :func:`quick` gives a class with the same fields,
defaults and slots, not frozen, whose instances retype themselves to the frozen class once built
(CPython allows ``__class__`` assignment between classes of identical layout). What comes out is
an ordinary instance of the frozen class: same type, equality, hash, repr and immutability.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, field, fields, is_dataclass, make_dataclass
from typing import Any, TypeVar, cast

__all__ = ["quick"]

T = TypeVar("T")


def quick(cls: type[T]) -> type[T]:
    """A constructor of ``cls`` (a frozen, slotted dataclass) that builds it without the cost.

    Examples
    --------
    >>> from dataclasses import dataclass
    >>> @dataclass(frozen=True, slots=True)
    ... class Point:
    ...     x: int
    ...     y: int = 0
    >>> p = quick(Point)(1)
    >>> type(p) is Point, p == Point(1, 0)
    (True, True)
    """
    if hasattr(cls, "__mypyc_attrs__"):
        return cls  # compiled by mypyc (make kernel): its own constructor is the cheap one
    if not is_dataclass(cls) or not hasattr(cls, "__slots__"):
        raise TypeError(f"{cls!r} is not a slotted dataclass")
    specs: list[tuple[str, Any, Field[Any]] | tuple[str, Any]] = []
    for f in fields(cls):
        if f.default is not MISSING:
            specs.append((f.name, f.type, field(default=f.default)))
        elif f.default_factory is not MISSING:
            specs.append((f.name, f.type, field(default_factory=f.default_factory)))
        else:
            specs.append((f.name, f.type))

    def retype(self: Any) -> None:
        self.__class__ = cls

    twin = make_dataclass(
        f"_{cls.__name__}Draft",
        specs,
        namespace={"__post_init__": retype},
        slots=True,
        eq=False,
        repr=False,
        match_args=False,
    )
    return cast("type[T]", twin)
