"""The relational schema. Every change to it comes with an Alembic migration."""

from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from levante.storage.types import UTCDateTime, utcnow
from levante.vocabulary import (
    AccountState,
    BatchStatus,
    ChargeKind,
    Currency,
    FilePurpose,
    FileSource,
    HeldStatus,
    Interval,
    InvoiceKind,
    InvoiceStatus,
    LineKind,
    LineState,
    MessageRole,
    MessageState,
    PasswordLink,
    PaymentProvider,
    Product,
    SampleType,
    SubscriptionStatus,
    TicketEventKind,
    TicketStatus,
    TitleSource,
    Unit,
    UsageStatus,
    WalletKind,
)
from levante.vocabulary import (
    Role as Role,  # re-exported: the words as the rows store them
)
from levante.vocabulary import (
    SiteKeyStatus as SiteKeyStatus,
)

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def one_of(column: str, words: type[StrEnum], *, nullable: bool = False) -> CheckConstraint:
    """A CHECK that ``column`` holds one of ``words`` (named after the column)."""
    values = ", ".join(f"'{word.value}'" for word in words)
    quoted = f'"{column}"'  # some are keywords ("interval")
    condition = f"{quoted} IN ({values})"
    if nullable:
        condition = f"{quoted} IS NULL OR {condition}"
    return CheckConstraint(condition, name=column)


