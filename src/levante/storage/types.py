"""Column types shared by the models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from levante.errors import InvalidRequestError


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no zone, so values are normalised to naive UTC on the way in and marked UTC on
    the way out; PostgreSQL gets the same naive-UTC column, which keeps both backends alike.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(when: datetime, *, param: str | None = None) -> datetime:
    """``when`` in UTC; a time given without a zone is read as UTC. A time whose UTC falls
    outside the years 1 to 9999 (``9999-12-31T23:00-05:00``) is a 400 naming ``param``."""
    if when.tzinfo is None:
        return when.replace(tzinfo=UTC)
    try:
        return when.astimezone(UTC)
    except OverflowError:
        raise InvalidRequestError(
            f"{when.isoformat()} is out of range: in UTC it is not between the years 1 and 9999",
            param=param,
        ) from None


# A gateway process or a licensed node that has missed this many heartbeats is gone: its
# reservations are swept, its licence place counts no more.
MISSED_HEARTBEATS = 3


def alive_since(now: datetime, heartbeat: timedelta) -> datetime:
    """The oldest last heartbeat of something still counted alive."""
    return now - MISSED_HEARTBEATS * heartbeat
