"""Spending caps and tiers: reading and changing them (admin API and CLI), audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante import audit, tenancy
from levante.audit import Actor
from levante.billing import add_paid_spend, currency_of, paid_spend
from levante.errors import InvalidRequestError, NotFoundError
from levante.metering import GroupBy, usage_report
from levante.pricing import format_amount, parse_amount
from levante.quota.admission import month_start
from levante.quota.policy import tier_of
from levante.settings import TierSettings
from levante.storage import Topic, announce, new_id, utcnow
from levante.storage.models import Organization, Reservation, SpendLimit, UsageRecord, Workspace
from levante.vocabulary import Permission


@dataclass(frozen=True, slots=True)
class SpendLine:
    workspace_id: str | None
    workspace: str | None
    monthly_limit_nanos: int | None
    spent_nanos: int  # recorded this month
    reserved_nanos: int  # held by requests running now


def set_spend_limit(
    session: Session,
    organization_id: str,
    limit_nanos: int | None,
    *,
    workspace_id: str | None = None,
    actor: Actor,
) -> None:
    """Set, change or (with None) remove the monthly cap of an organisation or workspace."""
    announce(session, Topic.POLICY, organization_id)
    if limit_nanos is not None and limit_nanos < 0:
        raise InvalidRequestError("a spending limit must not be negative", param="monthly_limit")
    if workspace_id is not None:
        workspace = session.get(Workspace, workspace_id)
        if workspace is None or workspace.organization_id != organization_id:
            raise NotFoundError(f"workspace '{workspace_id}' does not exist")
    row = session.scalar(
        select(SpendLimit).where(
            SpendLimit.organization_id == organization_id,
            SpendLimit.workspace_id.is_(None)
            if workspace_id is None
            else SpendLimit.workspace_id == workspace_id,
        )
    )
    before = row.monthly_limit_nanos if row is not None else None
    if limit_nanos is None:
        if row is not None:
            session.delete(row)
    elif row is None:
        session.add(
            SpendLimit(
                id=new_id("cap"),
                organization_id=organization_id,
                workspace_id=workspace_id,
                monthly_limit_nanos=limit_nanos,
            )
        )
    else:
        row.monthly_limit_nanos = limit_nanos
        row.updated_at = utcnow()
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="spend_limit.updated",
        target=workspace_id or organization_id,
        details={
            "before": None if before is None else format_amount(before),
            "after": None if limit_nanos is None else format_amount(limit_nanos),
        },
    )


def spend_summary(session: Session, organization_id: str) -> list[SpendLine]:
    """This month's spend and caps: the organisation first, then each workspace."""
    since = month_start(utcnow()).date()
    caps = {
        w: c
        for w, c in session.execute(
            select(SpendLimit.workspace_id, SpendLimit.monthly_limit_nanos).where(
                SpendLimit.organization_id == organization_id
            )
        ).all()
    }
    spent = dict(
        session.execute(
            select(UsageRecord.workspace_id, func.sum(UsageRecord.cost_nanos))
            .where(UsageRecord.organization_id == organization_id, UsageRecord.usage_date >= since)
            .group_by(UsageRecord.workspace_id)
        ).all()
    )
    held = dict(
        session.execute(
            select(Reservation.workspace_id, func.sum(Reservation.reserved_nanos))
            .where(Reservation.organization_id == organization_id)
            .group_by(Reservation.workspace_id)
        ).all()
    )
    lines = [
        SpendLine(
            None,
            None,
            caps.get(None),
            int(sum(v or 0 for v in spent.values())),
            int(sum(v or 0 for v in held.values())),
        )
    ]
    workspaces = session.scalars(
        select(Workspace)
        .where(Workspace.organization_id == organization_id)
        .order_by(Workspace.name)
    )
    for workspace in workspaces:
        lines.append(
            SpendLine(
                workspace.id,
                workspace.name,
                caps.get(workspace.id),
                int(spent.get(workspace.id) or 0),
                int(held.get(workspace.id) or 0),
            )
        )
    return lines


