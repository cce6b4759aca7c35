"""The operator's console: the revenue dashboard, customers, prices, invoices, licences, the
audit log and the gateways. Only the owners and admins of the operator's organisation see
them (403 for anyone else signed in): the ``Operating`` dependency asks
:func:`levante.tenancy.operator_console` for the actor before any handler runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import PlainTextResponse, Response

from levante import (
    billing,
    licensing,
    metering,
    platform,
    pricing,
    revenue,
    support,
    tenancy,
)
from levante.api.state import AppState
from levante.audit import Actor
from levante.pricing import format_amount
from levante.web.depends import Operating, Posted, PostedOperating, SignedIn, State
from levante.web.documents import invoice_document
from levante.web.forms import Again, Refused, after_form, filtered, parse_day
from levante.web.identity import SignedInVisitor
from levante.web.templating import money, page

router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form()]
MOVES = ("new", "expansion", "reactivation", "contraction", "churn", "fx")


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
        "months": [
            f"{m.month} to date" if m.month == report.in_progress else m.month
            for m in report.months
        ],
        "arr": {s: [_units(m.streams[s].arr) for m in report.months] for s in revenue.STREAMS},
        "share": {s: _units(report.latest.streams[s].arr) for s in revenue.STREAMS},
        "movements": {
            k: [_units(getattr(m.movements[revenue.TOTAL], k)) for m in report.months]
            for k in MOVES
        },
    }


REVENUE, AUDIT = "/console/operator/revenue", "/console/operator/audit"


@router.get("/console/operator")
@router.get(REVENUE)
def revenue_page(
    request: Request,
    state: State,
    who: SignedIn,
    actor: Operating,
    first: str = "",
    last: str = "",
    format: str = "html",
) -> Response:
    """The dashboard for the months from ``first`` to ``last``; a range the report refuses is
    said beside the range's fields, over the default range."""

    def show(first: str, last: str, refused: Refused | None = None) -> Response:
        with state.database.session() as session:
            report = revenue.report(
                session, actor, state.settings.revenue, now=datetime.now(UTC),
                first=first or None, last=last or None, top=20,
            )  # fmt: skip
        if format == "csv" and refused is None:
            return PlainTextResponse(
                revenue.report_csv(report), media_type="text/csv",
                headers={"content-disposition":
                         f'attachment; filename="revenue-{report.first}-{report.last}.csv"'},
            )  # fmt: skip
        return page(
            request, "console/operator/revenue.html", who, report=report,
            streams=(*revenue.STREAMS, revenue.TOTAL), charts=chart_data(report), moves=MOVES,
            money=money, compact=compact, refused=refused,
        )  # fmt: skip

    return filtered(
        REVENUE, {"first": first, "last": last}, lambda: show(first, last),
        lambda refused: show("", "", refused),
    )  # fmt: skip


@router.get("/console/operator/customers/{organization}")
def customer_page(
    request: Request, state: State, who: SignedIn, actor: Operating, organization: str,
    first: str = "", last: str = "",
) -> Response:  # fmt: skip
    """One customer: its revenue by stream and month, its subscriptions and its invoices
    (with their lines by stream), the rows the figures are read from."""
    with state.database.session() as session:
        report = revenue.report(
            session, actor, state.settings.revenue, now=datetime.now(UTC),
            first=first or None, last=last or None, organization=organization,
        )  # fmt: skip
        org = tenancy.acting_on(session, actor, organization)
        subscriptions = billing.subscriptions_of(session, actor, org.id, include_ended=True)
        invoices = billing.invoices_of(session, actor, org.id, limit=60)
        by_stream = {i.id: _by_stream(billing.invoice_lines(session, i)) for i in invoices}
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
            invoices=invoices, by_stream=by_stream, money=money, usage=usage, keys=keys,
            people=people, licenses=records, tickets=tickets,
        )  # fmt: skip


def _by_stream(lines: list[billing.InvoiceLine]) -> dict[str, int]:
    """An invoice's lines summed by stream (cents, before tax)."""
    sums: dict[str, int] = {}
    for line in lines:
        sums[line.product] = sums.get(line.product, 0) + line.amount_cents
    return sums


# -- customers ------------------------------------------------------------------------------------


@router.get("/console/operator/customers")
def customers_page(
    request: Request, state: State, who: SignedIn, actor: Operating, q: str = ""
) -> Response:
    """Customers by name, slug, billing name or email, VAT number or a member's email."""
    with state.database.session() as session:
        rows = billing.find_customers(session, actor, q, limit=100)
        return page(request, "console/operator/customers.html", who, rows=rows, q=q)


# -- prices and plans -----------------------------------------------------------------------------


@router.get("/console/operator/prices")
def prices_page(request: Request, state: State, who: SignedIn, actor: Operating) -> Response:
    return _prices(request, state, who, actor)