# SQLite only auto-increments a column declared exactly INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Organization(Base):
    """A customer: the one record that every revenue stream bills."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    # The operator's own organisation may manage prices and other organisations' tiers.
    is_operator: Mapped[bool] = mapped_column(Boolean, default=False)
    # A usage tier pinned by the operator; None means the tier follows paid spend.
    tier: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PaidSpend(Base):
    """What an organisation has paid in one currency, all time: its usage tier rises with it.
    Amounts in different currencies are never added together."""

    __tablename__ = "paid_spend"
    __table_args__ = (
        CheckConstraint("amount_nanos >= 0", name="amount_not_negative"),
        one_of("currency", Currency),
    )

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    amount_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Workspace(Base):
    __tablename__ = "workspaces"
    __table_args__ = (UniqueConstraint("organization_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Membership(Base):
    """A user's role in one organisation; a user may belong to several."""

    __tablename__ = "memberships"
    __table_args__ = (one_of("role", Role),)

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Invitation(Base):
    """An invitation for an existing user to join an organisation: nothing of the user is shown
    to the organisation, and no membership exists, until the user accepts it with the secret
    mailed to them. Only the secret's SHA-256 is stored."""

    __tablename__ = "invitations"
    __table_args__ = (
        Index("ix_invitations_org_email", "organization_id", "email"),
        one_of("role", Role),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    invited_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class OutboundMail(Base):
    """A message queued for a person (an invitation, later a password reset), kept in the
    database so that any process can queue it and the operator can read the outbox."""

    __tablename__ = "outbound_mail"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    to: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKey(Base):
    """An API key. Only the SHA-256 of the secret is stored; the secret is shown once."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[str] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(200))
    secret_hash: Mapped[str] = mapped_column(String(64), unique=True)
    display_prefix: Mapped[str] = mapped_column(String(16))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_models: Mapped[list[str] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class UsageRecord(Base):
    """One metered request: exactly one row per request that reached a model."""

    __tablename__ = "usage_records"
    __table_args__ = (
        Index("ix_usage_records_org_date", "organization_id", "usage_date"),
        Index("ix_usage_records_user_started", "user_id", "started_at"),
        Index("ix_usage_records_key_started", "api_key_id", "started_at"),
        # The ledger never holds negative usage or money, whoever writes to it.
        CheckConstraint(
            "prompt_tokens >= 0 AND completion_tokens >= 0 AND cached_tokens >= 0",
            name="tokens_not_negative",
        ),
        CheckConstraint(
            "input_cost_nanos >= 0 AND cached_cost_nanos >= 0 AND output_cost_nanos >= 0"
            " AND cost_nanos >= 0",
            name="cost_not_negative",
        ),
        one_of("status", UsageStatus),
        one_of("product", Product),
        one_of("currency", Currency, nullable=True),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"), nullable=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    # The person behind a chat answer; kept with the record's money when the account goes.
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    product: Mapped[str] = mapped_column(String(32), default="api")
    endpoint: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    completion_tokens: Mapped[int] = mapped_column(Integer)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16))
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    end_user: Mapped[str | None] = mapped_column(String(256), nullable=True)
    request_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime] = mapped_column(UTCDateTime())
    # The batch job the request was a line of (billed at the price's batch discount).
    batch_job_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    usage_date: Mapped[date] = mapped_column(Date)
    # Priced with the version in force when the request started; money in 1e-9 currency units.
    price_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    currency: Mapped[str | None] = mapped_column(String(3), nullable=True)
    input_cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    cached_cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    output_cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)
    cost_nanos: Mapped[int] = mapped_column(BigInteger, default=0)


class Price(Base):
    """A dated price version of one model, per million tokens, in 1e-9 currency units."""

    __tablename__ = "prices"
    __table_args__ = (
        UniqueConstraint("model", "currency", "effective_from"),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    model: Mapped[str] = mapped_column(String(200))
    currency: Mapped[str] = mapped_column(String(3))
    input_nanos: Mapped[int] = mapped_column(BigInteger)
    cached_input_nanos: Mapped[int] = mapped_column(BigInteger)
    output_nanos: Mapped[int] = mapped_column(BigInteger)
    batch_discount_percent: Mapped[int] = mapped_column(Integer)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SpendLimit(Base):
    """A monthly spending cap of an organisation (``workspace_id`` None) or of a workspace."""

    __tablename__ = "spend_limits"
    __table_args__ = (UniqueConstraint("organization_id", "workspace_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    workspace_id: Mapped[str | None] = mapped_column(
        ForeignKey("workspaces.id", ondelete="CASCADE"), nullable=True
    )
    monthly_limit_nanos: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Reservation(Base):
    """Budget held for a dispatched request, written before dispatch and replaced by its usage
    record when the request ends; one left behind by a dead process is swept into the ledger."""

    __tablename__ = "reservations"
    __table_args__ = (one_of("product", Product),)

    request_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    instance_id: Mapped[str] = mapped_column(String(32), index=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    workspace_id: Mapped[str | None] = mapped_column(ForeignKey("workspaces.id"), nullable=True)
    api_key_id: Mapped[str | None] = mapped_column(ForeignKey("api_keys.id"), nullable=True)
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    product: Mapped[str] = mapped_column(String(32))
    endpoint: Mapped[str] = mapped_column(String(64))
    model: Mapped[str] = mapped_column(String(200))
    stream: Mapped[bool] = mapped_column(Boolean, default=False)
    prompt_tokens: Mapped[int] = mapped_column(Integer)
    max_completion_tokens: Mapped[int] = mapped_column(Integer)
    price_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    reserved_nanos: Mapped[int] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())


class GatewayInstance(Base):
    """A running gateway process; its heartbeat tells live reservations from orphans."""

    __tablename__ = "gateway_instances"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class AuditEvent(Base):
    """Who changed keys, limits, prices or caps, and when. ``organization_id`` is None for
    platform-wide changes (prices)."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_org_created", "organization_id", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    organization_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- billing --------------------------------------------------------------------------------------


class BillingAccount(Base):
    """How an organisation is billed: who it is for tax, its currency, how it pays, and whether
    unpaid invoices have restricted it. Every revenue stream invoices this one record."""

    __tablename__ = "billing_accounts"
    __table_args__ = (
        one_of("state", AccountState),
        one_of("currency", Currency),
    )

    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), primary_key=True
    )
    legal_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    address: Mapped[str] = mapped_column(Text, default="")
    country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    vat_number: Mapped[str | None] = mapped_column(String(20), nullable=True)
    is_business: Mapped[bool] = mapped_column(Boolean, default=False)
    currency: Mapped[str] = mapped_column(String(3))
    # Prepaid-only accounts are refused once their credits run out; others are invoiced.
    prepaid_only: Mapped[bool] = mapped_column(Boolean, default=False)
    low_balance_nanos: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    low_balance_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="active")
    restricted_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    provider_customer_id: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Plan(Base):
    """A plan of the catalogue: what a subscription to one product costs per period."""

    __tablename__ = "plans"
    __table_args__ = (
        one_of("product", Product),
        one_of("interval", Interval),
        one_of("unit", Unit),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    product: Mapped[str] = mapped_column(String(32))  # api | chat | enterprise | support
    name: Mapped[str] = mapped_column(String(200))
    interval: Mapped[str] = mapped_column(String(8))  # month | year | once (an hour pack)
    unit: Mapped[str] = mapped_column(String(8))  # flat | seat | gpu
    trial_days: Mapped[int] = mapped_column(Integer, default=0)
    features: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class PlanPrice(Base):
    """A dated price of a plan in one currency, per unit (seat, GPU or the whole plan) and
    period, in 1e-9 currency units."""

    __tablename__ = "plan_prices"
    __table_args__ = (
        UniqueConstraint("plan_id", "currency", "effective_from"),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id", ondelete="CASCADE"), index=True)
    currency: Mapped[str] = mapped_column(String(3))
    amount_nanos: Mapped[int] = mapped_column(BigInteger)
    effective_from: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Subscription(Base):
    """An organisation's subscription to a plan, billed in advance for each period."""

    __tablename__ = "subscriptions"
    __table_args__ = (
        one_of("status", SubscriptionStatus),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    status: Mapped[str] = mapped_column(String(16))  # trialing | active | canceled
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    currency: Mapped[str] = mapped_column(String(3))
    # Period n runs from anchor + n intervals to anchor + (n + 1) intervals.
    anchor: Mapped[datetime] = mapped_column(UTCDateTime())
    period_index: Mapped[int] = mapped_column(Integer, default=0)
    current_period_start: Mapped[datetime] = mapped_column(UTCDateTime())
    current_period_end: Mapped[datetime] = mapped_column(UTCDateTime())
    trial_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_at_period_end: Mapped[bool] = mapped_column(Boolean, default=False)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Charge(Base):
    """A fixed amount owed (a subscription period, a proration, a carried balance) waiting for
    the invoice of the period it was charged in."""

    __tablename__ = "charges"
    __table_args__ = (
        Index("ix_charges_org_charged", "organization_id", "charged_at"),
        one_of("kind", ChargeKind),
        one_of("product", Product),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    subscription_id: Mapped[str | None] = mapped_column(
        ForeignKey("subscriptions.id"), nullable=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # a ChargeKind
    product: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(Integer, default=1)
    amount_nanos: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    period_end: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    charged_at: Mapped[datetime] = mapped_column(UTCDateTime())
    invoice_id: Mapped[str | None] = mapped_column(ForeignKey("invoices.id"), nullable=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WalletEntry(Base):
    """Credit added to an organisation's prepaid wallet: a paid top-up, or a free grant that
    expires. Usage in the ledger burns the wallet down; nothing here is ever updated."""

    __tablename__ = "wallet_entries"
    __table_args__ = (
        one_of("kind", WalletKind),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(16))  # top_up | grant
    amount_nanos: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    expires_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    reference: Mapped[str | None] = mapped_column(String(100), unique=True, nullable=True)
    description: Mapped[str] = mapped_column(String(300), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Invoice(Base):
    """An invoice: draft while it may still change, then finalized with the next number of one
    gap-free sequence, then paid or void. Amounts are in cents of ``currency``."""

    __tablename__ = "invoices"
    __table_args__ = (
        Index("ix_invoices_org_period", "organization_id", "period"),
        one_of("kind", InvoiceKind),
        one_of("status", InvoiceStatus),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    kind: Mapped[str] = mapped_column(String(16))  # period | top_up
    period: Mapped[str | None] = mapped_column(String(7), nullable=True)  # YYYY-MM
    currency: Mapped[str] = mapped_column(String(3))
    status: Mapped[str] = mapped_column(String(16))  # draft | finalized | paid | void
    number: Mapped[str | None] = mapped_column(String(32), unique=True, nullable=True)
    customer: Mapped[dict[str, Any]] = mapped_column(JSON)
    seller: Mapped[dict[str, Any]] = mapped_column(JSON)
    tax_scheme: Mapped[str] = mapped_column(String(24))
    tax_rate: Mapped[str] = mapped_column(String(8))  # percent, as a decimal string
    tax_note: Mapped[str] = mapped_column(String(300), default="")
    subtotal_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    taxable_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    tax_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    total_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    paid_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    paid_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    voided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    @property
    def amount_due_cents(self) -> int:
        """What is left to pay (never below zero)."""
        return max(0, self.total_cents - self.paid_cents)

    @property
    def payable(self) -> bool:
        """Issued and not paid in full: what a Pay button is for."""
        return self.status == "finalized" and self.amount_due_cents > 0


class InvoiceLine(Base):
    __tablename__ = "invoice_lines"
    __table_args__ = (
        one_of("kind", LineKind),
        one_of("product", Product),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    invoice_id: Mapped[str] = mapped_column(
        ForeignKey("invoices.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16))  # usage | charge | credit | top_up | carried
    product: Mapped[str] = mapped_column(String(32))
    description: Mapped[str] = mapped_column(String(300))
    quantity: Mapped[int] = mapped_column(BigInteger)
    unit: Mapped[str] = mapped_column(String(16))
    unit_price: Mapped[str] = mapped_column(String(40), default="")
    amount_cents: Mapped[int] = mapped_column(BigInteger)


class InvoiceSequence(Base):
    """The last invoice number issued; its row is locked while a number is taken, so numbers
    are consecutive and none is skipped."""

    __tablename__ = "invoice_sequences"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    last_number: Mapped[int] = mapped_column(BigInteger, default=0)


class Payment(Base):
    """Money received for an invoice, once per provider reference."""

    __tablename__ = "payments"
    __table_args__ = (
        UniqueConstraint("provider", "reference"),
        one_of("provider", PaymentProvider),
        one_of("currency", Currency),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), index=True)
    provider: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str] = mapped_column(String(200))
    amount_cents: Mapped[int] = mapped_column(BigInteger)
    currency: Mapped[str] = mapped_column(String(3))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class WebhookEvent(Base):
    """A payment provider's event, kept so that a replayed event is recognised and ignored."""

    __tablename__ = "webhook_events"
    __table_args__ = (UniqueConstraint("provider", "event_id"), one_of("provider", PaymentProvider))

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    provider: Mapped[str] = mapped_column(String(16))
    event_id: Mapped[str] = mapped_column(String(100))
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- licensing ------------------------------------------------------------------------------------


class LicenseRecord(Base):
    """A licence the vendor issued: the signed file as sent, and what the vendor has learnt
    since (revocation, seats reported)."""

    __tablename__ = "licenses"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(32))
    file: Mapped[str] = mapped_column(Text)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime())
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    grace_days: Mapped[int] = mapped_column(Integer)
    max_seats: Mapped[int | None] = mapped_column(Integer, nullable=True)
    max_nodes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    seats_reported: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_report_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LicenseActivation(Base):
    """A node of a self-hosted deployment that activated its licence online."""

    __tablename__ = "license_activations"
    __table_args__ = (UniqueConstraint("license_id", "fingerprint"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    hostname: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class LicenseReport(Base):
    """A usage report imported from a self-hosted site; its id is the digest of its payload,
    so a report imported twice is recognised."""

    __tablename__ = "license_reports"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    records: Mapped[int] = mapped_column(Integer)
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime())


class LicenseSiteKey(Base):
    """A public key a self-hosted site signs its usage reports with. Only a bound key's reports
    are imported; a report signed with any other key is held for the operator."""

    __tablename__ = "license_site_keys"
    __table_args__ = (UniqueConstraint("license_id", "public_key"), one_of("status", SiteKeyStatus))

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    public_key: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    # activation | activation_request | operator | held_report | legacy
    source: Mapped[str] = mapped_column(String(24))
    hostname: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    bound_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class HeldReport(Base):
    """A usage report signed with a key the licence has not bound, kept whole until the
    operator accepts it (binding its key and importing it) or rejects it."""

    __tablename__ = "license_held_reports"
    __table_args__ = (one_of("status", HeldStatus),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # the payload's digest
    license_id: Mapped[str] = mapped_column(ForeignKey("licenses.id"), index=True)
    site_key: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text)
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


# -- people on the web front end ------------------------------------------------------------------


class WebSession(Base):
    """A signed-in browser. The cookie holds a secret whose SHA-256 is the row's key; ending
    the row (sign-out, a password change, the user elsewhere) ends the session at once."""

    __tablename__ = "web_sessions"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    # What the page should say next (once): set by the server after a form, never by a URL.
    notice: Mapped[str | None] = mapped_column(String(500), nullable=True)


class ThrottleAttempt(Base):
    """An attempt counted against a subject (a sign-in by account and address, a sign-up or a
    reset mail by address): written and committed before the attempt runs, so that concurrent
    attempts each see the ones before them (see :mod:`levante.tenancy.attempts`)."""

    __tablename__ = "throttle_attempts"
    __table_args__ = (Index("ix_throttle_attempts_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    subject: Mapped[str] = mapped_column(String(400))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class PasswordReset(Base):
    """A single-use, expiring link to set a password, mailed to the account's address: a reset
    (``purpose`` reset), or the first password of a user an organisation added (claim). Only
    the secret's SHA-256 is kept; a new password ends every link still open."""

    __tablename__ = "password_resets"
    __table_args__ = (one_of("purpose", PasswordLink),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    purpose: Mapped[str] = mapped_column(String(16), default=PasswordLink.RESET)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class SignupRequest(Base):
    """A sign-up waiting for its address to be proven: the account is made when the link
    mailed to the address is followed and its owner chooses the password there."""

    __tablename__ = "signup_requests"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# -- the chat assistant ---------------------------------------------------------------------------


class ChatProfile(Base):
    """A chat user: the personal organisation made at sign-up, the organisation the chat bills
    and limits under now (the personal one, or a Team the user joined), and the user's custom
    instructions."""

    __tablename__ = "chat_profiles"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    personal_organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), nullable=True
    )
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="SET NULL"), nullable=True
    )
    instructions: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class Conversation(Base):
    __tablename__ = "chat_conversations"
    __table_args__ = (
        Index("ix_chat_conversations_user_updated", "user_id", "updated_at"),
        one_of("title_source", TitleSource),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(200), default="")
    title_source: Mapped[str] = mapped_column(String(8))
    model: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class ChatMessage(Base):
    """One turn of a conversation, at its position (0, 1, ...); an answer keeps its ledger
    request id and the tokens it took."""

    __tablename__ = "chat_messages"
    __table_args__ = (
        UniqueConstraint("conversation_id", "position"),
        one_of("role", MessageRole),
        one_of("state", MessageState),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("chat_conversations.id", ondelete="CASCADE")
    )
    position: Mapped[int] = mapped_column(Integer)
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    request_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    cached_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    time_to_first_token_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class SearchTerm(Base):
    """The words of a conversation (its title and messages), for search: one portable inverted
    index that serves SQLite and PostgreSQL alike, by the user, so one user's words never
    reach another's results."""

    __tablename__ = "chat_search_terms"

    user_id: Mapped[str] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    # Byte order on PostgreSQL too, so that a range of terms is a prefix whatever the locale.
    term: Mapped[str] = mapped_column(
        String(64).with_variant(String(64, collation="C"), "postgresql"), primary_key=True
    )
    conversation_id: Mapped[str] = mapped_column(
        ForeignKey("chat_conversations.id", ondelete="CASCADE"), primary_key=True, index=True
    )


# -- support --------------------------------------------------------------------------------------


class SupportCalendar(Base):
    """Business hours in a time zone, with holidays (``levante.support.calendars``): one named
    for plans to use, or a customer's own (``organization_id`` set), which then applies to
    that customer's tickets."""

    __tablename__ = "support_calendars"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    organization_id: Mapped[str | None] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), nullable=True, unique=True
    )
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class SupportTicket(Base):
    """A customer's request for help. Its history is its events; ``due_at`` and ``breached``
    are derived from them (and recomputed on every change and by the support worker) so that
    the queue can sort and filter in SQL. ``terms`` are the contract's SLA
    terms as they were when the ticket was opened."""

    __tablename__ = "support_tickets"
    __table_args__ = (
        Index("ix_support_tickets_org_created", "organization_id", "created_at"),
        Index("ix_support_tickets_status_due", "status", "due_at"),
        one_of("status", TicketStatus),
        CheckConstraint("severity BETWEEN 1 AND 4", name="severity"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    number: Mapped[int] = mapped_column(BigInteger, unique=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    opened_by: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    requester: Mapped[str] = mapped_column(String(320))  # who opened it, as shown
    subject: Mapped[str] = mapped_column(String(200))
    severity: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    assignee_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    deployment: Mapped[str] = mapped_column(String(200), default="")  # a licence id, a site
    model: Mapped[str] = mapped_column(String(200), default="")
    terms: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    solved_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)


class TicketEvent(Base):
    """One thing that happened to a ticket, in order. ``public`` events are the customer's to
    see; an internal note never is. An escalation carries a ``dedupe_key`` so that it is
    raised once, whichever process notices first."""

    __tablename__ = "support_ticket_events"
    __table_args__ = (
        Index("ix_support_ticket_events_ticket_id", "ticket_id", "id"),
        one_of("kind", TicketEventKind),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    ticket_id: Mapped[str] = mapped_column(ForeignKey("support_tickets.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[str | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), nullable=True
    )
    author: Mapped[str] = mapped_column(String(320))  # a name or address, or "Levante"
    by_agent: Mapped[bool] = mapped_column(Boolean, default=False)
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    body: Mapped[str] = mapped_column(Text, default="")
    data: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(200), nullable=True, unique=True)


class TicketAttachment(Base):
    """A file attached to a ticket, stored under the data directory by its id (never by the
    name it came with)."""

    __tablename__ = "support_attachments"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    ticket_id: Mapped[str] = mapped_column(
        ForeignKey("support_tickets.id", ondelete="CASCADE"), index=True
    )
    event_id: Mapped[int | None] = mapped_column(
        ForeignKey("support_ticket_events.id", ondelete="SET NULL"), nullable=True
    )
    filename: Mapped[str] = mapped_column(String(200))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    public: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class WebhookDelivery(Base):
    """A notification queued for an HTTP endpoint, with its body signed when it is sent;
    retried with back-off until it is taken (2xx) or it has failed ``attempts`` times."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "delivered_at", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    url: Mapped[str] = mapped_column(String(500))
    event: Mapped[str] = mapped_column(String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_error: Mapped[str] = mapped_column(String(500), default="")


class HourPack(Base):
    """A pack of consulting hours an organisation bought, paid by one charge. The time agents
    log on its tickets draws the packs down, the one that expires first first; what no pack
    covers is billed at the contract's hourly rate."""

    __tablename__ = "support_hour_packs"
    __table_args__ = (Index("ix_support_hour_packs_org_bought", "organization_id", "bought_at"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    plan_id: Mapped[str] = mapped_column(ForeignKey("plans.id"))
    minutes: Mapped[int] = mapped_column(Integer)
    bought_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    charge_id: Mapped[str] = mapped_column(ForeignKey("charges.id"), unique=True)
    bought_by: Mapped[str] = mapped_column(String(200))


# -- revenue --------------------------------------------------------------------------------------


class ExchangeRate(Base):
    """What one unit of ``base`` is worth in ``quote`` from ``effective_on`` on, as the operator
    set it: the revenue figures of accounts billed in other currencies are converted with it
    into the reporting currency. The rate is kept as the decimal text typed, so it is exact."""

    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("base", "quote", "effective_on"),
        CheckConstraint("base <> quote", name="distinct_currencies"),
        one_of("base", Currency),
        one_of("quote", Currency),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    rate: Mapped[str] = mapped_column(String(32))
    effective_on: Mapped[date] = mapped_column(Date)
    set_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


# -- files and batch jobs -------------------------------------------------------------------------


class StoredFile(Base):
    """A file an organisation uploaded (or a batch job wrote for it), kept in the blob store
    under ``storage_key``; its name is for display only."""

    __tablename__ = "files"
    __table_args__ = (
        Index("ix_files_org_created", "organization_id", "created_at"),
        one_of("purpose", FilePurpose),
        one_of("source", FileSource),
        one_of("sample_type", SampleType, nullable=True),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    api_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    purpose: Mapped[str] = mapped_column(String(16))
    sample_type: Mapped[str | None] = mapped_column(String(16), nullable=True)
    source: Mapped[str] = mapped_column(String(16))
    filename: Mapped[str] = mapped_column(String(200))
    mimetype: Mapped[str] = mapped_column(String(100))
    bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    num_lines: Mapped[int | None] = mapped_column(Integer, nullable=True)
    storage_key: Mapped[str] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class BatchJob(Base):
    """Requests run in bulk on idle capacity, billed at the batch price. Its lines are
    :class:`BatchRequest` rows; the counts here move in the transaction that settles a line."""

    __tablename__ = "batch_jobs"
    __table_args__ = (
        Index("ix_batch_jobs_org_created", "organization_id", "created_at"),
        Index("ix_batch_jobs_status", "status"),
        one_of("status", BatchStatus),
    )

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"))
    workspace_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    api_key_id: Mapped[str | None] = mapped_column(String(32), nullable=True)
    endpoint: Mapped[str] = mapped_column(String(64))
    model: Mapped[str | None] = mapped_column(String(200), nullable=True)
    job_metadata: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    input_files: Mapped[list[str]] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(24))
    total_requests: Mapped[int] = mapped_column(Integer)
    succeeded_requests: Mapped[int] = mapped_column(Integer, default=0)
    failed_requests: Mapped[int] = mapped_column(Integer, default=0)
    output_file: Mapped[str | None] = mapped_column(String(40), nullable=True)
    error_file: Mapped[str | None] = mapped_column(String(40), nullable=True)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class BatchRequest(Base):
    """One line of a batch job. A gateway process claims it (``claimed_by``, its instance id)
    and settles it in one transaction with its usage record; a claim of a process that
    stopped beating is void, and the line goes to another."""

    __tablename__ = "batch_requests"
    __table_args__ = (
        UniqueConstraint("job_id", "line"),
        Index("ix_batch_requests_job_state", "job_id", "state"),
        one_of("state", LineState),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("batch_jobs.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    custom_id: Mapped[str] = mapped_column(String(200))
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    state: Mapped[str] = mapped_column(String(12), default="pending")
    claimed_by: Mapped[str | None] = mapped_column(String(32), nullable=True)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    error_code: Mapped[str | None] = mapped_column(String(64), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class GuardrailPolicy(Base):
    """An organisation's guardrails on chat requests: by moderation category, ``block`` (the
    request is refused before it reaches a model) or ``flag`` (it runs, and is audited)."""

    __tablename__ = "guardrail_policies"

    organization_id: Mapped[str] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    rules: Mapped[dict[str, str]] = mapped_column(JSON)
    thresholds: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_by: Mapped[str] = mapped_column(String(200))
