"""The follow-up calendar: both arms, anchored at randomization, every visit with its window."""

import calendar
from datetime import date

from hypothesis import given
from hypothesis import strategies as st

from rfatrial.kernel.follow_up import add_months, follow_up_calendar, visits_due
from rfatrial.kernel.protocol import default_protocol


def test_add_months_clamps_to_month_end() -> None:
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
    assert add_months(date(2028, 1, 31), 1) == date(2028, 2, 29)
    assert add_months(date(2026, 11, 15), 3) == date(2027, 2, 15)
    assert add_months(date(2026, 5, 31), 0) == date(2026, 5, 31)


def test_calendar_follows_the_protocol_periods() -> None:
    visits = follow_up_calendar(date(2026, 1, 15), default_protocol())
    ids = [v.visit_id for v in visits]
    # every 3 months for 2 years with CT/MRI, then 3-monthly without and CT/MRI every 6 months
    assert ids[:8] == ["M3", "M6", "M9", "M12", "M15", "M18", "M21", "M24"]
    assert "M27" in ids and "M27-CT" not in ids and "M30-CT" in ids and "M60-CT" in ids
    assert "M63" not in ids
    m3 = visits[0]
    assert m3.target == date(2026, 4, 15)
    assert (m3.earliest, m3.latest) == (date(2026, 4, 1), date(2026, 4, 29))
    assert "ct_mri" in m3.components and "tumour_markers" in m3.components
    m30ct = next(v for v in visits if v.visit_id == "M30-CT")
    assert (m30ct.target - m30ct.earliest).days == 28 and m30ct.components == ("ct_mri",)
    m27 = next(v for v in visits if v.visit_id == "M27")
    assert "ct_mri" not in m27.components
    assert len(ids) == 8 + 12 + 6


def test_visits_due_opens_with_the_window() -> None:
    p = default_protocol()
    anchor = date(2026, 1, 15)
    assert visits_due(anchor, p, date(2026, 3, 31)) == ()
    assert [v.visit_id for v in visits_due(anchor, p, date(2026, 4, 1))] == ["M3"]
    assert visits_due(anchor, p, date(2026, 7, 1), frozenset({"M3"}))[0].visit_id == "M6"


def test_changing_the_protocol_file_changes_the_calendar() -> None:
    p = default_protocol()
    data = p.model_dump()
    data["follow_up"]["periods"][0]["every_months"] = 2
    data["follow_up"]["periods"][0]["window_days"] = 5
    amended = type(p).model_validate(data)
    visits = follow_up_calendar(date(2026, 1, 15), amended)
    assert [v.visit_id for v in visits[:3]] == ["M3", "M5", "M7"]
    assert (visits[0].latest - visits[0].target).days == 5


def test_each_visit_knows_its_series() -> None:
    visits = {v.visit_id: v for v in follow_up_calendar(date(2026, 1, 15), default_protocol())}
    assert visits["M3"].every_months == 3 and visits["M30-CT"].every_months == 6
    assert visits["M3"].superseded_on == visits["M6"].earliest
    assert visits["M24"].superseded_on == visits["M27"].earliest  # the series goes on
    assert visits["M30-CT"].superseded_on == visits["M36-CT"].earliest
    assert visits["M60-CT"].superseded_on is None


@given(
    day=st.dates(min_value=date(1890, 1, 1), max_value=date(2200, 12, 31)),
    months=st.integers(0, 240),
)
def test_add_months_equals_the_calendar_modules_month_lengths(day: date, months: int) -> None:
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    expected = date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))
    assert add_months(day, months) == expected


def test_add_months_at_the_century_leap_rules() -> None:
    assert add_months(date(1899, 1, 31), 13) == date(1900, 2, 28)  # 1900: not a leap year
    assert add_months(date(1999, 1, 31), 13) == date(2000, 2, 29)  # 2000: a leap year
    assert add_months(date(2099, 1, 31), 13) == date(2100, 2, 28)
    assert add_months(date(2027, 1, 31), 13) == date(2028, 2, 29)
