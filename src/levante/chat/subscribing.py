"""Moving between chat plans from the app: upgrade (paid when the invoice is), change, and
back to Free at the end of the paid period, through the billing package's subscriptions.

Only the organisation's owner, admins and billing members may change its plan; a Team
member chats on the Team's plan and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from levante import billing, tenancy
from levante.billing import Checkout
from levante.chat.plans import FREE_PLAN, chat_plans, chat_standing
from levante.errors import InvalidRequestError, NotFoundError
from levante.settings import BillingSettings
from levante.storage import utcnow
from levante.storage.models import Invoice, InvoiceLine, Plan
from levante.vocabulary import Permission

# Where the payment provider sends the browser back: the account page of the app, signed in.
CHECKOUT_RETURN_PATH = "/account/checkout"


@dataclass(frozen=True, slots=True)
class Offer:
    plan: Plan
    price: str  # per period and unit, as it will be charged: "17.99 USD"
    current: bool  # the plan the organisation subscribes to (Free: none)
    awaiting_payment: bool = False  # subscribed, but its first invoice is not paid yet
    price_note: str = ""  # "VAT included (FR 20%)", "excluding VAT"


@dataclass(frozen=True, slots=True)
class Offers:
    """The chat plans as the account page offers them; ``country_needed``: a consumer who has
    not said where they live, whose prices cannot include the right VAT yet."""

    plans: list[Offer]
    country: str | None
    country_needed: bool


@dataclass(frozen=True, slots=True)
class PlanChange:
    """What choosing a plan did, and how to pay for it if it is to be paid now."""

    message: str
    checkout: Checkout | None = None


def offers(
    session: Session, organization_id: str, *, currency: str, settings: BillingSettings
) -> Offers:
    """The plans, each at the price the organisation will be charged (a consumer's with their
    country's VAT included)."""
    standing = chat_standing(session, organization_id)
    # The plan in force: a plan subscribed to but not paid for yet is awaited, not current.
    subscribed = standing.subscribed.code if standing.subscribed is not None else FREE_PLAN
    current = subscribed if standing.in_effect or standing.subscribed is None else FREE_PLAN
    account = billing.ensure_account(session, organization_id, currency)
    found = []
    # Free, then each plan billed monthly before the same plan billed yearly.
    ordered = sorted(
        chat_plans(session),
        key=lambda p: (p.code != FREE_PLAN, p.code.rsplit("-", 1)[0], p.interval != "month"),
    )
    for plan in ordered:
        try:
            amount = billing.plan_price(session, plan, account.currency, utcnow())
        except InvalidRequestError:
            continue
        awaited = plan.code == subscribed and plan.code != current
        pay = billing.price_to_pay(
            session, organization_id, amount, settings=settings, default_currency=currency
        )
        found.append(
            Offer(
                plan,
                pay.text,
                plan.code == current,
                awaiting_payment=awaited,
                price_note=pay.note if amount else "",
            )
        )
    return Offers(found, account.country, _country_needed(account))


def _country_needed(account: billing.BillingAccount) -> bool:
    """A consumer's VAT is their country's: it must be known before they pay."""
    return account.country is None and not account.is_business


def pay(
    session: Session, user_id: str, organization_id: str, ref: str, *, settings: BillingSettings
) -> Checkout:
    """Pay one of the organisation's invoices still due: the provider's page, or how to pay
    it by transfer (for those who may buy for it)."""
    actor = tenancy.member_actor(session, user_id, organization_id)
    return billing.pay_invoice(session, actor, ref, settings=settings, organization=organization_id)


def set_country(
    session: Session, user_id: str, organization_id: str, country: str, *, currency: str
) -> str:
    """The buyer says where they live (its VAT is in the prices they pay); returns the code."""
    actor = tenancy.member_actor(session, user_id, organization_id)
    if not country.strip():
        raise InvalidRequestError("Choose your country.", param="country")
    account = billing.edit_account(
        session, actor, organization_id, change=billing.AccountChange(country=country),
        default_currency=currency,
    )  # fmt: skip
    return account.country or ""


def may_manage(session: Session, user_id: str, organization_id: str) -> bool:
    """Whether the person may change the organisation's plan and see its invoices."""
    try:
        actor = tenancy.member_actor(session, user_id, organization_id)
    except NotFoundError:
        return False
    return tenancy.may(session, actor, Permission.BUY)


def invoices_for(
    session: Session, user_id: str, organization_id: str, *, limit: int = 50
) -> list[Invoice]:
    """The organisation's invoices, newest first, for its owner, admins and billing members;
    none for anyone else."""
    if not may_manage(session, user_id, organization_id):
        return []
    actor = tenancy.member_actor(session, user_id, organization_id)
    return billing.invoices_of(session, actor, organization_id, limit=limit)


def invoice_for(
    session: Session, user_id: str, organization_id: str, ref: str
) -> tuple[Invoice, list[InvoiceLine]]:
    """One of the organisation's invoices with its lines; not found for anyone but its
    owner, admins and billing members, and for another organisation's."""
    if not may_manage(session, user_id, organization_id):
        raise NotFoundError("this invoice does not exist")
    return billing.invoice_of(session, tenancy.member_actor(session, user_id, organization_id), ref)


def choose_plan(
    session: Session,
    user_id: str,
    organization_id: str,
    code: str,
    *,
    seats: int | None = None,
    settings: BillingSettings,
    currency: str,
    now: datetime | None = None,
) -> PlanChange:
    """Put the organisation on chat plan ``code``: Free cancels the subscription at the end
    of its period; another plan subscribes (the first period invoiced at once, to pay before
    the plan applies, unless it starts with a trial) or changes the subscription, prorated."""
    actor = tenancy.member_actor(session, user_id, organization_id)
    tenancy.require(session, actor, Permission.BUY)
    now = now or utcnow()
    standing = chat_standing(session, organization_id)
    sub = standing.subscription
    if code == FREE_PLAN:
        if sub is None:
            return PlanChange("You are on the Free plan.")
        ended = billing.cancel_subscription(
            session, actor, organization_id, subscription_id=sub.id, at_period_end=True
        )
        return PlanChange(
            f"{ended.plan.name} ends on {ended.subscription.current_period_end:%Y-%m-%d}; "
            "you are on the Free plan from then on."
        )
    plan = billing.find_plan(session, code)
    if plan.product != "chat":
        raise InvalidRequestError(f"'{code}' is not a chat plan", param="plan")
    if _country_needed(billing.ensure_account(session, organization_id, currency)):
        raise InvalidRequestError(
            "Choose your country first: the price you pay includes its VAT.", param="country"
        )
    if sub is None:
        started = billing.start_subscription(
            session, actor, organization_id, plan=code, seats=seats or 1, trial=True,
            pay_now=True, settings=settings, default_currency=currency,
            return_path=CHECKOUT_RETURN_PATH,
        )  # fmt: skip
        if started.subscription.status == "trialing":
            return PlanChange(
                f"Your {plan.name} trial runs until {started.subscription.trial_end:%Y-%m-%d}."
            )
        if started.checkout is None:
            return PlanChange(f"You are on {plan.name}.")
        return PlanChange(
            f"{plan.name} starts as soon as its invoice is paid.", checkout=started.checkout
        )
    if sub.cancel_at_period_end and sub.plan_id == plan.id:
        billing.resume_subscription(session, actor, organization_id, subscription_id=sub.id)
        return PlanChange(f"{plan.name} goes on; nothing was cancelled.")
    changed = billing.change_subscription(
        session, actor, organization_id, subscription_id=sub.id, plan=code, seats=seats
    )
    return PlanChange(
        f"You are on {changed.plan.name}; the difference is prorated on your next invoice."
    )
