"""Organisation administration: usage and cost, API keys, rate limits, spending limits, the
audit log, and (for the operator) prices.

Every route is scoped to the caller's organisation and needs an admin key; price changes need
an admin key of the operator's organisation.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from levante import audit, metering, pricing, quota, tenancy
from levante.api.state import Admin, Flushed, Operator, State
from levante.metering import GroupBy, UsageRow
from levante.pricing import DEFAULT_BATCH_DISCOUNT_PERCENT, Price, format_amount
from levante.tenancy import DEFAULT_WORKSPACE, ApiKey, Invitation, Role, accept_invitation
from levante.vocabulary import Currency

router = APIRouter(prefix="/v1/admin")


class ApiKeyView(BaseModel):
    id: str
    object: Literal["api_key"] = "api_key"
    name: str
    workspace_id: str
    prefix: str
    admin: bool
    allowed_models: list[str] | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey) -> ApiKeyView:
        return cls(
            id=key.id,
            name=key.name,
            workspace_id=key.workspace_id,
            prefix=key.display_prefix,
            admin=key.is_admin,
            allowed_models=key.allowed_models,
            created_at=key.created_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class CreatedApiKey(ApiKeyView):
    key: str = Field(description="The secret; shown this one time only.")


class ApiKeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ApiKeyView]


class CreateApiKey(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    workspace: str = Field(default=DEFAULT_WORKSPACE, min_length=1, max_length=200)
    admin: bool = False
    expires_at: datetime | None = None
    allowed_models: list[Annotated[str, Field(min_length=1)]] | None = Field(
        default=None, min_length=1
    )


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


class UsageLine(BaseModel):
    month: str | None = None
    day: str | None = None
    model: str | None = None
    workspace: str | None = None
    key: str | None = None
    requests: int
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    total_tokens: int
    cost: str = Field(description="decimal amount in the report's currency")


class UsageReport(BaseModel):
    object: Literal["usage_report"] = "usage_report"
    organization_id: str
    start_date: date | None
    end_date: date | None
    group_by: list[GroupBy]
    currency: str
    data: list[UsageLine]
    total: UsageLine


@router.get("/usage", response_model_exclude_none=True)
def usage(
    state: State,
    caller: Admin,
    _: Flushed,
    start_date: date | None = None,
    end_date: date | None = None,
    group_by: Annotated[list[GroupBy] | None, Query()] = None,
    workspace: str | None = None,
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


class ModelLimits(BaseModel):
    model: str
    requests_per_second: float | None
    tokens_per_minute: int | None
    tokens_per_month: int | None
    tokens_used_this_month: int


class RateLimits(BaseModel):
    object: Literal["rate_limit"] = "rate_limit"
    organization_id: str
    tier: str | None = Field(description="None for the operator's organisation: no tier limits")
    tier_pinned: bool
    paid_spend: dict[str, str] = Field(
        description="paid all time, by currency (never added across currencies)",
        examples=[{"EUR": "50.00", "USD": "20.00"}],
    )
    data: list[ModelLimits]


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


class SpendLimitLine(BaseModel):
    workspace_id: str | None
    workspace: str | None
    monthly_limit: str | None
    spent_this_month: str
    reserved: str = Field(description="held by requests running now")


class SpendLimits(BaseModel):
    object: Literal["spend_limit"] = "spend_limit"
    organization_id: str
    currency: str
    data: list[SpendLimitLine]


class SetSpendLimit(BaseModel):
    monthly_limit: str | None = Field(
        description="decimal amount; null removes the limit", examples=["100.00"]
    )
    workspace: str | None = Field(
        default=None,
        min_length=1,
        description="a workspace name or id; omitted: the whole organisation",
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


class AuditEntry(BaseModel):
    id: int
    object: Literal["audit_event"] = "audit_event"
    actor: str
    action: str
    target: str
    details: dict[str, Any] | None
    created_at: datetime


class AuditLog(BaseModel):
    object: Literal["list"] = "list"
    data: list[AuditEntry]
    has_more: bool


@router.get("/audit-logs")
def audit_logs(
    state: State,
    caller: Admin,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> AuditLog:
    """The organisation's audit events, newest first; page with ``before`` (an event id)."""
    with state.database.session() as session:
        events = audit.list_events(
            session, caller.organization_id, limit=limit + 1, before_id=before
        )
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


