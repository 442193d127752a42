"""The records of a history: what their readers and writers rely on.

The records are frozen, slotted pydantic dataclasses (``Record``), not ``BaseModel`` subclasses,
so that the engine reads a field straight from its slot. These tests hold the records to the
part of the ``BaseModel`` interface the server, the simulator and the analyses use.
"""

from __future__ import annotations

import copy
import pickle
import typing
from dataclasses import FrozenInstanceError, fields

import pytest
from pydantic import ValidationError

from rfatrial.kernel import history as h

RECORDS = [
    getattr(h, name)
    for name in h.__all__
    if isinstance(getattr(h, name), type)
    and issubclass(getattr(h, name), h.Record)
    and getattr(h, name) is not h.Record
]

PANEL = {
    "type": "lab_panel",
    "date": "2026-03-02",
    "results": [{"analyte": "platelets", "value": 180, "unit": "10^9/L", "uln": 450}],
}


def test_every_record_type_of_the_history_is_a_record() -> None:
    events = typing.get_args(typing.get_args(h.Event)[0])
    assert set(events) <= set(RECORDS) and len(RECORDS) == 19
    assert h.PatientHistory in RECORDS and h.LabResult in RECORDS


@pytest.mark.parametrize("cls", RECORDS, ids=lambda c: c.__name__)
def test_a_record_holds_its_fields_in_slots_and_nothing_else(cls: type[h.Record]) -> None:
    # a field read finds a slot: no instance dict, no __getattr__ hook on the way
    assert list(cls.__slots__) == [f.name for f in fields(cls)] == list(cls.model_fields)
    assert not any("__getattr__" in vars(k) for k in cls.__mro__)
    assert not any("__dict__" in vars(k) for k in cls.__mro__ if k is not object)


def test_validation_dump_and_copy_behave_as_basemodels_do() -> None:
    panel = h.LabPanel.model_validate(PANEL)
    result = panel.results[0]
    assert type(result.value) is float and result.value == 180.0  # lax: an int becomes a float
    assert panel.model_dump(mode="json", exclude_none=True) == {
        **PANEL,
        "results": [{"analyte": "platelets", "value": 180.0, "unit": "10^9/L", "uln": 450.0}],
    }
    assert panel.model_dump()["date"].isoformat() == "2026-03-02"
    assert h.LabPanel.model_validate_json(panel.model_dump_json()) == panel
    changed = panel.model_copy(update={"ascites": "mild"})
    assert changed.ascites == "mild" and panel.ascites is None and changed.results is panel.results
    with pytest.raises(TypeError, match="colour"):
        panel.model_copy(update={"colour": "red"})
    with pytest.raises(FrozenInstanceError):
        panel.ascites = "mild"  # type: ignore[misc]
    assert pickle.loads(pickle.dumps(panel)) == panel and copy.deepcopy(panel) == panel
    assert h.PatientHistory.model_json_schema()["additionalProperties"] is False


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({**PANEL, "colour": "red"}, "colour"),
        ({**PANEL, "results": []}, "at least 1 item"),
        (
            {**PANEL, "results": [{"analyte": "platelets", "value": -1, "unit": "10^9/L"}]},
            "plausible",
        ),
    ],
)
def test_a_bad_record_is_refused_naming_the_field_or_rule(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        h.LabPanel.model_validate(data)


def test_a_history_with_an_unknown_or_missing_key_says_which_and_why() -> None:
    text = (
        '{"patient_id": "P1", "site": "S01", "sex": "F", "colour": 1,'
        ' "events": [{"type": "death", "hue": 2}]}'
    )
    with pytest.raises(h.HistoryError) as caught:
        h.parse_history(text)
    message = str(caught.value)
    unknown = "unknown key (not part of this format; check the spelling)"
    assert f"colour: {unknown}" in message and f"events.0.death.hue: {unknown}" in message
    assert "age_at_screening: required key is missing" in message
    assert "events.0.death.date: required key is missing" in message
