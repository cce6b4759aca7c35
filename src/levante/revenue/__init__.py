"""Revenue: what the business earns, per stream (``api``, ``chat``, ``enterprise``,
``support``) and in total, in the operator's reporting currency.

Computed on each call from the charges subscriptions made, the issued invoices' lines and the
payments (:mod:`levante.revenue.sources`), never from a copy that could drift; the
definitions are in :mod:`levante.revenue.metrics` and ``docs/revenue.md``.
"""

from __future__ import annotations

from levante.revenue.metrics import (
    POLICIES,
    STREAMS,
    TOTAL,
    Churn,
    Cohort,
    CustomerFigures,
    MonthFigures,
    Movement,
    StreamFigures,
)
from levante.revenue.months import parse_month
from levante.revenue.rates import Converter, Rate, list_rates, set_rate
from levante.revenue.services import (
    Report,
    default_range,
    money_text,
    ratio_text,
    report,
    report_csv,
)
from levante.revenue.sources import Customer, customers

__all__ = [
    "POLICIES",
    "STREAMS",
    "TOTAL",
    "Churn",
    "Cohort",
    "Converter",
    "Customer",
    "CustomerFigures",
    "MonthFigures",
    "Movement",
    "Rate",
    "Report",
    "StreamFigures",
    "customers",
    "default_range",
    "list_rates",
    "money_text",
    "parse_month",
    "ratio_text",
    "report",
    "report_csv",
    "set_rate",
]
