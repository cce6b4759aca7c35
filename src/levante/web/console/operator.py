"""The operator's console: the revenue dashboard and a customer's page. Only the owners and
admins of the operator's organisation see them (403 for anyone else signed in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import PlainTextResponse, Response

from levante import (
    audit,
    billing,
    licensing,
    metering,
    platform,
    pricing,
    revenue,
    support,
    tenancy,
)
from levante.api.state import AppState, app_state
from levante.audit import Actor
from levante.errors import LevanteError
from levante.pricing import format_amount
from levante.web.console.forms import after_form
from levante.web.identity import CSRF_FIELD, Visitor, to_sign_in, visitor
from levante.web.templating import money, page

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]
Csrf = Annotated[str, Form(alias=CSRF_FIELD)]
Text = Annotated[str, Form()]
MOVES = ("new", "expansion", "reactivation", "contraction", "churn", "fx")


def _actor(state: AppState, who: Visitor) -> Actor:
    assert who.user is not None
    with state.database.session() as session:
        return tenancy.operator_console(session, who.user.user_id)


def _acting(state: AppState, who: Visitor, csrf: str) -> Actor:
    """The operator behind a form: signed in, the form's CSRF token, the role."""
    actor = _actor(state, who)
    who.check_csrf(csrf)
    return actor


def compact(nanos: int) -> str:
    """A headline amount: 100.9M, 48.2k."""
    value = nanos / 1e9
    for size, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= size:
            return f"{value / size:.1f}{suffix}"
    return f"{value:.2f}"


def _units(nanos: int) -> float:
    """An amount for a chart (a float of currency units; the tables show exact cents)."""
    return round(nanos / 1e9, 2)


def chart_data(report: revenue.Report) -> dict[str, Any]:
    """What the dashboard's charts draw: ARR per stream by month, the latest shares, and the
    MRR movements of every month (of all streams together)."""
    return {
        "currency": report.currency,
        "months": [m.month for m in report.months],
        "arr": {s: [_units(m.streams[s].arr) for m in report.months] for s in revenue.STREAMS},
        "share": {s: _units(report.latest.streams[s].arr) for s in revenue.STREAMS},
        "movements": {
            k: [_units(getattr(m.movements[revenue.TOTAL], k)) for m in report.months]
            for k in MOVES
        },
    }


