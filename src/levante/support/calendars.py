"""Business-hours calendars and the clock arithmetic over them.

A calendar is a time zone, opening hours per weekday and a list of holidays. Hours are local
wall-clock spans; a span whose end is not after its start runs overnight into the next day
(``22:00-06:00``) and belongs to the day it starts on, so a holiday removes the spans that
start on it. Spans are turned into UTC instants day by day, so a day that changes to or
from summer time is as long as the wall clock says (an overnight span on the night the
clocks go forward is an hour shorter).

A :class:`Clock` yields the spans of countable time from an instant onwards: every instant
for a 24x7 target (:data:`ALWAYS`), the open hours for a business-hours one. Timers take
paused spans out of it (:func:`advance`, :func:`counted`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from levante.errors import InvalidRequestError

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")
# How far ahead a calendar is searched for open hours before it is judged to have none left
# (holidays are finite, so a calendar with weekly hours always has some within a year).
_HORIZON_DAYS = 800
FOREVER = datetime(9999, 1, 1, tzinfo=UTC)

Span = tuple[datetime, datetime]


class Clock(Protocol):
    def spans(self, start: datetime) -> Iterator[Span]:
        """The countable spans from ``start`` on, in order, each starting at or after it."""
        ...


class _Always:
    """Every instant counts: a 24x7 target."""

    def spans(self, start: datetime) -> Iterator[Span]:
        yield start, FOREVER

    def __repr__(self) -> str:
        return "ALWAYS"


ALWAYS: Clock = _Always()


@dataclass(frozen=True, slots=True)
class Calendar:
    """Opening hours in a time zone, with holidays. Build one with :func:`parse_calendar`."""

    timezone: str
    hours: tuple[tuple[tuple[time, time], ...], ...]  # per weekday, Monday first
    holidays: frozenset[date]

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def spans(self, start: datetime) -> Iterator[Span]:
        zone = self.zone
        day = start.astimezone(zone).date() - timedelta(days=1)  # yesterday's overnight span
        for _ in range(_HORIZON_DAYS):
            if day not in self.holidays:
                for opens, closes in self.hours[day.weekday()]:
                    begin = _instant(day, opens, zone)
                    end_day = day if closes > opens else day + timedelta(days=1)
                    end = _instant(end_day, closes, zone)
                    if end > start:
                        yield max(begin, start), end
            day += timedelta(days=1)

    def is_open(self, at: datetime) -> bool:
        first = next(self.spans(at), None)
        return first is not None and first[0] <= at

    def weekly_minutes(self) -> int:
        """Open minutes in an ordinary week (no holiday), on the wall clock."""
        total = 0
        for spans in self.hours:
            for opens, closes in spans:
                minutes = _minutes(closes) - _minutes(opens)
                total += minutes if minutes > 0 else minutes + 24 * 60
        return total

    def to_json(self) -> dict[str, Any]:
        return {
            "timezone": self.timezone,
            "hours": {
                name: [f"{a:%H:%M}-{_end_text(b)}" for a, b in self.hours[i]]
                for i, name in enumerate(WEEKDAYS)
                if self.hours[i]
            },
            "holidays": sorted(d.isoformat() for d in self.holidays),
        }

    def describe(self) -> str:
        """``Mon-Fri 09:00-17:00 Europe/Paris`` and the like."""
        groups: list[tuple[list[str], str]] = []
        for i, name in enumerate(WEEKDAYS):
            text = ", ".join(f"{a:%H:%M}-{_end_text(b)}" for a, b in self.hours[i])
            if not text:
                continue
            if groups and groups[-1][1] == text and WEEKDAYS.index(groups[-1][0][-1]) == i - 1:
                groups[-1][0].append(name)
            else:
                groups.append(([name], text))
        days = "; ".join(
            (f"{d[0].title()}-{d[-1].title()}" if len(d) > 1 else d[0].title()) + f" {text}"
            for d, text in groups
        )
        return f"{days} ({self.timezone})"


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def _end_text(t: time) -> str:
    return "24:00" if t == time(0) else f"{t:%H:%M}"


def _instant(day: date, at: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, at, tzinfo=zone).astimezone(UTC)


def parse_calendar(spec: dict[str, Any], *, param: str = "calendar") -> Calendar:
    """A calendar from its JSON form: ``{"timezone": "Europe/Paris", "hours": {"mon":
    ["09:00-17:00"], ...}, "holidays": ["2026-12-25"]}``; a readable 400 if it is wrong."""
    if not isinstance(spec, dict):
        raise InvalidRequestError("a calendar is an object", param=param)
    zone_name = spec.get("timezone", "UTC")
    try:
        if not isinstance(zone_name, str) or not zone_name:
            raise ZoneInfoNotFoundError(zone_name)
        ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidRequestError(
            f"'{zone_name}' is not a time zone (use an IANA name such as Europe/Paris)",
            param=f"{param}.timezone",
        ) from None
    raw_hours = spec.get("hours") or {}
    if not isinstance(raw_hours, dict) or set(raw_hours) - set(WEEKDAYS):
        raise InvalidRequestError(
            f"hours are given per weekday: {', '.join(WEEKDAYS)}", param=f"{param}.hours"
        )
    hours = tuple(
        _parse_spans(raw_hours.get(day) or [], f"{param}.hours.{day}") for day in WEEKDAYS
    )
    if not any(hours):
        raise InvalidRequestError("a calendar needs opening hours on some day", param=param)
    raw_holidays = spec.get("holidays") or []
    if not isinstance(raw_holidays, list):
        raise InvalidRequestError("holidays are a list of dates", param=f"{param}.holidays")
    holidays = set()
    for value in raw_holidays:
        try:
            holidays.add(date.fromisoformat(str(value)))
        except ValueError:
            raise InvalidRequestError(
                f"'{value}' is not a date (YYYY-MM-DD)", param=f"{param}.holidays"
            ) from None
    return Calendar(zone_name, hours, frozenset(holidays))


def _parse_spans(values: Iterable[Any], param: str) -> tuple[tuple[time, time], ...]:
    if isinstance(values, str):
        values = [values]
    spans = []
    for value in values:
        match = _SPAN.match(str(value).strip())
        if match is None:
            raise InvalidRequestError(f"'{value}' is not a span such as 09:00-17:00", param=param)
        opens = time(int(match[1]), int(match[2]))
        if match[3] == "24" and match[4] != "00":
            raise InvalidRequestError(f"'{value}' ends after midnight", param=param)
        closes = time(0) if match[3] == "24" else time(int(match[3]), int(match[4]))
        if opens == closes and match[3] != "24":
            raise InvalidRequestError(f"'{value}' is empty", param=param)
        spans.append((opens, closes))
    spans.sort()
    return tuple(spans)


def weekdays_calendar(
    timezone: str, opens: str = "09:00", closes: str = "17:00", holidays: Sequence[str] = ()
) -> dict[str, Any]:
    """The JSON of a Monday-to-Friday calendar."""
    return {
        "timezone": timezone,
        "hours": {day: [f"{opens}-{closes}"] for day in WEEKDAYS[:5]},
        "holidays": list(holidays),
    }


# -- timers over a clock --------------------------------------------------------------------------


def _minus(
    spans: Iterator[Span], pauses: Sequence[tuple[datetime, datetime | None]]
) -> Iterator[Span]:
    """``spans`` with the paused spans taken out (a pause with no end lasts for ever)."""
    ordered = sorted((a, b or FOREVER) for a, b in pauses)
    stopped = min((a for a, b in ordered if b >= FOREVER), default=FOREVER)
    for begin, end in spans:
        if begin >= stopped:
            return
        cursor = begin
        for a, b in ordered:
            if b <= cursor or a >= end:
                continue
            if a > cursor:
                yield cursor, a
            cursor = max(cursor, b)
            if cursor >= end:
                break
        if cursor < end:
            yield cursor, end


def advance(
    clock: Clock,
    start: datetime,
    allowed: timedelta,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> datetime | None:
    """The instant at which ``allowed`` countable time has run from ``start``, not counting
    ``pauses``; None if a pause with no end stops it before then."""
    left = allowed
    for begin, end in _minus(clock.spans(start), pauses):
        if end - begin >= left:
            return begin + left
        left -= end - begin
    return None


def counted(
    clock: Clock,
    start: datetime,
    until: datetime,
    pauses: Sequence[tuple[datetime, datetime | None]] = (),
) -> timedelta:
    """The countable time between ``start`` and ``until``, pauses excluded."""
    total = timedelta()
    if until <= start:
        return total
    for begin, end in _minus(clock.spans(start), pauses):
        if begin >= until:
            break
        total += min(end, until) - begin
    return total
