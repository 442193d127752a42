"""History records built from the simulator's own values, without validating each one.

The care team writes tens of records per simulated patient, and validating each of them (a lab
panel's every result is checked against its plausible range) cost more than the rest of the
record's life. The values the simulator puts in a record come from the patient model (a validated
file) and its own draws, so :func:`maker` builds the record as validation would (every field in
the record's order, defaults filled in) but without the checks.

The records are only as good as the code that fills them: the values must have the types that
validation would have given (a ``float`` for a float field, a ``list`` for a list), and the tests
(``tests/simulation/test_history_revalidated.py``) validate the simulated histories afresh, with
the same result and the same JSON.

Examples
--------
>>> from rfatrial.kernel.history import LabResult
>>> make = maker(LabResult)
>>> r = make(analyte="platelets", value=180.0, unit="10^9/L")
>>> r == LabResult(analyte="platelets", value=180.0, unit="10^9/L")
True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined

from rfatrial.kernel.history import Record

__all__ = ["changer", "maker"]

R = TypeVar("R", bound=Record)

_new = object.__new__
_UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>"})()


def _draft(cls: Any) -> type:
    """A class with the slots of the record class ``cls``, not frozen.

    A record is filled in as a draft (a slot is stored faster than through the frozen class's
    slot descriptors), then retyped to ``cls``: CPython allows ``__class__`` assignment between
    classes of the same base and slots, and what comes out is an ordinary record of ``cls``.
    """
    if list(cls.__slots__) != list(cls.model_fields):
        raise TypeError(f"{cls.__name__} is not a slotted record")
    return type(f"_{cls.__name__}Draft", cls.__bases__, {"__slots__": cls.__slots__})


def _names(cls: Any) -> list[str]:
    names = list(cls.model_fields)
    for name in names:
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"{cls.__name__}: field {name!r} cannot be a keyword argument")
    return names


def maker(cls: type[R]) -> Callable[..., R]:
    """A constructor of ``cls`` from keyword values, without validation.

    The constructor is generated for the record's fields (as :mod:`dataclasses` does): every
    field is a keyword argument, fields left out take their default (a fresh one from a default
    factory), and a missing required field or an unknown name is a :class:`TypeError`.
    """
    namespace: dict[str, Any] = {"_cls": cls, "_draft": _draft(cls), "_new": _new}
    namespace["_UNSET"] = _UNSET
    params: list[str] = []
    body: list[str] = []
    for k, name in enumerate(_names(cls)):
        info = cls.model_fields[name]
        if info.default_factory is not None:
            namespace[f"_factory_{k}"] = info.default_factory
            params.append(f"{name}=_UNSET")
            body.append(f"    obj.{name} = _factory_{k}() if {name} is _UNSET else {name}\n")
            continue
        if info.default is PydanticUndefined:
            params.append(name)
        else:
            namespace[f"_default_{k}"] = info.default
            params.append(f"{name}=_default_{k}")
        body.append(f"    obj.{name} = {name}\n")
    # the names come from the record's fields (identifiers, checked above), never from data
    source = (
        f"def make(*, {', '.join(params)}):\n"
        "    obj = _new(_draft)\n" + "".join(body) + "    obj.__class__ = _cls\n    return obj\n"
    )
    exec(source, namespace)
    make: Callable[..., R] = namespace["make"]
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    return make


def changer(cls: type[R], name: str) -> Callable[[R, Any], R]:
    """A copy of a record of ``cls`` with the field ``name`` set to another value: what
    ``record.model_copy(update={name: value})`` makes, without its costs.

    >>> from rfatrial.kernel.history import LabResult
    >>> r = maker(LabResult)(analyte="platelets", value=180.0, unit="10^9/L")
    >>> changer(LabResult, "value")(r, 90.0) == r.model_copy(update={"value": 90.0})
    True
    """
    names = _names(cls)
    if name not in names:
        raise ValueError(f"{cls.__name__} has no field {name!r}")
    lines = "".join(f"    obj.{n} = {'value' if n == name else f'record.{n}'}\n" for n in names)
    namespace: dict[str, Any] = {"_cls": cls, "_draft": _draft(cls), "_new": _new}
    source = (
        "def change(record, value):\n    obj = _new(_draft)\n"
        + lines
        + "    obj.__class__ = _cls\n    return obj\n"
    )
    exec(source, namespace)
    change: Callable[[R, Any], R] = namespace["change"]
    change.__name__ = change.__qualname__ = f"change_{cls.__name__}_{name}"
    return change
