"""The revenue metrics, computed from what :mod:`levante.revenue.sources` reads.

Subscription MRR is read off the charges subscriptions made: a period's charge counts, for
every month end its period covers, as its amount divided by the months of the period (an
annual plan's twelfth); a proration counts as the rate it prorates (its amount scaled back up
to the whole period), so an upgrade's credit and debit move MRR from the old price to the new
one; a subscription ended early stops counting when it ended. A trial charges nothing and so
counts nothing; charges are before tax. API usage is read off the issued invoices' usage
lines and kept out of MRR: it has its own run-rate. Everything is converted into the
reporting currency at the rate in force on the last day of the month it belongs to.
``docs/revenue.md`` gives each definition with its formula and source.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Literal

from levante.pricing import CENT
from levante.revenue.months import end_of, last_day, months_between, shift
from levante.revenue.rates import Converter
from levante.revenue.sources import USAGE, Collected, InvoicedAmount, InvoiceShape, RecurringCharge
from levante.vocabulary import Product

STREAMS: tuple[str, ...] = tuple(Product)  # api, chat, enterprise, support
TOTAL = "total"
RunRatePolicy = Literal["trailing_3_months", "last_month"]
POLICIES: dict[str, str] = {
    "trailing_3_months": "total ARR = subscription MRR x 12 + the API's usage run-rate, "
    "4 x its invoiced usage of the last three months; usage is never counted in MRR",
    "last_month": "total ARR = subscription MRR x 12 + the API's usage run-rate, "
    "12 x its invoiced usage of the last month; usage is never counted in MRR",
}
_TICK = timedelta(microseconds=1)
_MONTH_TICKS = 2_629_746_000_000  # an average month (365.2425 / 12 days) in microseconds

Key = tuple[str, str]  # (organization id, stream)


@dataclass(slots=True)
class Movement:
    """How MRR moved over a month, in the reporting currency's nanos. ``fx`` is what the
    change of exchange rates alone did to the MRR carried over, so that the opening MRR plus
    every movement is the closing MRR (to within a cent per customer: a change under a cent
    is no movement)."""

    new: int = 0
    expansion: int = 0
    contraction: int = 0  # negative
    churn: int = 0  # negative
    reactivation: int = 0
    fx: int = 0

    @property
    def net(self) -> int:
        return (
            self.new + self.expansion + self.contraction + self.churn + self.reactivation + self.fx
        )


@dataclass(frozen=True, slots=True)
class Churn:
    """Gross MRR churn: MRR lost (churn and contraction) over the opening MRR; net MRR churn
    also counts back what expansion and reactivation won. ``None`` with no opening MRR."""

    opening: int
    gross: Decimal | None
    net: Decimal | None


@dataclass(frozen=True, slots=True)
class StreamFigures:
    """A stream's figures at a month's end (all of them together for ``total``)."""

    stream: str
    mrr: int  # subscription MRR
    subscription_arr: int  # MRR x 12
    usage: int  # invoiced API usage of the month
    run_rate_3_months: int  # 4 x the trailing three months of usage
    run_rate_last_month: int  # 12 x the month's usage
    arr: int  # subscription ARR + the run-rate the policy names
    customers: int
    arpa: int | None  # ARR / 12 / customers: revenue per account and month
    share: Decimal | None  # of the total ARR


@dataclass(frozen=True, slots=True)
class MonthFigures:
    month: str
    streams: dict[str, StreamFigures]  # every stream and ``total``
    movements: dict[str, Movement]
    churn: dict[str, Churn]
    invoiced: dict[str, int]
    collected: dict[str, int]


@dataclass(frozen=True, slots=True)
class CustomerFigures:
    """One customer's ARR at a month's end, per stream and in total."""

    organization_id: str
    arr: dict[str, int]  # per stream, and ``total``
    mrr: int
    run_rate: int


@dataclass(frozen=True, slots=True)
class Cohort:
    """The customers paying at ``start``, and what they pay at ``end`` (at ``end``'s exchange
    rates on both sides). NRR counts expansion; GRR caps each customer at what they paid."""

    stream: str
    start: str
    end: str
    customers: int
    retained: int  # still paying at the end
    opening: int
    closing: int
    nrr: Decimal | None
    grr: Decimal | None


@dataclass(slots=True)
class Book:
    """The facts the metrics read, for the months ``history`` (the report's months last)."""

    history: list[str]
    converter: Converter
    mrr: dict[tuple[str, str, str], list[int]] = field(default_factory=dict)
    usage: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)  # nanos
    invoiced: list[InvoicedAmount] = field(default_factory=list)
    collected: list[Collected] = field(default_factory=list)
    shapes: dict[str, InvoiceShape] = field(default_factory=dict)

    def index(self, month: str) -> int:
        return self.history.index(month)


