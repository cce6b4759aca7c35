"""Billing over HTTP for an organisation's admins: its account, plans, subscriptions, wallet
and invoices; the page a browser returns to from Checkout; Stripe's webhook.

Every route but the last two needs an admin key and sees its own organisation only (the
operator's keys may read any invoice). The operator's billing routes are in
:mod:`levante.api.routes.operator`.
"""

from __future__ import annotations

from typing import Annotated, Literal

import anyio
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import HTMLResponse, Response

from levante import billing
from levante.api.headers import standalone_document
from levante.api.schemas.billing import (
    AccountUpdate,
    AccountView,
    CancelSubscription,
    ChangeSubscription,
    CheckoutView,
    InvoiceList,
    InvoiceView,
    PlanList,
    PlanView,
    Subscribe,
    SubscribeResult,
    SubscriptionList,
    SubscriptionView,
    TopUp,
    WalletView,
    WebhookResult,
)
from levante.api.state import Admin, Flushed, State
from levante.errors import NotFoundError

router = APIRouter()
admin = "/v1/admin"


@router.get(f"{admin}/billing/account")
def get_account(state: State, caller: Admin) -> AccountView:
    with state.database.session() as session:
        account = billing.account_of(
            session, caller.actor, default_currency=state.settings.currency
        )
        return AccountView.of(account)


@router.patch(f"{admin}/billing/account")
def patch_account(body: AccountUpdate, state: State, caller: Admin) -> AccountView:
    with state.database.session() as session:
        account = billing.edit_account(
            session,
            caller.actor,
            change=billing.AccountChange(**body.model_dump()),
            default_currency=state.settings.currency,
        )
        return AccountView.of(account)


@router.get(f"{admin}/billing/plans")
def plans(state: State, caller: Admin) -> PlanList:
    with state.database.session() as session:
        return PlanList(data=[PlanView.of(offer) for offer in billing.plans_on_offer(session)])


@router.get(f"{admin}/billing/subscriptions")
def subscriptions(state: State, caller: Admin, include_ended: bool = False) -> SubscriptionList:
    with state.database.session() as session:
        rows = billing.subscriptions_of(session, caller.actor, include_ended=include_ended)
        return SubscriptionList(data=[SubscriptionView.of(s, p) for s, p in rows])


@router.post(f"{admin}/billing/subscriptions", status_code=201)
def create_subscription(body: Subscribe, state: State, caller: Admin) -> SubscribeResult:
    with state.database.session() as session:
        done = billing.start_subscription(
            session,
            caller.actor,
            plan=body.plan,
            seats=body.seats,
            trial=body.trial,
            pay_now=body.pay_now,
            settings=state.settings.billing,
            default_currency=state.settings.currency,
        )
        view = SubscriptionView.of(done.subscription, done.plan)
    checkout = None if done.checkout is None else CheckoutView.of(done.checkout)
    return SubscribeResult(**view.model_dump(), checkout=checkout)


@router.patch(f"{admin}/billing/subscriptions/{{subscription_id}}")
def change_subscription(
    subscription_id: str, body: ChangeSubscription, state: State, caller: Admin
) -> SubscriptionView:
    with state.database.session() as session:
        done = billing.change_subscription(
            session,
            caller.actor,
            subscription_id=subscription_id,
            plan=body.plan,
            seats=body.seats,
        )
        return SubscriptionView.of(done.subscription, done.plan)


@router.post(f"{admin}/billing/subscriptions/{{subscription_id}}/cancel")
def cancel_subscription(
    subscription_id: str, body: CancelSubscription, state: State, caller: Admin
) -> SubscriptionView:
    with state.database.session() as session:
        done = billing.cancel_subscription(
            session,
            caller.actor,
            subscription_id=subscription_id,
            at_period_end=body.at_period_end,
        )
        return SubscriptionView.of(done.subscription, done.plan)


@router.post(f"{admin}/billing/subscriptions/{{subscription_id}}/resume")
def resume_subscription(subscription_id: str, state: State, caller: Admin) -> SubscriptionView:
    with state.database.session() as session:
        done = billing.resume_subscription(session, caller.actor, subscription_id=subscription_id)
        return SubscriptionView.of(done.subscription, done.plan)


@router.get(f"{admin}/billing/wallet")
def wallet(state: State, caller: Admin, _: Flushed) -> WalletView:
    with state.database.session() as session:
        found = billing.wallet_of(session, caller.actor, default_currency=state.settings.currency)
        return WalletView.of(found)


@router.post(f"{admin}/billing/top-ups", status_code=201)
def top_up(body: TopUp, state: State, caller: Admin) -> CheckoutView:
    """Buy prepaid credits: an invoice for them (with VAT) and how to pay it; the credits
    arrive when it is paid."""
    with state.database.session() as session:
        _, checkout = billing.buy_credits(
            session,
            caller.actor,
            amount=body.amount,
            settings=state.settings.billing,
            default_currency=state.settings.currency,
        )
    return CheckoutView.of(checkout)


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
        rows = billing.invoices_of(
            session, caller.actor, organization, period=period, status=status, limit=limit
        )
        return InvoiceList(data=[InvoiceView.of(i) for i in rows])


@router.get(f"{admin}/invoices/{{ref}}")
def invoice(ref: str, state: State, caller: Admin) -> InvoiceView:
    with state.database.session() as session:
        found, lines = billing.invoice_of(session, caller.actor, ref)
        return InvoiceView.of(found, lines)


@router.get(f"{admin}/invoices/{{ref}}/html", response_class=HTMLResponse)
def invoice_html(ref: str, state: State, caller: Admin) -> HTMLResponse:
    with state.database.session() as session:
        found, lines = billing.invoice_of(session, caller.actor, ref)
        return standalone_document(billing.render_html(found, lines))


@router.get(f"{admin}/invoices/{{ref}}/pdf", response_class=Response)
def invoice_pdf(ref: str, state: State, caller: Admin) -> Response:
    with state.database.session() as session:
        found, lines = billing.invoice_of(session, caller.actor, ref)
        pdf, name = billing.render_pdf(found, lines), found.number or found.id
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )


@router.post(f"{admin}/invoices/{{ref}}/checkout")
def invoice_checkout(ref: str, state: State, caller: Admin) -> CheckoutView:
    with state.database.session() as session:
        done = billing.pay_invoice(session, caller.actor, ref, settings=state.settings.billing)
    return CheckoutView.of(done)


# Reached without an API key: a browser back from the payment provider's page. The address
# carries its own credential (see levante.billing.checkout).
@router.get(f"{billing.RETURN_PATH}/{{invoice_id}}", response_class=HTMLResponse)
def checkout_return(
    invoice_id: str,
    state: State,
    token: str = "",
    checkout: str = billing.Outcome.SUCCESS,
) -> HTMLResponse:
    """The page a browser comes back to from Stripe Checkout: the invoice's state. Any address
    Levante did not make gets the page's "not found", never a JSON error."""
    seller = state.settings.billing.seller_name
    try:
        with state.database.session() as session:
            page = billing.returned_from_checkout(
                session, invoice_id, token, checkout, state.settings.billing
            )
    except NotFoundError:
        return standalone_document(billing.render_return_page(None, seller), status_code=404)
    return standalone_document(billing.render_return_page(page, seller))


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
                session, payload, stripe_signature, settings=state.settings.billing
            )

    outcome = await anyio.to_thread.run_sync(handle)
    return WebhookResult(event_id=outcome.event_id, result=outcome.result)
