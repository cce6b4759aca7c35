"""Quotas: usage tiers, rate limits and spending caps, checked and taken before dispatch."""

from levante.quota.admission import Admission, Ask, Caller, Grant
from levante.quota.policy import Policy, PolicyCache, tier_of
from levante.quota.store import CounterCheck, MemoryQuotaStore, QuotaStore, RateCheck, Verdict
from levante.quota.throttle import Throttle

__all__ = [
    "Admission",
    "Ask",
    "Caller",
    "CounterCheck",
    "Grant",
    "MemoryQuotaStore",
    "Policy",
    "PolicyCache",
    "QuotaStore",
    "RateCheck",
    "Throttle",
    "Verdict",
    "open_store",
    "tier_of",
]


def open_store(redis_url: str) -> QuotaStore:
    """Redis when a URL is set (limits shared by every gateway process), else this process."""
    if redis_url:
        from levante.quota.redis_store import RedisQuotaStore

        return RedisQuotaStore(redis_url)
    return MemoryQuotaStore()
