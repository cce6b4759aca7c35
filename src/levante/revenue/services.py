"""The revenue report the dashboard, ``GET /v1/admin/revenue…`` and ``levante revenue``
show: read from the database each time (never kept), for the operator only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.errors import InvalidRequestError
from levante.pricing import format_cents, to_cents
from levante.revenue import sources
from levante.revenue.metrics import (
    POLICIES,
    STREAMS,
    TOTAL,
    Book,
    Cohort,
    CustomerFigures,
    Metrics,
    MonthFigures,
    mrr_lines,
    usage_lines,
)
from levante.revenue.months import end_of, month_of, parse_month, shift, span
from levante.revenue.rates import Converter
from levante.revenue.sources import Customer
from levante.settings import RevenueSettings
from levante.spreadsheet import csv_text

DEFAULT_MONTHS = 12
HISTORY_MONTHS = 240  # how far back a customer counts as having paid before


@dataclass(frozen=True, slots=True)
class Report:
    """The months from ``first`` to ``last``, the top customers and the retention of the
    customers of ``first``, at ``last``."""

    currency: str
    policy: str
    policy_text: str
    first: str
    last: str
    months: list[MonthFigures]
    top: list[CustomerFigures]
    cohort: dict[str, Cohort]
    customers: dict[str, Customer]
    in_progress: str | None = None  # the month not over yet, when the report reaches it

    @property
    def latest(self) -> MonthFigures:
        return self.months[-1]

    def share(self, stream: str) -> Decimal | None:
        return self.latest.streams[stream].share


def default_range(now: datetime, first: str | None, last: str | None) -> tuple[str, str]:
    """The months a report covers: by default the twelve that end with this one, to date (a
    live deployment's dashboard shows what is happening, as ChartMogul's does)."""
    end = parse_month(last, "end") if last else month_of(now)
    start = parse_month(first, "start") if first else shift(end, -(DEFAULT_MONTHS - 1))
    span(start, end)  # refuses a reversed or too long range
    return start, end


def report(
    session: Session,
    actor: Actor,
    settings: RevenueSettings,
    *,
    now: datetime,
    first: str | None = None,
    last: str | None = None,
    organization: str | None = None,
    top: int = 10,
) -> Report:
    """The revenue report (the operator's), of every customer or of one."""
    tenancy.require_operator(session, actor)
    if not 1 <= top <= 1000:
        raise InvalidRequestError("top is between 1 and 1000", param="top")
    start, end = default_range(now, first, last)
    org_id = None if organization is None else tenancy.acting_on(session, actor, organization).id
    metrics = Metrics(_book(session, settings, start, end, org_id), settings.usage_run_rate)
    months = [metrics.month(m) for m in span(start, end)]
    ranked = metrics.customers(end)[:top]
    names = sources.customers(
        session, {c.organization_id for c in ranked} | ({org_id} if org_id else set())
    )
    return Report(
        currency=settings.reporting_currency,
        policy=settings.usage_run_rate,
        policy_text=POLICIES[settings.usage_run_rate],
        first=start,
        last=end,
        months=months,
        top=ranked,
        cohort=metrics.cohort(start, end),
        customers=names,
        in_progress=month_of(now) if start <= month_of(now) <= end else None,
    )


def _book(
    session: Session, settings: RevenueSettings, first: str, last: str, org: str | None
) -> Book:
    charges = sources.recurring_charges(session, end_of(last), org)
    earliest = min((month_of(c.period_start) for c in charges), default=first)
    start = max(min(earliest, shift(first, -1)), shift(last, -HISTORY_MONTHS))
    # The history reaches back past the report's months (to tell new from reactivated MRR):
    # up to HISTORY_MONTHS, whatever the report's own span.
    history = span(start, last, limit=HISTORY_MONTHS + 1)
    rows = sources.invoiced(session, shift(first, -2), last, org)
    paid, shapes = sources.payments(session, first, last, org)
    return Book(
        history=history,
        converter=Converter.load(session, settings.reporting_currency),
        mrr=mrr_lines(charges, history),
        usage=usage_lines(rows),
        invoiced=rows,
        collected=paid,
        shapes=shapes,
    )


def money_text(nanos: int) -> str:
    """An amount of the report as shown everywhere (API, CSV, pages): rounded to the cent,
    without thousands separators. The metrics keep nanos; a twelfth of an annual price is
    rarely a whole cent."""
    return format_cents(to_cents(nanos), grouping=False)


def ratio_text(value: Decimal | None) -> str:
    return "" if value is None else str(value)


CSV_COLUMNS = (
    "month", "stream", "mrr", "subscription_arr", "usage", "run_rate_3_months",
    "run_rate_last_month", "arr", "customers", "arpa", "share", "new", "expansion",
    "contraction", "churn", "reactivation", "fx", "gross_mrr_churn", "net_mrr_churn",
    "invoiced", "collected", "currency",
)  # fmt: skip


def report_csv(rep: Report) -> str:
    """The report's months as CSV: a row per month and stream (and ``total``)."""
    return csv_text(
        CSV_COLUMNS, (_csv_row(rep, m, stream) for m in rep.months for stream in (*STREAMS, TOTAL))
    )


def _csv_row(rep: Report, m: MonthFigures, stream: str) -> list[object]:
    f, moved, churn = m.streams[stream], m.movements[stream], m.churn[stream]
    return [
        m.month, stream, *(money_text(v) for v in (
            f.mrr, f.subscription_arr, f.usage, f.run_rate_3_months, f.run_rate_last_month,
            f.arr)),
        f.customers, "" if f.arpa is None else money_text(f.arpa), ratio_text(f.share),
        *(money_text(v) for v in (
            moved.new, moved.expansion, moved.contraction, moved.churn, moved.reactivation,
            moved.fx)),
        ratio_text(churn.gross), ratio_text(churn.net),
        money_text(m.invoiced[stream]), money_text(m.collected[stream]), rep.currency,
    ]  # fmt: skip