def mrr_lines(
    charges: Iterable[RecurringCharge], history: Sequence[str]
) -> dict[tuple[str, str, str], list[int]]:
    """Subscription MRR per (organisation, stream, currency) at each month end of
    ``history``, in nanos of the charge's currency."""
    charges = list(charges)
    ends = [end_of(month) - _TICK for month in history]
    parents: dict[tuple[str, object], tuple[int, int]] = {}
    for c in charges:
        if c.kind == "subscription":
            whole = (c.period_end - c.period_start) // _TICK
            months = months_between(c.period_start, c.period_end)
            parents[(c.subscription_id, c.period_end)] = (whole, months)
    exact: dict[tuple[str, str, str], list[Decimal]] = {}
    for c in charges:
        covered = (c.period_end - c.period_start) // _TICK
        if c.kind == "subscription":
            whole, months = covered, months_between(c.period_start, c.period_end)
        else:
            # A proration is scaled back up to the period it is part of; without one (not
            # made by billing), it stands for a period of its own length.
            whole, months = parents.get(
                (c.subscription_id, c.period_end), (covered, max(1, round(covered / _MONTH_TICKS)))
            )
        if covered <= 0:
            continue
        rate = Decimal(c.amount_nanos) * whole / (covered * months)
        until = c.period_end if c.ended_at is None else min(c.period_end, c.ended_at)
        first, stop = bisect.bisect_left(ends, c.period_start), bisect.bisect_left(ends, until)
        if first >= stop:
            continue
        line = exact.setdefault(
            (c.organization_id, c.stream, c.currency), [Decimal(0)] * len(history)
        )
        for i in range(first, stop):
            line[i] += rate
    return {
        key: [int(value.to_integral_value()) for value in values] for key, values in exact.items()
    }


