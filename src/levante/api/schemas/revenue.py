"""Bodies of the operator's revenue routes. Amounts are decimal strings in the reporting
currency, rounded to the cent (the metrics keep nanos; a monthly twelfth of an annual price is
rarely a whole cent); ratios are decimal strings with four places, ``null`` where the
denominator is zero."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from levante import revenue

amount = revenue.money_text


def ratio(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


class StreamView(BaseModel):
    mrr: str = Field(description="subscription MRR (annual plans as a twelfth; never usage)")
    subscription_arr: str = Field(description="MRR x 12")
    usage: str = Field(description="invoiced API usage of the month")
    run_rate_3_months: str = Field(description="4 x the invoiced usage of the last 3 months")
    run_rate_last_month: str = Field(description="12 x the invoiced usage of the month")
    arr: str = Field(description="subscription ARR + the run-rate the policy names")
    customers: int
    arpa: str | None = Field(description="ARR / 12 / customers")
    share: str | None = Field(description="of the total ARR")

    @classmethod
    def of(cls, f: revenue.StreamFigures) -> StreamView:
        return cls(
            mrr=amount(f.mrr),
            subscription_arr=amount(f.subscription_arr),
            usage=amount(f.usage),
            run_rate_3_months=amount(f.run_rate_3_months),
            run_rate_last_month=amount(f.run_rate_last_month),
            arr=amount(f.arr),
            customers=f.customers,
            arpa=None if f.arpa is None else amount(f.arpa),
            share=ratio(f.share),
        )


class MovementView(BaseModel):
    new: str
    expansion: str
    contraction: str
    churn: str
    reactivation: str
    fx: str = Field(description="what exchange rates alone did to the MRR carried over")
    net: str

    @classmethod
    def of(cls, m: revenue.Movement) -> MovementView:
        return cls(
            new=amount(m.new),
            expansion=amount(m.expansion),
            contraction=amount(m.contraction),
            churn=amount(m.churn),
            reactivation=amount(m.reactivation),
            fx=amount(m.fx),
            net=amount(m.net),
        )


class ChurnView(BaseModel):
    opening_mrr: str
    gross: str | None = Field(description="(churn + contraction) / opening MRR")
    net: str | None = Field(description="(churn + contraction - expansion - reactivation) / MRR")


class MonthView(BaseModel):
    month: str
    streams: dict[str, StreamView] = Field(description="api, chat, enterprise, support, total")
    movements: dict[str, MovementView]
    churn: dict[str, ChurnView]
    invoiced: dict[str, str] = Field(description="issued invoices of the month, before tax")
    collected: dict[str, str] = Field(description="payments received in the month, before tax")

    @classmethod
    def of(cls, m: revenue.MonthFigures) -> MonthView:
        return cls(
            month=m.month,
            streams={k: StreamView.of(v) for k, v in m.streams.items()},
            movements={k: MovementView.of(v) for k, v in m.movements.items()},
            churn={
                k: ChurnView(opening_mrr=amount(v.opening), gross=ratio(v.gross), net=ratio(v.net))
                for k, v in m.churn.items()
            },
            invoiced={k: amount(v) for k, v in m.invoiced.items()},
            collected={k: amount(v) for k, v in m.collected.items()},
        )


class CustomerView(BaseModel):
    organization: str = Field(description="the organisation's slug")
    name: str
    billing_currency: str | None
    arr: dict[str, str] = Field(description="per stream, and total")
    mrr: str
    run_rate: str

    @classmethod
    def of(cls, f: revenue.CustomerFigures, who: revenue.Customer) -> CustomerView:
        return cls(
            organization=who.slug,
            name=who.name,
            billing_currency=who.currency,
            arr={k: amount(v) for k, v in f.arr.items()},
            mrr=amount(f.mrr),
            run_rate=amount(f.run_rate),
        )


class CohortView(BaseModel):
    start: str
    end: str
    customers: int
    retained: int
    opening: str
    closing: str
    nrr: str | None
    grr: str | None

    @classmethod
    def of(cls, c: revenue.Cohort) -> CohortView:
        return cls(
            start=c.start,
            end=c.end,
            customers=c.customers,
            retained=c.retained,
            opening=amount(c.opening),
            closing=amount(c.closing),
            nrr=ratio(c.nrr),
            grr=ratio(c.grr),
        )


class RevenueView(BaseModel):
    object: Literal["revenue"] = "revenue"
    currency: str
    policy: str
    policy_text: str
    first: str
    last: str
    organization: str | None
    months: list[MonthView]
    top: list[CustomerView]
    cohort: dict[str, CohortView] = Field(description="the customers of `first`, at `last`")

    @classmethod
    def of(cls, r: revenue.Report, organization: str | None) -> RevenueView:
        return cls(
            currency=r.currency,
            policy=r.policy,
            policy_text=r.policy_text,
            first=r.first,
            last=r.last,
            organization=organization,
            months=[MonthView.of(m) for m in r.months],
            top=[CustomerView.of(c, r.customers[c.organization_id]) for c in r.top],
            cohort={k: CohortView.of(v) for k, v in r.cohort.items()},
        )


class SetRate(BaseModel):
    base: str = Field(description="the currency converted, e.g. EUR")
    quote: str = Field(description="the currency it is worth an amount of, e.g. USD")
    rate: str = Field(description="what one base is worth in quote, e.g. 1.0825")
    effective_on: date


class RateView(BaseModel):
    object: Literal["exchange_rate"] = "exchange_rate"
    base: str
    quote: str
    rate: str
    effective_on: date
    set_by: str

    @classmethod
    def of(cls, r: revenue.Rate) -> RateView:
        return cls(
            base=r.base,
            quote=r.quote,
            rate=str(r.rate),
            effective_on=r.effective_on,
            set_by=r.set_by,
        )


class RateList(BaseModel):
    object: Literal["list"] = "list"
    data: list[RateView]
