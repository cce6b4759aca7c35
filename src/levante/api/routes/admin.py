"""Organisation administration: usage and cost, API keys, rate limits, spending limits, the
audit log, prices and members.

Every route is scoped to the caller's organisation and needs an admin key; adding a price is
the operator's (:mod:`levante.api.routes.operator`).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from levante import metering, pricing, quota, tenancy
from levante.api.schemas.admin import (
    AddMember,
    ApiKeyList,
    ApiKeyView,
    AuditEntry,
    AuditLog,
    CreateApiKey,
    CreatedApiKey,
    MemberList,
    MemberView,
    ModelLimits,
    PriceList,
    PriceView,
    RateLimits,
    SetSpendLimit,
    SpendLimitLine,
    SpendLimits,
    UsageLine,
    UsageReport,
)
from levante.api.state import Admin, Flushed, State
from levante.metering import GroupBy, UsageRow
from levante.pricing import format_amount

router = APIRouter(prefix="/v1/admin")


@router.get("/api-keys")
def list_keys(state: State, caller: Admin, include_revoked: bool = False) -> ApiKeyList:
    with state.database.session() as session:
        keys = tenancy.list_keys(session, caller.actor, include_revoked=include_revoked)
        return ApiKeyList(data=[ApiKeyView.of(k) for k in keys])


@router.post("/api-keys", status_code=201)
def create_key(body: CreateApiKey, state: State, caller: Admin) -> CreatedApiKey:
    with state.database.session() as session:
        issued = tenancy.create_key(
            session,
            caller.actor,
            name=body.name,
            models=state.models.names,
            workspace=body.workspace,
            admin=body.admin,
            expires_at=body.expires_at,
            allowed_models=body.allowed_models,
        )
        return CreatedApiKey(**ApiKeyView.of(issued.key).model_dump(), key=issued.secret)


@router.delete("/api-keys/{key_id}")
def revoke_key(key_id: str, state: State, caller: Admin) -> ApiKeyView:
    with state.database.session() as session:
        return ApiKeyView.of(tenancy.revoke_key(session, caller.actor, key_id=key_id))


@router.get("/usage", response_model_exclude_none=True)
def usage(
    state: State,
    caller: Admin,
    _: Flushed,
    start_date: date | None = None,
    end_date: date | None = None,
    group_by: Annotated[list[GroupBy] | None, Query()] = None,
    workspace: str | None = None,
    product: str | None = None,
) -> UsageReport:
    groups = group_by if group_by is not None else [GroupBy.DAY, GroupBy.MODEL, GroupBy.KEY]
    with state.database.session() as session:
        summary = metering.usage_summary(
            session,
            caller.actor,
            start=start_date,
            end=end_date,
            group_by=groups,
            workspace=workspace,
            product=product,
            default_currency=state.settings.currency,
        )
    return UsageReport(
        organization_id=summary.organization_id,
        start_date=start_date,
        end_date=end_date,
        group_by=groups,
        currency=summary.currency,
        data=[_line(row) for row in summary.rows],
        total=_line(summary.total),
    )


def _line(row: UsageRow) -> UsageLine:
    return UsageLine(
        **row.group,
        requests=row.requests,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=row.completion_tokens,
        cached_tokens=row.cached_tokens,
        total_tokens=row.total_tokens,
        cost=format_amount(row.cost_nanos),
    )


@router.get("/rate-limit")
def rate_limit(state: State, caller: Admin, _: Flushed) -> RateLimits:
    """The organisation's usage tier and its limits for every served model."""
    with state.database.session() as session:
        standing = quota.tier_standing(session, caller.actor, tiers=state.settings.tiers)
    tier = standing.tier
    lines = []
    for model in (m.id for m in state.models.configured()):
        limits = tier.limits_for(model) if tier is not None else None
        lines.append(
            ModelLimits(
                model=model,
                requests_per_second=limits.requests_per_second if limits else None,
                tokens_per_minute=limits.tokens_per_minute if limits else None,
                tokens_per_month=limits.tokens_per_month if limits else None,
                tokens_used_this_month=standing.tokens_this_month.get(model, 0),
            )
        )
    return RateLimits(
        organization_id=standing.organization_id,
        tier=tier.name if tier is not None else None,
        tier_pinned=standing.pinned,
        paid_spend={c: format_amount(n) for c, n in standing.paid_nanos.items()},
        data=lines,
    )


