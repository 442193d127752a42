"""The tables keep up with the kernel's history format and with their migrations."""

from __future__ import annotations

import typing
from io import StringIO

import pytest
from django.core.management import call_command

from rfatrial.kernel import history as kernel
from rfatrial.kernel.history import Record
from rfatrial.server.study.convert import EVENT_TYPES


def _event_classes() -> dict[str, type[Record]]:
    union = typing.get_args(kernel.Event)[0]
    classes = typing.get_args(union)
    return {c.model_fields["type"].default: c for c in classes}


def _item_class(event: type[Record], attr: str) -> type[Record] | None:
    (item,) = typing.get_args(event.model_fields[attr].annotation) or (None,)
    item = typing.get_args(item)[0] if typing.get_args(item) else item  # Annotated[...]
    return item if isinstance(item, type) and issubclass(item, Record) else None


@pytest.mark.parametrize("kind", sorted(_event_classes()))
def test_every_field_of_every_event_has_a_column(kind: str) -> None:
    event = _event_classes()[kind]
    spec = EVENT_TYPES[kind]
    stored = {"type", "date", *spec.fields, *(c.attr for c in spec.children)}
    assert set(event.model_fields) == stored, "a history field without a column is lost"
    for child in spec.children:
        item = _item_class(event, child.attr)
        if child.bare_lesion_ids:
            assert item is None
            continue
        assert item is not None
        columns = {*child.fields, *(["lesion_id"] if child.lesion else [])}
        assert set(item.model_fields) == columns, f"{kind}.{child.attr}"


def test_event_types_cover_the_history_format() -> None:
    assert set(EVENT_TYPES) == set(_event_classes())


@pytest.mark.django_db
def test_models_and_migrations_agree() -> None:
    out = StringIO()
    call_command("makemigrations", "study", "--check", "--dry-run", stdout=out)
