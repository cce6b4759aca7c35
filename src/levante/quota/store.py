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
class WindowCheck:
    """At most ``limit`` entries in the last ``seconds``: a sliding log of when each was taken,
    exact at any moment (a chat plan's messages per rolling window). Taking adds ``member``
    (the request id), so that a request that never ran can be given back by name. A missing
    log is seeded from the ledger first, like a seeded counter."""

    key: str
    member: str
    limit: int
    seconds: int

    @property
    def ttl_seconds(self) -> int:
        return self.seconds + 60


@dataclass(frozen=True, slots=True)
class WindowState:
    """A log's entries in its window now, and when the oldest of them was taken (ms)."""

    count: int
    oldest_ms: float | None


@dataclass(frozen=True, slots=True)
class Verdict:
    """``denied`` is the index of the refusing check (rates, then counters, then windows);
    ``retry_after_ms`` is set for rates and windows; ``values`` are the counters' values
    after taking, then the windows' counts (or, when denied, the refusing one's value);
    ``missing`` lists counters and windows to seed first."""

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
        self,
        rates: Sequence[RateCheck],
        counters: Sequence[CounterCheck],
        windows: Sequence[WindowCheck] = (),
    ) -> Verdict: ...

    async def adjust(self, deltas: Sequence[tuple[str, int]]) -> None:
        """Add (or with a negative delta, give back) to counters that still exist."""

    async def seed(self, key: str, value: int, ttl_seconds: int) -> None:
        """Set a counter that does not exist yet; one that exists is left alone."""

    async def window(self, key: str, seconds: int) -> WindowState | None:
        """A log's state now; None when it is missing (to seed)."""

    async def seed_window(
        self, key: str, entries: Sequence[tuple[str, float]], ttl_seconds: int
    ) -> None:
        """Create a log that does not exist yet with ``(member, taken at ms)`` entries."""

    async def forget(self, entries: Sequence[tuple[str, str]]) -> None:
        """Take ``(key, member)`` entries out of their logs (a request that never ran)."""

    async def close(self) -> None: ...


class MemoryQuotaStore:
    """Limits held in this process."""

    def __init__(self) -> None:
        self._values: dict[str, tuple[float, float]] = {}  # key -> (value, expires at)
        self._logs: dict[str, tuple[dict[str, float], float]] = {}  # key -> (entries, expires)
        self._lock = threading.Lock()
        self._sweep_at = 0.0

    def _get(self, key: str, now: float) -> float | None:
        entry = self._values.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    def _log(self, key: str, now: float) -> dict[str, float] | None:
        entry = self._logs.get(key)
        if entry is None or entry[1] <= now:
            return None
        return entry[0]

    async def acquire(
        self,
        rates: Sequence[RateCheck],
        counters: Sequence[CounterCheck],
        windows: Sequence[WindowCheck] = (),
    ) -> Verdict:
        now = time.time()
        now_ms = now * 1000
        with self._lock:
            self._expire(now)
            missing = tuple(c.key for c in counters if c.seeded and self._get(c.key, now) is None)
            missing += tuple(w.key for w in windows if self._log(w.key, now) is None)
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
            counts = []
            for index, window in enumerate(windows):
                log = self._log(window.key, now) or {}
                since = now_ms - window.seconds * 1000
                for member in [m for m, at in log.items() if at <= since]:
                    del log[member]
                if len(log) + 1 > window.limit:
                    oldest = min(log.values(), default=now_ms)
                    return Verdict(
                        False,
                        denied=len(rates) + len(counters) + index,
                        retry_after_ms=max(0.0, oldest + window.seconds * 1000 - now_ms),
                        values=(len(log),),
                    )
                counts.append(len(log) + 1)
            for rate, tat in zip(rates, tats, strict=True):
                self._values[rate.key] = (tat, tat / 1000)
            for counter, value in zip(counters, values, strict=True):
                self._values[counter.key] = (value, now + counter.ttl_seconds)
            for window in windows:
                log = self._log(window.key, now) or {}
                log[window.member] = now_ms
                self._logs[window.key] = (log, now + window.ttl_seconds)
        return Verdict(True, values=(*values, *counts), rate_remaining=tuple(remaining))

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

    async def window(self, key: str, seconds: int) -> WindowState | None:
        now_ms = time.time() * 1000
        with self._lock:
            log = self._log(key, now_ms / 1000)
            if log is None:
                return None
            live = [at for at in log.values() if at > now_ms - seconds * 1000]
        return WindowState(len(live), min(live, default=None))

    async def seed_window(
        self, key: str, entries: Sequence[tuple[str, float]], ttl_seconds: int
    ) -> None:
        now = time.time()
        with self._lock:
            if self._log(key, now) is None:
                self._logs[key] = (dict(entries), now + ttl_seconds)

    async def forget(self, entries: Sequence[tuple[str, str]]) -> None:
        now = time.time()
        with self._lock:
            for key, member in entries:
                log = self._log(key, now)
                if log is not None:
                    log.pop(member, None)

    async def close(self) -> None:
        pass

    def _expire(self, now: float) -> None:
        if now < self._sweep_at:
            return
        self._sweep_at = now + 60
        for key in [k for k, (_, expires) in self._values.items() if expires <= now]:
            del self._values[key]
        for key in [k for k, (_, expires) in self._logs.items() if expires <= now]:
            del self._logs[key]
