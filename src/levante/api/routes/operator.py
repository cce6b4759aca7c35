"""The operator's routes: invoice runs, transfers, voids, credit grants and credit terms;
model prices; the chat's users and their plans; issuing, renewing and revoking licences,
binding site keys, and importing and judging usage reports; and a self-hosted deployment's
own licence renewal and the usage report it owes.

Every route here takes the :data:`~levante.api.state.Operator` dependency, which refuses
(403) any key but an admin key of the operator's organisation before the route runs; the
services check it again.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from levante import billing, chat, licensing, platform, pricing
from levante.api.schemas.admin import (
    ChatPlanSet,
    ChatUserList,
    ChatUserView,
    CreatePrice,
    PriceView,
    SetChatPlan,
)
from levante.api.schemas.billing import (
    AccountView,
    CreditGrant,
    Generate,
    GeneratedView,
    InvoiceView,
    OperatorAccountUpdate,
    PaymentView,
    RecordPayment,
    WalletView,
)
from levante.api.schemas.licensing import (
    BindSiteKey,
    HeldReportList,
    HeldReportView,
    ImportView,
    InstalledLicense,
    InstallLicense,
    IssueLicense,
    LicenseView,
    RenewLicense,
    SiteKeyView,
)
from levante.api.state import Flushed, Operator, State
from levante.pricing import format_cents

router = APIRouter(prefix="/v1/admin")


@router.post("/invoices/generate")
def generate(body: Generate, state: State, caller: Operator, _: Flushed) -> GeneratedView:
    """Build the period's invoices; finalized once the period is closed. Running it again
    changes nothing."""
    run = platform.run_invoices(
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


@router.post("/invoices/{ref}/payments", status_code=201)
def record_payment(ref: str, body: RecordPayment, state: State, caller: Operator) -> PaymentView:
    """Record a bank transfer against an invoice; the same reference twice records one
    payment."""
    with state.database.session() as session:
        payment, invoice = billing.record_transfer(
            session, caller.actor, ref, reference=body.reference, amount=body.amount
        )
        return PaymentView(
            id=payment.id,
            invoice_id=invoice.id,
            provider=payment.provider,
            reference=payment.reference,
            amount=format_cents(payment.amount_cents, grouping=False),
            currency=payment.currency,
            invoice_status=invoice.status,
        )


@router.post("/invoices/{ref}/void")
def void(ref: str, state: State, caller: Operator) -> InvoiceView:
    with state.database.session() as session:
        return InvoiceView.of(billing.void(session, caller.actor, ref))


@router.post("/billing/grants", status_code=201)
def grant(body: CreditGrant, state: State, caller: Operator) -> WalletView:
    """Give an organisation free credits."""
    with state.database.session() as session:
        billing.give_credits(
            session,
            caller.actor,
            body.organization,
            amount=body.amount,
            expires_on=body.expires_on,
            description=body.description,
            default_currency=state.settings.currency,
        )
        found = billing.wallet_of(
            session, caller.actor, body.organization, default_currency=state.settings.currency
        )
        return WalletView.of(found)


@router.patch("/organizations/{organization}/billing")
def operator_account(
    organization: str, body: OperatorAccountUpdate, state: State, caller: Operator
) -> AccountView:
    """Make an organisation prepaid-only, or set its low-balance threshold."""
    with state.database.session() as session:
        account = billing.edit_account(
            session,
            caller.actor,
            organization,
            change=billing.AccountChange(
                prepaid_only=body.prepaid_only, low_balance_threshold=body.low_balance_threshold
            ),
            default_currency=state.settings.currency,
        )
        return AccountView.of(account)


@router.post("/prices", status_code=201)
def add_price(body: CreatePrice, state: State, caller: Operator) -> PriceView:
    """Add a price version. It applies to requests that start from ``effective_from`` on,
    which may not be sooner than ``price_refresh_seconds`` away."""
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


# -- licences -------------------------------------------------------------------------------------


@router.post("/licenses", status_code=201)
def issue_license(body: IssueLicense, state: State, caller: Operator) -> LicenseView:
    """Issue a licence from the organisation's enterprise contract."""
    with state.database.session() as session:
        record = licensing.issue(
            session,
            caller.actor,
            body.organization,
            licensing.LicenseTerms(
                models=body.models,
                features=body.features,
                max_seats=body.max_seats,
                max_nodes=body.max_nodes,
                max_gpus=body.max_gpus,
                starts_at=body.starts_at,
                expires_at=body.expires_at,
                grace_days=body.grace_days,
                usage_reporting=body.usage_reporting,
                on_expiry=body.on_expiry,
            ),
            keys_dir=state.settings.license_keys_dir,
            now=state.clock(),
        )
        return LicenseView.of(record, state.clock(), file=True)


@router.post("/licenses/{license_id}/revoke")
def revoke_license(license_id: str, state: State, caller: Operator) -> LicenseView:
    with state.database.session() as session:
        record = licensing.revoke(session, caller.actor, license_id, now=state.clock())
        return LicenseView.of(record, state.clock())


@router.post("/licenses/{license_id}/renew")
def renew_license(
    license_id: str, body: RenewLicense, state: State, caller: Operator
) -> LicenseView:
    """Extend a licence: the same id and terms with a later expiry; the answer's ``file`` is
    what the site installs."""
    with state.database.session() as session:
        record = licensing.renew(
            session,
            caller.actor,
            license_id,
            expires_at=body.expires_at,
            keys_dir=state.settings.license_keys_dir,
            now=state.clock(),
        )
        return LicenseView.of(record, state.clock(), file=True)


