"""Subscriptions to plans: billed in advance per period, prorated on change, renewed when a
period ends, ended at a period end when cancelled.

Every fee becomes a :class:`~levante.storage.models.Charge` dated at the start of what it pays
for; the invoice of the calendar month a charge falls in bills it. A renewal's charge carries
an idempotency key made of the subscription, its anchor and the period's index, so renewing
twice (two gateway processes, a retried job) charges once.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.billing.accounts import ensure_account
from levante.billing.catalog import find_plan, plan_price
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.storage import new_id
from levante.storage.models import Charge, Plan, Subscription
from levante.vocabulary import Interval, SubscriptionStatus

TRIALING, ACTIVE, CANCELED = SubscriptionStatus
LIVE = (TRIALING, ACTIVE)
MAX_QUANTITY = 1_000_000


def add_months(when: datetime, months: int) -> datetime:
    """``when`` moved by whole months, on the same day or the month's last day if shorter."""
    year, month = divmod(when.month - 1 + months, 12)
    year += when.year
    day = min(when.day, calendar.monthrange(year, month + 1)[1])
    return when.replace(year=year, month=month + 1, day=day)


def period_bounds(anchor: datetime, interval: str, index: int) -> tuple[datetime, datetime]:
    step = 12 if interval == "year" else 1
    return add_months(anchor, index * step), add_months(anchor, (index + 1) * step)


