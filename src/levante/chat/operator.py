"""The operator's view of the chat: its users with their plan and messages this week, and
setting a user's plan by hand (applied at once, billed with the month)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante import billing, tenancy
from levante.audit import Actor
from levante.chat.assistant import MESSAGE_ENDPOINT
from levante.chat.plans import FREE_PLAN, chat_standing
from levante.errors import InvalidRequestError, NotFoundError
from levante.settings import BillingSettings
from levante.storage import utcnow
from levante.storage.models import ChatProfile, Organization, UsageRecord, User
from levante.tenancy.records import normalise_email
from levante.vocabulary import Product


@dataclass(frozen=True, slots=True)
class ChatUser:
    user_id: str
    email: str
    organization: str  # the slug of the organisation the chat bills
    plan: str  # the plan that applies now
    messages_this_week: int
    joined_at: datetime


def chat_users(
    session: Session, actor: Actor, *, now: datetime | None = None, limit: int = 1000
) -> list[ChatUser]:
    tenancy.require_operator(session, actor)
    now = now or utcnow()
    week = dict(
        session.execute(
            select(UsageRecord.user_id, func.count())
            .where(
                UsageRecord.product == Product.CHAT,
                UsageRecord.endpoint == MESSAGE_ENDPOINT,
                UsageRecord.started_at > now - timedelta(days=7),
            )
            .group_by(UsageRecord.user_id)
        ).all()
    )
    rows = session.execute(
        select(User, ChatProfile, Organization)
        .join(ChatProfile, ChatProfile.user_id == User.id)
        .join(Organization, Organization.id == ChatProfile.organization_id)
        .order_by(ChatProfile.created_at)
        .limit(limit)
    ).all()
    plans: dict[str, str] = {}
    found = []
    for user, profile, org in rows:
        if org.id not in plans:
            plans[org.id] = chat_standing(session, org.id).plan.name
        found.append(
            ChatUser(user.id, user.email, org.slug, plans[org.id], int(week.get(user.id, 0)),
                     profile.created_at)
        )  # fmt: skip
    return found


def set_plan(
    session: Session,
    actor: Actor,
    email: str,
    plan: str,
    *,
    seats: int | None = None,
    settings: BillingSettings,
    currency: str,
) -> str:
    """Put the user's chat organisation on ``plan`` now (Free ends its subscription at once);
    returns what was done."""
    tenancy.require_operator(session, actor)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    profile = session.get(ChatProfile, user.id) if user is not None else None
    if user is None or profile is None or profile.organization_id is None:
        raise NotFoundError(f"no chat user '{email}'", param="user")
    org = profile.organization_id
    standing = chat_standing(session, org)
    sub = standing.subscription
    if plan == FREE_PLAN:
        if sub is None:
            return f"{user.email} is on the Free plan"
        billing.cancel_subscription(
            session, actor, org, subscription_id=sub.id, at_period_end=False
        )
        ended = standing.subscribed.name if standing.subscribed is not None else "its plan"
        return f"{user.email} is on the Free plan; {ended} ended"
    chosen = billing.find_plan(session, plan)
    if chosen.product != Product.CHAT:
        raise InvalidRequestError(f"'{plan}' is not a chat plan", param="plan")
    if sub is None:
        started = billing.start_subscription(
            session, actor, org, plan=plan, seats=seats or 1, trial=False,
            settings=settings, default_currency=currency,
        )  # fmt: skip
        return f"{user.email} is on {started.plan.name}, billed with the month"
    changed = billing.change_subscription(
        session, actor, org, subscription_id=sub.id, plan=plan, seats=seats
    )
    return f"{user.email} is on {changed.plan.name}, the change prorated"