@router.get("/console/operator")
@router.get("/console/operator/revenue")
def revenue_page(
    request: Request,
    state: State,
    who: Who,
    first: str = "",
    last: str = "",
    format: str = "html",
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    actor = _actor(state, who)
    with state.database.session() as session:
        report = revenue.report(
            session, actor, state.settings.revenue, now=datetime.now(UTC),
            first=first or None, last=last or None, top=20,
        )  # fmt: skip
    if format == "csv":
        return PlainTextResponse(
            revenue.report_csv(report), media_type="text/csv",
            headers={"content-disposition":
                     f'attachment; filename="revenue-{report.first}-{report.last}.csv"'},
        )  # fmt: skip
    return page(
        request, "console/operator/revenue.html", who, report=report,
        streams=(*revenue.STREAMS, revenue.TOTAL), charts=chart_data(report), moves=MOVES,
        money=money, compact=compact,
    )  # fmt: skip


@router.get("/console/operator/customers/{organization}")
def customer_page(
    request: Request, state: State, who: Who, organization: str, first: str = "", last: str = ""
) -> Response:
    """One customer: its revenue by stream and month, its subscriptions and its invoices
    (with their lines by stream), the rows the figures are read from."""
    if who.user is None:
        return to_sign_in(request)
    actor = _actor(state, who)
    with state.database.session() as session:
        report = revenue.report(
            session, actor, state.settings.revenue, now=datetime.now(UTC),
            first=first or None, last=last or None, organization=organization,
        )  # fmt: skip
        org = tenancy.acting_on(session, actor, organization)
        subscriptions = billing.subscriptions_of(session, actor, org.id, include_ended=True)
        invoices = billing.invoices_of(session, actor, org.id, limit=60)
        lines = {i.id: billing.invoice_lines(session, i) for i in invoices}
        usage = metering.usage_summary(
            session, actor, org.id, group_by=[metering.GroupBy.MONTH, metering.GroupBy.PRODUCT],
            default_currency=state.settings.currency,
        )  # fmt: skip
        keys = tenancy.list_keys(session, actor, org.id, include_revoked=False)
        people, _ = tenancy.members(session, actor, org.id)
        records = licensing.licenses_of(session, actor, org.id)
        tickets = support.list_tickets(session, actor, organization=org.id, limit=20)
        return page(
            request, "console/operator/customer.html", who, report=report, org=org,
            streams=(*revenue.STREAMS, revenue.TOTAL), subscriptions=subscriptions,
            invoices=invoices, lines=lines, money=money, usage=usage, keys=keys,
            people=people, licenses=records, tickets=tickets, amount=format_amount,
        )  # fmt: skip


# -- customers ------------------------------------------------------------------------------------


@router.get("/console/operator/customers")
def customers_page(request: Request, state: State, who: Who, q: str = "") -> Response:
    """Customers by name, slug, billing name or email, VAT number or a member's email."""
    if who.user is None:
        return to_sign_in(request)
    actor = _actor(state, who)
    with state.database.session() as session:
        rows = billing.find_customers(session, actor, q, limit=100)
        return page(request, "console/operator/customers.html", who, rows=rows, q=q)


# -- prices and plans -----------------------------------------------------------------------------


@router.get("/console/operator/prices")
def prices_page(request: Request, state: State, who: Who) -> Response:
    if who.user is None:
        return to_sign_in(request)
    _actor(state, who)
    with state.database.session() as session:
        prices = pricing.list_prices(session)
        plans = billing.list_plans(session, include_inactive=True)
        return page(
            request, "console/operator/prices.html", who, prices=prices, plans=plans,
            amount=format_amount, models=[m.id for m in state.models.configured()],

        )  # fmt: skip


@router.post("/console/operator/prices")
def add_price(
    request: Request, state: State, who: Who, csrf: Csrf = "", model: Text = "",
    input: Text = "", output: Text = "", currency: Text = "",
) -> Response:  # fmt: skip
    """A new price version, from as soon as every gateway can learn of it."""
    if who.user is None:
        return to_sign_in(request)
    actor = _acting(state, who, csrf)

    def act() -> str:
        with state.database.session() as session:
            added = pricing.add_price(
                session, actor,
                pricing.NewPrice(model=model, input=input, output=output,
                                 currency=currency or None),
                models=state.models.names, default_currency=state.settings.currency,
                lead_seconds=state.settings.price_refresh_seconds,
            )  # fmt: skip
            price = added.price
            return f"{price.model}: a {price.currency} price from {price.effective_from:%F %T} UTC"

    return after_form(state, who, "/console/operator/prices", act)


# -- invoices and payments ------------------------------------------------------------------------


@router.get("/console/operator/invoices")
def invoices_page(
    request: Request, state: State, who: Who, period: str = "", status: str = "",
) -> Response:  # fmt: skip
    if who.user is None:
        return to_sign_in(request)
    actor = _actor(state, who)
    error = ""
    with state.database.session() as session:
        try:
            rows = billing.invoices_of(
                session,
                actor,
                None,
                period=period or None,
                status=status or None,
                limit=200,
                everyone=True,
            )
        except LevanteError as exc:
            if exc.status_code >= 500:
                raise
            rows, error = [], exc.message
        names = revenue.customers(session, {i.organization_id for i in rows})
        return page(
            request, "console/operator/invoices.html", who, rows=rows, names=names,
            period=period, status=status, error=error,
            default_period=f"{datetime.now(UTC):%Y-%m}",
        )  # fmt: skip


@router.post("/console/operator/invoices/run")
def run_invoices(
    request: Request, state: State, who: Who, csrf: Csrf = "", period: Text = ""
) -> Response:
    """Build (or bring up to date) the month's invoices; finalized once the month closed."""
    if who.user is None:
        return to_sign_in(request)
    actor = _acting(state, who, csrf)

    def act() -> str:
        run = platform.run_invoices(
            state.database, actor, period, settings=state.settings.billing,
            default_currency=state.settings.currency,
            settle_seconds=state.settings.max_request_seconds,
        )  # fmt: skip
        counts = ", ".join(f"{run.count(k)} {k}" for k in ("created", "updated", "unchanged"))
        return f"{period}: {counts}"

    return after_form(state, who, "/console/operator/invoices", act)


@router.post("/console/operator/invoices/{ref}/payments")
def record_payment(
    request: Request, state: State, who: Who, ref: str, csrf: Csrf = "",
    reference: Text = "", amount: Text = "",
) -> Response:  # fmt: skip
    """Record a bank transfer received for an invoice (by default the amount due)."""
    if who.user is None:
        return to_sign_in(request)
    actor = _acting(state, who, csrf)

    def act() -> str:
        with state.database.session() as session:
            _, invoice = billing.record_transfer(
                session, actor, ref, reference=reference, amount=amount or None
            )
            return f"{invoice.number or invoice.id}: {invoice.status}"

    return after_form(state, who, "/console/operator/invoices", act)


# -- licences -------------------------------------------------------------------------------------


@router.get("/console/operator/licenses")
def licenses_page(request: Request, state: State, who: Who) -> Response:
    if who.user is None:
        return to_sign_in(request)
    actor = _actor(state, who)
    with state.database.session() as session:
        records = licensing.licenses_of(session, actor)
        now = datetime.now(UTC)
        rows = [(r, licensing.license_status(r, now)) for r in records]
        names = revenue.customers(session, {r.organization_id for r in records})
        return page(
            request, "console/operator/licenses.html", who, rows=rows, names=names,

        )  # fmt: skip


@router.post("/console/operator/licenses")
def issue_license(
    request: Request, state: State, who: Who, csrf: Csrf = "", organization: Text = ""
) -> Response:
    """Issue a licence from the organisation's enterprise contract."""
    if who.user is None:
        return to_sign_in(request)
    actor = _acting(state, who, csrf)

    def act() -> str:
        with state.database.session() as session:
            record = licensing.issue(
                session, actor, organization, licensing.LicenseTerms(),
                keys_dir=state.settings.license_keys_dir,
            )  # fmt: skip
            return f"issued {record.id}"

    return after_form(state, who, "/console/operator/licenses", act)


@router.post("/console/operator/licenses/{license_id}/revoke")
def revoke_license(
    request: Request, state: State, who: Who, license_id: str, csrf: Csrf = ""
) -> Response:
    if who.user is None:
        return to_sign_in(request)
    actor = _acting(state, who, csrf)

    def act() -> str:
        with state.database.session() as session:
            licensing.revoke(session, actor, license_id)
        return f"revoked {license_id}"

    return after_form(state, who, "/console/operator/licenses", act)


@router.post("/console/operator/licenses/reports")
def import_report(
    request: Request, state: State, who: Who, csrf: Csrf = "", report: Text = ""
) -> Response:
    """Import a site's signed usage report (pasted): into the ledger, or held for review."""
    if who.user is None:
        return to_sign_in(request)
    actor = _acting(state, who, csrf)

    def act() -> str:
        with state.database.session() as session:
            result = licensing.import_report(session, actor, report)
            return f"report {result.status}: {result.records} usage record(s)"

    return after_form(state, who, "/console/operator/licenses", act)


# -- the audit log and the gateways ---------------------------------------------------------------


@router.get("/console/operator/audit")
def audit_page(
    request: Request, state: State, who: Who, org: str = "",
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,  # an event's id
) -> Response:  # fmt: skip
    """An organisation's audit events (by default the operator's own), newest first."""
    if who.user is None:
        return to_sign_in(request)
    actor = _actor(state, who)
    with state.database.session() as session:
        target = tenancy.acting_on(session, actor, org or None)
        events = audit.list_events(session, target.id, limit=101, before_id=before)
        return page(
            request, "console/operator/audit.html", who, events=events[:100],
            more=events[100].id if len(events) > 100 else None, target=target,
        )  # fmt: skip


@router.get("/console/operator/gateways")
def gateways_page(request: Request, state: State, who: Who) -> Response:
    """The gateway processes sharing this database, and this process's engines: models
    loaded, queue depth, sequences running and decode throughput."""
    if who.user is None:
        return to_sign_in(request)
    _actor(state, who)
    with state.database.session() as session:
        rows = metering.gateways(
            session, heartbeat_seconds=state.settings.heartbeat_seconds, now=datetime.now(UTC)
        )
    loaded = {m.id: m for m in state.models.loaded()}
    engines = []
    for model in state.models.configured():
        served = loaded.get(model.id)
        stats = served.engine.stats if served is not None else None
        engines.append({
            "model": model.id,
            "loaded": served is not None,
            "queue": served.engine.queue_depth if served is not None else 0,
            "active": stats.active if stats else 0,
            "tokens": stats.tokens if stats else 0,
            "rate": (stats.tokens / stats.seconds) if stats and stats.seconds else None,
        })  # fmt: skip
    return page(request, "console/operator/gateways.html", who, rows=rows, engines=engines)