def _prices(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    actor: Actor,
    refused: Refused | None = None,
) -> Response:
    with state.database.session() as session:
        prices = pricing.list_prices(session)
        plans = billing.plan_catalog(session, actor)
        rates = revenue.list_rates(session, actor)
        served = [m.id for m in state.models.configured()]
        unpriced = pricing.unpriced_models_warning(session, served)
        return page(
            request, "console/operator/prices.html", who, prices=prices, plans=plans,
            rates=rates, reporting=state.settings.revenue.reporting_currency, unpriced=unpriced,
            amount=format_amount, models=[m.id for m in state.models.configured()],
            refused=refused, today=datetime.now(UTC).date().isoformat(),
        )  # fmt: skip


@router.post("/console/operator/prices")
def add_price(
    request: Request, state: State, who: Posted, actor: PostedOperating, model: Text = "",
    input: Text = "", output: Text = "", currency: Text = "",
) -> Response:  # fmt: skip
    """A new price version, from as soon as every gateway can learn of it."""

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

    def again(refused: Refused) -> Response:
        return _prices(request, state, who, actor, refused)

    return after_form(request, state, who, act, back="/console/operator/prices", again=again)


@router.post("/console/operator/rates")
def set_rate(
    request: Request, state: State, who: Posted, actor: PostedOperating, base: Text = "",
    quote: Text = "", rate: Text = "", effective_on: Text = "",
) -> Response:  # fmt: skip
    """What one currency is worth in another from a day on: the revenue report converts at it."""

    def act() -> str:
        with state.database.session() as session:
            set_ = revenue.set_rate(
                session, actor, base=base, quote=quote, rate=rate,
                effective_on=parse_day(effective_on, param="effective_on"),
            )  # fmt: skip
            return f"1 {set_.base} = {set_.rate} {set_.quote} from {set_.effective_on}"

    def again(refused: Refused) -> Response:
        return _prices(request, state, who, actor, refused)

    return after_form(request, state, who, act, back="/console/operator/prices", again=again)


# -- invoices and payments ------------------------------------------------------------------------


INVOICES = "/console/operator/invoices"


@router.get(INVOICES)
def invoices_page(
    request: Request, state: State, who: SignedIn, actor: Operating, period: str = "",
    status: str = "", page_number: Annotated[int, Query(alias="page", ge=1, le=10**6)] = 1,
) -> Response:  # fmt: skip
    """Every customer's invoices, 50 a page with the total, of a month or a status; a filter
    the service refuses is said beside the filter, over every invoice."""
    return filtered(
        INVOICES, {"period": period, "status": status},
        lambda: _invoices(request, state, who, actor, period=period, status=status,
                          number=page_number),
        lambda refused: _invoices(request, state, who, actor, refused=refused),
    )  # fmt: skip


def _invoices(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    actor: Actor,
    *,
    period: str = "",
    status: str = "",
    number: int = 1,
    refused: Refused | None = None,
) -> Response:
    with state.database.session() as session:
        found = billing.invoice_page(
            session, actor, period=period or None, status=status or None, page=number
        )
        names = revenue.customers(session, {i.organization_id for i in found.items})
        query = {"period": period, "status": status}
        return page(
            request, "console/operator/invoices.html", who, found=found, names=names,
            period=period, status=status, refused=refused,
            default_period=f"{datetime.now(UTC):%Y-%m}",
            previous=urlencode({**query, "page": found.previous}) if found.previous else None,
            next=urlencode({**query, "page": found.next}) if found.next else None,
        )  # fmt: skip


@router.get("/console/operator/invoices/{ref}.{kind}")
def invoice_file(
    state: State, who: SignedIn, actor: Operating, ref: str, kind: str
) -> Response:  # fmt: skip
    """Any customer's invoice, as HTML or PDF."""
    with state.database.session() as session:
        found, lines = billing.invoice_of(session, actor, ref)
        return invoice_document(found, lines, kind)


def _on_the_invoices_page(
    request: Request, state: AppState, who: SignedInVisitor, actor: Actor
) -> Again:
    return lambda refused: _invoices(request, state, who, actor, refused=refused)


@router.post("/console/operator/invoices/run")
def run_invoices(
    request: Request, state: State, who: Posted, actor: PostedOperating, period: Text = ""
) -> Response:
    """Build (or bring up to date) the month's invoices; finalized once the month closed."""

    def act() -> str:
        run = platform.run_invoices(
            state.database, actor, period, settings=state.settings.billing,
            default_currency=state.settings.currency,
            settle_seconds=state.settings.max_request_seconds,
        )  # fmt: skip
        counts = ", ".join(f"{run.count(k)} {k}" for k in ("created", "updated", "unchanged"))
        return f"{period}: {counts}"

    again = _on_the_invoices_page(request, state, who, actor)
    return after_form(request, state, who, act, back="/console/operator/invoices", again=again)


