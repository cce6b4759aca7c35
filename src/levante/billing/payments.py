"""Payments, behind one provider interface, and dunning.

``manual`` (the default) is a bank transfer: the customer is told where to send the money and
an operator records it. ``stripe`` sends the customer to a Stripe Checkout page for an invoice
(a top-up, a new subscription's first fees, a month) and learns of the payment from Stripe's
webhook, whose signature is checked with the official library; each event is handled once,
and a payment is recorded once per provider reference, so a replayed event changes nothing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

import stripe
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.billing.accounts import ACTIVE, RESTRICTED
from levante.billing.invoices import FINALIZED, PAID, TOP_UP, seller_of
from levante.billing.render import how_to_pay
from levante.billing.wallet import add_top_up
from levante.errors import (
    ConfigurationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from levante.pricing import CENT, format_amount, format_cents
from levante.settings import BillingSettings
from levante.storage import Topic, announce, new_id, utcnow
from levante.storage.models import (
    BillingAccount,
    Invoice,
    Organization,
    PaidSpend,
    Payment,
    WebhookEvent,
)
from levante.vocabulary import check_currency

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Checkout:
    """How the customer pays an invoice: a page to go to, or instructions to follow."""

    provider: str
    invoice_id: str
    url: str | None
    reference: str | None
    instructions: str


class PaymentProvider(Protocol):
    name: str

    def checkout(self, invoice: Invoice, *, success_url: str, cancel_url: str) -> Checkout: ...


class ManualProvider:
    """Bank transfer: nothing to call; an operator marks the invoice paid."""

    name = "manual"

    def __init__(self, settings: BillingSettings) -> None:
        self._settings = settings

    def checkout(self, invoice: Invoice, *, success_url: str, cancel_url: str) -> Checkout:
        due = f"{format_cents(invoice.amount_due_cents)} {invoice.currency}"
        return Checkout(
            provider=self.name,
            invoice_id=invoice.id,
            url=None,
            reference=invoice.number,
            instructions=how_to_pay(seller_of(self._settings), invoice.number, due),
        )


class StripeProvider:
    name = "stripe"

    def __init__(self, settings: BillingSettings) -> None:
        if not settings.stripe_secret_key:
            raise ConfigurationError("billing.stripe_secret_key is needed for Stripe payments")
        options: dict[str, Any] = {}
        if settings.stripe_api_base:
            options["base_addresses"] = {"api": settings.stripe_api_base}
        self._client = stripe.StripeClient(
            settings.stripe_secret_key, max_network_retries=2, **options
        )

    def checkout(self, invoice: Invoice, *, success_url: str, cancel_url: str) -> Checkout:
        due = invoice.amount_due_cents
        session = self._client.v1.checkout.sessions.create(
            {
                "mode": "payment",
                "client_reference_id": invoice.id,
                "metadata": {
                    "invoice_id": invoice.id,
                    "organization_id": invoice.organization_id,
                },
                "line_items": [
                    {
                        "quantity": 1,
                        "price_data": {
                            "currency": invoice.currency.lower(),
                            "unit_amount": due,
                            "product_data": {"name": f"Invoice {invoice.number}"},
                        },
                    }
                ],
                "success_url": success_url,
                "cancel_url": cancel_url,
            },
            {"idempotency_key": f"checkout-{invoice.id}-{due}"},
        )
        return Checkout(
            provider=self.name,
            invoice_id=invoice.id,
            url=session.url,
            reference=session.id,
            instructions="Pay on the Stripe page.",
        )


# Where Stripe Checkout's pages are (the ``url`` of every Checkout Session).
STRIPE_CHECKOUT = "https://checkout.stripe.com"


def checkout_origins(settings: BillingSettings) -> tuple[str, ...]:
    """The origins a browser is sent to, to pay, by the configured provider: the pages let a
    form continue there (their Content-Security-Policy's ``form-action``)."""
    return (STRIPE_CHECKOUT,) if settings.provider == "stripe" else ()


def provider_for(settings: BillingSettings) -> PaymentProvider:
    if settings.provider == "stripe":
        return StripeProvider(settings)
    return ManualProvider(settings)


def record_payment(
    session: Session,
    invoice: Invoice,
    *,
    provider: str,
    reference: str,
    amount_cents: int | None = None,
    now: datetime,
    actor: Actor,
) -> Payment:
    """Record money received for an invoice, once per ``(provider, reference)``. When the
    invoice is paid in full it becomes paid: a top-up credits the wallet, the amount counts
    towards the usage tier, and an organisation restricted for unpaid invoices is restored
    once none is overdue."""
    announce(session, Topic.POLICY, invoice.organization_id)
    existing = session.scalar(
        select(Payment).where(Payment.provider == provider, Payment.reference == reference)
    )
    if existing is not None:
        if existing.invoice_id != invoice.id:
            raise ConflictError(f"payment reference '{reference}' is already used")
        return existing
    if invoice.status != FINALIZED:
        raise ConflictError(f"invoice {invoice.number or invoice.id} is {invoice.status}")
    due = invoice.amount_due_cents
    amount = due if amount_cents is None else amount_cents
    if not 0 < amount <= due:
        raise InvalidRequestError(
            f"a payment is between 0.01 and the {format_cents(due)} due", param="amount"
        )
    payment = Payment(
        id=new_id("pay"),
        organization_id=invoice.organization_id,
        invoice_id=invoice.id,
        provider=provider,
        reference=reference[:200],
        amount_cents=amount,
        currency=invoice.currency,
        created_at=now,
    )
    session.add(payment)
    invoice.paid_cents += amount
    if invoice.paid_cents >= invoice.total_cents:
        invoice.status, invoice.paid_at = PAID, now
        if invoice.kind == TOP_UP:
            add_top_up(
                session,
                invoice.organization_id,
                invoice.taxable_cents * CENT,
                currency=invoice.currency,
                reference=invoice.id,
                now=now,
            )
    add_paid_spend(session, invoice.organization_id, amount * CENT, invoice.currency, actor=actor)
    audit.record(
        session,
        organization_id=invoice.organization_id,
        actor=actor,
        action="invoice.payment_recorded",
        target=invoice.id,
        details={
            "number": invoice.number,
            "amount": format_cents(amount),
            "provider": provider,
            "reference": reference,
            "status": invoice.status,
        },
    )
    session.flush()
    lift_restriction(session, invoice.organization_id, now=now)
    return payment


def overdue(
    session: Session, organization_id: str | None, *, now: datetime, grace_days: int
) -> list[Invoice]:
    """Finalized invoices unpaid more than ``grace_days`` after their due date."""
    query = select(Invoice).where(
        Invoice.status == FINALIZED, Invoice.due_at < now - timedelta(days=grace_days)
    )
    if organization_id is not None:
        query = query.where(Invoice.organization_id == organization_id)
    return list(session.scalars(query))


def apply_dunning(session: Session, *, now: datetime, grace_days: int) -> list[str]:
    """Restrict every organisation with an invoice overdue past the grace period, and restore
    restricted ones that have none; returns the organisations restricted now."""
    late = {i.organization_id for i in overdue(session, None, now=now, grace_days=grace_days)}
    restricted = []
    for org in sorted(late):
        account = session.get(BillingAccount, org)
        if account is None or account.state == RESTRICTED:
            continue
        account.state, account.restricted_at = RESTRICTED, now
        announce(session, Topic.POLICY, org)
        restricted.append(org)
        log.warning("organisation %s is restricted: an invoice is overdue", org)
        audit.record(
            session,
            organization_id=org,
            actor="billing",
            action="account.restricted",
            target=org,
            details={"reason": "overdue invoice", "grace_days": grace_days},
        )
    for account in session.scalars(
        select(BillingAccount).where(BillingAccount.state == RESTRICTED)
    ):
        if account.organization_id not in late:
            announce(session, Topic.POLICY, account.organization_id)
            _restore(session, account)
    session.flush()
    return restricted


def lift_restriction(session: Session, organization_id: str, *, now: datetime) -> None:
    """Restore a restricted organisation once it has no overdue invoice left."""
    announce(session, Topic.POLICY, organization_id)
    account = session.get(BillingAccount, organization_id)
    if account is None or account.state != RESTRICTED:
        return
    late = session.scalar(
        select(Invoice.id)
        .where(
            Invoice.organization_id == organization_id,
            Invoice.status == FINALIZED,
            Invoice.due_at < now,
        )
        .limit(1)
    )
    if late is None:
        _restore(session, account)


def _restore(session: Session, account: BillingAccount) -> None:
    account.state, account.restricted_at = ACTIVE, None
    audit.record(
        session,
        organization_id=account.organization_id,
        actor="billing",
        action="account.restored",
        target=account.organization_id,
    )


def add_paid_spend(
    session: Session, organization_id: str, nanos: int, currency: str, *, actor: Actor
) -> int:
    """Count a payment towards the organisation's cumulative paid spend in its currency (which
    raises its tier); returns the new total in that currency."""
    announce(session, Topic.POLICY, organization_id)
    if nanos <= 0:
        raise InvalidRequestError("a payment must be positive")
    currency = check_currency(currency)
    org = session.get(Organization, organization_id, with_for_update=True)
    if org is None:
        raise NotFoundError(f"organisation '{organization_id}' does not exist")
    row = session.get(PaidSpend, (organization_id, currency), with_for_update=True)
    if row is None:
        row = PaidSpend(organization_id=organization_id, currency=currency, amount_nanos=0)
        session.add(row)
    row.amount_nanos += nanos
    row.updated_at = utcnow()
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="payment.recorded",
        target=organization_id,
        details={"amount": f"{format_amount(nanos)} {currency}",
                 "paid_spend": f"{format_amount(row.amount_nanos)} {currency}"},
    )  # fmt: skip
    session.flush()
    return row.amount_nanos


