"""The month's support charges as billing sees them: one :class:`Charge` per organisation,
month and kind (a service credit, the consulting time past the packs), dated in the month
and keyed so that it is made once, brought up to date while no issued invoice holds it."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from levante import audit
from levante.pricing import format_amount
from levante.storage import new_id
from levante.storage.models import Charge
from levante.vocabulary import ChargeKind, Product

CREDIT_KEY, TIME_KEY = "sla-credit", "services"  # the month's service credit, consulting time


def month_key(prefix: str, organization_id: str, period: str) -> str:
    """The idempotency key of an organisation's support charge of a month."""
    return f"{prefix}:{organization_id}:{period}"


def settle_month_charge(
    session: Session,
    existing: Charge | None,
    *,
    key: str,
    kind: ChargeKind,
    organization_id: str,
    period: tuple[datetime, datetime],
    description: str,
    quantity: int,
    amount_nanos: int,
    currency: str,
    action: str,
    details: dict[str, Any],
    subscription_id: str | None = None,
) -> Charge | None:
    """Make the month's charge, or bring ``existing`` (which no issued invoice holds) to these
    figures, with an audit entry; None if it already says exactly this."""
    description = description[:300]
    if existing is not None and (
        existing.amount_nanos,
        existing.description,
        existing.currency,
    ) == (amount_nanos, description, currency):
        return None
    start, end = period
    charge = existing or Charge(
        id=new_id("ch"),
        organization_id=organization_id,
        subscription_id=subscription_id,
        kind=kind,
        product=Product.SUPPORT,
        idempotency_key=key,
        charged_at=end - timedelta(microseconds=1),
        period_start=start,
        period_end=end,
    )
    charge.description = description
    charge.quantity = quantity
    charge.amount_nanos = amount_nanos
    charge.currency = currency
    if existing is None:
        session.add(charge)
    audit.record(
        session,
        organization_id=organization_id,
        actor="support",
        action=action,
        target=charge.id,
        details={**details, "amount": format_amount(amount_nanos), "currency": currency},
    )
    return charge
