"""Service credits: what a support contract's breached targets cost the vendor, on the
customer's own invoice.

A ticket whose target was breached in a month (the instant its time ran out falls in the
month, UTC, as invoice periods do), at a severity the contract credits, earns the contract's
``percent_per_breach`` of the month's support fee, once per ticket and month; the month's
credits are capped at ``cap_percent``. They become one charge of kind ``service_credit``
dated in the month, keyed by organisation and month, with the ticket numbers: the month's
invoice bills it as a credit line. Computing it again updates the charge while no issued
invoice holds it (a draft of the month is rebuilt with it), and leaves it alone once one
does; voiding that invoice hands the same charge to the next one, so a void-and-regenerate
credits it exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from levante.billing import is_billed, lock_account, parse_period
from levante.pricing import CENT
from levante.storage.models import Charge, SupportTicket
from levante.support.charges import CREDIT_KEY, month_key, settle_month_charge
from levante.support.contracts import contract_of
from levante.support.policies import SupportTerms
from levante.support.tickets import history, sla_of
from levante.vocabulary import ChargeKind


@dataclass(frozen=True, slots=True)
class Breach:
    ticket: SupportTicket
    percent: Decimal
    breached_at: datetime
    targets: tuple[str, ...]


def breaches_in(
    session: Session, period: str, *, now: datetime, organization_id: str | None = None
) -> dict[str, list[Breach]]:
    """The month's creditable breaches, by organisation."""
    start, end = parse_period(period)
    query = select(SupportTicket).where(
        SupportTicket.created_at < end,
        or_(SupportTicket.closed_at.is_(None), SupportTicket.closed_at >= start),
    )
    if organization_id is not None:
        query = query.where(SupportTicket.organization_id == organization_id)
    found: dict[str, list[Breach]] = {}
    for ticket in session.scalars(query.order_by(SupportTicket.number)):
        terms = SupportTerms.from_json(ticket.terms)
        if terms.credits is None or not terms.credits.percent_per_breach:
            continue
        state = sla_of(ticket, history(session, ticket), now)
        hits = [
            t
            for t in state.breaches()
            if t.breached_at is not None
            and start <= t.breached_at < end
            and t.severity in terms.credits.severities
        ]
        if hits:
            found.setdefault(ticket.organization_id, []).append(
                Breach(
                    ticket,
                    terms.credits.percent_per_breach,
                    min(t.breached_at for t in hits if t.breached_at is not None),
                    tuple(t.key for t in hits),
                )
            )
    return found


def credit_breaches(
    session: Session, period: str, *, now: datetime, organization_id: str | None = None
) -> list[Charge]:
    """Bring the month's service-credit charges up to date (the step the invoice run takes
    before it bills the month); returns the charges made or changed."""
    start, end = parse_period(period)
    changed = []
    for org_id, breaches in breaches_in(
        session, period, now=now, organization_id=organization_id
    ).items():
        key = month_key(CREDIT_KEY, org_id, period)
        contract = contract_of(session, org_id, end - timedelta(microseconds=1))
        if contract is None:
            continue  # nothing was paid for the month: nothing to credit against
        # Two invoice runs take turns here, as they do on the invoices themselves.
        lock_account(session, org_id, contract.subscription.currency)
        existing = session.scalar(select(Charge).where(Charge.idempotency_key == key))
        if existing is not None and is_billed(session, existing):
            continue  # on an issued invoice: never changed, never doubled
        features = SupportTerms.from_json(breaches[0].ticket.terms).credits
        plan_terms = (contract.plan.features or {}).get("credits") or {}
        cap = Decimal(str(plan_terms.get("cap_percent", features.cap_percent if features else 100)))
        percent = min(cap, sum((b.percent for b in breaches), Decimal(0)))
        fee = contract.monthly_fee_nanos(session, start)
        cents = (Decimal(fee) * percent / 100 / CENT).quantize(Decimal(1), ROUND_HALF_UP)
        amount = -int(cents) * CENT
        if not amount:
            continue
        numbers = ", ".join(f"#{b.ticket.number}" for b in breaches)
        each = ", ".join(sorted({f"{b.percent:g}%" for b in breaches}))
        description = (
            f"Service credit, {period}: SLA targets missed on ticket"
            f"{'s' if len(breaches) > 1 else ''} {numbers} ({len(breaches)} x {each} of the "
            f"monthly support fee{f', capped at {cap:g}%' if percent == cap else ''})"
        )
        charge = settle_month_charge(
            session, existing, key=key, kind=ChargeKind.SERVICE_CREDIT, organization_id=org_id,
            period=(start, end), description=description, quantity=len(breaches),
            amount_nanos=amount, currency=contract.subscription.currency,
            action="support.credit.computed",
            details={"period": period, "tickets": [b.ticket.number for b in breaches]},
            subscription_id=contract.subscription.id,
        )  # fmt: skip
        if charge is not None:
            changed.append(charge)
    session.flush()
    return changed
