"""Quotas: usage tiers, rate limits and spending caps, checked and taken before dispatch."""

from levante.quota.admission import (
    Admission,
    Allowance,
    Ask,
    Caller,
    Grant,
    MessageWindow,
    describe_window,
)
from levante.quota.policy import PolicyCache
from levante.quota.services import (
    SpendLimits,
    change_spend_limit,
    pin_tier,
    record_paid_spend,
    spend_limits,
    tier_standing,
)
from levante.quota.store import CounterCheck, MemoryQuotaStore, QuotaStore, RateCheck
from levante.quota.throttle import Throttle

__all__ = [
    "Admission",
    "Allowance",
    "Ask",
    "Caller",
    "CounterCheck",
    "Grant",
    "MemoryQuotaStore",
    "MessageWindow",
    "PolicyCache",
    "QuotaStore",
    "RateCheck",
    "SpendLimits",
    "Throttle",
    "change_spend_limit",
    "describe_window",
    "open_store",
    "pin_tier",
    "record_paid_spend",
    "spend_limits",
    "tier_standing",
]


def open_store(redis_url: str) -> QuotaStore:
    """Redis when a URL is set (limits shared by every gateway process), else this process."""
    if redis_url:
        from levante.quota.redis_store import RedisQuotaStore

        return RedisQuotaStore(redis_url)
    return MemoryQuotaStore()
