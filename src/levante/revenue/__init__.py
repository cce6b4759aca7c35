"""Revenue: what the business earns, per stream (``api``, ``chat``, ``enterprise``,
``support``) and in total, in the operator's reporting currency.

Computed on each call from the charges subscriptions made, the issued invoices' lines and the
payments (:mod:`levante.revenue.sources`), never from a copy that could drift; the
definitions are in :mod:`levante.revenue.metrics` and ``docs/revenue.md``.
"""

from __future__ import annotations

from levante.revenue.metrics import (
    STREAMS,
    TOTAL,
    Cohort,
    CustomerFigures,
    MonthFigures,
    Movement,
    StreamFigures,
)
from levante.revenue.rates import Rate, list_rates, set_rate
from levante.revenue.services import (
    Report,
    money_text,
    report,
    report_csv,
)
from levante.revenue.sources import Customer, customers

__all__ = [
    "STREAMS",
    "TOTAL",
    "Cohort",
    "Customer",
    "CustomerFigures",
    "MonthFigures",
    "Movement",
    "Rate",
    "Report",
    "StreamFigures",
    "customers",
    "list_rates",
    "money_text",
    "report",
    "report_csv",
    "set_rate",
]
