"""Billing over HTTP: the organisation's account, plans, subscriptions, wallet and invoices;
the operator's invoice runs, manual payments and credit grants; Stripe's webhook.

Every route but the webhook needs an admin key and sees its own organisation only; the
operator's admin keys may also read any invoice and run the operator actions.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from levante import billing
from levante.api.state import (
    Admin,
    AppState,
    Flushed,
    Operator,
    State,
    is_operator,
    require_operator,
)
from levante.errors import InvalidRequestError, NotFoundError
from levante.pricing import CENT, format_amount, format_cents, parse_cents
from levante.storage import utcnow
from levante.storage.models import (
    BillingAccount,
    Invoice,
    InvoiceLine,
    Plan,
    Subscription,
    WalletEntry,
)
from levante.tenancy import Principal, find_organization
from levante.vocabulary import Currency

router = APIRouter()
admin = "/v1/admin"

# -- views ----------------------------------------------------------------------------------------


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


class TopUp(BaseModel):
    amount: str = Field(examples=["50.00"], description="credits to buy, before VAT")


class Grant(BaseModel):
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


# -- helpers --------------------------------------------------------------------------------------


def _cents(value: str, param: str) -> int:
    try:
        return parse_cents(value)
    except ValueError as exc:
        raise InvalidRequestError(str(exc), param=param) from None


def _checkout(done: billing.Checkout) -> CheckoutView:
    return CheckoutView(
        provider=done.provider,
        invoice_id=done.invoice_id,
        url=done.url,
        reference=done.reference,
        instructions=done.instructions,
    )


# -- the organisation's own -----------------------------------------------------------------------


@router.get(f"{admin}/billing/account")
def get_account(state: State, caller: Admin) -> AccountView:
    with state.database.session() as session:
        account = billing.ensure_account(session, caller.organization_id, state.settings.currency)
        return AccountView.of(account)


@router.patch(f"{admin}/billing/account")
def patch_account(body: AccountUpdate, state: State, caller: Admin) -> AccountView:
    with state.database.session() as session:
        account = billing.update_account(
            session,
            caller.organization_id,
            billing.AccountChange(**body.model_dump()),
            default_currency=state.settings.currency,
            actor=caller.actor,
        )
        view = AccountView.of(account)
    state.policies.invalidate(caller.organization_id)
    return view


@router.get(f"{admin}/billing/plans")
def plans(state: State, caller: Admin) -> PlanList:
    with state.database.session() as session:
        return PlanList(
            data=[
                PlanView(
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
                        for p in billing.plan_prices(session, plan)
                    ],
                )
                for plan in billing.list_plans(session)
            ]
        )


@router.get(f"{admin}/billing/subscriptions")
def subscriptions(state: State, caller: Admin, include_ended: bool = False) -> SubscriptionList:
    with state.database.session() as session:
        rows = billing.list_subscriptions(
            session, caller.organization_id, include_ended=include_ended
        )
        return SubscriptionList(data=[SubscriptionView.of(s, p) for s, p in rows])


@router.post(f"{admin}/billing/subscriptions", status_code=201)
def create_subscription(body: Subscribe, state: State, caller: Admin) -> SubscribeResult:
    now = utcnow()
    with state.database.session() as session:
        sub = billing.subscribe(
            session,
            caller.organization_id,
            body.plan,
            quantity=body.seats,
            trial=body.trial,
            now=now,
            default_currency=state.settings.currency,
            actor=caller.actor,
        )
        invoice = None
        if body.pay_now:
            invoice = billing.invoice_pending_charges(
                session,
                caller.organization_id,
                settings=state.settings.billing,
                default_currency=state.settings.currency,
                now=now,
            )
        view = SubscriptionView.of(sub, session.get_one(Plan, sub.plan_id))
        checkout = (
            _checkout(billing.start_checkout(state.settings.billing, invoice))
            if invoice and invoice.status != "paid"
            else None
        )
    return SubscribeResult(**view.model_dump(), checkout=checkout)


@router.patch(f"{admin}/billing/subscriptions/{{subscription_id}}")
def change_subscription(
    subscription_id: str, body: ChangeSubscription, state: State, caller: Admin
) -> SubscriptionView:
    with state.database.session() as session:
        sub = billing.change(
            session,
            caller.organization_id,
            subscription_id,
            plan_code=body.plan,
            quantity=body.seats,
            now=utcnow(),
            actor=caller.actor,
        )
        return SubscriptionView.of(sub, session.get_one(Plan, sub.plan_id))


@router.post(f"{admin}/billing/subscriptions/{{subscription_id}}/cancel")
def cancel_subscription(
    subscription_id: str, body: CancelSubscription, state: State, caller: Admin
) -> SubscriptionView:
    with state.database.session() as session:
        sub = billing.cancel(
            session,
            caller.organization_id,
            subscription_id,
            at_period_end=body.at_period_end,
            now=utcnow(),
            actor=caller.actor,
        )
        return SubscriptionView.of(sub, session.get_one(Plan, sub.plan_id))


@router.post(f"{admin}/billing/subscriptions/{{subscription_id}}/resume")
def resume_subscription(subscription_id: str, state: State, caller: Admin) -> SubscriptionView:
    with state.database.session() as session:
        sub = billing.resume(session, caller.organization_id, subscription_id, actor=caller.actor)
        return SubscriptionView.of(sub, session.get_one(Plan, sub.plan_id))


def _wallet(session: Session, state: AppState, organization_id: str) -> WalletView:
    account = billing.ensure_account(session, organization_id, state.settings.currency)
    wallet = billing.wallet_state(session, organization_id, account.currency, utcnow())
    threshold = account.low_balance_nanos
    return WalletView(
        organization_id=organization_id,
        currency=account.currency,
        balance=format_amount(wallet.balance_nanos),
        credited=format_amount(wallet.credited_nanos),
        expired=format_amount(wallet.expired_nanos),
        consumed=format_amount(wallet.consumed_nanos),
        prepaid_only=account.prepaid_only,
        low_balance_threshold=None if threshold is None else format_amount(threshold),
        low_balance=threshold is not None and wallet.balance_nanos < threshold,
        entries=[WalletEntryView.of(e) for e in billing.list_entries(session, organization_id)],
    )


@router.get(f"{admin}/billing/wallet")
def wallet(state: State, caller: Admin, _: Flushed) -> WalletView:
    with state.database.session() as session:
        return _wallet(session, state, caller.organization_id)


@router.post(f"{admin}/billing/top-ups", status_code=201)
def top_up(body: TopUp, state: State, caller: Admin) -> CheckoutView:
    """Buy prepaid credits: an invoice for them (with VAT) and how to pay it; the credits
    arrive when it is paid."""
    amount = _cents(body.amount, "amount")
    with state.database.session() as session:
        invoice = billing.create_top_up_invoice(
            session,
            caller.organization_id,
            amount,
            settings=state.settings.billing,
            default_currency=state.settings.currency,
            now=utcnow(),
        )
        return _checkout(billing.start_checkout(state.settings.billing, invoice))


@router.get(f"{admin}/invoices")
def invoices(
    state: State,
    caller: Admin,
    period: Annotated[str | None, Query(pattern=r"^\d{4}-\d{2}$")] = None,
    status: Literal["draft", "finalized", "paid", "void"] | None = None,
    organization: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> InvoiceList:
    """The organisation's invoices, newest first (the operator may name any organisation)."""
    with state.database.session() as session:
        org = caller.organization_id
        if organization is not None:
            require_operator(session, caller)
            org = find_organization(session, organization).id
        rows = billing.list_invoices(session, org, period=period, status=status, limit=limit)
        return InvoiceList(data=[InvoiceView.of(i) for i in rows])


