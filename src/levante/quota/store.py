"""Quota stores: atomic check-and-take over rate limits and counters.

One call checks every limit a request is subject to and takes from all of them, or from none:
a request rejected by one limit costs nothing under the others. :class:`MemoryQuotaStore`
serves one process; :class:`levante.quota.redis_store.RedisQuotaStore` shares the limits of
several gateway processes through one Redis.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from levante.errors import OverloadedError

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RateCheck:
    """A requests-per-second limit (GCRA): ``burst`` requests at once, then one per
    ``1 / per_second`` seconds."""

    key: str
    per_second: float
    burst: int

    @property
    def interval_ms(self) -> float:
        return 1000.0 / self.per_second

    @property
    def tolerance_ms(self) -> float:
        return self.interval_ms * self.burst


@dataclass(frozen=True, slots=True)
class CounterCheck:
    """Take ``amount`` from a counter that may not pass ``limit`` (None: count only).

    The counter lives until ``ttl_seconds`` after its last change. A ``seeded`` counter starts
    from the ledger rather than from zero: when it is missing, the store says so and the caller
    seeds it (:meth:`QuotaStore.seed`) before asking again.
    """

    key: str
    amount: int
    limit: int | None
    ttl_seconds: int
    seeded: bool = False


@dataclass(frozen=True, slots=True)
class Verdict:
    """``denied`` is the index of the refusing check (rates first, then counters);
    ``retry_after_ms`` is set for rates; ``values`` are the counters after taking (or, when
    denied, the refusing counter's value); ``missing`` lists counters to seed first."""

    allowed: bool
    denied: int | None = None
    retry_after_ms: float = 0.0
    values: tuple[int, ...] = ()
    rate_remaining: tuple[int, ...] = ()
    missing: tuple[str, ...] = ()


class FailureLog:
    """Logs a failing store call with its type and traceback, at most once per ``every``
    seconds (with the number of failures since), so an outage is seen without a traceback
    per request."""

    def __init__(self, what: str, every: float = 10.0) -> None:
        self._what = what
        self._every = every
        self._last = -math.inf
        self._suppressed = 0
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self._every:
                self._suppressed += 1
                return
            self._last, suppressed, self._suppressed = now, self._suppressed, 0
        log.error("%s failed (%d more failure(s) since the last report): %s: %s", self._what,
                  suppressed, type(exc).__name__, exc, exc_info=exc)  # fmt: skip


_failures = FailureLog("the limits store")


def store_unavailable(exc: BaseException) -> OverloadedError:
    """The 503 for a store call that failed (logged, at most once per 10 s)."""
    _failures.failed(exc)
    return OverloadedError(
        "the limits store is unavailable; retry shortly",
        code="limits_store_unavailable",
        headers={"Retry-After": "1"},
    )


class QuotaStore(Protocol):
    async def acquire(
        self, rates: Sequence[RateCheck], counters: Sequence[CounterCheck]
    ) -> Verdict: ...

    async def adjust(self, deltas: Sequence[tuple[str, int]]) -> None:
        """Add (or with a negative delta, give back) to counters that still exist."""

    async def seed(self, key: str, value: int, ttl_seconds: int) -> None:
        """Set a counter that does not exist yet; one that exists is left alone."""

    async def close(self) -> None: ...


class MemoryQuotaStore:
    """Limits held in this process."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, float]] = {}  # key -> (value, expires at)
        self._lock = threading.Lock()
        self._sweep_at = 0.0

    def _get(self, key: str, now: float) -> float | None:
        entry = self._values.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    async def acquire(
        self, rates: Sequence[RateCheck], counters: Sequence[CounterCheck]
    ) -> Verdict:
        now = time.time()
        now_ms = now * 1000
        with self._lock:
            self._expire(now)
            missing = tuple(c.key for c in counters if c.seeded and self._get(c.key, now) is None)
            if missing:
                return Verdict(False, missing=missing)
            tats = []
            remaining = []
            for index, rate in enumerate(rates):
                tat = max(self._get(rate.key, now) or now_ms, now_ms)
                new_tat = tat + rate.interval_ms
                allow_at = new_tat - rate.tolerance_ms
                if now_ms < allow_at:
                    return Verdict(False, denied=index, retry_after_ms=allow_at - now_ms)
                tats.append(new_tat)
                remaining.append(
                    math.floor((now_ms + rate.tolerance_ms - new_tat) / rate.interval_ms)
                )
            values = []
            for index, counter in enumerate(counters):
                value = int(self._get(counter.key, now) or 0)
                if counter.limit is not None and value + counter.amount > counter.limit:
                    return Verdict(False, denied=len(rates) + index, values=(value,))
                values.append(value + counter.amount)
            for rate, tat in zip(rates, tats, strict=True):
                self._values[rate.key] = (tat, tat / 1000)
            for counter, value in zip(counters, values, strict=True):
                self._values[counter.key] = (value, now + counter.ttl_seconds)
        return Verdict(True, values=tuple(values), rate_remaining=tuple(remaining))

    async def adjust(self, deltas: Sequence[tuple[str, int]]) -> None:
        now = time.time()
        with self._lock:
            for key, delta in deltas:
                entry = self._values.get(key)
                if entry is not None and entry[1] > now:
                    self._values[key] = (entry[0] + delta, entry[1])

    async def seed(self, key: str, value: int, ttl_seconds: int) -> None:
        now = time.time()
        with self._lock:
            if self._get(key, now) is None:
                self._values[key] = (value, now + ttl_seconds)

    async def close(self) -> None:
        pass

    def _expire(self, now: float) -> None:
        if now < self._sweep_at:
            return
        self._sweep_at = now + 60
        for key in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]
