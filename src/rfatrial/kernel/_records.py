"""Records: frozen, slotted pydantic dataclasses with the ``BaseModel`` methods their users call.

The history's records and the parts of the protocol and patient model that the engine and the
simulated care team read on every step are records, not ``BaseModel`` subclasses: their fields are
read millions of times, and a slot is read directly, where a ``BaseModel``'s field goes through its
``__getattr__`` hook (about a quarter of an evaluation's cost when the history was made of them).

Examples
--------
>>> @record
... class Dose(Record):
...     mg: float
>>> Dose.model_validate({"mg": 5}).model_dump()
{'mg': 5.0}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, Self, TypeVar, cast

from pydantic import ConfigDict, Field, TypeAdapter
from pydantic.dataclasses import dataclass
from pydantic.fields import FieldInfo
from pydantic_core import SchemaSerializer
from typing_extensions import dataclass_transform

__all__ = ["Record", "record"]

R = TypeVar("R", bound="Record")


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def _adapter(cls: type) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(cls)
    if adapter is None:
        adapter = _ADAPTERS[cls] = TypeAdapter(cls)
    return adapter


class Record:
    """A record: the part of pydantic's ``BaseModel`` interface that its readers and writers use.

    Subclasses are made records by :func:`record`.
    """

    __slots__ = ()
    model_fields: ClassVar[dict[str, FieldInfo]]
    __pydantic_serializer__: ClassVar[SchemaSerializer]

    @classmethod
    def model_validate(cls, data: Any) -> Self:
        """A record validated from a mapping (or a record), as ``BaseModel.model_validate``."""
        value: Self = _adapter(cls).validate_python(data)
        return value

    @classmethod
    def model_validate_json(cls, text: str | bytes, *, strict: bool | None = None) -> Self:
        """A record validated from JSON text, as ``BaseModel.model_validate_json``."""
        value: Self = _adapter(cls).validate_json(text, strict=strict)
        return value

    @classmethod
    def model_json_schema(cls) -> dict[str, Any]:
        return _adapter(cls).json_schema()

    def model_dump(
        self, *, mode: Literal["python", "json"] = "python", exclude_none: bool = False
    ) -> dict[str, Any]:
        value: dict[str, Any] = _adapter(type(self)).dump_python(
            self, mode=mode, exclude_none=exclude_none
        )
        return value

    def model_dump_json(self, *, indent: int | None = None, exclude_none: bool = False) -> str:
        data: bytes = _adapter(type(self)).dump_json(self, indent=indent, exclude_none=exclude_none)
        return data.decode()

    def model_copy(self, *, update: Mapping[str, Any] | None = None) -> Self:
        """A copy with the fields of ``update`` replaced, not validated (as ``BaseModel``'s)."""
        cls = type(self)
        unknown = set(update or ()) - set(cls.model_fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        new = object.__new__(cls)
        changes = update or {}
        for name in cls.model_fields:
            object.__setattr__(new, name, changes[name] if name in changes else getattr(self, name))
        return new


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(Field,))
def record(cls: type[R]) -> type[R]:
    """``cls`` as a frozen, slotted pydantic dataclass that refuses unknown fields."""
    made = dataclass(frozen=True, slots=True, kw_only=True, config=ConfigDict(extra="forbid"))(cls)
    made.model_fields = made.__pydantic_fields__  # type: ignore[attr-defined]
    return cast("type[R]", made)
