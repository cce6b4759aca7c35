"""Months as the revenue figures count them: ``YYYY-MM``, in UTC, each measured at its end."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from levante.errors import InvalidRequestError

_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
MAX_MONTHS = 120  # ten years in one report
LAST_YEAR = 9000  # far enough; the history a report reads reaches years before its months


def parse_month(text: str, param: str = "month") -> str:
    """``text`` as a month, or a 400 naming ``param``."""
    match = _MONTH.match(text.strip())
    if match is None or not 1 <= int(match[2]) <= 12 or not 2000 <= int(match[1]) <= LAST_YEAR:
        raise InvalidRequestError(f"'{text}' is not a month; use YYYY-MM", param=param)
    return text.strip()


def month_of(when: datetime | date) -> str:
    return f"{when.year:04d}-{when.month:02d}"


def start_of(month: str) -> datetime:
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


def shift(month: str, by: int) -> str:
    index = int(month[:4]) * 12 + int(month[5:7]) - 1 + by
    return f"{index // 12:04d}-{index % 12 + 1:02d}"


def end_of(month: str) -> datetime:
    """The month's end: the first instant of the next month (not part of it)."""
    return start_of(shift(month, 1))


def last_day(month: str) -> date:
    return (end_of(month) - timedelta(days=1)).date()


def span(first: str, last: str, *, limit: int = MAX_MONTHS) -> list[str]:
    """Every month from ``first`` to ``last``, both included (at most ``limit``)."""
    if last < first:
        raise InvalidRequestError(f"the range ends ({last}) before it starts ({first})")
    months = [first]
    while months[-1] < last:
        months.append(shift(months[-1], 1))
        if len(months) > limit:
            raise InvalidRequestError(f"a report spans at most {limit} months")
    return months


def months_between(start: datetime, end: datetime) -> int:
    """The calendar months a subscription period spans (1 or 12), at least one. Periods are
    whole months from their anchor (31 January to 28 February is one), so the month numbers
    alone tell."""
    return max(1, (end.year - start.year) * 12 + end.month - start.month)
