"""What the billing routes answer and accept: the account, plans, subscriptions, the wallet,
invoices, payments and Stripe's webhook."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from levante import billing
from levante.billing import BillingAccount, Invoice, InvoiceLine, Plan, Subscription, WalletEntry
from levante.pricing import format_amount, format_cents
from levante.vocabulary import Currency


class AccountView(BaseModel):
    object: Literal["billing_account"] = "billing_account"
    organization_id: str
    legal_name: str
    email: str
    address: str
    country: str | None
    vat_number: str | None
    is_business: bool
    currency: str
    prepaid_only: bool
    low_balance_threshold: str | None
    state: Literal["active", "restricted"]
    restricted_at: datetime | None

    @classmethod
    def of(cls, account: BillingAccount) -> AccountView:
        return cls(
            organization_id=account.organization_id,
            legal_name=account.legal_name,
            email=account.email,
            address=account.address,
            country=account.country,
            vat_number=account.vat_number,
            is_business=account.is_business,
            currency=account.currency,
            prepaid_only=account.prepaid_only,
            low_balance_threshold=None
            if account.low_balance_nanos is None
            else format_amount(account.low_balance_nanos),
            state="restricted" if account.state == billing.RESTRICTED else "active",
            restricted_at=account.restricted_at,
        )


class AccountUpdate(BaseModel):
    legal_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    address: str | None = Field(default=None, max_length=1000)
    country: str | None = Field(default=None, max_length=2)
    vat_number: str | None = Field(default=None, max_length=20)
    is_business: bool | None = None
    currency: Currency | None = None
    force: bool = Field(
        default=False,
        description="change the currency even though some priced models have no price in it",
    )


class OperatorAccountUpdate(BaseModel):
    prepaid_only: bool | None = None
    low_balance_threshold: str | None = Field(default=None, description='"" removes it')


class PlanPriceView(BaseModel):
    currency: str
    amount: str
    effective_from: datetime


class PlanView(BaseModel):
    object: Literal["plan"] = "plan"
    id: str
    code: str
    product: str
    name: str
    interval: str
    unit: str
    trial_days: int
    features: dict[str, Any] | None
    prices: list[PlanPriceView]

    @classmethod
    def of(cls, offer: billing.PlanOffer) -> PlanView:
        plan = offer.plan
        return cls(
            id=plan.id,
            code=plan.code,
            product=plan.product,
            name=plan.name,
            interval=plan.interval,
            unit=plan.unit,
            trial_days=plan.trial_days,
            features=plan.features,
            prices=[
                PlanPriceView(
                    currency=p.currency,
                    amount=format_amount(p.amount_nanos),
                    effective_from=p.effective_from,
                )
                for p in offer.prices
            ],
        )


class PlanList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PlanView]


class SubscriptionView(BaseModel):
    object: Literal["subscription"] = "subscription"
    id: str
    plan: str
    product: str
    status: str
    seats: int
    currency: str
    current_period_start: datetime
    current_period_end: datetime
    trial_end: datetime | None
    cancel_at_period_end: bool
    ended_at: datetime | None

    @classmethod
    def of(cls, sub: Subscription, plan: Plan) -> SubscriptionView:
        """A subscription and its plan (a :class:`billing.Subscribed`, or the pair)."""
        return cls(
            id=sub.id,
            plan=plan.code,
            product=plan.product,
            status=sub.status,
            seats=sub.quantity,
            currency=sub.currency,
            current_period_start=sub.current_period_start,
            current_period_end=sub.current_period_end,
            trial_end=sub.trial_end,
            cancel_at_period_end=sub.cancel_at_period_end,
            ended_at=sub.ended_at,
        )


class SubscriptionList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SubscriptionView]


class Subscribe(BaseModel):
    plan: str = Field(min_length=1, max_length=64)
    seats: int = Field(default=1, ge=1, le=1_000_000)
    trial: bool = True
    pay_now: bool = Field(
        default=False, description="invoice the first period at once and return a checkout"
    )


class ChangeSubscription(BaseModel):
    plan: str | None = Field(default=None, min_length=1, max_length=64)
    seats: int | None = Field(default=None, ge=1, le=1_000_000)


class CancelSubscription(BaseModel):
    at_period_end: bool = True


class CheckoutView(BaseModel):
    object: Literal["checkout"] = "checkout"
    provider: str
    invoice_id: str
    url: str | None
    reference: str | None
    instructions: str

    @classmethod
    def of(cls, done: billing.Checkout) -> CheckoutView:
        return cls(
            provider=done.provider,
            invoice_id=done.invoice_id,
            url=done.url,
            reference=done.reference,
            instructions=done.instructions,
        )


class SubscribeResult(SubscriptionView):
    checkout: CheckoutView | None = None


class WalletEntryView(BaseModel):
    id: str
    kind: str
    amount: str
    currency: str
    expires_on: date | None
    description: str
    created_at: datetime

    @classmethod
    def of(cls, entry: WalletEntry) -> WalletEntryView:
        return cls(
            id=entry.id,
            kind=entry.kind,
            amount=format_amount(entry.amount_nanos),
            currency=entry.currency,
            expires_on=entry.expires_on,
            description=entry.description,
            created_at=entry.created_at,
        )


class WalletView(BaseModel):
    object: Literal["wallet"] = "wallet"
    organization_id: str
    currency: str
    balance: str
    credited: str
    expired: str
    consumed: str
    prepaid_only: bool
    low_balance_threshold: str | None
    low_balance: bool
    entries: list[WalletEntryView]

    @classmethod
    def of(cls, wallet: billing.Wallet) -> WalletView:
        account, state = wallet.account, wallet.state
        threshold = account.low_balance_nanos
        return cls(
            organization_id=account.organization_id,
            currency=account.currency,
            balance=format_amount(state.balance_nanos),
            credited=format_amount(state.credited_nanos),
            expired=format_amount(state.expired_nanos),
            consumed=format_amount(state.consumed_nanos),
            prepaid_only=account.prepaid_only,
            low_balance_threshold=None if threshold is None else format_amount(threshold),
            low_balance=wallet.low_balance,
            entries=[WalletEntryView.of(e) for e in wallet.entries],
        )


class TopUp(BaseModel):
    amount: str = Field(examples=["50.00"], description="credits to buy, before VAT")


class CreditGrant(BaseModel):
    organization: str = Field(min_length=1, max_length=64)
    amount: str
    expires_on: date | None = None
    description: str = Field(default="Free credits", max_length=300)


class LineView(BaseModel):
    kind: str
    product: str
    description: str
    quantity: int
    unit: str
    unit_price: str
    amount: str

    @classmethod
    def of(cls, line: InvoiceLine) -> LineView:
        return cls(
            kind=line.kind,
            product=line.product,
            description=line.description,
            quantity=line.quantity,
            unit=line.unit,
            unit_price=line.unit_price,
            amount=format_cents(line.amount_cents, grouping=False),
        )


class InvoiceView(BaseModel):
    object: Literal["invoice"] = "invoice"
    id: str
    number: str | None
    organization_id: str
    kind: str
    period: str | None
    status: str
    currency: str
    subtotal: str
    credits: str
    taxable: str
    tax_rate: str
    tax_scheme: str
    tax_note: str
    tax: str
    total: str
    paid: str
    issued_at: datetime | None
    due_at: datetime | None
    paid_at: datetime | None
    customer: dict[str, Any]
    lines: list[LineView] | None = None

    @classmethod
    def of(cls, invoice: Invoice, lines: list[InvoiceLine] | None = None) -> InvoiceView:
        def money(cents: int) -> str:
            return format_cents(cents, grouping=False)

        return cls(
            id=invoice.id,
            number=invoice.number,
            organization_id=invoice.organization_id,
            kind=invoice.kind,
            period=invoice.period,
            status=invoice.status,
            currency=invoice.currency,
            subtotal=money(invoice.subtotal_cents),
            credits=money(invoice.credits_cents),
            taxable=money(invoice.taxable_cents),
            tax_rate=invoice.tax_rate,
            tax_scheme=invoice.tax_scheme,
            tax_note=invoice.tax_note,
            tax=money(invoice.tax_cents),
            total=money(invoice.total_cents),
            paid=money(invoice.paid_cents),
            issued_at=invoice.issued_at,
            due_at=invoice.due_at,
            paid_at=invoice.paid_at,
            customer=invoice.customer,
            lines=None if lines is None else [LineView.of(line) for line in lines],
        )


class InvoiceList(BaseModel):
    object: Literal["list"] = "list"
    data: list[InvoiceView]


class Generate(BaseModel):
    period: str = Field(pattern=r"^\d{4}-\d{2}$", examples=["2026-10"])
    organization: str | None = Field(default=None, max_length=64)
    finalize: bool = True


class GeneratedView(BaseModel):
    object: Literal["list"] = "list"
    period: str
    data: list[InvoiceView]
    created: int
    updated: int
    unchanged: int


class RecordPayment(BaseModel):
    reference: str = Field(min_length=1, max_length=200)
    amount: str | None = Field(default=None, description="default: the amount due")


class PaymentView(BaseModel):
    object: Literal["payment"] = "payment"
    id: str
    invoice_id: str
    provider: str
    reference: str
    amount: str
    currency: str
    invoice_status: str


class WebhookResult(BaseModel):
    received: bool = True
    event_id: str
    result: str