def prorate(amount_nanos: int, remaining: timedelta, whole: timedelta) -> int:
    """The share of a period's amount for the time remaining, rounded half up to a nano."""
    rest = max(0, remaining // timedelta(microseconds=1))
    total = max(1, whole // timedelta(microseconds=1))
    sign = -1 if amount_nanos < 0 else 1
    return sign * ((abs(amount_nanos) * rest * 2 + total) // (2 * total))


def subscribe(
    session: Session,
    organization_id: str,
    plan_code: str,
    *,
    quantity: int = 1,
    trial: bool = True,
    now: datetime,
    default_currency: str,
    actor: Actor,
) -> Subscription:
    """Subscribe an organisation to a plan. A plan with a trial starts with it, unless the
    organisation has had a subscription to the same product before."""
    account = ensure_account(session, organization_id, default_currency)
    plan = find_plan(session, plan_code)
    if not plan.active:
        raise InvalidRequestError(f"plan '{plan.code}' is no longer offered", param="plan")
    _check_renews(plan)
    _check_quantity(plan, quantity)
    plan_price(session, plan, account.currency, now)  # refuse a plan unpriced in the currency
    history = session.scalars(
        select(Subscription)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(Subscription.organization_id == organization_id, Plan.product == plan.product)
    ).all()
    if any(s.status in LIVE for s in history):
        raise ConflictError(
            f"the organisation already subscribes to a {plan.product} plan; change that one",
            param="plan",
        )
    sub = Subscription(
        id=new_id("sub"),
        organization_id=organization_id,
        plan_id=plan.id,
        quantity=quantity,
        currency=account.currency,
        cancel_at_period_end=False,
    )
    if trial and plan.trial_days and not history:
        end = now + timedelta(days=plan.trial_days)
        sub.status, sub.trial_end, sub.anchor, sub.period_index = TRIALING, end, end, -1
        sub.current_period_start, sub.current_period_end = now, end
    else:
        sub.status, sub.anchor, sub.period_index = ACTIVE, now, 0
        sub.current_period_start, sub.current_period_end = period_bounds(now, plan.interval, 0)
    session.add(sub)
    session.flush()
    if sub.status == ACTIVE:
        _charge_period(session, sub, plan)
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="subscription.created",
        target=sub.id,
        details={"plan": plan.code, "quantity": quantity, "status": sub.status},
    )
    return sub


def change(
    session: Session,
    organization_id: str,
    subscription_id: str,
    *,
    plan_code: str | None = None,
    quantity: int | None = None,
    now: datetime,
    actor: Actor,
) -> Subscription:
    """Move to another plan of the same product, or change the number of seats, at once: the
    unused time of the old terms is credited and the rest of the period charged on the new
    ones. Moving to a plan with another interval starts a new period now."""
    sub = _live(session, organization_id, subscription_id)
    old_plan = session.get_one(Plan, sub.plan_id)
    new_plan = old_plan if plan_code is None else find_plan(session, plan_code)
    if new_plan.product != old_plan.product:
        raise InvalidRequestError(
            f"plan '{new_plan.code}' is not a {old_plan.product} plan", param="plan"
        )
    if not new_plan.active:
        raise InvalidRequestError(f"plan '{new_plan.code}' is no longer offered", param="plan")
    _check_renews(new_plan)
    new_quantity = sub.quantity if quantity is None else quantity
    if new_plan.unit == "flat" and old_plan.unit != "flat" and quantity is None:
        new_quantity = 1
    _check_quantity(new_plan, new_quantity)
    if new_plan.id == old_plan.id and new_quantity == sub.quantity:
        return sub
    plan_price(session, new_plan, sub.currency, now)
    before = {"plan": old_plan.code, "quantity": sub.quantity}
    if sub.status == ACTIVE:
        start, end = sub.current_period_start, sub.current_period_end
        old_amount = plan_price(session, old_plan, sub.currency, start) * sub.quantity
        credit = prorate(old_amount, end - now, end - start)
        if credit:
            _add_charge(
                session,
                sub,
                kind="proration",
                product=old_plan.product,
                description=f"Unused time on {old_plan.name}{_units(old_plan, sub.quantity)} "
                f"from {now:%Y-%m-%d}",
                quantity=sub.quantity,
                amount=-credit,
                period=(now, end),
                charged_at=now,
                key=f"{sub.id}:change:{new_id('chg')}:credit",
            )
        sub.plan_id, sub.quantity = new_plan.id, new_quantity
        if new_plan.interval == old_plan.interval:
            new_amount = plan_price(session, new_plan, sub.currency, now) * new_quantity
            debit = prorate(new_amount, end - now, end - start)
            if debit:
                _add_charge(
                    session,
                    sub,
                    kind="proration",
                    product=new_plan.product,
                    description=f"Remaining time on {new_plan.name}"
                    f"{_units(new_plan, new_quantity)} from {now:%Y-%m-%d}",
                    quantity=new_quantity,
                    amount=debit,
                    period=(now, end),
                    charged_at=now,
                    key=f"{sub.id}:change:{new_id('chg')}:debit",
                )
        else:
            sub.anchor, sub.period_index = now, 0
            sub.current_period_start, sub.current_period_end = period_bounds(
                now, new_plan.interval, 0
            )
            _charge_period(session, sub, new_plan)
    else:
        sub.plan_id, sub.quantity = new_plan.id, new_quantity
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="subscription.changed",
        target=sub.id,
        details={"before": before, "after": {"plan": new_plan.code, "quantity": new_quantity}},
    )
    return sub


def cancel(
    session: Session,
    organization_id: str,
    subscription_id: str,
    *,
    at_period_end: bool = True,
    now: datetime,
    actor: Actor,
) -> Subscription:
    """Cancel at the end of the current period (or trial), or at once; time already paid is
    not refunded."""
    sub = _live(session, organization_id, subscription_id)
    if at_period_end:
        sub.cancel_at_period_end = True
    else:
        sub.status, sub.ended_at = CANCELED, now
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="subscription.canceled" if not at_period_end else "subscription.cancel_scheduled",
        target=sub.id,
        details={"ends_at": (now if not at_period_end else sub.current_period_end).isoformat()},
    )
    return sub


def resume(
    session: Session, organization_id: str, subscription_id: str, *, actor: Actor
) -> Subscription:
    """Undo a cancellation scheduled for the period end."""
    sub = _live(session, organization_id, subscription_id)
    if sub.cancel_at_period_end:
        sub.cancel_at_period_end = False
        audit.record(
            session,
            organization_id=organization_id,
            actor=actor,
            action="subscription.resumed",
            target=sub.id,
        )
    return sub


