"""The follow-up calendar: every planned visit of both arms, with its window.

The clock starts at randomization in both arms (protocol ``follow_up.anchor``), so that imaging is
as frequent in both arms and progression is not detected earlier in one of them. A visit planned
at month *m* falls on the same day of the month *m* months after the anchor (the last day of the
month when that day does not exist) and may be done within ``± window_days``.

Examples
--------
>>> from datetime import date
>>> from rfatrial.kernel.protocol import default_protocol
>>> visits = follow_up_calendar(date(2026, 1, 31), default_protocol())
>>> visits[0].visit_id, visits[0].target, visits[0].earliest, visits[0].latest
('M3', datetime.date(2026, 4, 30), datetime.date(2026, 4, 16), datetime.date(2026, 5, 14))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from types import MappingProxyType
from typing import Final

from rfatrial.kernel.protocol import FollowUpPeriod, Protocol

__all__ = ["PlannedVisit", "add_months", "follow_up_calendar", "planned_visits", "visits_due"]


@dataclass(frozen=True, slots=True, init=False)
class PlannedVisit:
    """One planned follow-up visit: its name, window and what it must include."""

    visit_id: str
    month: int
    target: date
    earliest: date
    latest: date
    components: tuple[str, ...]
    every_months: int = 0
    # when the next visit of the same series opens; past it, a missed visit is no longer due
    superseded_on: date | None = None

    # written out, so that mypyc compiles it to a native constructor (see evaluation.py)
    def __init__(
        self,
        visit_id: str,
        month: int,
        target: date,
        earliest: date,
        latest: date,
        components: tuple[str, ...],
        every_months: int = 0,
        superseded_on: date | None = None,
    ) -> None:
        object.__setattr__(self, "visit_id", visit_id)
        object.__setattr__(self, "month", month)
        object.__setattr__(self, "target", target)
        object.__setattr__(self, "earliest", earliest)
        object.__setattr__(self, "latest", latest)
        object.__setattr__(self, "components", components)
        object.__setattr__(self, "every_months", every_months)
        object.__setattr__(self, "superseded_on", superseded_on)


_MONTH_DAYS: Final = (31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def add_months(day: date, months: int) -> date:
    """The same day ``months`` calendar months later, clamped to the end of the month."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    # the month's length (calendar.monthrange would also work out its first weekday)
    leap = month == 1 and year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    last = _MONTH_DAYS[month] + (1 if leap else 0)
    return date(year, month + 1, min(day.day, last))


# Calendars by (protocol identity, anchor); the protocol is kept so its id stays its own. Hashing a
# protocol by content on every evaluation would cost more than the lookup saves.
_Entry = tuple[
    Protocol, tuple["PlannedVisit", ...], Mapping[str, "PlannedVisit"], dict[str, "PlannedVisit"]
]
_CALENDARS: Final[dict[tuple[int, date], _Entry]] = {}


def _entry(anchor: date, protocol: Protocol) -> _Entry:
    key = (id(protocol), anchor)
    found = _CALENDARS.get(key)
    if found is not None and found[0] is protocol:
        return found
    if len(_CALENDARS) > 8192:
        _CALENDARS.clear()
    visits = _build_calendar(anchor, protocol)
    by_id = {v.visit_id: v for v in visits}
    entry = (protocol, visits, MappingProxyType(by_id), by_id)
    _CALENDARS[key] = entry
    return entry


def _calendar(anchor: date, protocol: Protocol) -> tuple[PlannedVisit, ...]:
    return _entry(anchor, protocol)[1]


def _build_calendar(anchor: date, protocol: Protocol) -> tuple[PlannedVisit, ...]:
    # (target, visit id, month, period) of every visit, in date order
    planned: list[tuple[date, str, int, FollowUpPeriod]] = []
    for period in protocol.follow_up.periods:
        last = min(period.to_month, protocol.follow_up.duration_months)
        for month in range(period.from_month, last + 1, period.every_months):
            planned.append(
                (add_months(anchor, month), f"M{month}{period.id_suffix}", month, period)
            )
    planned.sort(key=lambda x: (x[0], x[1]))
    # A series is the visits that share a suffix ("M24" is followed by "M27", "M30-CT" by "M36-CT").
    following: dict[str, date] = {}
    visits: list[PlannedVisit] = []
    for target, visit_id, month, period in reversed(planned):
        window = timedelta(days=period.window_days)
        earliest = target - window
        visits.append(
            PlannedVisit(
                visit_id,
                month,
                target,
                earliest,
                target + window,
                tuple(period.components),
                period.every_months,
                following.get(period.id_suffix),
            )
        )
        following[period.id_suffix] = earliest
    visits.reverse()
    return tuple(visits)


def follow_up_calendar(anchor: date, protocol: Protocol) -> tuple[PlannedVisit, ...]:
    """Every planned visit from ``anchor`` (the randomization date), in date order."""
    return _calendar(anchor, protocol)


def planned_visits(anchor: date, protocol: Protocol) -> Mapping[str, PlannedVisit]:
    """The visits of :func:`follow_up_calendar` by visit id."""
    return _entry(anchor, protocol)[2]


def visits_by_id(anchor: date, protocol: Protocol) -> dict[str, PlannedVisit]:
    """:func:`planned_visits` as the engine reads it (a dict it must not change)."""
    return _entry(anchor, protocol)[3]


def visits_due(
    anchor: date, protocol: Protocol, today: date, done: frozenset[str] = frozenset()
) -> tuple[PlannedVisit, ...]:
    """Visits not yet done whose window has opened by ``today`` (due now or overdue)."""
    return tuple(
        v for v in _calendar(anchor, protocol) if v.earliest <= today and v.visit_id not in done
    )