class Metrics:
    """The metrics of a :class:`Book`, month by month."""

    def __init__(self, book: Book, policy: RunRatePolicy) -> None:
        self.book = book
        self.policy = policy
        self._subscription_cache: dict[tuple[int, int], dict[Key, int]] = {}
        # The first month each customer paid in each stream (in its own currency, so that no
        # exchange rate is needed to know it), to tell a reactivation from a new customer.
        self._first: dict[Key, int] = {}
        for (org, stream, _), values in book.mrr.items():
            first = next((i for i, v in enumerate(values) if v > 0), None)
            if first is not None:
                self._first[(org, stream)] = min(first, self._first.get((org, stream), first))

    # -- subscription MRR --------------------------------------------------------------------

    def subscription(self, i: int, rate_of: int | None = None) -> dict[Key, int]:
        """MRR per (organisation, stream) at month ``i``'s end, converted at the rates of
        month ``rate_of`` (by default its own)."""
        if i < 0:
            return {}
        at = i if rate_of is None else rate_of
        cached = self._subscription_cache.get((i, at))
        if cached is not None:
            return cached
        day = last_day(self.book.history[at])
        out: dict[Key, int] = defaultdict(int)
        for (org, stream, currency), values in self.book.mrr.items():
            if values[i]:
                out[(org, stream)] += self.book.converter.convert(values[i], currency, day)
        result = {k: v for k, v in out.items() if v}
        self._subscription_cache[(i, at)] = result
        return result

    # -- API usage ---------------------------------------------------------------------------

    def usage(self, month: str, rate_month: str | None = None) -> dict[str, int]:
        """Invoiced API usage per organisation in ``month`` (converted at the rates of
        ``rate_month``, by default ``month``)."""
        day = last_day(rate_month or month)
        out: dict[str, int] = defaultdict(int)
        for (org, currency), months in self.book.usage.items():
            nanos = months.get(month, 0)
            if nanos:
                out[org] += self.book.converter.convert(nanos, currency, day)
        return dict(out)

    def run_rates(self, month: str) -> tuple[dict[str, int], dict[str, int]]:
        """Per organisation: 4 x the trailing three months' usage, and 12 x the month's."""
        last = self.usage(month)
        trailing: dict[str, int] = defaultdict(int)
        for back in range(3):
            for org, nanos in self.usage(shift(month, -back)).items():
                trailing[org] += 4 * nanos
        return dict(trailing), {org: 12 * nanos for org, nanos in last.items()}

    def _policy_rate(self, trailing: dict[str, int], last: dict[str, int]) -> dict[str, int]:
        return trailing if self.policy == "trailing_3_months" else last

    # -- per customer ------------------------------------------------------------------------

    def customers(self, month: str) -> list[CustomerFigures]:
        """Every paying customer's ARR at the month's end, the largest first."""
        i = self.book.index(month)
        trailing, last = self.run_rates(month)
        run_rate = self._policy_rate(trailing, last)
        arr: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        mrr: dict[str, int] = defaultdict(int)
        for (org, stream), value in self.subscription(i).items():
            arr[org][stream] += 12 * value
            mrr[org] += value
        for org, value in run_rate.items():
            arr[org]["api"] += value
        out = []
        for org, streams in arr.items():
            total = sum(streams.values())
            if total <= 0:
                continue
            out.append(
                CustomerFigures(org, {**streams, TOTAL: total}, mrr[org], run_rate.get(org, 0))
            )
        return sorted(out, key=lambda c: (-c.arr[TOTAL], c.organization_id))

    # -- a month -----------------------------------------------------------------------------

    def month(self, month: str) -> MonthFigures:
        i = self.book.index(month)
        subs = self.subscription(i)
        trailing, last = self.run_rates(month)
        usage = self.usage(month)
        streams: dict[str, StreamFigures] = {}
        total_arr = sum(12 * v for v in subs.values()) + sum(
            self._policy_rate(trailing, last).values()
        )
        everyone: set[str] = set()
        for stream in (*STREAMS, TOTAL):
            keys = {k: v for k, v in subs.items() if stream in (TOTAL, k[1])}
            mrr = sum(keys.values())
            paying = {org for (org, _), v in keys.items() if v > 0}
            if stream in ("api", TOTAL):
                paying |= {org for org, v in usage.items() if v > 0}
                use = sum(usage.values())
                three, one = sum(trailing.values()), sum(last.values())
            else:
                use = three = one = 0
            arr = 12 * mrr + (three if self.policy == "trailing_3_months" else one)
            if stream == TOTAL:
                paying = everyone
            else:
                everyone |= paying
            streams[stream] = StreamFigures(
                stream=stream,
                mrr=mrr,
                subscription_arr=12 * mrr,
                usage=use,
                run_rate_3_months=three,
                run_rate_last_month=one,
                arr=arr,
                customers=len(paying),
                arpa=(arr // 12) // len(paying) if paying else None,
                share=_ratio(arr, total_arr),
            )
        movements = self.movements(i)
        churn = {}
        opening = self.subscription(i - 1, rate_of=i) if i > 0 else {}
        for stream, moved in movements.items():
            start = sum(v for (_, s), v in opening.items() if stream in (TOTAL, s))
            lost = -(moved.churn + moved.contraction)
            won = moved.expansion + moved.reactivation
            churn[stream] = Churn(start, _ratio(lost, start), _ratio(lost - won, start))
        invoiced, collected = self.invoiced(month)
        return MonthFigures(month, streams, movements, churn, invoiced, collected)

    def movements(self, i: int) -> dict[str, Movement]:
        """MRR movements over month ``i``, per stream (per customer and stream) and in total
        (per customer: a customer who moves from one stream to another expands or contracts,
        it does not churn)."""
        out = {stream: Movement() for stream in (*STREAMS, TOTAL)}
        if i <= 0:
            return out
        now = self.subscription(i)
        before = self.subscription(i - 1, rate_of=i)
        before_own = self.subscription(i - 1)
        seen = {key for key, first in self._first.items() if first < i}
        seen_orgs = {org for org, _ in seen}
        for key in set(now) | set(before):
            _classify(out[key[1]], before.get(key, 0), now.get(key, 0), key in seen)
        by_org_now: dict[str, int] = defaultdict(int)
        by_org_before: dict[str, int] = defaultdict(int)
        for (org, _), v in now.items():
            by_org_now[org] += v
        for (org, _), v in before.items():
            by_org_before[org] += v
        for org in set(by_org_now) | set(by_org_before):
            _classify(out[TOTAL], by_org_before[org], by_org_now[org], org in seen_orgs)
        for stream, moved in out.items():
            moved.fx = sum(v for (_, s), v in before.items() if stream in (TOTAL, s)) - sum(
                v for (_, s), v in before_own.items() if stream in (TOTAL, s)
            )
        return out

    def invoiced(self, month: str) -> tuple[dict[str, int], dict[str, int]]:
        """What the issued invoices of the month billed per stream (before tax), and what the
        payments received in it paid per stream (each payment shared out like its invoice's
        lines, its tax left out)."""
        day = last_day(month)
        convert = self.book.converter.convert
        billed = dict.fromkeys(STREAMS, 0)
        for row in self.book.invoiced:
            if row.month == month:
                billed[row.stream] += convert(row.cents * CENT, row.currency, day)
        paid = dict.fromkeys(STREAMS, 0)
        for payment in self.book.collected:
            if payment.month != month:
                continue
            shape = self.book.shapes.get(payment.invoice_id)
            if shape is None or shape.total_cents <= 0:
                continue
            for stream, cents in shape.streams.items():
                share = Decimal(payment.cents) * cents / shape.total_cents
                paid[stream] += convert(int(share * CENT), payment.currency, day)
        billed[TOTAL], paid[TOTAL] = sum(billed.values()), sum(paid.values())
        return billed, paid

    # -- a cohort ----------------------------------------------------------------------------

    def cohort(self, start: str, end: str) -> dict[str, Cohort]:
        """Net and gross revenue retention of the customers paying at ``start``, per stream
        (for the API, the month's invoiced usage stands in for MRR) and in total."""
        i, j = self.book.index(start), self.book.index(end)
        first = self._revenue(i, rate_of=j)
        last = self._revenue(j, rate_of=j)
        out = {}
        for stream in (*STREAMS, TOTAL):
            opening_by = _by_org(first, stream)
            closing_by = _by_org(last, stream)
            members = {org for org, v in opening_by.items() if v > 0}
            opening = sum(opening_by[org] for org in members)
            closing = sum(max(0, closing_by.get(org, 0)) for org in members)
            kept = sum(min(opening_by[org], max(0, closing_by.get(org, 0))) for org in members)
            out[stream] = Cohort(
                stream, start, end, len(members),
                sum(1 for org in members if closing_by.get(org, 0) > 0),
                opening, closing, _ratio(closing, opening), _ratio(kept, opening),
            )  # fmt: skip
        return out

    def _revenue(self, i: int, rate_of: int) -> dict[Key, int]:
        out = dict(self.subscription(i, rate_of=rate_of))
        month, rates = self.book.history[i], self.book.history[rate_of]
        for org, nanos in self.usage(month, rates).items():
            out[(org, "api")] = out.get((org, "api"), 0) + nanos
        return out


def _by_org(values: dict[Key, int], stream: str) -> dict[str, int]:
    out: dict[str, int] = defaultdict(int)
    for (org, s), v in values.items():
        if stream in (TOTAL, s):
            out[org] += v
    return out


def _classify(moved: Movement, before: int, now: int, paid_before: bool) -> None:
    # A proration scaled back to its period's rate can differ from the price by a few nanos:
    # less than a cent either way is no movement.
    if abs(now - before) < CENT and (before > 0) == (now > 0):
        return
    if before <= 0 < now:
        if paid_before:
            moved.reactivation += now
        else:
            moved.new += now
    elif now <= 0 < before:
        moved.churn -= before
    elif now > before:
        moved.expansion += now - before
    else:
        moved.contraction -= before - now


def _ratio(part: int, whole: int) -> Decimal | None:
    if whole <= 0:
        return None
    return (Decimal(part) / Decimal(whole)).quantize(Decimal("0.0001"))


def usage_lines(rows: Iterable[InvoicedAmount]) -> dict[tuple[str, str], dict[str, int]]:
    """Invoiced API usage per (organisation, currency) and month, in nanos."""
    out: dict[tuple[str, str], dict[str, int]] = {}
    for row in rows:
        if row.stream == "api" and row.line_kind == USAGE:
            months = out.setdefault((row.organization_id, row.currency), {})
            months[row.month] = months.get(row.month, 0) + row.cents * CENT
    return out