def _spend_limits(limits: quota.SpendLimits) -> SpendLimits:
    def amount(nanos: int | None) -> str | None:
        return None if nanos is None else format_amount(nanos)

    return SpendLimits(
        organization_id=limits.organization_id,
        currency=limits.currency,
        data=[
            SpendLimitLine(
                workspace_id=line.workspace_id,
                workspace=line.workspace,
                monthly_limit=amount(line.monthly_limit_nanos),
                spent_this_month=format_amount(line.spent_nanos),
                reserved=format_amount(line.reserved_nanos),
            )
            for line in limits.lines
        ],
    )


@router.get("/spend-limit")
def get_spend_limit(state: State, caller: Admin, _: Flushed) -> SpendLimits:
    with state.database.session() as session:
        limits = quota.spend_limits(session, caller.actor, default_currency=state.settings.currency)
    return _spend_limits(limits)


@router.put("/spend-limit")
def put_spend_limit(body: SetSpendLimit, state: State, caller: Admin, _: Flushed) -> SpendLimits:
    with state.database.session() as session:
        limits = quota.change_spend_limit(
            session,
            caller.actor,
            monthly_limit=body.monthly_limit,
            workspace=body.workspace,
            default_currency=state.settings.currency,
        )
    return _spend_limits(limits)


@router.get("/audit-logs")
def audit_logs(
    state: State,
    caller: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> AuditLog:
    """The organisation's audit events, newest first; page with ``before`` (an event id)."""
    with state.database.session() as session:
        _, events = tenancy.audit_log(session, caller.actor, limit=limit + 1, before_id=before)
        entries = [
            AuditEntry(
                id=e.id,
                actor=e.actor,
                action=e.action,
                target=e.target,
                details=e.details,
                created_at=e.created_at,
            )
            for e in events[:limit]
        ]
    return AuditLog(data=entries, has_more=len(events) > limit)


@router.get("/prices")
def prices(state: State, caller: Admin, model: str | None = None) -> PriceList:
    """Every price version (prices are the same for every organisation)."""
    with state.database.session() as session:
        return PriceList(data=[PriceView.of(p) for p in pricing.list_prices(session, model)])


@router.get("/members")
def members(state: State, caller: Admin) -> MemberList:
    """The organisation's users, and the invitations it has open."""
    with state.database.session() as session:
        rows, invited = tenancy.members(session, caller.actor)
        return MemberList(
            data=[
                MemberView(status="member", user_id=u.id, email=u.email, name=u.name, role=r)
                for u, r in rows
            ]
            + [MemberView.invited(i) for i in invited]
        )


@router.post("/members", status_code=201)
def add_member_route(body: AddMember, state: State, caller: Admin) -> MemberView:
    """Add a user to the organisation; in a licensed deployment a new user takes a seat, and
    the licence's ``max_seats`` caps them. An address that is already another organisation's
    user is sent an invitation instead, which they accept signed in (``/invitations/…``)."""
    with state.database.session() as session:
        change = tenancy.add_member(
            session,
            caller.actor,
            email=body.email,
            role=body.role,
            name=body.name,
            public_url=state.settings.billing.public_url,
            seat_check=state.seat_check,
            attempts=state.attempts,
            paces=state.paces,
        )
        if change.invitation is not None:
            return MemberView.invited(change.invitation)
        assert change.user is not None
        user = change.user
        return MemberView(
            status="member", user_id=user.id, email=user.email, name=user.name, role=change.role
        )


@router.delete("/members/{user_id}")
def remove_member_route(user_id: str, state: State, caller: Admin) -> MemberView:
    with state.database.session() as session:
        user = tenancy.remove_member(session, caller.actor, user_id=user_id)
        return MemberView(
            status="removed", user_id=user.id, email=user.email, name=user.name, role="removed"
        )
