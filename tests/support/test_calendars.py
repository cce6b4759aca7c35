"""Business-hours arithmetic: weekends, holidays, summer time, overnight spans, and starts
outside the hours, on instants the tests set."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from levante.errors import InvalidRequestError
from levante.support.calendars import (
    ALWAYS,
    Calendar,
    advance,
    counted,
    parse_calendar,
    weekdays_calendar,
)

PARIS = ZoneInfo("Europe/Paris")


def paris(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=PARIS).astimezone(UTC)


def office(holidays: tuple[str, ...] = ()) -> Calendar:
    return parse_calendar(weekdays_calendar("Europe/Paris", "09:00", "17:00", holidays))


HOUR = timedelta(hours=1)


def test_a_day_of_business_time_from_friday_evening_ends_on_monday_evening() -> None:
    # Friday 2026-12-04 17:30 is after hours: the clock starts on Monday at 09:00.
    start = paris(2026, 12, 4, 17, 30)
    assert advance(office(), start, 8 * HOUR) == paris(2026, 12, 7, 17, 0)


def test_a_holiday_moves_the_due_time_a_business_day_on() -> None:
    start = paris(2026, 12, 4, 17, 30)
    assert advance(office(("2026-12-07",)), start, 8 * HOUR) == paris(2026, 12, 8, 17, 0)


def test_time_within_hours_carries_over_the_weekend() -> None:
    start = paris(2026, 12, 4, 15, 0)  # Friday, two hours before closing
    assert advance(office(), start, 4 * HOUR) == paris(2026, 12, 7, 11, 0)


def test_a_start_before_opening_waits_for_it() -> None:
    assert advance(office(), paris(2026, 12, 2, 6, 0), HOUR) == paris(2026, 12, 2, 10, 0)


def test_the_due_time_at_closing_is_not_pushed_to_the_next_day() -> None:
    assert advance(office(), paris(2026, 12, 2, 9, 0), 8 * HOUR) == paris(2026, 12, 2, 17, 0)


def test_around_the_clock_counts_weekends_and_nights() -> None:
    saturday_night = paris(2026, 12, 5, 23, 0)
    assert advance(ALWAYS, saturday_night, HOUR) == paris(2026, 12, 6, 0, 0)


def test_summer_time_does_not_change_a_business_day() -> None:
    # Paris moves its clocks forward on Sunday 2027-03-28: Monday's day is still 09:00-17:00
    # local time, now at UTC+2.
    friday = paris(2027, 3, 26, 13, 0)
    due = advance(office(), friday, 8 * HOUR)
    assert due == paris(2027, 3, 29, 13, 0)
    assert due == datetime(2027, 3, 29, 11, 0, tzinfo=UTC)


def test_an_overnight_span_on_the_night_the_clocks_go_forward_is_an_hour_short() -> None:
    nights = parse_calendar(
        {"timezone": "Europe/Paris", "hours": {d: ["22:00-06:00"] for d in ("fri", "sat", "sun")}}
    )
    saturday = paris(2027, 3, 27, 22, 0)
    # 22:00 to 06:00 on the wall clock is seven hours that night.
    assert counted(nights, saturday, paris(2027, 3, 28, 6, 0)) == 7 * HOUR
    assert advance(nights, saturday, 8 * HOUR) == paris(2027, 3, 28, 23, 0)


def test_and_on_the_night_they_go_back_an_hour_long() -> None:
    nights = parse_calendar({"timezone": "Europe/Paris", "hours": {"sat": ["22:00-06:00"]}})
    saturday = paris(2026, 10, 24, 22, 0)
    assert counted(nights, saturday, saturday + 12 * HOUR) == 9 * HOUR


def test_an_overnight_span_belongs_to_the_day_it_starts_on() -> None:
    nights = parse_calendar(
        {"timezone": "UTC", "hours": {"mon": ["22:00-02:00"], "tue": ["22:00-02:00"]},
         "holidays": ["2026-12-08"]}
    )  # fmt: skip
    tuesday_night = datetime(2026, 12, 8, 1, 0, tzinfo=UTC)  # inside Monday's span
    assert advance(nights, tuesday_night, HOUR) == datetime(2026, 12, 8, 2, 0, tzinfo=UTC)
    # An hour is left of Monday's span; Tuesday's is a holiday, so the next is Monday week.
    assert advance(nights, tuesday_night, 2 * HOUR) == datetime(2026, 12, 14, 23, 0, tzinfo=UTC)


def test_paused_time_is_not_counted() -> None:
    start = paris(2026, 12, 2, 9, 0)  # a Wednesday
    pause = (paris(2026, 12, 2, 10, 0), paris(2026, 12, 4, 10, 0))  # two days pending
    assert advance(office(), start, 2 * HOUR, [pause]) == paris(2026, 12, 4, 11, 0)
    assert counted(office(), start, paris(2026, 12, 4, 11, 0), [pause]) == 2 * HOUR


def test_a_pause_that_has_not_ended_holds_the_due_time() -> None:
    start = paris(2026, 12, 2, 9, 0)
    assert advance(office(), start, 2 * HOUR, [(paris(2026, 12, 2, 10, 0), None)]) is None
    assert advance(ALWAYS, start, 2 * HOUR, [(start + HOUR, None)]) is None
    # Time already used before the pause still meets a short target.
    assert advance(ALWAYS, start, HOUR / 2, [(start + HOUR, None)]) == start + HOUR / 2


def test_counted_business_time_skips_nights_and_weekends() -> None:
    friday_noon = paris(2026, 12, 4, 12, 0)
    assert counted(office(), friday_noon, paris(2026, 12, 7, 12, 0)) == 8 * HOUR


def test_a_calendar_round_trips_and_describes_itself() -> None:
    calendar = office(("2026-12-25",))
    assert parse_calendar(calendar.to_json()) == calendar
    assert calendar.describe() == "Mon-Fri 09:00-17:00 (Europe/Paris)"
    assert calendar.weekly_minutes() == 5 * 8 * 60
    assert calendar.is_open(paris(2026, 12, 2, 10, 0))
    assert not calendar.is_open(paris(2026, 12, 5, 10, 0))


@pytest.mark.parametrize(
    "spec",
    [
        {"timezone": "Mars/Olympus", "hours": {"mon": ["09:00-17:00"]}},
        {"timezone": "UTC", "hours": {"monday": ["09:00-17:00"]}},
        {"timezone": "UTC", "hours": {"mon": ["9-5"]}},
        {"timezone": "UTC", "hours": {"mon": ["09:00-09:00"]}},
        {"timezone": "UTC", "hours": {}},
        {"timezone": "UTC", "hours": {"mon": ["09:00-17:00"]}, "holidays": ["Christmas"]},
    ],
)
def test_a_wrong_calendar_is_refused_with_a_reason(spec: dict[str, object]) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        parse_calendar(spec)
    assert caught.value.message
