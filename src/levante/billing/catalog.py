"""The catalogue: a plan for each way the platform earns, each with dated prices per currency.

API usage is priced per token by the price book (``levante.pricing``); the plans here are the
fixed fees: chat plans, enterprise licences and support contracts, and the consulting hour
packs bought once (interval ``once``) beside the contracts. Prices are per unit (the
whole plan, a seat or a GPU) and per period, in 1e-9 currency units, and never change in the
past: a new price applies to periods that start after it takes effect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.pricing import CENT, format_amount, parse_amount
from levante.storage import new_id, utcnow
from levante.storage.models import Plan, PlanPrice
from levante.vocabulary import Currency, Interval, Product, Unit

CURRENCIES = tuple(Currency)


PRODUCTS, INTERVALS, UNITS = tuple(Product), tuple(Interval), tuple(Unit)
ANNUAL_DISCOUNT_PERCENT = 20
_CATALOGUE_EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def annual_of(monthly: str) -> str:
    """Twelve months at the annual discount, rounded to the cent."""
    amount = Decimal(monthly) * 12 * (100 - ANNUAL_DISCOUNT_PERCENT) / 100
    return str(amount.quantize(Decimal("0.01"), ROUND_HALF_UP))


@dataclass(frozen=True, slots=True)
class PlanSpec:
    code: str
    product: str
    name: str
    interval: str
    unit: str
    prices: dict[str, str]
    trial_days: int = 0
    features: dict[str, Any] = field(default_factory=dict)


def _chat(code: str, name: str, unit: str, monthly: str, trial: int) -> list[PlanSpec]:
    """A chat plan billed monthly, and the same plan billed yearly at the annual discount."""
    features = CHAT_FEATURES[code]
    return [
        PlanSpec(f"{code}-monthly", "chat", name, "month", unit, _both(monthly), trial, features),
        PlanSpec(
            f"{code}-annual",
            "chat",
            f"{name} (annual)",
            "year",
            unit,
            _both(annual_of(monthly)),
            trial,
            features,
        ),
    ]


def _both(amount: str) -> dict[str, str]:
    return dict.fromkeys(CURRENCIES, amount)


def _support(level: str, name: str, eur: str, usd: str) -> PlanSpec:
    prices = {"EUR": eur, "USD": usd}
    features = SUPPORT_FEATURES[f"support-{level}"]
    return PlanSpec(f"support-{level}", "support", name, "year", "flat", prices, 0, features)


def _sla(clock: str, first: int, after: int, resolution: int | None) -> dict[str, Any]:
    return {
        "clock": clock,
        "first_response": first,
        "next_response": after,
        "resolution": resolution,
    }


_HOUR, _DAY = 60, 8 * 60  # a business day of the default calendar is 8 hours

# What each support contract promises (``levante.support.policies`` reads them): per
# severity, the clock (24x7 or the calendar's business hours) and the first-response,
# next-response and resolution targets in minutes of it; the calendar; the service credit
# a breach earns; the consulting rate. Shaped like Red Hat's Standard and Premium and
# MongoDB's Enterprise (``docs/support.md``).
SUPPORT_FEATURES: dict[str, dict[str, Any]] = {
    "support-standard": {
        "sla": {
            "1": _sla("business", 1 * _HOUR, 4 * _HOUR, 5 * _DAY),
            "2": _sla("business", 4 * _HOUR, 1 * _DAY, 10 * _DAY),
            "3": _sla("business", 1 * _DAY, 2 * _DAY, 20 * _DAY),
            "4": _sla("business", 2 * _DAY, 3 * _DAY, None),
        },
        "calendar": "business-hours",
        "credits": {"percent_per_breach": "5", "severities": [1], "cap_percent": "25"},
        "hourly_rate": {"EUR": "250", "USD": "275"},
    },
    "support-premium": {
        "sla": {
            "1": _sla("24x7", 1 * _HOUR, 2 * _HOUR, 24 * _HOUR),
            "2": _sla("24x7", 2 * _HOUR, 4 * _HOUR, 72 * _HOUR),
            "3": _sla("business", 4 * _HOUR, 1 * _DAY, 5 * _DAY),
            "4": _sla("business", 1 * _DAY, 2 * _DAY, None),
        },
        "calendar": "business-hours",
        "credits": {"percent_per_breach": "5", "severities": [1, 2], "cap_percent": "50"},
        "hourly_rate": {"EUR": "220", "USD": "240"},
    },
    "support-critical": {
        "sla": {
            "1": _sla("24x7", 30, 1 * _HOUR, 8 * _HOUR),
            "2": _sla("24x7", 1 * _HOUR, 2 * _HOUR, 24 * _HOUR),
            "3": _sla("24x7", 4 * _HOUR, 8 * _HOUR, 72 * _HOUR),
            "4": _sla("24x7", 8 * _HOUR, 24 * _HOUR, None),
        },
        "calendar": "business-hours",
        "credits": {"percent_per_breach": "10", "severities": [1, 2], "cap_percent": "50"},
        "hourly_rate": {"EUR": "200", "USD": "220"},
    },
}


# Prepaid consulting (deployment, fine-tuning, architecture reviews), bought once: the hours a
# pack holds, the months it stays valid, and the rate for time past it when the customer
# has no support contract (a contract's own ``hourly_rate`` wins). ``levante.support.services``
# reads them.
HOUR_PACK_FEATURES: dict[str, dict[str, Any]] = {
    "consulting-10h": {
        "hours": 10,
        "valid_months": 12,
        "hourly_rate": {"EUR": "275", "USD": "300"},
    },
    "consulting-40h": {
        "hours": 40,
        "valid_months": 12,
        "hourly_rate": {"EUR": "275", "USD": "300"},
    },
}


def _hour_pack(hours: int, eur: str, usd: str) -> PlanSpec:
    code = f"consulting-{hours}h"
    name = f"Consulting, {hours} hours"
    prices = {"EUR": eur, "USD": usd}
    return PlanSpec(code, "support", name, "once", "flat", prices, 0, HOUR_PACK_FEATURES[code])


# What each chat plan allows (``levante.chat.limits`` reads them): the models (None: every
# model served), messages per rolling window of ``window_hours``, a rolling weekly cap, and
# the longest context a conversation may reach.
CHAT_FEATURES: dict[str, dict[str, Any]] = {
    "chat-free": {
        "models": ["smollm2-135m-instruct"],
        "messages_per_window": 25,
        "window_hours": 5,
        "messages_per_week": 150,
        "max_context_tokens": 2048,
    },
    "chat-pro": {
        "models": None,
        "messages_per_window": 200,
        "window_hours": 5,
        "messages_per_week": 2000,
        "max_context_tokens": 8192,
    },
    "chat-team": {
        "models": None,
        "messages_per_window": 300,
        "window_hours": 5,
        "messages_per_week": 3000,
        "max_context_tokens": 8192,
        "shared_workspace": True,
    },
}

DEFAULT_PLANS: list[PlanSpec] = [
    PlanSpec(
        "chat-free", "chat", "Chat Free", "month", "flat", _both("0"), 0, CHAT_FEATURES["chat-free"]
    ),
    *_chat("chat-pro", "Chat Pro", "flat", "14.99", 0),
    *_chat("chat-team", "Chat Team", "seat", "24.99", 14),
    PlanSpec(
        "enterprise-seat",
        "enterprise",
        "Enterprise licence, per seat",
        "year",
        "seat",
        {"EUR": "600", "USD": "650"},
    ),
    PlanSpec(
        "enterprise-gpu",
        "enterprise",
        "Enterprise licence, per GPU",
        "year",
        "gpu",
        {"EUR": "12000", "USD": "13000"},
    ),
    _support("standard", "Support Standard", "6000", "6500"),
    _support("premium", "Support Premium", "24000", "26000"),
    _support("critical", "Support Mission-critical", "60000", "65000"),
    _hour_pack(10, "2000", "2200"),
    _hour_pack(40, "7200", "8000"),
]


def ensure_catalog(session: Session, plans: list[PlanSpec] | None = None) -> int:
    """Add the plans of the default catalogue that are missing (by code); returns how many.
    Plans already there, and their prices, are left as the operator set them. Processes
    starting side by side may race to add a plan: the loser's insert is rolled back to its
    savepoint and skipped."""
    existing = set(session.scalars(select(Plan.code)))
    added = 0
    for spec in plans if plans is not None else DEFAULT_PLANS:
        if spec.code in existing:
            continue
        try:
            with session.begin_nested():
                _add_plan(session, spec)
        except IntegrityError:
            continue
        added += 1
    return added


def _add_plan(session: Session, spec: PlanSpec) -> None:
    plan = Plan(
        id=new_id("plan"),
        code=spec.code,
        product=spec.product,
        name=spec.name,
        interval=spec.interval,
        unit=spec.unit,
        trial_days=spec.trial_days,
        features=spec.features or None,
        active=True,
    )
    session.add(plan)
    session.flush()
    for currency, amount in spec.prices.items():
        session.add(
            PlanPrice(
                id=new_id("pp"),
                plan_id=plan.id,
                currency=currency,
                amount_nanos=parse_amount(amount),
                effective_from=_CATALOGUE_EPOCH,
            )
        )
    session.flush()


def list_plans(session: Session, *, include_inactive: bool = False) -> list[Plan]:
    query = select(Plan).order_by(Plan.product, Plan.code)
    if not include_inactive:
        query = query.where(Plan.active.is_(True))
    return list(session.scalars(query))


def find_plan(session: Session, code: str) -> Plan:
    plan = session.scalar(select(Plan).where((Plan.code == code) | (Plan.id == code)))
    if plan is None:
        raise NotFoundError(f"plan '{code}' does not exist", param="plan")
    return plan


def plan_price(session: Session, plan: Plan, currency: str, at: datetime) -> int:
    """The price per unit and period of ``plan`` in ``currency`` in force at ``at``."""
    amount = session.scalar(
        select(PlanPrice.amount_nanos)
        .where(
            PlanPrice.plan_id == plan.id,
            PlanPrice.currency == currency,
            PlanPrice.effective_from <= at,
        )
        .order_by(PlanPrice.effective_from.desc())
        .limit(1)
    )
    if amount is None:
        raise InvalidRequestError(
            f"plan '{plan.code}' has no price in {currency}", param="currency"
        )
    return amount


def plan_prices(session: Session, plan: Plan) -> list[PlanPrice]:
    return list(
        session.scalars(
            select(PlanPrice)
            .where(PlanPrice.plan_id == plan.id)
            .order_by(PlanPrice.currency, PlanPrice.effective_from)
        )
    )


def set_plan_price(
    session: Session,
    code: str,
    *,
    currency: str,
    amount_nanos: int,
    effective_from: datetime | None = None,
    actor: Actor,
) -> PlanPrice:
    """Add a dated price to a plan; it applies to periods starting from ``effective_from``
    (now by default, never in the past)."""
    plan = find_plan(session, code)
    if currency not in CURRENCIES:
        raise InvalidRequestError(
            f"currency must be one of {', '.join(CURRENCIES)}", param="currency"
        )
    if amount_nanos < 0 or amount_nanos % CENT:
        raise InvalidRequestError("a plan price is a non-negative amount in whole cents")
    now = utcnow()
    when = effective_from or now
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    if when < now.replace(microsecond=0):
        raise InvalidRequestError("a plan price may not take effect in the past", param="from")
    clash = session.scalar(
        select(PlanPrice.id).where(
            PlanPrice.plan_id == plan.id,
            PlanPrice.currency == currency,
            PlanPrice.effective_from == when,
        )
    )
    if clash is not None:
        raise ConflictError(f"plan '{plan.code}' already has a {currency} price from {when}")
    price = PlanPrice(
        id=new_id("pp"),
        plan_id=plan.id,
        currency=currency,
        amount_nanos=amount_nanos,
        effective_from=when,
    )
    session.add(price)
    audit.record(
        session,
        organization_id=None,
        actor=actor,
        action="plan_price.created",
        target=plan.code,
        details={
            "currency": currency,
            "amount": format_amount(amount_nanos),
            "effective_from": when.isoformat(),
        },
    )
    session.flush()
    return price
