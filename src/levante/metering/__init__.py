"""Metering: one priced usage record per request that reached a model, and reports over them."""

from levante.metering.events import UsageEvent, UsageStatus
from levante.metering.ledger import Hold, Ledger
from levante.metering.reports import GroupBy, UsageRow, usage_report

__all__ = ["GroupBy", "Hold", "Ledger", "UsageEvent", "UsageRow", "UsageStatus", "usage_report"]
