"""Limits shared by several gateway processes through Redis: one Lua script per request
checks and takes every limit atomically, in one round trip."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as redis

from levante.quota.store import CounterCheck, RateCheck, Verdict, WindowCheck, WindowState

# KEYS: the rate keys, then the counter keys, then the window keys.
# ARGV: now (ms), number of rates, counters and windows; per rate: interval, tolerance (ms);
# per counter: amount, limit (-1: none), ttl (s), seeded (1/0); per window: limit, span (ms),
# ttl (s), member. Returns {0, rate remainings..., counter values..., window counts...} when
# taken; {1, index, retry_ms, value} when denied (index 1-based over rates, counters, then
# windows); {2, missing indexes...} (1-based over counters, then windows) to seed first.
# A window is a sorted set of request ids scored by when they were taken, with one marker
# member far in the future so that a seeded, empty log still exists.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
local nc = tonumber(ARGV[3])
local nw = tonumber(ARGV[4])
local cbase = 5 + 2 * nr
local wbase = cbase + 4 * nc
local kw = nr + nc
local missing = {2}
for i = 1, nc do
  local a = cbase + 4 * (i - 1)
  if ARGV[a + 3] == '1' and redis.call('EXISTS', KEYS[nr + i]) == 0 then
    table.insert(missing, i)
  end
end
for i = 1, nw do
  if redis.call('EXISTS', KEYS[kw + i]) == 0 then table.insert(missing, nc + i) end
end
if #missing > 1 then return missing end
local tats = {}
local result = {0}
for i = 1, nr do
  local interval = tonumber(ARGV[5 + 2 * (i - 1)])
  local tolerance = tonumber(ARGV[6 + 2 * (i - 1)])
  local tat = tonumber(redis.call('GET', KEYS[i]) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - tolerance
  if now < allow_at then return {1, i, tostring(allow_at - now), 0} end
  tats[i] = new_tat
  table.insert(result, math.floor((now + tolerance - new_tat) / interval))
end
local values = {}
for i = 1, nc do
  local a = cbase + 4 * (i - 1)
  local amount = tonumber(ARGV[a])
  local limit = tonumber(ARGV[a + 1])
  local value = tonumber(redis.call('GET', KEYS[nr + i]) or '0')
  if limit >= 0 and value + amount > limit then return {1, nr + i, '0', value} end
  values[i] = value + amount
end
local counts = {}
for i = 1, nw do
  local a = wbase + 4 * (i - 1)
  local limit = tonumber(ARGV[a])
  local span = tonumber(ARGV[a + 1])
  local key = KEYS[kw + i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - span)
  local count = redis.call('ZCOUNT', key, '-inf', '8e15')
  if count + 1 > limit then
    local oldest = redis.call('ZRANGEBYSCORE', key, '-inf', '8e15', 'WITHSCORES', 'LIMIT', 0, 1)
    local wait = 0
    if oldest[2] then wait = tonumber(oldest[2]) + span - now end
    return {1, kw + i, tostring(wait), count}
  end
  counts[i] = count + 1
end
for i = 1, nr do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
end
for i = 1, nc do
  local a = cbase + 4 * (i - 1)
  redis.call('INCRBY', KEYS[nr + i], ARGV[a])
  redis.call('EXPIRE', KEYS[nr + i], ARGV[a + 2])
  table.insert(result, values[i])
end
for i = 1, nw do
  local a = wbase + 4 * (i - 1)
  redis.call('ZADD', KEYS[kw + i], now, ARGV[a + 3])
  redis.call('EXPIRE', KEYS[kw + i], ARGV[a + 2])
  table.insert(result, counts[i])
end
return result
"""

# KEYS: one window; ARGV: ttl (s), then member, taken at (ms) pairs.
_SEED_WINDOW = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('ZADD', KEYS[1], '9e15', '~seeded')
for i = 2, #ARGV, 2 do redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i]) end
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
"""

_ADJUST = """
for i = 1, #KEYS do
  if redis.call('EXISTS', KEYS[i]) == 1 then redis.call('INCRBY', KEYS[i], ARGV[i]) end
