"""Limits shared by several gateway processes through Redis: one Lua script per request
checks and takes every limit atomically, in one round trip."""

from __future__ import annotations

import time
from collections.abc import Sequence

import redis.asyncio as redis

from levante.quota.store import CounterCheck, RateCheck, Verdict

# KEYS: the rate keys, then the counter keys.
# ARGV: now (ms), number of rates, number of counters; per rate: interval, tolerance (ms);
# per counter: amount, limit (-1: none), ttl (s), seeded (1/0).
# Returns {0, rate remainings..., counter values...} when taken; {1, index, retry_ms, value}
# when denied (index 1-based over rates then counters); {2, missing indexes...} to seed first.
_ACQUIRE = """
local now = tonumber(ARGV[1])
local nr = tonumber(ARGV[2])
local nc = tonumber(ARGV[3])
local cbase = 4 + 2 * nr
local missing = {2}
for i = 1, nc do
  local a = cbase + 4 * (i - 1)
  if ARGV[a + 3] == '1' and redis.call('EXISTS', KEYS[nr + i]) == 0 then
    table.insert(missing, i)
  end
end
if #missing > 1 then return missing end
local tats = {}
local result = {0}
for i = 1, nr do
  local interval = tonumber(ARGV[4 + 2 * (i - 1)])
  local tolerance = tonumber(ARGV[5 + 2 * (i - 1)])
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
for i = 1, nr do
  redis.call('SET', KEYS[i], tostring(tats[i]), 'PX', math.max(1, math.ceil(tats[i] - now)))
end
for i = 1, nc do
  local a = cbase + 4 * (i - 1)
  redis.call('INCRBY', KEYS[nr + i], ARGV[a])
  redis.call('EXPIRE', KEYS[nr + i], ARGV[a + 2])
  table.insert(result, values[i])
end
return result
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

    async def acquire(
        self, rates: Sequence[RateCheck], counters: Sequence[CounterCheck]
    ) -> Verdict:
        keys = [r.key for r in rates] + [c.key for c in counters]
        args: list[str | int | float] = [time.time() * 1000, len(rates), len(counters)]
        for rate in rates:
            args += [rate.interval_ms, rate.tolerance_ms]
        for counter in counters:
            limit = -1 if counter.limit is None else counter.limit
            args += [counter.amount, limit, counter.ttl_seconds, int(counter.seeded)]
        reply = await self._acquire(keys=keys, args=args)
        status = int(reply[0])
        if status == 2:
            return Verdict(False, missing=tuple(counters[int(i) - 1].key for i in reply[1:]))
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

    async def close(self) -> None:
        await self._redis.aclose()
