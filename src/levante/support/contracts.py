"""Support contracts as the desk reads them: an organisation's live support subscription,
the SLA terms its plan sets, the calendars business hours follow, and the operator's edits
to policies and calendars."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from levante import audit, tenancy
from levante.audit import Actor
from levante.billing import Plan, Subscription, find_plan, plan_price
from levante.errors import InvalidRequestError, NotFoundError
from levante.storage import new_id
from levante.storage.models import SupportCalendar
from levante.support.calendars import Calendar, parse_calendar, weekdays_calendar
from levante.support.policies import COMMUNITY, SupportTerms, parse_credits, parse_targets, terms_of
from levante.vocabulary import Currency, Interval, Product

DEFAULT_CALENDAR = "business-hours"
DEFAULT_CALENDAR_SPEC = weekdays_calendar("Europe/Paris", "09:00", "17:00")
_LIVE = ("trialing", "active")


@dataclass(frozen=True, slots=True)
class Contract:
    """An organisation's support subscription and its plan."""

    subscription: Subscription
    plan: Plan

    def monthly_fee_nanos(self, session: Session, at: datetime) -> int:
        """The month's share of the contract's fee, in its currency (a yearly plan's is a
        twelfth)."""
        per_period = plan_price(session, self.plan, self.subscription.currency, at)
        total = per_period * self.subscription.quantity
        return total // 12 if self.plan.interval == "year" else total


def ensure_calendars(session: Session) -> None:
    """Add the default business-hours calendar if the deployment has none by that name."""
    if session.scalar(select(SupportCalendar.id).where(SupportCalendar.name == DEFAULT_CALENDAR)):
        return
    try:
        with session.begin_nested():
            session.add(
                SupportCalendar(id=new_id("cal"), name=DEFAULT_CALENDAR, spec=DEFAULT_CALENDAR_SPEC)
            )
    except IntegrityError:
        pass  # another process added it


def contract_of(session: Session, organization_id: str, at: datetime) -> Contract | None:
    """The support subscription in force for the organisation at ``at``, if any."""
    row = session.execute(
        select(Subscription, Plan)
        .join(Plan, Plan.id == Subscription.plan_id)
        .where(
            Subscription.organization_id == organization_id,
            Plan.product == Product.SUPPORT,
            Subscription.anchor <= at,
            (Subscription.ended_at.is_(None)) | (Subscription.ended_at > at),
        )
        .order_by(Subscription.created_at.desc())
        .limit(1)
    ).first()
    if row is None or (row[0].ended_at is None and row[0].status not in _LIVE):
        return None
    return Contract(row[0], row[1])


def calendar_of(session: Session, organization_id: str, plan: Plan | None) -> Calendar | None:
    """The calendar an organisation's business hours follow: its own if it has one, else the
    one its plan names, else the default."""
    own = session.scalar(
        select(SupportCalendar).where(SupportCalendar.organization_id == organization_id)
    )
    if own is not None:
        return parse_calendar(own.spec)
    name = str(((plan.features if plan is not None else None) or {}).get("calendar") or "")
    named = session.scalar(
        select(SupportCalendar).where(SupportCalendar.name == (name or DEFAULT_CALENDAR))
    )
    if named is None and name:
        named = session.scalar(
            select(SupportCalendar).where(SupportCalendar.name == DEFAULT_CALENDAR)
        )
    return parse_calendar(named.spec if named is not None else DEFAULT_CALENDAR_SPEC)


def terms_for(session: Session, organization_id: str, at: datetime) -> SupportTerms:
    """The SLA terms a ticket the organisation opens at ``at`` is promised."""
    contract = contract_of(session, organization_id, at)
    if contract is None:
        return COMMUNITY
    plan = contract.plan
    return terms_of(
        plan.code, plan.name, plan.features, calendar_of(session, organization_id, plan)
    )


# -- the operator's edits -------------------------------------------------------------------------


def support_plans(session: Session) -> list[Plan]:
    return list(
        session.scalars(
            select(Plan)
            .where(Plan.product == Product.SUPPORT, Plan.interval != Interval.ONCE)
            .order_by(Plan.code)
        )
    )


