"""Metering: one priced usage record per request that reached a model, and reports over them."""

from levante.metering.events import UsageEvent, UsageStatus
from levante.metering.ledger import Gateway, Hold, Ledger, gateways, record_usage
from levante.metering.reconcile import Reconciliation, reconcile
from levante.metering.reports import (
    GroupBy,
    UsageRow,
    UsageSummary,
    deployment_usage,
    usage_report,
    usage_summary,
)

__all__ = [
    "Gateway",
    "GroupBy",
    "Hold",
    "Ledger",
    "Reconciliation",
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