class PriceView(BaseModel):
    id: str
    object: Literal["price"] = "price"
    model: str
    currency: str
    input: str = Field(description="per million prompt tokens")
    cached_input: str = Field(description="per million prompt tokens read from cache")
    output: str = Field(description="per million completion tokens")
    batch_discount_percent: int
    effective_from: datetime
    warnings: list[str] = Field(
        default=[], description="e.g. currencies organisations are billed in with no price"
    )

    @classmethod
    def of(cls, price: Price) -> PriceView:
        return cls(
            id=price.id,
            model=price.model,
            currency=price.currency,
            input=format_amount(price.input_nanos),
            cached_input=format_amount(price.cached_input_nanos),
            output=format_amount(price.output_nanos),
            batch_discount_percent=price.batch_discount_percent,
            effective_from=price.effective_from,
        )


class PriceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PriceView]


class CreatePrice(BaseModel):
    model: str = Field(min_length=1)
    input: str = Field(examples=["0.15"], description="per million prompt tokens")
    output: str = Field(examples=["0.60"], description="per million completion tokens")
    cached_input: str | None = Field(default=None, description="default: 10% of input")
    batch_discount_percent: int = Field(default=DEFAULT_BATCH_DISCOUNT_PERCENT, ge=0, le=100)
    effective_from: datetime | None = None
    currency: Currency | None = Field(default=None, description="default: the configured currency")


@router.get("/prices")
def prices(state: State, caller: Admin, model: str | None = None) -> PriceList:
    """Every price version (prices are the same for every organisation)."""
    with state.database.session() as session:
        return PriceList(data=[PriceView.of(p) for p in pricing.list_prices(session, model)])


@router.post("/prices", status_code=201)
def add_price(body: CreatePrice, state: State, caller: Operator) -> PriceView:
    """Add a price version (operator only). It applies to requests that start from
    ``effective_from`` on, which may not be sooner than ``price_refresh_seconds`` away."""
    with state.database.session() as session:
        added = pricing.add_price(
            session,
            caller.actor,
            pricing.NewPrice(**body.model_dump()),
            models=state.models.names,
            default_currency=state.settings.currency,
            lead_seconds=state.settings.price_refresh_seconds,
        )
        return PriceView.of(added.price).model_copy(update={"warnings": added.warnings})


class MemberView(BaseModel):
    object: Literal["member"] = "member"
    status: Literal["member", "invited", "removed"] = Field(
        description="invited: the address belongs to an existing user, who was sent an "
        "invitation; nothing of them is shown until they accept"
    )
    user_id: str | None
    email: str
    name: str | None
    role: str
    invitation_id: str | None = None
    expires_at: datetime | None = None


class MemberList(BaseModel):
    object: Literal["list"] = "list"
    data: list[MemberView]


class AddMember(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    role: Role = Role.MEMBER


class AcceptInvitation(BaseModel):
    token: str = Field(min_length=20, max_length=200)


def _invited(invitation: Invitation) -> MemberView:
    return MemberView(
        status="invited", user_id=None, email=invitation.email, name=None,
        role=invitation.role, invitation_id=invitation.id, expires_at=invitation.expires_at,
    )  # fmt: skip


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
            + [_invited(i) for i in invited]
        )


@router.post("/members", status_code=201)
def add_member_route(body: AddMember, state: State, caller: Admin) -> MemberView:
    """Add a user to the organisation; in a licensed deployment a new user takes a seat, and
    the licence's ``max_seats`` caps them. An address that is already another organisation's
    user is sent an invitation instead, which they accept (``POST /v1/invitations/accept``)."""
    guard = state.license
    with state.database.session() as session:
        change = tenancy.add_member(
            session,
            caller.actor,
            email=body.email,
            role=body.role,
            name=body.name,
            public_url=state.settings.billing.public_url,
            seat_check=guard.check_seats if guard is not None else None,
        )
        if change.invitation is not None:
            return _invited(change.invitation)
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


# Reached without an API key: the invitation's secret is the credential.
invitations = APIRouter()


class AcceptedInvitation(BaseModel):
    object: Literal["invitation"] = "invitation"
    status: Literal["accepted"] = "accepted"
    organization: str
    role: str
    user_id: str


@invitations.post("/v1/invitations/accept")
def accept(body: AcceptInvitation, state: State) -> AcceptedInvitation:
    """Accept an invitation to an organisation with the secret it was mailed with."""
    guard = state.license
    with state.database.session() as session:
        org, user, role = accept_invitation(
            session,
            body.token,
            seat_check=guard.check_seats if guard is not None else None,
        )
        return AcceptedInvitation(organization=org.name, role=role, user_id=user.id)
