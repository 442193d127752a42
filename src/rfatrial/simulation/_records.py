"""History records built from the simulator's own values, without validating each one.

The care team writes tens of records per simulated patient, and validating each of them (a lab
panel's every result is checked against its plausible range) cost more than the rest of the
record's life. The values the simulator puts in a record come from the patient model (a validated
file) and its own draws, so :func:`maker` builds the record as validation would (every field in
the model's order, defaults filled in, each field set as given) but without the checks.

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

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

__all__ = ["maker"]

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_set = object.__setattr__
_UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>"})()


def maker(cls: type[M]) -> Callable[..., M]:
    """A constructor of ``cls`` from keyword values, without validation.

    The constructor is generated for the model's fields (as :mod:`dataclasses` does): every
    field is a keyword argument, fields left out take their default (a fresh one from a default
    factory), and a missing required field or an unknown name is a :class:`TypeError`.
    """
    namespace: dict[str, Any] = {"_cls": cls, "_new": _new, "_set": _set, "_UNSET": _UNSET}
    params: list[str] = []
    body: list[str] = []
    given: list[str] = []
    for k, (name, info) in enumerate(cls.model_fields.items()):
        if not name.isidentifier() or name.startswith("_"):
            raise ValueError(f"{cls.__name__}: field {name!r} cannot be a keyword argument")
        if info.default_factory is not None:
            namespace[f"_factory_{k}"] = info.default_factory
            default = f"_factory_{k}()"
        elif info.default is PydanticUndefined:
            params.append(name)
            given.append(repr(name))
            continue
        else:
            namespace[f"_default_{k}"] = info.default
            default = f"_default_{k}"
        params.append(f"{name}=_UNSET")
        body.append(f"    if {name} is _UNSET:\n        {name} = {default}\n")
        body.append(f"    else:\n        given.add({name!r})\n")
    fields = ", ".join(f"{name!r}: {name}" for name in cls.model_fields)
    # the names come from the model's fields (identifiers, checked above), never from data
    source = (
        f"def make(*, {', '.join(params)}):\n"
        f"    given = {'{' + ', '.join(given) + '}' if given else 'set()'}\n"
        + "".join(body)
        + "    obj = _new(_cls)\n"
        f"    _set(obj, '__dict__', {{{fields}}})\n"
        "    _set(obj, '__pydantic_fields_set__', given)\n"
        "    _set(obj, '__pydantic_extra__', None)\n"
        "    _set(obj, '__pydantic_private__', None)\n"
        "    return obj\n"
    )
    exec(source, namespace)
    make: Callable[..., M] = namespace["make"]
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    return make