end
return 0
"""


# redis-py's default pool opens at most 100 connections and then fails the call at once
# (MaxConnectionsError): a burst of more concurrent requests than that in one process was
# answered 503. A blocking pool makes the burst queue for a connection instead; a script call
# takes well under a millisecond, so a few dozen connections serve thousands of requests/s.
POOL_CONNECTIONS = 32
POOL_WAIT_SECONDS = 5.0


class RedisQuotaStore:
    def __init__(
        self,
        url: str,
        *,
        max_connections: int = POOL_CONNECTIONS,
        wait_seconds: float = POOL_WAIT_SECONDS,
    ) -> None:
        pool = redis.BlockingConnectionPool.from_url(
            url, max_connections=max_connections, timeout=wait_seconds
        )
        self._redis = redis.Redis(connection_pool=pool)
        self._acquire = self._redis.register_script(_ACQUIRE)
        self._adjust = self._redis.register_script(_ADJUST)
        self._seed_window = self._redis.register_script(_SEED_WINDOW)

    async def acquire(
        self,
        rates: Sequence[RateCheck],
        counters: Sequence[CounterCheck],
        windows: Sequence[WindowCheck] = (),
    ) -> Verdict:
        keys = [r.key for r in rates] + [c.key for c in counters] + [w.key for w in windows]
        args: list[str | int | float] = [
            time.time() * 1000,
            len(rates),
            len(counters),
            len(windows),
        ]
        for rate in rates:
            args += [rate.interval_ms, rate.tolerance_ms]
        for counter in counters:
            limit = -1 if counter.limit is None else counter.limit
            args += [counter.amount, limit, counter.ttl_seconds, int(counter.seeded)]
        for window in windows:
            args += [window.limit, window.seconds * 1000, window.ttl_seconds, window.member]
        reply = await self._acquire(keys=keys, args=args)
        status = int(reply[0])
        if status == 2:
            seedable = [c.key for c in counters] + [w.key for w in windows]
            return Verdict(False, missing=tuple(seedable[int(i) - 1] for i in reply[1:]))
        if status == 1:
            return Verdict(
                False,
                denied=int(reply[1]) - 1,
                retry_after_ms=float(reply[2]),
                values=(int(reply[3]),),
            )
        numbers = [int(v) for v in reply[1:]]
        return Verdict(
            True, values=tuple(numbers[len(rates) :]), rate_remaining=tuple(numbers[: len(rates)])
        )

    async def adjust(self, deltas: Sequence[tuple[str, int]]) -> None:
        if deltas:
            await self._adjust(keys=[k for k, _ in deltas], args=[d for _, d in deltas])

    async def seed(self, key: str, value: int, ttl_seconds: int) -> None:
        await self._redis.set(key, value, ex=ttl_seconds, nx=True)

    async def window(self, key: str, seconds: int) -> WindowState | None:
        since = time.time() * 1000 - seconds * 1000
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.exists(key)
            pipe.zcount(key, f"({since}", "8e15")
            pipe.zrangebyscore(key, f"({since}", "8e15", start=0, num=1, withscores=True)
            exists, count, oldest = await pipe.execute()
        if not exists:
            return None
        return WindowState(int(count), float(oldest[0][1]) if oldest else None)

    async def seed_window(
        self, key: str, entries: Sequence[tuple[str, float]], ttl_seconds: int
    ) -> None:
        args: list[str | int | float] = [ttl_seconds]
        for member, at_ms in entries:
            args += [member, at_ms]
        await self._seed_window(keys=[key], args=args)

    async def forget(self, entries: Sequence[tuple[str, str]]) -> None:
        if not entries:
            return
        async with self._redis.pipeline(transaction=False) as pipe:
            for key, member in entries:
                pipe.zrem(key, member)
            await pipe.execute()

    async def close(self) -> None:
        await self._redis.aclose()