def paid_spend(session: Session, organization_id: str) -> dict[str, int]:
    """What the organisation has paid, all time, by currency."""
    rows = session.execute(
        select(PaidSpend.currency, PaidSpend.amount_nanos)
        .where(PaidSpend.organization_id == organization_id)
        .order_by(PaidSpend.currency)
    ).all()
    return {currency: amount for currency, amount in rows if amount}


WEBHOOK_TOLERANCE_SECONDS = 300


def _signed_at(header: str) -> int:
    """The ``t=`` timestamp of a ``Stripe-Signature`` header (verified before this is read)."""
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "t" and value.isdigit():
            return int(value)
    return 0


@dataclass(frozen=True, slots=True)
class WebhookOutcome:
    event_id: str
    type: str
    result: str  # paid | duplicate | ignored


def handle_stripe_webhook(
    session: Session,
    payload: bytes,
    signature: str | None,
    *,
    settings: BillingSettings,
    now: datetime | None = None,
) -> WebhookOutcome:
    """Verify a Stripe webhook (signature, and a timestamp neither older nor newer than the
    tolerance) and apply it once. An event that is signed but not shaped like one is refused
    (400), never half applied."""
    now = now or utcnow()
    if not settings.stripe_webhook_secret:
        raise NotFoundError("Stripe webhooks are not configured on this platform")
    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature,
            settings.stripe_webhook_secret,
            tolerance=WEBHOOK_TOLERANCE_SECONDS,
        )
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
        raise InvalidRequestError(f"webhook rejected: {exc}", code="invalid_signature") from None
    # Stripe's check bounds only the age (on the wall clock, as here); a timestamp from the
    # future is refused too.
    if _signed_at(signature or "") > time.time() + WEBHOOK_TOLERANCE_SECONDS:
        raise InvalidRequestError(
            "webhook rejected: its timestamp is in the future", code="invalid_signature"
        )
    try:
        event = json.loads(payload)
    except ValueError:
        raise InvalidRequestError("webhook rejected: the event is not JSON") from None
    if not isinstance(event, dict):
        raise InvalidRequestError("webhook rejected: the event is not a JSON object")
    event_id, kind = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 100:
        raise InvalidRequestError("webhook rejected: the event has no id")
    if not isinstance(kind, str) or len(kind) > 100:
        raise InvalidRequestError("webhook rejected: the event has no type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise InvalidRequestError("webhook rejected: the event has no data.object")
    metadata = obj.get("metadata") or {}
    amount_total = obj.get("amount_total") or 0
    if (
        not isinstance(metadata, dict)
        or isinstance(amount_total, bool)
        or not isinstance(amount_total, int)
    ):
        raise InvalidRequestError("webhook rejected: the event's object is malformed")
    try:
        with session.begin_nested():
            session.add(WebhookEvent(provider="stripe", event_id=event_id, type=kind))
    except IntegrityError:
        return WebhookOutcome(event_id, kind, "duplicate")
    if kind not in ("checkout.session.completed", "checkout.session.async_payment_succeeded"):
        return WebhookOutcome(event_id, kind, "ignored")
    if obj.get("payment_status") != "paid":
        return WebhookOutcome(event_id, kind, "ignored")
    invoice_id = metadata.get("invoice_id")
    invoice = session.get(Invoice, invoice_id) if isinstance(invoice_id, str) else None
    if invoice is None:
        log.warning("Stripe event %s names no known invoice", event_id)
        return WebhookOutcome(event_id, kind, "ignored")
    if str(obj.get("currency", "")).upper() != invoice.currency:
        log.warning("Stripe event %s pays in the wrong currency", event_id)
        return WebhookOutcome(event_id, kind, "ignored")
    if invoice.status != FINALIZED:
        return WebhookOutcome(event_id, kind, "ignored")
    amount = amount_total
    due = invoice.amount_due_cents
    if amount <= 0:
        return WebhookOutcome(event_id, kind, "ignored")
    record_payment(
        session,
        invoice,
        provider="stripe",
        reference=str(obj.get("id") or event_id),
        amount_cents=min(amount, due),
        now=now,
        actor=Actor("stripe"),
    )
    return WebhookOutcome(event_id, kind, "paid")