def current_tier(
    session: Session, organization_id: str, tiers: Sequence[TierSettings]
) -> tuple[Organization, TierSettings | None]:
    """The organisation and its tier (None for the operator's, which has no tier limits)."""
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFoundError(f"organisation '{organization_id}' does not exist")
    if org.is_operator:
        return org, None
    return org, tier_of(tiers, paid_spend(session, org.id), org.tier)


def pin_tier(
    session: Session,
    actor: Actor,
    organization: str,
    *,
    tier: str | None,
    tiers: Sequence[TierSettings],
) -> None:
    """Pin an organisation to a tier, or (None) let its tier follow its paid spend again."""
    tenancy.require_operator(session, actor)
    org = tenancy.acting_on(session, actor, organization)
    announce(session, Topic.POLICY, org.id)
    if tier is not None and tier not in {t.name for t in tiers}:
        names = ", ".join(t.name for t in tiers)
        raise InvalidRequestError(f"unknown tier '{tier}'; the tiers are {names}", param="tier")
    before, org.tier = org.tier, tier
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="tier.pinned" if tier else "tier.unpinned",
        target=org.id,
        details={"before": before, "after": tier},
    )


@dataclass(frozen=True, slots=True)
class SpendLimits:
    """An organisation's caps and this month's spend, in its billing currency."""

    organization_id: str
    currency: str
    lines: list[SpendLine]


def spend_limits(
    session: Session, actor: Actor, organization: str | None = None, *, default_currency: str
) -> SpendLimits:
    org = tenancy.acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    return SpendLimits(
        org.id, currency_of(session, org.id, default_currency), spend_summary(session, org.id)
    )


def change_spend_limit(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    monthly_limit: str | None,
    workspace: str | None = None,
    default_currency: str,
) -> SpendLimits:
    """Set (a decimal amount) or remove (None) the monthly cap of the organisation or of one of
    its workspaces (by name or id); audited, and this process's limits follow at once."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.CHANGE_LIMITS)
    nanos = None if monthly_limit is None else parse_amount(monthly_limit, param="monthly_limit")
    workspace_id = tenancy.find_workspace(session, org.id, workspace).id if workspace else None
    set_spend_limit(session, org.id, nanos, workspace_id=workspace_id, actor=actor)
    return spend_limits(session, actor, org.id, default_currency=default_currency)


@dataclass(frozen=True, slots=True)
class TierStanding:
    """Where an organisation stands: its tier (None for the operator's, which has no tier
    limits), whether it is pinned, what it has paid by currency, and the tokens each model
    has used this month."""

    organization_id: str
    tier: TierSettings | None
    pinned: bool
    paid_nanos: dict[str, int]
    tokens_this_month: dict[str, int]


def tier_standing(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    tiers: Sequence[TierSettings],
) -> TierStanding:
    org = tenancy.acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    _, tier = current_tier(session, org.id, tiers)
    rows = usage_report(
        session, org.id, start=month_start(utcnow()).date(), group_by=[GroupBy.MODEL]
    )
    return TierStanding(
        organization_id=org.id,
        tier=tier,
        pinned=org.tier is not None,
        paid_nanos=paid_spend(session, org.id),
        tokens_this_month={str(r.group["model"]): r.total_tokens for r in rows},
    )


def record_paid_spend(
    session: Session,
    actor: Actor,
    organization: str,
    *,
    amount: str,
    currency: str | None,
    default_currency: str,
    tiers: Sequence[TierSettings],
) -> tuple[int, str, TierSettings | None]:
    """The operator counts a payment made outside Levante towards an organisation's paid spend
    (in its billing currency by default); returns the new total, its currency and the tier."""
    tenancy.require_operator(session, actor)
    org = tenancy.acting_on(session, actor, organization)
    money = (currency or currency_of(session, org.id, default_currency)).upper()
    nanos = parse_amount(amount, param="amount")
    total = add_paid_spend(session, org.id, nanos, money, actor=actor)
    return total, money, current_tier(session, org.id, tiers)[1]