def renew_due(session: Session, now: datetime, organization_id: str | None = None) -> int:
    """Move every live subscription (of one organisation, or of all) whose period has ended
    into its next period (charging it), or end it if it was cancelled; returns how many periods
    were renewed or ended."""
    query = select(Subscription).where(
        Subscription.status.in_(LIVE), Subscription.current_period_end <= now
    )
    if organization_id is not None:
        query = query.where(Subscription.organization_id == organization_id)
    subs = session.scalars(query.with_for_update(skip_locked=True)).all()
    done = 0
    for sub in subs:
        plan = session.get_one(Plan, sub.plan_id)
        while sub.status in LIVE and sub.current_period_end <= now:
            done += 1
            if sub.cancel_at_period_end:
                sub.status, sub.ended_at = CANCELED, sub.current_period_end
                audit.record(
                    session,
                    organization_id=sub.organization_id,
                    actor="billing",
                    action="subscription.ended",
                    target=sub.id,
                    details={"plan": plan.code},
                )
                break
            if sub.status == TRIALING:
                sub.status, sub.anchor, sub.period_index = ACTIVE, sub.current_period_end, 0
            else:
                sub.period_index += 1
            sub.current_period_start, sub.current_period_end = period_bounds(
                sub.anchor, plan.interval, sub.period_index
            )
            _charge_period(session, sub, plan)
            audit.record(
                session,
                organization_id=sub.organization_id,
                actor="billing",
                action="subscription.renewed",
                target=sub.id,
                details={"plan": plan.code, "period_start": sub.current_period_start.isoformat()},
            )
    session.flush()
    return done


def list_subscriptions(
    session: Session, organization_id: str | None = None, *, include_ended: bool = False
) -> list[tuple[Subscription, Plan]]:
    query = select(Subscription, Plan).join(Plan, Plan.id == Subscription.plan_id)
    if organization_id is not None:
        query = query.where(Subscription.organization_id == organization_id)
    if not include_ended:
        query = query.where(Subscription.status.in_(LIVE))
    rows = session.execute(query.order_by(Subscription.created_at)).all()
    return [(s, p) for s, p in rows]


def _live(session: Session, organization_id: str, subscription_id: str) -> Subscription:
    sub = session.get(Subscription, subscription_id)
    if sub is None or sub.organization_id != organization_id:
        raise NotFoundError(f"subscription '{subscription_id}' does not exist")
    if sub.status not in LIVE:
        raise ConflictError(f"subscription '{subscription_id}' has ended")
    return sub


def _check_renews(plan: Plan) -> None:
    if plan.interval == Interval.ONCE:
        raise InvalidRequestError(
            f"plan '{plan.code}' is bought once, not subscribed to: buy it as an hour pack",
            param="plan",
        )


def _check_quantity(plan: Plan, quantity: int) -> None:
    if plan.unit == "flat" and quantity != 1:
        raise InvalidRequestError(
            f"plan '{plan.code}' is a flat fee; its quantity is 1", param="seats"
        )
    if not 1 <= quantity <= MAX_QUANTITY:
        raise InvalidRequestError(f"quantity must be between 1 and {MAX_QUANTITY:,}", param="seats")


def _units(plan: Plan, quantity: int) -> str:
    if plan.unit == "flat":
        return ""
    name = "GPU" if plan.unit == "gpu" else plan.unit
    return f" ({quantity} {name}{'s' if quantity != 1 else ''})"


def _charge_period(session: Session, sub: Subscription, plan: Plan) -> None:
    start, end = sub.current_period_start, sub.current_period_end
    unit = plan_price(session, plan, sub.currency, start)
    if not unit:
        return
    _add_charge(
        session,
        sub,
        kind="subscription",
        product=plan.product,
        description=f"{plan.name}{_units(plan, sub.quantity)}, {start:%Y-%m-%d} to {end:%Y-%m-%d}",
        quantity=sub.quantity,
        amount=unit * sub.quantity,
        period=(start, end),
        charged_at=start,
        key=f"{sub.id}:{int(sub.anchor.timestamp())}:{sub.period_index}",
    )


def _add_charge(
    session: Session,
    sub: Subscription,
    *,
    kind: str,
    product: str,
    description: str,
    quantity: int,
    amount: int,
    period: tuple[datetime, datetime],
    charged_at: datetime,
    key: str,
) -> None:
    if session.scalar(select(Charge.id).where(Charge.idempotency_key == key)) is not None:
        return
    session.add(
        Charge(
            id=new_id("ch"),
            organization_id=sub.organization_id,
            subscription_id=sub.id,
            kind=kind,
            product=product,
            description=description[:300],
            quantity=quantity,
            amount_nanos=amount,
            currency=sub.currency,
            period_start=period[0],
            period_end=period[1],
            charged_at=charged_at,
            idempotency_key=key,
        )
    )
