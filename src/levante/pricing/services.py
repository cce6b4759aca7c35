"""Writing and listing price versions (CLI and the operator's admin API)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit, tenancy
from levante.audit import Actor
from levante.engine import ModelNames
from levante.errors import ConflictError, InvalidRequestError
from levante.pricing.book import PriceVersion
from levante.pricing.money import format_amount, parse_amount
from levante.storage import as_utc, new_id, utcnow
from levante.storage.models import BillingAccount, Organization, Price
from levante.vocabulary import check_currency

# Mistral's published rules: prompt tokens read from cache cost 10% of the input price, and
# the batch API half the price.
DEFAULT_CACHED_PERCENT = 10
DEFAULT_BATCH_DISCOUNT_PERCENT = 50


@dataclass(frozen=True, slots=True)
class NewPrice:
    """A price version as an operator asks for it: amounts as decimal strings per million
    tokens, the model by id or alias, and None for the defaults."""

    model: str
    input: str
    output: str
    cached_input: str | None = None
    currency: str | None = None
    batch_discount_percent: int = DEFAULT_BATCH_DISCOUNT_PERCENT
    effective_from: datetime | None = None


@dataclass(frozen=True, slots=True)
class AddedPrice:
    price: Price
    warnings: list[str]


def add_price(
    session: Session,
    actor: Actor,
    new: NewPrice,
    *,
    models: ModelNames,
    default_currency: str,
    lead_seconds: float,
) -> AddedPrice:
    """The operator adds a price version (audited), for the model's id whatever name it was
    given by; the warnings name the currencies organisations are billed in that the model
    has no price in."""
    tenancy.require_operator(session, actor)
    audited = actor.organization_id or session.scalar(
        select(Organization.id).where(Organization.is_operator)
    )  # the command line's changes go to the operator's log
    price = create_price(
        session,
        model=models.canonical_id(new.model),
        currency=(new.currency or default_currency).upper(),
        input_nanos=parse_amount(new.input, param="input"),
        output_nanos=parse_amount(new.output, param="output"),
        cached_input_nanos=None
        if new.cached_input is None
        else parse_amount(new.cached_input, param="cached_input"),
        batch_discount_percent=new.batch_discount_percent,
        effective_from=new.effective_from,
        lead_seconds=lead_seconds,
        actor=actor,
        audit_organization_id=audited,
    )
    warning = unpriced_warning(session, price.model)
    return AddedPrice(price, [warning] if warning else [])


def create_price(
    session: Session,
    *,
    model: str,
    currency: str,
    input_nanos: int,
    output_nanos: int,
    cached_input_nanos: int | None = None,
    batch_discount_percent: int = DEFAULT_BATCH_DISCOUNT_PERCENT,
    effective_from: datetime | None = None,
    lead_seconds: float = 0.0,
    actor: Actor,
    audit_organization_id: str | None = None,
    now: datetime | None = None,
) -> Price:
    """Add a price version. It takes effect at ``effective_from``, which may not be sooner than
    ``lead_seconds`` from ``now`` (the time every gateway needs to learn of it): prices are
    never changed retroactively. ``now`` is the clock's (a simulated company's has its own)."""
    earliest = (now or utcnow()) + timedelta(seconds=lead_seconds)
    if effective_from is not None:  # a time without a zone is UTC
        effective_from = as_utc(effective_from, param="effective_from")
    when = effective_from or earliest
    if when < earliest - timedelta(seconds=1):
        raise InvalidRequestError(
            f"a price may take effect at the earliest {lead_seconds:g} s from now",
            param="effective_from",
        )
    if min(input_nanos, output_nanos, cached_input_nanos or 0) < 0:
        raise InvalidRequestError("prices must not be negative")
    if not 0 <= batch_discount_percent <= 100:
        raise InvalidRequestError(
            "batch_discount_percent must be between 0 and 100", param="batch_discount_percent"
        )
    currency = check_currency(currency)
    clash = session.scalar(
        select(Price.id).where(
            Price.model == model, Price.currency == currency.upper(), Price.effective_from == when
        )
    )
    if clash is not None:
        raise ConflictError(
            f"model '{model}' already has a {currency.upper()} price from {when.isoformat()}"
        )
    cached = (
        cached_input_nanos
        if cached_input_nanos is not None
        else input_nanos * DEFAULT_CACHED_PERCENT // 100
    )
    price = Price(
        id=new_id("price"),
        model=model,
        currency=currency.upper(),
        input_nanos=input_nanos,
        cached_input_nanos=cached,
        output_nanos=output_nanos,
        batch_discount_percent=batch_discount_percent,
        effective_from=when,
    )
    session.add(price)
    audit.record(
        session,
        organization_id=audit_organization_id,
        actor=actor,
        action="price.created",
        target=model,
        details={
            "price_id": price.id,
            "currency": price.currency,
            "input": format_amount(input_nanos),
            "cached_input": format_amount(cached),
            "output": format_amount(output_nanos),
            "batch_discount_percent": batch_discount_percent,
            "effective_from": when.isoformat(),
        },
    )
    session.flush()
    return price


def list_prices(session: Session, model: str | None = None) -> list[Price]:
    query = select(Price).order_by(Price.model, Price.effective_from)
    if model is not None:
        query = query.where(Price.model == model)
    return list(session.scalars(query))


def price_in_force(
    session: Session, model: str, currency: str, at: datetime
) -> PriceVersion | None:
    """The version of ``model`` in ``currency`` in force at ``at``, read from the database (the
    in-memory :class:`~levante.pricing.PriceBook` serves requests; this prices past usage)."""
    row = session.scalar(
        select(Price)
        .where(Price.model == model, Price.currency == currency, Price.effective_from <= at)
        .order_by(Price.effective_from.desc())
        .limit(1)
    )
    return None if row is None else PriceVersion.of(row)


def models_unpriced_in(session: Session, currency: str) -> list[str]:
    """Models with a price in some currency and none in ``currency``: an organisation billed
    in ``currency`` would be refused them (400 ``model_not_priced``)."""
    priced = select(Price.model).where(Price.currency == currency)
    return list(
        session.scalars(
            select(Price.model).distinct().where(Price.model.not_in(priced)).order_by(Price.model)
        )
    )


def unpriced_warning(session: Session, model: str) -> str | None:
    """What a new price of ``model`` leaves out: organisations billed in a currency it has no
    price in are refused it from then on."""
    missing = currencies_without(session, model)
    if not missing:
        return None
    names = " and ".join(missing)
    return (
        f"{model} has no price in {names}: organisations billed in {names} are refused it "
        f"(model_not_priced) until it has one"
    )


def unpriced_models(session: Session, models: Sequence[str]) -> list[str]:
    """The served models without any price: their API usage is metered at nothing."""
    priced = set(session.scalars(select(Price.model).distinct()))
    return [model for model in models if model not in priced]


def unpriced_models_warning(session: Session, models: Sequence[str]) -> str | None:
    """What to tell the operator of the served models without a price, if any."""
    missing = unpriced_models(session, models)
    if not missing:
        return None
    names = ", ".join(missing)
    return (
        f"{names} {'has' if len(missing) == 1 else 'have'} no price: API usage of "
        f"{'it' if len(missing) == 1 else 'them'} is metered at 0.00. Set one with "
        "'levante price set' or on the operator's console (Prices and rates)."
    )


def currencies_without(session: Session, model: str) -> list[str]:
    """Currencies organisations are billed in that ``model`` has no price in."""
    priced = select(Price.currency).where(Price.model == model)
    return list(
        session.scalars(
            select(BillingAccount.currency)
            .distinct()
            .where(BillingAccount.currency.not_in(priced))
            .order_by(BillingAccount.currency)
        )
    )