def _visible_invoice(session: Session, caller: Principal, ref: str) -> Invoice:
    scope = None if is_operator(session, caller) else caller.organization_id
    return billing.get_invoice(session, ref, scope)


@router.get(f"{admin}/invoices/{{ref}}")
def invoice(ref: str, state: State, caller: Admin) -> InvoiceView:
    with state.database.session() as session:
        found = _visible_invoice(session, caller, ref)
        return InvoiceView.of(found, billing.invoice_lines(session, found))


@router.get(f"{admin}/invoices/{{ref}}/html", response_class=HTMLResponse)
def invoice_html(ref: str, state: State, caller: Admin) -> HTMLResponse:
    with state.database.session() as session:
        found = _visible_invoice(session, caller, ref)
        return HTMLResponse(billing.render_html(found, billing.invoice_lines(session, found)))


@router.get(f"{admin}/invoices/{{ref}}/pdf", response_class=Response)
def invoice_pdf(ref: str, state: State, caller: Admin) -> Response:
    with state.database.session() as session:
        found = _visible_invoice(session, caller, ref)
        pdf = billing.render_pdf(found, billing.invoice_lines(session, found))
        name = found.number or found.id
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.post(f"{admin}/invoices/{{ref}}/checkout")
def invoice_checkout(ref: str, state: State, caller: Admin) -> CheckoutView:
    with state.database.session() as session:
        done = billing.pay_invoice(session, caller.actor, ref, settings=state.settings.billing)
    return _checkout(done)


