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

__all__ = ["changer", "maker"]

M = TypeVar("M", bound=BaseModel)

_new = object.__new__
_UNSET: Any = type("_Unset", (), {"__repr__": lambda self: "<unset>"})()
# What a model instance holds (pydantic's slots), all set on each, by the name of their setter.
_SLOTS = {
    "__dict__": "_set_dict",
    "__pydantic_fields_set__": "_set_fields_set",
    "__pydantic_extra__": "_set_extra",
    "__pydantic_private__": "_set_private",
}


def _slot(cls: type, name: str) -> Any:
    """The descriptor of ``cls``'s slot ``name`` (what ``object.__setattr__`` would use)."""
    for klass in cls.__mro__:
        if name in vars(klass):
            return vars(klass)[name]
    raise TypeError(f"{cls.__name__} has no slot {name}")


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The setter of ``cls``'s slot ``name``, bound once (calling it costs less than going
    through ``object.__setattr__`` each time)."""
    setter: Callable[[Any, Any], None] = _slot(cls, name).__set__
    return setter


def maker(cls: type[M]) -> Callable[..., M]:
    """A constructor of ``cls`` from keyword values, without validation.

    The constructor is generated for the model's fields (as :mod:`dataclasses` does): every
    field is a keyword argument, fields left out take their default (a fresh one from a default
    factory), and a missing required field or an unknown name is a :class:`TypeError`.
    """
    namespace: dict[str, Any] = {"_cls": cls, "_new": _new, "_UNSET": _UNSET}
    for slot, setter in _SLOTS.items():
        namespace[setter] = _setter(cls, slot)
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
        # the fields given, in one set display (_UNSET stands for each field left out)
        given.append(f"{name!r} if {name} is not _UNSET else _UNSET")
        body.append(f"    if {name} is _UNSET:\n        {name} = {default}\n")
    fields = ", ".join(f"{name!r}: {name}" for name in cls.model_fields)
    # the names come from the model's fields (identifiers, checked above), never from data
    source = (
        f"def make(*, {', '.join(params)}):\n"
        f"    given = {'{' + ', '.join(given) + '}' if given else 'set()'}\n"
        + ("    given.discard(_UNSET)\n" if body else "")
        + "".join(body)
        + "    obj = _new(_cls)\n"
        f"    _set_dict(obj, {{{fields}}})\n"
        "    _set_fields_set(obj, given)\n"
        "    _set_extra(obj, None)\n"
        "    _set_private(obj, None)\n"
        "    return obj\n"
    )
    exec(source, namespace)
    make: Callable[..., M] = namespace["make"]
    make.__name__ = make.__qualname__ = f"make_{cls.__name__}"
    return make


def changer(cls: type[M], name: str) -> Callable[[M, Any], M]:
    """A copy of a record of ``cls`` made by :func:`maker`, with the field ``name`` set to
    another value: what ``record.model_copy(update={name: value})`` makes, without its costs.

    >>> from rfatrial.kernel.history import LabResult
    >>> r = maker(LabResult)(analyte="platelets", value=180.0, unit="10^9/L")
    >>> changer(LabResult, "value")(r, 90.0) == r.model_copy(update={"value": 90.0})
    True
    """
    if name not in cls.model_fields:
        raise ValueError(f"{cls.__name__} has no field {name!r}")
    get_dict = _slot(cls, "__dict__").__get__
    get_fields_set = _slot(cls, "__pydantic_fields_set__").__get__
    set_dict, set_fields_set, set_extra, set_private = (_setter(cls, slot) for slot in _SLOTS)

    def change(record: M, value: Any) -> M:
        fields = dict(get_dict(record))
        fields[name] = value
        obj = _new(cls)
        set_dict(obj, fields)
        set_fields_set(obj, get_fields_set(record) | {name})
        set_extra(obj, None)
        set_private(obj, None)
        return obj

    change.__name__ = change.__qualname__ = f"change_{cls.__name__}_{name}"
    return change
