"""What customers' admins (over HTTP), the operator (over HTTP and on the command line) and the
console pages do with billing: one function each, taking the acting
:class:`~levante.audit.Actor` and the organisation it acts on (an id or a slug; by default the
actor's own). Amounts arrive as the decimal strings people type and are parsed here.

Who may do what is decided here too: the operator alone runs invoices, records transfers,
voids invoices, gives credits, sets plan prices and credit terms, and sees every invoice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.billing.accounts import AccountChange, ensure_account, update_account
from levante.billing.catalog import list_plans, plan_price, plan_prices, set_plan_price
from levante.billing.checkout import RETURN_PATH, start_checkout
from levante.billing.invoices import (
    create_top_up_invoice,
    get_invoice,
    invoice_lines,
    invoice_pending_charges,
    invoices_query,
    list_invoices,
    tax_treatment,
    void_invoice,
)
from levante.billing.payments import Checkout, record_payment
from levante.billing.subscriptions import cancel, change, list_subscriptions, resume, subscribe
from levante.billing.wallet import WalletState, grant_credits, list_entries, wallet_state
from levante.errors import InvalidRequestError, NotFoundError
from levante.pricing import CENT, format_cents, parse_cents
from levante.settings import BillingSettings
from levante.storage import Page, paged, utcnow
from levante.storage.models import (
    BillingAccount,
    Invoice,
    InvoiceLine,
    Payment,
    Plan,
    PlanPrice,
    Subscription,
    WalletEntry,
)
from levante.vocabulary import Currency, InvoiceStatus, Permission

# -- the catalogue --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlanOffer:
    """A plan on offer: every dated price, and the amount in force now by currency."""

    plan: Plan
    prices: list[PlanPrice]
    current_nanos: dict[str, int]


def plans_on_offer(session: Session, *, now: datetime | None = None) -> list[PlanOffer]:
    now = now or utcnow()
    return [_offer(session, plan, now) for plan in list_plans(session)]


@dataclass(frozen=True, slots=True)
class PriceToPay:
    """A price as the buyer will be charged it: ``cents`` with VAT when the buyer is a
    consumer who pays it (what the invoice's total will be), the net price otherwise;
    ``note`` says which."""

    cents: int
    currency: str
    note: str  # "VAT included (FR 20%)", "excluding VAT", ""

    @property
    def text(self) -> str:
        return f"{format_cents(self.cents)} {self.currency}"


def price_to_pay(
    session: Session, organization_id: str, net_nanos: int, *, settings: BillingSettings,
    default_currency: str,
) -> PriceToPay:  # fmt: skip
    """What the organisation will pay for ``net_nanos`` (a plan's price per period): a
    consumer in the EU sees the VAT of their country included, computed as the invoice will
    compute it, so that the price shown is the price charged; a business sees the net price
    and VAT on top."""
    account = ensure_account(session, organization_id, default_currency)
    net = net_nanos // CENT
    tax = tax_treatment(account, settings)
    if account.is_business:
        return PriceToPay(net, account.currency, "excluding VAT" if tax.rate else "")
    if tax.rate:
        return PriceToPay(
            net + tax.tax_cents(net), account.currency,
            f"VAT included ({tax.country} {tax.rate_text}%)",
        )  # fmt: skip
    return PriceToPay(net, account.currency, "")


def plan_catalog(session: Session, actor: Actor, *, now: datetime | None = None) -> list[PlanOffer]:
    """Every plan, those withdrawn from sale included, with its prices: the operator's view of
    the catalogue."""
    tenancy.require_operator(session, actor)
    now = now or utcnow()
    return [_offer(session, plan, now) for plan in list_plans(session, include_inactive=True)]


def _offer(session: Session, plan: Plan, now: datetime) -> PlanOffer:
    current = {}
    for currency in Currency:
        try:
            current[currency.value] = plan_price(session, plan, currency, now)
        except InvalidRequestError:
            continue
    return PlanOffer(plan, plan_prices(session, plan), current)


def price_plan(
    session: Session,
    actor: Actor,
    code: str,
    *,
    currency: str,
    amount: str,
    effective_from: datetime | None = None,
) -> PlanPrice:
    """The operator adds a dated price (whole cents) to a plan."""
    tenancy.require_operator(session, actor)
    return set_plan_price(
        session,
        code,
        currency=currency.upper(),
        amount_nanos=parse_cents(amount, param="amount") * CENT,
        effective_from=effective_from,
        actor=actor,
    )


# -- the billing account --------------------------------------------------------------------------


def account_of(
    session: Session, actor: Actor, organization: str | None = None, *, default_currency: str
) -> BillingAccount:
    org = tenancy.acting_on(session, actor, organization, needs=Permission.READ_INVOICES)
    return ensure_account(session, org.id, default_currency)


def edit_account(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    change: AccountChange,
    default_currency: str,
) -> BillingAccount:
    """Change the billing account; the credit terms only the operator may change."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    if change.prepaid_only is not None or change.low_balance_threshold is not None:
        tenancy.require_operator(session, actor)
    return update_account(session, org.id, change, default_currency=default_currency, actor=actor)


# -- subscriptions --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Subscribed:
    subscription: Subscription
    plan: Plan
    checkout: Checkout | None = None


def subscriptions_of(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    include_ended: bool = False,
) -> list[tuple[Subscription, Plan]]:
    """The organisation's subscriptions; the command line, naming none, lists everyone's."""
    scope = tenancy.listing_scope(session, actor, organization, needs=Permission.READ_INVOICES)
    return list_subscriptions(session, scope, include_ended=include_ended)


def start_subscription(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    plan: str,
    seats: int = 1,
    trial: bool = True,
    pay_now: bool = False,
    settings: BillingSettings,
    default_currency: str,
    return_path: str = RETURN_PATH,
) -> Subscribed:
    """Subscribe to a plan; with ``pay_now``, invoice the first period at once and return how
    to pay it (None once it is paid, e.g. by credits)."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    now = utcnow()
    sub = subscribe(
        session,
        org.id,
        plan,
        quantity=seats,
        trial=trial,
        now=now,
        default_currency=default_currency,
        actor=actor,
    )
    checkout = None
    if pay_now:
        invoice = invoice_pending_charges(
            session, org.id, settings=settings, default_currency=default_currency, now=now
        )
        if invoice is not None and invoice.status != InvoiceStatus.PAID:
            checkout = start_checkout(settings, invoice, return_path=return_path)
    return Subscribed(sub, session.get_one(Plan, sub.plan_id), checkout)


def change_subscription(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    subscription_id: str,
    plan: str | None = None,
    seats: int | None = None,
) -> Subscribed:
    """Upgrade, downgrade or change seats now, prorated."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    sub = change(
        session,
        org.id,
        subscription_id,
        plan_code=plan,
        quantity=seats,
        now=utcnow(),
        actor=actor,
    )
    return Subscribed(sub, session.get_one(Plan, sub.plan_id))


def cancel_subscription(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    subscription_id: str,
    at_period_end: bool = True,
) -> Subscribed:
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    sub = cancel(
        session, org.id, subscription_id, at_period_end=at_period_end, now=utcnow(), actor=actor
    )
    return Subscribed(sub, session.get_one(Plan, sub.plan_id))


def resume_subscription(
    session: Session, actor: Actor, organization: str | None = None, *, subscription_id: str
) -> Subscribed:
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    sub = resume(session, org.id, subscription_id, actor=actor)
    return Subscribed(sub, session.get_one(Plan, sub.plan_id))


# -- prepaid credits ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Wallet:
    """The organisation's prepaid credits, and whether they are below its alert threshold."""

    account: BillingAccount
    state: WalletState
    entries: list[WalletEntry]

    @property
    def low_balance(self) -> bool:
        threshold = self.account.low_balance_nanos
        return threshold is not None and self.state.balance_nanos < threshold


def wallet_of(
    session: Session, actor: Actor, organization: str | None = None, *, default_currency: str
) -> Wallet:
    org = tenancy.acting_on(session, actor, organization, needs=Permission.READ_INVOICES)
    billing_account = ensure_account(session, org.id, default_currency)
    state = wallet_state(session, org.id, billing_account.currency, utcnow())
    return Wallet(billing_account, state, list_entries(session, org.id))


def buy_credits(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    amount: str,
    settings: BillingSettings,
    default_currency: str,
) -> tuple[Invoice, Checkout]:
    """An invoice for prepaid credits (with VAT) and how to pay it; the credits arrive when it
    is paid."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    invoice = create_top_up_invoice(
        session,
        org.id,
        parse_cents(amount, param="amount"),
        settings=settings,
        default_currency=default_currency,
        now=utcnow(),
    )
    return invoice, start_checkout(settings, invoice)


def give_credits(
    session: Session,
    actor: Actor,
    organization: str,
    *,
    amount: str,
    expires_on: date | None = None,
    description: str = "Free credits",
    default_currency: str,
) -> WalletEntry:
    """The operator gives an organisation free credits, in its billing currency."""
    tenancy.require_operator(session, actor)
    org = tenancy.acting_on(session, actor, organization)
    billing_account = ensure_account(session, org.id, default_currency)
    return grant_credits(
        session,
        org.id,
        parse_cents(amount, param="amount") * CENT,
        currency=billing_account.currency,
        expires_on=expires_on,
        now=utcnow(),
        description=description,
        actor=actor,
    )


# -- invoices -------------------------------------------------------------------------------------


def invoices_of(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    period: str | None = None,
    status: str | None = None,
    limit: int = 100,
    everyone: bool = False,
) -> list[Invoice]:
    """The organisation's invoices, newest first; the operator may name any organisation, and
    the command line (or the operator with ``everyone``), naming none, lists everyone's."""
    scope = tenancy.listing_scope(
        session, actor, organization, all_by_default=everyone, needs=Permission.READ_INVOICES
    )
    return list_invoices(session, scope, period=period, status=status, limit=limit)


def invoice_page(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    period: str | None = None,
    status: str | None = None,
    page: int = 1,
    size: int = 50,
) -> Page[Invoice]:
    """:func:`invoices_of` a page at a time, with the total: the operator naming no
    organisation pages through everyone's."""
    scope = tenancy.listing_scope(
        session, actor, organization, all_by_default=True, needs=Permission.READ_INVOICES
    )
    return paged(session, invoices_query(scope, period=period, status=status), page, size)


def invoice_of(
    session: Session, actor: Actor, ref: str, *, own: bool = False
) -> tuple[Invoice, list[InvoiceLine]]:
    """An invoice (by id or number) with its lines: one of the actor's organisation, or any
    for the operator (unless ``own``: a console shows its organisation's only); another's is
    not found."""
    everyone = tenancy.may(session, actor, Permission.OPERATE) and not own
    if not everyone and not tenancy.may(session, actor, Permission.READ_INVOICES):
        raise NotFoundError("this invoice does not exist", param="invoice")
    scope = None if everyone else actor.organization_id
    found = get_invoice(session, ref, scope)
    return found, invoice_lines(session, found)


def record_transfer(
    session: Session, actor: Actor, ref: str, *, reference: str, amount: str | None = None
) -> tuple[Payment, Invoice]:
    """The operator records a bank transfer against an invoice (by default, the amount due);
    the same reference twice records one payment."""
    tenancy.require_operator(session, actor)
    found = get_invoice(session, ref)
    payment = record_payment(
        session,
        found,
        provider="manual",
        reference=reference,
        amount_cents=None if amount is None else parse_cents(amount, param="amount"),
        now=utcnow(),
        actor=actor,
    )
    return payment, found


def void(session: Session, actor: Actor, ref: str) -> Invoice:
    """The operator voids a finalized, unpaid invoice (its fees return to the next one)."""
    tenancy.require_operator(session, actor)
    return void_invoice(session, get_invoice(session, ref), now=utcnow(), actor=actor)
