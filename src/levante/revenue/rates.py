"""The operator's exchange rates: what one unit of a currency is worth in another, from a
date on. Revenue is reported in one currency; an amount billed in another is converted at
the rate in force on the last day of the month it belongs to. A rate set for EUR to USD also
converts USD to EUR (as its inverse), unless the operator set that direction too."""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit, tenancy
from levante.audit import Actor
from levante.errors import ExchangeRateMissingError, InvalidRequestError
from levante.storage.models import ExchangeRate
from levante.vocabulary import check_currency

MAX_RATE = Decimal(1_000_000)


@dataclass(frozen=True, slots=True)
class Rate:
    base: str
    quote: str
    rate: Decimal
    effective_on: date
    set_by: str


def parse_rate(text: str) -> Decimal:
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise InvalidRequestError(
            f"'{text}' is not a rate; write it as 1.0825", param="rate"
        ) from None
    if not value.is_finite() or not 0 < value <= MAX_RATE:
        raise InvalidRequestError("a rate is a positive number", param="rate")
    if -value.as_tuple().exponent > 12:  # type: ignore[operator]
        raise InvalidRequestError("a rate has at most 12 decimals", param="rate")
    return value


def set_rate(
    session: Session,
    actor: Actor,
    *,
    base: str,
    quote: str,
    rate: str,
    effective_on: date,
) -> Rate:
    """Set what one ``base`` is worth in ``quote`` from ``effective_on`` on (the operator). A
    second rate for the same day replaces the first; the audit log keeps both."""
    tenancy.require_operator(session, actor)
    first, second = check_currency(base, "base"), check_currency(quote, "quote")
    if first == second:
        raise InvalidRequestError("a rate converts between two different currencies", param="quote")
    value = parse_rate(rate)
    row = session.scalar(
        select(ExchangeRate).where(
            ExchangeRate.base == first,
            ExchangeRate.quote == second,
            ExchangeRate.effective_on == effective_on,
        )
    )
    before = None if row is None else row.rate
    if row is None:
        row = ExchangeRate(base=first, quote=second, effective_on=effective_on)
        session.add(row)
    row.rate, row.set_by = str(value), actor.label
    audit.record(
        session,
        organization_id=actor.organization_id,
        actor=actor,
        action="exchange_rate.set",
        target=f"{first}/{second}",
        details={"rate": str(value), "effective_on": effective_on.isoformat(), "before": before},
    )
    session.flush()
    return _rate(row)


def list_rates(session: Session, actor: Actor) -> list[Rate]:
    """Every rate set, by pair and then newest first (the operator)."""
    tenancy.require_operator(session, actor)
    return [_rate(row) for row in _all(session)]


def _all(session: Session) -> list[ExchangeRate]:
    return list(
        session.scalars(
            select(ExchangeRate).order_by(
                ExchangeRate.base, ExchangeRate.quote, ExchangeRate.effective_on.desc()
            )
        )
    )


def _rate(row: ExchangeRate) -> Rate:
    return Rate(row.base, row.quote, Decimal(row.rate), row.effective_on, row.set_by)


class Converter:
    """Converts amounts into ``reporting`` at the rate in force on a day."""

    def __init__(self, reporting: str, rates: Iterable[Rate]) -> None:
        self.reporting = reporting
        direct: dict[str, list[tuple[date, Decimal]]] = {}
        inverse: dict[str, list[tuple[date, Decimal]]] = {}
        for rate in rates:
            if rate.quote == reporting:
                direct.setdefault(rate.base, []).append((rate.effective_on, rate.rate))
            elif rate.base == reporting:
                inverse.setdefault(rate.quote, []).append((rate.effective_on, 1 / rate.rate))
        # Per currency, a rate set in the reporting direction wins over an inverse one of the
        # same day.
        self._table: dict[str, tuple[list[date], list[Decimal]]] = {}
        for currency in set(direct) | set(inverse):
            days: dict[date, Decimal] = dict(inverse.get(currency, []))
            days.update(direct.get(currency, []))
            ordered = sorted(days.items())
            self._table[currency] = ([d for d, _ in ordered], [r for _, r in ordered])

    @classmethod
    def load(cls, session: Session, reporting: str) -> Converter:
        return cls(reporting, [_rate(row) for row in _all(session)])

    def rate(self, currency: str, on: date) -> Decimal:
        """What one ``currency`` is worth in the reporting currency on ``on``."""
        if currency == self.reporting:
            return Decimal(1)
        days, values = self._table.get(currency, ([], []))
        at = bisect.bisect_right(days, on)
        if at == 0:
            raise ExchangeRateMissingError(
                f"no {currency} to {self.reporting} exchange rate is set for {on.isoformat()} or "
                f"before: set one under Prices and rates on the operator's console, or with "
                f"`levante revenue rates set {currency} {self.reporting} RATE --from "
                f"{on.isoformat()}`",
                param="currency",
            )
        return values[at - 1]

    def convert(self, nanos: int, currency: str, on: date) -> int:
        """``nanos`` of ``currency`` in nanos of the reporting currency, rounded half even."""
        if currency == self.reporting or not nanos:
            return nanos
        return int((Decimal(nanos) * self.rate(currency, on)).to_integral_value())