@router.post("/licenses/{license_id}/site-keys", status_code=201)
def bind_site_key(
    license_id: str, body: BindSiteKey, state: State, caller: Operator
) -> SiteKeyView:
    """Bind a site key to the licence: from an air-gapped site's activation request, or a
    public key given outright."""
    with state.database.session() as session:
        row = licensing.bind_key(
            session,
            caller.actor,
            license_id,
            activation_request=body.activation_request,
            public_key=body.public_key,
            now=state.clock(),
        )
        return SiteKeyView.of(row)


@router.post("/licenses/{license_id}/site-keys/{site_key_id}/revoke")
def revoke_site_key(
    license_id: str, site_key_id: str, state: State, caller: Operator
) -> SiteKeyView:
    """Stop trusting a site key: reports it signs are refused from now on."""
    with state.database.session() as session:
        return SiteKeyView.of(licensing.revoke_key(session, caller.actor, license_id, site_key_id))


@router.post("/licenses/usage-reports")
async def import_report(request: Request, state: State, caller: Operator) -> ImportView:
    """Import a self-hosted site's usage report, sent as the body. The whole report is refused
    if a line is not usage the licence could have served; one signed with a site key the
    licence has not bound is held, not imported; the same report twice is taken once."""
    text = (await request.body()).decode("utf-8", "replace")

    def run() -> licensing.ImportResult:
        with state.database.session() as session:
            return licensing.import_report(session, caller.actor, text, now=state.clock())

    return ImportView.of(await anyio.to_thread.run_sync(run))


@router.get("/licenses/usage-reports/held")
def held_reports(
    state: State,
    caller: Operator,
    status: Literal["held", "accepted", "rejected", "all"] = "held",
) -> HeldReportList:
    """Usage reports signed with a site key their licence has not bound."""
    with state.database.session() as session:
        rows = licensing.held(session, caller.actor, status=None if status == "all" else status)
        return HeldReportList(data=[HeldReportView.of(r) for r in rows])


@router.post("/licenses/usage-reports/held/{held_id}/accept")
def accept_held(held_id: str, state: State, caller: Operator) -> ImportView:
    """Vouch for a held report's site key: the key is bound and the report imported."""
    with state.database.session() as session:
        result = licensing.accept_held(session, caller.actor, held_id, now=state.clock())
    return ImportView.of(result)


@router.post("/licenses/usage-reports/held/{held_id}/reject")
def reject_held(held_id: str, state: State, caller: Operator) -> HeldReportView:
    with state.database.session() as session:
        row = licensing.reject_held(session, caller.actor, held_id, now=state.clock())
        return HeldReportView.of(row)


# -- this deployment's licence ---------------------------------------------------------------


@router.put("/license")
def install(body: InstallLicense, state: State, caller: Operator) -> InstalledLicense:
    """Install a renewed licence (offline renewal): verified, for the same licensee, then
    written over the licence file. Works in every state, read-only included."""
    if state.license is None:
        raise licensing.without_licence()
    state.license.install(body.license)
    with state.database.session() as session:
        standing = licensing.standing(session, state.license, now=state.clock())
    return InstalledLicense.of(standing, nodes_running=len(state.ledger.live_hosts()))


@router.get("/license/usage-report")
def usage_report(
    state: State,
    caller: Operator,
    _: Flushed,
    start: date | None = None,
    end: date | None = None,
) -> JSONResponse:
    """The signed usage report owed to the vendor, for whole days from ``start`` to ``end``
    (exclusive; default: the last 30 days up to today; at most 400 days)."""
    with state.database.session() as session:
        owed = licensing.owed_report(
            session,
            state.license,
            site_key_file=state.settings.site_key_file,
            start=start,
            end=end,
            now=state.clock(),
        )
    name = f"usage-{owed.start}-{owed.end}.json"
    return JSONResponse(
        json.loads(owed.text), headers={"Content-Disposition": f'attachment; filename="{name}"'}
    )


# -- the chat -------------------------------------------------------------------------------------


@router.get("/chat/users")
def chat_users(state: State, caller: Operator, limit: int = 1000) -> ChatUserList:
    """The chat's users: their organisation, the plan that applies now, messages this week."""
    with state.database.session() as session:
        users = chat.chat_users(session, caller.actor, limit=max(1, min(limit, 100_000)))
    return ChatUserList(
        data=[
            ChatUserView(
                id=u.user_id,
                email=u.email,
                organization=u.organization,
                plan=u.plan,
                messages_this_week=u.messages_this_week,
                joined_at=u.joined_at,
            )
            for u in users
        ]
    )


@router.post("/chat/users/{email}/plan")
def set_chat_plan(email: str, body: SetChatPlan, state: State, caller: Operator) -> ChatPlanSet:
    """Put a user's chat organisation on a plan now (billed with the month)."""
    with state.database.session() as session:
        message = chat.set_plan(
            session, caller.actor, email, body.plan, seats=body.seats,
            settings=state.settings.billing, currency=state.settings.currency,
        )  # fmt: skip
    return ChatPlanSet(message=message)
