"""Chat plans and what they allow, from the catalogue's ``chat-*`` plans and their features;
and which plan applies to an organisation now.

A plan applies once it is paid for (its first charge is on a paid invoice), at once in a trial,
and not while the billing account is restricted for an overdue invoice: the organisation is
then on the Free plan's limits, and nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante.billing.catalog import find_plan
from levante.billing.subscriptions import LIVE
from levante.engine import ModelNames
from levante.errors import NotFoundError
from levante.quota import MessageWindow
from levante.storage.models import BillingAccount, Charge, Invoice, Plan, Subscription
from levante.vocabulary import AccountState, InvoiceStatus, Product, SubscriptionStatus

FREE_PLAN = "chat-free"
WEEK_SECONDS = 7 * 86400


@dataclass(frozen=True, slots=True)
class ChatPlan:
    """What one chat plan allows."""

    code: str
    name: str
    models: frozenset[str] | None  # None: every model served
    windows: tuple[MessageWindow, ...]
    max_context_tokens: int | None
    seats: bool  # a Team plan: members invited by the owner

    def allows(self, model_id: str) -> bool:
        return self.models is None or model_id in self.models

    @classmethod
    def of(cls, plan: Plan, names: ModelNames | None = None) -> ChatPlan:
        features: dict[str, Any] = plan.features or {}
        models = features.get("models")
        allowed = None
        if models is not None:  # aliases as their model's id; a model not served stays named
            known = names.as_mapping() if names is not None else {}
            allowed = frozenset(known.get(str(m), str(m)) for m in models)
        windows = []
        per_window = features.get("messages_per_window")
        if per_window is not None:
            hours = float(features.get("window_hours") or 5)
            windows.append(MessageWindow(int(per_window), round(hours * 3600)))
        per_week = features.get("messages_per_week")
        if per_week is not None:
            windows.append(MessageWindow(int(per_week), WEEK_SECONDS))
        context = features.get("max_context_tokens")
        return cls(
            code=plan.code,
            name=plan.name,
            models=allowed,
            windows=tuple(windows),
            max_context_tokens=int(context) if context is not None else None,
            seats=plan.unit == "seat",
        )


@dataclass(frozen=True, slots=True)
class Standing:
    """The chat plan that applies to an organisation now, and why.

    ``subscribed`` is the plan it subscribes to (None: Free); ``pending`` is the invoice that
    must be paid before that plan applies; ``restricted`` says an overdue invoice holds the
    organisation on Free limits."""

    organization_id: str
    plan: ChatPlan
    subscription: Subscription | None
    subscribed: Plan | None
    pending: Invoice | None
    restricted: bool

    @property
    def in_effect(self) -> bool:
        """Whether the subscribed plan is the one that applies."""
        return self.subscribed is not None and self.plan.code == self.subscribed.code


def chat_standing(
    session: Session,
    organization_id: str,
    *,
    names: ModelNames | None = None,
) -> Standing:
    free = ChatPlan.of(free_plan(session), names)
    found = session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.organization_id == organization_id,
            Subscription.status.in_(LIVE),
            Plan.product == Product.CHAT,
        )
        .order_by(Subscription.created_at.desc())
    ).first()
    account = session.get(BillingAccount, organization_id)
    restricted = account is not None and account.state == AccountState.RESTRICTED
    if found is None:
        return Standing(organization_id, free, None, None, None, restricted)
    sub, plan = found
    pending = None if sub.status == SubscriptionStatus.TRIALING else _unpaid_start(session, sub)
    applies = ChatPlan.of(plan, names) if pending is None and not restricted else free
    return Standing(organization_id, applies, sub, plan, pending, restricted)


def free_plan(session: Session) -> Plan:
    try:
        return find_plan(session, FREE_PLAN)
    except NotFoundError:  # the operator removed it: no limits but the windows below
        return Plan(code=FREE_PLAN, name="Chat Free", product="chat", unit="flat", features={})


def chat_plans(session: Session) -> list[Plan]:
    """The chat plans on offer, cheapest first as the catalogue lists them."""
    return list(
        session.scalars(
            select(Plan)
            .where(Plan.product == Product.CHAT, Plan.active.is_(True))
            .order_by(Plan.code)
        )
    )


def _unpaid_start(session: Session, sub: Subscription) -> Invoice | None:
    """The invoice of the subscription's first charge while it is unpaid; None once it is
    paid, or when that charge waits for the month's invoice."""
    charge = session.scalar(
        select(Charge)
        .where(Charge.subscription_id == sub.id, Charge.amount_nanos > 0)
        .order_by(Charge.charged_at, Charge.id)
        .limit(1)
    )
    if charge is None or charge.invoice_id is None:
        # Not invoiced up front: the operator set the plan, and it is billed with the month.
        return None
    invoice = session.get_one(Invoice, charge.invoice_id)
    return None if invoice.status == InvoiceStatus.PAID else invoice
