"""Metering: one usage record per request that reached a model, and reports over them."""

from levante.metering.events import UsageEvent, UsageStatus
from levante.metering.recorder import UsageRecorder
from levante.metering.reports import GroupBy, UsageRow, usage_report

__all__ = ["GroupBy", "UsageEvent", "UsageRecorder", "UsageRow", "UsageStatus", "usage_report"]