# Reached without an API key: a browser back from the payment provider's page. The address
# carries its own credential (see levante.billing.checkout).
@router.get(f"{billing.RETURN_PATH}/{{invoice_id}}", response_class=HTMLResponse)
def checkout_return(
    invoice_id: str,
    state: State,
    token: Annotated[str, Query(max_length=64)] = "",
    checkout: billing.Outcome = billing.Outcome.SUCCESS,
) -> HTMLResponse:
    """The page a browser comes back to from Stripe Checkout: the invoice's state."""
    seller = state.settings.billing.seller_name
    try:
        with state.database.session() as session:
            page = billing.returned_from_checkout(
                session, invoice_id, token, checkout, state.settings.billing
            )
    except NotFoundError:
        return HTMLResponse(billing.render_return_page(None, seller), status_code=404)
    return HTMLResponse(billing.render_return_page(page, seller))


# -- the operator's -------------------------------------------------------------------------------


@router.post(f"{admin}/invoices/generate")
def generate(body: Generate, state: State, caller: Operator, _: Flushed) -> GeneratedView:
    """Build the period's invoices (operator only); finalized once the period is closed.
    Running it again changes nothing."""
    run = billing.run_invoices(
        state.database,
        caller.actor,
        body.period,
        organization=body.organization,
        finalize=body.finalize,
        settings=state.settings.billing,
        default_currency=state.settings.currency,
        settle_seconds=state.settings.max_request_seconds,
    )
    return GeneratedView(
        period=run.period,
        data=[InvoiceView.of(r.invoice) for r in run.results],
        created=run.count("created"),
        updated=run.count("updated"),
        unchanged=run.count("unchanged"),
    )


@router.post(f"{admin}/invoices/{{ref}}/payments", status_code=201)
def record_payment(ref: str, body: RecordPayment, state: State, caller: Operator) -> PaymentView:
    """Record a bank transfer against an invoice (operator only); the same reference twice
    records one payment."""
    with state.database.session() as session:
        found = billing.get_invoice(session, ref)
        amount = None if body.amount is None else _cents(body.amount, "amount")
        payment = billing.record_payment(
            session,
            found,
            provider="manual",
            reference=body.reference,
            amount_cents=amount,
            now=utcnow(),
            actor=caller.actor,
        )
        view = PaymentView(
            id=payment.id,
            invoice_id=found.id,
            provider=payment.provider,
            reference=payment.reference,
            amount=format_cents(payment.amount_cents, grouping=False),
            currency=payment.currency,
            invoice_status=found.status,
        )
        org = found.organization_id
    state.policies.invalidate(org)
    return view


@router.post(f"{admin}/invoices/{{ref}}/void")
def void(ref: str, state: State, caller: Operator) -> InvoiceView:
    with state.database.session() as session:
        found = billing.get_invoice(session, ref)
        billing.void_invoice(session, found, now=utcnow(), actor=caller.actor)
        return InvoiceView.of(found)


@router.post(f"{admin}/billing/grants", status_code=201)
def grant(body: Grant, state: State, caller: Operator) -> WalletView:
    """Give an organisation free credits (operator only)."""
    with state.database.session() as session:
        org = find_organization(session, body.organization).id
        account = billing.ensure_account(session, org, state.settings.currency)
        billing.grant_credits(
            session,
            org,
            _cents(body.amount, "amount") * CENT,
            currency=account.currency,
            expires_on=body.expires_on,
            now=utcnow(),
            description=body.description,
            actor=caller.actor,
        )
        view = _wallet(session, state, org)
    state.policies.invalidate(org)
    return view


@router.patch(f"{admin}/organizations/{{organization}}/billing")
def operator_account(
    organization: str, body: OperatorAccountUpdate, state: State, caller: Operator
) -> AccountView:
    """Make an organisation prepaid-only, or set its low-balance threshold (operator only)."""
    with state.database.session() as session:
        org = find_organization(session, organization).id
        threshold = body.low_balance_threshold
        low = _cents(threshold, "low_balance_threshold") * CENT if threshold else None
        account = billing.update_account(
            session,
            org,
            billing.AccountChange(
                prepaid_only=body.prepaid_only,
                low_balance_nanos=low,
                clear_low_balance=threshold == "",
            ),
            default_currency=state.settings.currency,
            actor=caller.actor,
        )
        view = AccountView.of(account)
    state.policies.invalidate(org)
    return view


@router.post("/v1/billing/webhooks/stripe")
async def stripe_webhook(
    request: Request,
    state: State,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookResult:
    """Stripe's events; the signature is the only credential."""
    payload = await request.body()

    def handle() -> billing.WebhookOutcome:
        with state.database.session() as session:
            return billing.handle_stripe_webhook(
                session,
                payload,
                stripe_signature,
                settings=state.settings.billing,
                now=utcnow(),
            )

    outcome = await anyio.to_thread.run_sync(handle)
    return WebhookResult(event_id=outcome.event_id, result=outcome.result)
