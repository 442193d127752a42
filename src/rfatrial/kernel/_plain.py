"""The engine's plain copy of history records (private to the engine).

The history records are validated pydantic models; reading one of their attributes costs several
times what it costs on a slotted object, and the engine reads many. Each record is therefore
copied once into a plain slotted record with the same attribute names, holding only what the
engine reads (and the original, for the rare paths that need more). A validated
:class:`~rfatrial.kernel.history.PatientHistory` keeps its copy (built when it is validated); the
copy is rebuilt whenever the history's events are no longer the ones it was built from.

The copies trust the validation of the history schema (distinct lesion ids in a scan, known units,
finite sizes): they are never built from anything else.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import TYPE_CHECKING, Any, Literal

from rfatrial.kernel.history import EVENT_ORDER

if TYPE_CHECKING:
    from rfatrial.kernel.history import Event, LabPanel, LabResult, PatientHistory

__all__ = [
    "VIEW_CONTEXT",
    "HistoryView",
    "PlainCycle",
    "PlainEvent",
    "PlainImaging",
    "PlainLesion",
    "PlainPanel",
    "PlainPostScan",
    "PlainSession",
    "history_view",
    "plain",
]


class PlainLesion:
    """A lesion on a scan; RECIST reads it like its validated original."""

    __slots__ = ("diameter_mm", "is_node", "lesion_id", "organ", "segment", "too_small_to_measure")

    def __init__(
        self,
        lesion_id: str,
        organ: str,
        segment: str | None,
        diameter_mm: float | None,
        is_node: bool,
        too_small_to_measure: bool,
    ) -> None:
        self.lesion_id = lesion_id
        self.organ = organ
        self.segment = segment
        self.diameter_mm = diameter_mm
        self.is_node = is_node
        self.too_small_to_measure = too_small_to_measure


class PlainImaging:
    __slots__ = (
        "by_id",
        "date",
        "extrahepatic_progression",
        "lesions",
        "local_progression",
        "modality",
        "new_elsewhere",
        "new_in_liver",
        "new_lesions",
        "non_target_progression",
        "purpose",
    )
    type: Literal["imaging"] = "imaging"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.modality: str = e.modality
        self.purpose: str = e.purpose
        self.lesions: tuple[PlainLesion, ...] = tuple(map(_lesion, e.lesions))
        self.new_lesions: tuple[PlainLesion, ...] = tuple(map(_lesion, e.new_lesions))
        self.local_progression: tuple[str, ...] = tuple(e.local_progression)
        self.non_target_progression: bool = e.non_target_progression
        self.extrahepatic_progression: bool = e.extrahepatic_progression
        # lesion ids are distinct within a scan (the history schema checks it)
        self.by_id: dict[str, PlainLesion] = {m.lesion_id: m for m in self.lesions}
        self.new_in_liver = sum(1 for m in self.new_lesions if m.organ == "liver")
        self.new_elsewhere = self.new_in_liver < len(self.new_lesions)


class PlainPanel:
    __slots__ = ("by", "date", "src")
    type: Literal["lab_panel"] = "lab_panel"

    def __init__(self, e: LabPanel) -> None:
        self.date: date = e.date
        self.src: LabPanel = e
        self.by: dict[str, LabResult] = {r.analyte: r for r in e.results}


class PlainCycle:
    __slots__ = ("agent_names", "date", "regimen")
    type: Literal["systemic_cycle"] = "systemic_cycle"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.regimen: str = e.regimen
        self.agent_names: tuple[str, ...] = e.agent_names


class PlainAblated:
    __slots__ = ("lesion_id", "technical_success")

    def __init__(self, lesion_id: str, technical_success: bool) -> None:
        self.lesion_id = lesion_id
        self.technical_success = technical_success


class PlainSession:
    __slots__ = ("date", "justification", "lesions")
    type: Literal["rfa_session"] = "rfa_session"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.justification: str | None = e.justification
        self.lesions: tuple[PlainAblated, ...] = tuple(
            PlainAblated(x.lesion_id, x.technical_success) for x in e.lesions
        )


class PlainPostScan:
    __slots__ = ("date", "extrahepatic_progression", "new_lesions", "results")
    type: Literal["post_rfa_scan"] = "post_rfa_scan"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.results: tuple[tuple[str, str], ...] = tuple(
            (r.lesion_id, r.outcome) for r in e.results
        )
        self.new_lesions: tuple[PlainLesion, ...] = tuple(map(_lesion, e.new_lesions))
        self.extrahepatic_progression: bool = e.extrahepatic_progression


class PlainScreening:
    __slots__ = ("date", "eligible")
    type: Literal["screening"] = "screening"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.eligible: bool = e.eligible


class PlainRandomization:
    __slots__ = ("arm", "date")
    type: Literal["randomization"] = "randomization"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.arm: str = e.arm


class PlainVisit:
    __slots__ = ("components", "date", "visit_id")
    type: Literal["follow_up_visit"] = "follow_up_visit"

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.visit_id: str = e.visit_id
        self.components: tuple[str, ...] = tuple(e.components)


class PlainOther:
    """Records the engine reads only the kind and date of."""

    __slots__ = ("date", "type")

    def __init__(self, e: Any) -> None:
        self.date: date = e.date
        self.type: Literal["adverse_event", "withdrawal", "lost_to_follow_up", "death"] = e.type


PlainEvent = (
    PlainScreening
    | PlainRandomization
    | PlainCycle
    | PlainImaging
    | PlainPanel
    | PlainSession
    | PlainPostScan
    | PlainVisit
    | PlainOther
)


def _lesion(m: Any) -> PlainLesion:
    return PlainLesion(
        m.lesion_id, m.organ, m.segment, m.diameter_mm, m.is_node, m.too_small_to_measure
    )


_MAKERS: dict[str, Any] = {
    "screening": PlainScreening,
    "randomization": PlainRandomization,
    "systemic_cycle": PlainCycle,
    "imaging": PlainImaging,
    "lab_panel": PlainPanel,
    "rfa_session": PlainSession,
    "post_rfa_scan": PlainPostScan,
    "follow_up_visit": PlainVisit,
}


def plain(e: Event) -> PlainEvent:
    """The plain copy of one validated record."""
    maker = _MAKERS.get(e.type, PlainOther)
    made: PlainEvent = maker(e)
    return made


# The validation context key under which plain copies already made can be handed to a history
# being validated: {id(record): (record, copy)} (see PathwayState.plain_copies).
VIEW_CONTEXT = "rfatrial.kernel.plain_copies"


class HistoryView:
    """A history's events as plain records, and the engine's order of them.

    Compares equal to any other view (and to no view): a history's equality is its content's.
    """

    __slots__ = ("events", "order", "records")

    def __init__(
        self, events: list[Event], made: Mapping[int, tuple[Event, PlainEvent]] | None = None
    ) -> None:
        self.events: tuple[Event, ...] = tuple(events)
        if made:
            # copies already made of these very records (by identity), e.g. by a PathwayState
            records = []
            for e in events:
                found = made.get(id(e))
                records.append(found[1] if found is not None and found[0] is e else plain(e))
            self.records: tuple[PlainEvent, ...] = tuple(records)
        else:
            self.records = tuple(map(plain, events))
        keys = [(e.date, EVENT_ORDER[e.type], i) for i, e in enumerate(self.records)]
        keys.sort()
        self.order: tuple[int, ...] = tuple(k[2] for k in keys)

    def __eq__(self, other: object) -> bool:
        return other is None or isinstance(other, HistoryView)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[()]]:
        # never stored: a copy rebuilds it on first use
        return (type(None), ())


def history_view(history: PatientHistory) -> HistoryView:
    """The plain view of ``history``, built now if the history has none for its current events."""
    private = history.__pydantic_private__
    view = None if private is None else private.get("_view")
    if view is not None:
        events = history.events
        if len(view.events) == len(events) and view.events == tuple(events):
            return view  # type: ignore[no-any-return]
    view = HistoryView(history.events)
    if private is not None:
        private["_view"] = view
    return view
