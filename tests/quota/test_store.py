"""The quota stores, in memory and in Redis: the same behaviour from both."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator

import pytest

from levante.quota import CounterCheck, MemoryQuotaStore, QuotaStore, RateCheck
from levante.quota.store import WindowCheck, WindowState

pytestmark = pytest.mark.anyio

REDIS_URL = os.environ.get("LEVANTE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_available() -> bool:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError:
        return False
    return True


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[QuotaStore]:
    if request.param == "memory":
        yield MemoryQuotaStore()
        return
    if not redis_available():
        pytest.skip(f"no Redis at {REDIS_URL} (set LEVANTE_TEST_REDIS_URL)")
    from levante.quota.redis_store import RedisQuotaStore

    redis_store = RedisQuotaStore(REDIS_URL)
    yield redis_store
    await redis_store.close()


def _key(name: str) -> str:
    return f"lv:{{test-{uuid.uuid4().hex}}}:{name}"


async def test_rate_allows_a_burst_then_one_per_interval(store: QuotaStore) -> None:
    rate = RateCheck(_key("rps"), per_second=2, burst=2)
    first = await store.acquire([rate], [])
    assert first.allowed
    assert first.rate_remaining == (1,)
    assert (await store.acquire([rate], [])).allowed
    denied = await store.acquire([rate], [])
    assert not denied.allowed
    assert denied.denied == 0
    assert 0 < denied.retry_after_ms <= 500
    await asyncio.sleep(denied.retry_after_ms / 1000 + 0.05)
    assert (await store.acquire([rate], [])).allowed


async def test_checks_are_all_or_nothing(store: QuotaStore) -> None:
    rate = RateCheck(_key("rps"), per_second=100, burst=100)
    roomy = CounterCheck(_key("a"), amount=5, limit=100, ttl_seconds=60)
    tight = CounterCheck(_key("b"), amount=5, limit=8, ttl_seconds=60)
    assert (await store.acquire([rate], [roomy, tight])).values == (5, 5)
    refused = await store.acquire([rate], [roomy, tight])
    assert not refused.allowed
    assert refused.denied == 2
    assert refused.values == (5,)
    # Nothing was taken from the counter that had room, nor from the rate.
    assert (await store.acquire([], [roomy])).values == (10,)


async def test_seeded_counters_ask_for_their_value_first(store: QuotaStore) -> None:
    month = CounterCheck(_key("month"), amount=10, limit=100, ttl_seconds=60, seeded=True)
    verdict = await store.acquire([], [month])
    assert not verdict.allowed
    assert verdict.missing == (month.key,)
    await store.seed(month.key, 85, 60)
    await store.seed(month.key, 0, 60)  # a second seed does not overwrite the first
    assert (await store.acquire([], [month])).values == (95,)
    assert not (await store.acquire([], [month])).allowed


async def test_adjust_settles_existing_counters_only(store: QuotaStore) -> None:
    counter = CounterCheck(_key("c"), amount=50, limit=60, ttl_seconds=60)
    await store.acquire([], [counter])
    await store.adjust([(counter.key, -45), (_key("gone"), 7)])
    assert (await store.acquire([], [counter])).values == (55,)


async def test_concurrent_takers_never_pass_a_limit(store: QuotaStore) -> None:
    counter = CounterCheck(_key("cap"), amount=3, limit=30, ttl_seconds=60)
    verdicts = await asyncio.gather(*(store.acquire([], [counter]) for _ in range(50)))
    assert sum(v.allowed for v in verdicts) == 10


async def test_a_burst_past_the_connection_pool_waits_and_is_served(store: QuotaStore) -> None:
    """More concurrent calls than the Redis pool has connections, on a cold script cache:
    each waits for a connection; none fails (redis-py's default pool failed past 100)."""
    from levante.quota.redis_store import RedisQuotaStore

    if isinstance(store, RedisQuotaStore):
        await store._redis.script_flush()
    rate = RateCheck(_key("burst-rate"), per_second=100_000, burst=100_000)
    counter = CounterCheck(_key("burst"), amount=1, limit=None, ttl_seconds=60)
    verdicts = await asyncio.gather(*(store.acquire([rate], [counter]) for _ in range(1_000)))
    assert all(v.allowed for v in verdicts)
    assert max(v.values[0] for v in verdicts) == 1_000


async def _seeded(
    store: QuotaStore, key: str, entries: list[tuple[str, float]] | None = None
) -> None:
    await store.seed_window(key, entries or [], 3600)


async def test_a_window_admits_its_limit_then_says_when_a_place_frees(store: QuotaStore) -> None:
    key = _key("msgs")
    assert (await store.acquire([], [], [WindowCheck(key, "r0", 2, 60)])).missing == (key,)
    await _seeded(store, key)
    assert await store.window(key, 60) == WindowState(0, None)
    first = await store.acquire([], [], [WindowCheck(key, "r1", 2, 60)])
    assert first.allowed
    assert first.values == (1,)
    assert (await store.acquire([], [], [WindowCheck(key, "r2", 2, 60)])).values == (2,)
    denied = await store.acquire([], [], [WindowCheck(key, "r3", 2, 60)])
    assert not denied.allowed
    assert denied.denied == 0
    assert 59_000 < denied.retry_after_ms <= 60_000
    state = await store.window(key, 60)
    assert state is not None
    assert state.count == 2


async def test_a_window_forgets_by_member_and_rolls(store: QuotaStore) -> None:
    key = _key("msgs")
    now_ms = time.time() * 1000
    # Seeded from the ledger: one message 59.5 s ago (about to leave), one 10 s ago.
    await _seeded(store, key, [("old", now_ms - 59_500), ("recent", now_ms - 10_000)])
    assert not (await store.acquire([], [], [WindowCheck(key, "a", 2, 60)])).allowed
    await asyncio.sleep(0.6)
    taken = await store.acquire([], [], [WindowCheck(key, "a", 2, 60)])
    assert taken.allowed
    await store.forget([(key, "a")])
    state = await store.window(key, 60)
    assert state is not None
    assert state.count == 1
    assert state.oldest_ms == pytest.approx(now_ms - 10_000, abs=1)


async def test_windows_and_counters_are_taken_together_or_not_at_all(store: QuotaStore) -> None:
    window, counter = _key("msgs"), _key("tokens")
    await _seeded(store, window)
    checks = [CounterCheck(counter, 5, 10, 60)]
    assert (await store.acquire([], checks, [WindowCheck(window, "a", 1, 60)])).allowed
    refused = await store.acquire([], checks, [WindowCheck(window, "b", 1, 60)])
    assert not refused.allowed
    assert refused.denied == 1  # the window, after the one counter
    state = await store.window(window, 60)
    assert state is not None
    assert state.count == 1
    # The counter was not taken by the refused request: 5 of 10 are left.
    assert (await store.acquire([], [CounterCheck(counter, 5, 10, 60)])).allowed


async def test_concurrent_takes_never_pass_a_window(store: QuotaStore) -> None:
    key = _key("msgs")
    await _seeded(store, key)
    verdicts = await asyncio.gather(
        *(store.acquire([], [], [WindowCheck(key, f"r{i}", 25, 3600)]) for i in range(60))
    )
    assert sum(v.allowed for v in verdicts) == 25