@router.post("/console/operator/invoices/{ref}/payments")
def record_payment(
    request: Request, state: State, who: Posted, actor: PostedOperating, ref: str,
    reference: Text = "", amount: Text = "",
) -> Response:  # fmt: skip
    """Record a bank transfer received for an invoice (by default the amount due)."""

    def act() -> str:
        with state.database.session() as session:
            _, invoice = billing.record_transfer(
                session, actor, ref, reference=reference, amount=amount or None
            )
            return f"{invoice.number or invoice.id}: {invoice.status}"

    again = _on_the_invoices_page(request, state, who, actor)
    return after_form(request, state, who, act, back="/console/operator/invoices", again=again)


# -- licences -------------------------------------------------------------------------------------


@router.get("/console/operator/licenses")
def licenses_page(request: Request, state: State, who: SignedIn, actor: Operating) -> Response:
    return _licenses(request, state, who, actor)


def _licenses(
    request: Request,
    state: AppState,
    who: SignedInVisitor,
    actor: Actor,
    refused: Refused | None = None,
) -> Response:
    with state.database.session() as session:
        records = licensing.licenses_of(session, actor)
        now = datetime.now(UTC)
        rows = [(r, licensing.license_status(r, now)) for r in records]
        names = revenue.customers(session, {r.organization_id for r in records})
        return page(
            request, "console/operator/licenses.html", who, rows=rows, names=names,
            refused=refused,
        )  # fmt: skip


def _licence_form(
    request: Request, state: AppState, who: SignedInVisitor, actor: Actor, act: Callable[[], str]
) -> Response:
    """A licence form's outcome: back to the licences, or the licences again with the reason."""

    def again(refused: Refused) -> Response:
        return _licenses(request, state, who, actor, refused)

    return after_form(request, state, who, act, back="/console/operator/licenses", again=again)


@router.post("/console/operator/licenses")
def issue_license(
    request: Request, state: State, who: Posted, actor: PostedOperating, organization: Text = ""
) -> Response:
    """Issue a licence from the organisation's enterprise contract."""

    def act() -> str:
        with state.database.session() as session:
            record = licensing.issue(
                session, actor, organization, licensing.LicenseTerms(),
                keys_dir=state.settings.license_keys_dir,
            )  # fmt: skip
            return f"issued {record.id}"

    return _licence_form(request, state, who, actor, act)


@router.post("/console/operator/licenses/{license_id}/revoke")
def revoke_license(
    request: Request, state: State, who: Posted, actor: PostedOperating, license_id: str
) -> Response:
    def act() -> str:
        with state.database.session() as session:
            licensing.revoke(session, actor, license_id)
        return f"revoked {license_id}"

    return _licence_form(request, state, who, actor, act)


@router.post("/console/operator/licenses/reports")
def import_report(
    request: Request, state: State, who: Posted, actor: PostedOperating, report: Text = ""
) -> Response:
    """Import a site's signed usage report (pasted): into the ledger, or held for review."""

    def act() -> str:
        with state.database.session() as session:
            result = licensing.import_report(session, actor, report)
            return f"report {result.status}: {result.records} usage record(s)"

    return _licence_form(request, state, who, actor, act)


# -- the audit log and the gateways ---------------------------------------------------------------


@router.get("/console/operator/audit")
def audit_page(
    request: Request, state: State, who: SignedIn, actor: Operating, org: str = "",
    action: str = "", before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
) -> Response:  # fmt: skip
    """Every organisation's audit events, or one's (``org``, a slug), newest first, a page of
    100 at a time (``before``: the id of the page's last event); ``action`` keeps those whose
    action starts with it. An organisation that does not exist is said beside the field."""

    def show(org: str, refused: Refused | None = None) -> Response:
        with state.database.session() as session:
            trail = tenancy.audit_trail(
                session, actor, org or None, everyone=True, action=action or None,
                before_id=before if not refused else None,
            )  # fmt: skip
            return page(
                request, "console/operator/audit.html", who, trail=trail, org=org,
                action=action, refused=refused,
                older=urlencode({"org": org, "action": action, "before": trail.older or ""}),
            )  # fmt: skip

    return filtered(
        AUDIT, {"org": org, "action": action}, lambda: show(org),
        lambda refused: show("", refused),
    )  # fmt: skip


@router.get("/console/operator/gateways")
def gateways_page(request: Request, state: State, who: SignedIn, actor: Operating) -> Response:
    """The gateway processes sharing this database, and this process's engines: models
    loaded, queue depth, sequences running and decode throughput."""
    with state.database.session() as session:
        rows = metering.gateways(
            session, actor, heartbeat_seconds=state.settings.heartbeat_seconds,
            now=datetime.now(UTC),
        )  # fmt: skip
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