def set_policy(
    session: Session,
    actor: Actor,
    plan_code: str,
    *,
    sla: dict[str, Any] | None = None,
    credits: dict[str, Any] | None = None,
    calendar: str | None = None,
    hourly_rate: dict[str, str] | None = None,
) -> Plan:
    """Change a support plan's SLA policy: the fields given (per severity, down to a single
    target) replace the plan's, the rest is kept. Tickets already open keep the terms they
    were opened under."""
    tenancy.require_operator(session, actor)
    plan = find_plan(session, plan_code)
    if plan.product != Product.SUPPORT or plan.interval == Interval.ONCE:
        raise InvalidRequestError(f"plan '{plan.code}' is not a support plan", param="plan")
    features = dict(plan.features or {})
    if sla is not None:
        merged = dict(features.get("sla") or {})
        for key, fields in sla.items():
            if not isinstance(fields, dict):
                raise InvalidRequestError(f"sla.{key} is an object", param="sla")
            merged[str(key)] = {**(merged.get(str(key)) or {}), **fields}
        parse_targets(merged)
        features["sla"] = {str(int(k)): v for k, v in sorted(merged.items())}
    if credits is not None:
        parse_credits(credits)
        features["credits"] = credits
    if calendar is not None:
        if not session.scalar(select(SupportCalendar.id).where(SupportCalendar.name == calendar)):
            raise NotFoundError(f"no calendar '{calendar}'", param="calendar")
        features["calendar"] = calendar
    if hourly_rate is not None:
        rates = {}
        for currency, amount in hourly_rate.items():
            try:
                rate = Decimal(str(amount))
                if not rate.is_finite() or rate < 0:
                    raise ArithmeticError(amount)
                rates[Currency(currency.upper()).value] = str(rate)
            except (ValueError, ArithmeticError):
                raise InvalidRequestError(
                    f"hourly rate {currency}: {amount} is not an amount", param="hourly_rate"
                ) from None
        features["hourly_rate"] = rates
    plan.features = features
    audit.record(
        session,
        organization_id=None,
        actor=actor,
        action="support.policy.changed",
        target=plan.code,
        details={"sla": sla, "credits": credits, "calendar": calendar, "hourly_rate": hourly_rate},
    )
    session.flush()
    return plan


def list_calendars(session: Session, actor: Actor) -> list[SupportCalendar]:
    tenancy.require_operator(session, actor)
    return list(session.scalars(select(SupportCalendar).order_by(SupportCalendar.name)))


def set_calendar(
    session: Session,
    actor: Actor,
    name: str,
    spec: dict[str, Any],
    *,
    organization: str | None = None,
) -> SupportCalendar:
    """Create or replace a calendar; with ``organization``, it is that customer's own and
    applies to the tickets it opens from now on."""
    tenancy.require_operator(session, actor)
    name = name.strip()
    if not name or len(name) > 64:
        raise InvalidRequestError("a calendar's name is 1 to 64 characters", param="name")
    parsed = parse_calendar(spec)
    org_id = tenancy.acting_on(session, actor, organization).id if organization else None
    row = session.scalar(select(SupportCalendar).where(SupportCalendar.name == name))
    if org_id is not None:
        own = session.scalar(
            select(SupportCalendar).where(SupportCalendar.organization_id == org_id)
        )
        if own is not None and (row is None or own.id != row.id):
            raise InvalidRequestError(
                f"the organisation already has calendar '{own.name}'; change that one",
                param="name",
            )
    if row is None:
        row = SupportCalendar(id=new_id("cal"), name=name, organization_id=org_id, spec={})
        session.add(row)
    elif org_id is not None and row.organization_id not in (None, org_id):
        raise InvalidRequestError(f"calendar '{name}' is another organisation's", param="name")
    row.spec = parsed.to_json()
    if org_id is not None:
        row.organization_id = org_id
    audit.record(
        session,
        organization_id=org_id,
        actor=actor,
        action="support.calendar.set",
        target=name,
        details=row.spec,
    )
    session.flush()
    return row
