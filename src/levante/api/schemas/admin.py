"""What the organisation administration routes answer and accept: API keys, usage, limits,
the audit log, prices and members."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from levante.metering import GroupBy
from levante.pricing import DEFAULT_BATCH_DISCOUNT_PERCENT, Price, format_amount
from levante.tenancy import DEFAULT_WORKSPACE, ApiKey, Invitation, Role
from levante.vocabulary import Currency


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


class UsageLine(BaseModel):
    month: str | None = None
    day: str | None = None
    model: str | None = None
    workspace: str | None = None
    key: str | None = None
    product: str | None = None
    organization: str | None = None
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

    @classmethod
    def invited(cls, invitation: Invitation) -> MemberView:
        return cls(
            status="invited",
            user_id=None,
            email=invitation.email,
            name=None,
            role=invitation.role,
            invitation_id=invitation.id,
            expires_at=invitation.expires_at,
        )


class MemberList(BaseModel):
    object: Literal["list"] = "list"
    data: list[MemberView]


class AddMember(BaseModel):
    email: str = Field(min_length=3, max_length=320)
    name: str = Field(default="", max_length=200)
    role: Role = Role.MEMBER


class ChatUserView(BaseModel):
    object: Literal["chat.user"] = "chat.user"
    id: str
    email: str
    organization: str = Field(description="slug of the organisation the chat bills")
    plan: str = Field(description="the plan that applies now")
    messages_this_week: int
    joined_at: datetime


class ChatUserList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ChatUserView]


class SetChatPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    plan: str = Field(min_length=1, max_length=64)
    seats: int | None = Field(default=None, ge=1, le=1_000_000)


class ChatPlanSet(BaseModel):
    object: Literal["chat.plan_change"] = "chat.plan_change"
    message: str
