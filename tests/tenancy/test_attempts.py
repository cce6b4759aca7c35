"""Paced attempts: free ones, then growing waits; atomic under concurrency on SQLite,
PostgreSQL and Redis."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import pytest

from levante.errors import RateLimitedError
from levante.storage import Database, utcnow
from levante.tenancy.attempts import (
    Attempts,
    DatabaseAttempts,
    Pace,
    RedisAttempts,
    admit,
)
from tests.quota.test_store import REDIS_URL, redis_available

PACE = Pace(free=3, window=timedelta(hours=1))


@pytest.fixture(params=["database", "redis"])
def attempts(request: pytest.FixtureRequest) -> Iterator[Attempts]:
    if request.param == "database":
        yield DatabaseAttempts()
        return
    if not redis_available():
        pytest.skip(f"no Redis at {REDIS_URL}")
    store = RedisAttempts(REDIS_URL, prefix=f"levante-test:{secrets.token_hex(4)}:")
    yield store
    store.close()


def _try(attempts: Attempts, database: Database, subject: str, now: datetime) -> None:
    with database.session() as session:
        admit(attempts, session, [(subject, PACE)], message="slow down", now=now)


def test_the_pace_doubles_the_wait_up_to_a_ceiling() -> None:
    assert [PACE.wait_before(n).total_seconds() for n in range(1, 8)] == [0, 0, 0, 1, 2, 4, 8]
    assert PACE.wait_before(1000) == timedelta(minutes=15)


def test_free_attempts_then_a_growing_wait(attempts: Attempts, database: Database) -> None:
    start = utcnow()
    for n in range(3):
        _try(attempts, database, "s", start + timedelta(seconds=n))
    with pytest.raises(RateLimitedError) as refused:
        _try(attempts, database, "s", start + timedelta(seconds=2.5))
    assert refused.value.headers["Retry-After"] == "1"
    assert "slow down; try again in 1 second" in refused.value.message
    # A refusal is not counted: waited as told, the attempt is taken, and the next waits 2 s.
    _try(attempts, database, "s", start + timedelta(seconds=3))
    with pytest.raises(RateLimitedError) as again:
        _try(attempts, database, "s", start + timedelta(seconds=4))
    assert again.value.headers["Retry-After"] == "1"  # 2 s after the one at 3 s
    # Another subject is not held up, and a forgotten one starts afresh.
    _try(attempts, database, "other", start + timedelta(seconds=4))
    with database.session() as session:
        attempts.forget(session, "s")
    _try(attempts, database, "s", start + timedelta(seconds=4))


def test_thirty_attempts_at_once_are_counted_one_by_one(
    attempts: Attempts, database: Database
) -> None:
    now = utcnow()

    def one(_: int) -> bool:
        try:
            _try(attempts, database, "busy", now)
        except RateLimitedError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        admitted = sum(pool.map(one, range(30)))
    assert admitted == PACE.free
