"""Metering: one priced usage record per request that reached a model, and reports over them."""

from levante.metering.events import UsageEvent, UsageStatus
from levante.metering.ledger import Hold, Ledger, gateways, record_usage
from levante.metering.reconcile import reconcile
from levante.metering.reports import (
    GroupBy,
    UsageRow,
    UsageSummary,
    deployment_usage,
    usage_report,
    usage_summary,
)

__all__ = [
    "GroupBy",
    "Hold",
    "Ledger",
    "UsageEvent",
    "UsageRow",
    "UsageStatus",
    "UsageSummary",
    "deployment_usage",
    "gateways",
    "reconcile",
    "record_usage",
    "usage_report",
    "usage_summary",
]
