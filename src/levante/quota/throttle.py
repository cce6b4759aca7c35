"""Request rates outside the inference path: admin calls per key, activations per licence.

The same store as the usage tiers' limits, so several gateway processes on one Redis share
them."""

from __future__ import annotations

import math

from levante.errors import RateLimitedError
from levante.quota.store import QuotaStore, RateCheck, store_unavailable


class Throttle:
    def __init__(self, store: QuotaStore) -> None:
        self._store = store

    async def check(self, key: str, *, per_hour: float, burst: int, what: str) -> None:
        """Take one from ``key``'s allowance (``burst`` at once, then ``per_hour``), or refuse
        with 429 and ``Retry-After``."""
        try:
            verdict = await self._store.acquire([RateCheck(key, per_hour / 3600, burst)], [])
        except Exception as exc:
            raise store_unavailable(exc) from exc
        if not verdict.allowed:
            seconds = max(1, math.ceil(verdict.retry_after_ms / 1000))
            raise RateLimitedError(
                f"too many {what}; retry in {seconds} s",
                headers={"Retry-After": str(seconds)},
            )
