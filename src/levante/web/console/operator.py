"""The operator's console: the revenue dashboard and a customer's page. Only the owners and
admins of the operator's organisation see them (403 for anyone else signed in)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse, Response

from levante import billing, revenue, tenancy
from levante.api.state import AppState, app_state
from levante.audit import Actor
from levante.pricing import format_cents, to_cents
from levante.web.identity import Visitor, to_sign_in, visitor
from levante.web.templating import page

router = APIRouter(include_in_schema=False)
State = Annotated[AppState, Depends(app_state)]
Who = Annotated[Visitor, Depends(visitor)]
MOVES = ("new", "expansion", "reactivation", "contraction", "churn", "fx")


def _actor(state: AppState, who: Visitor) -> Actor:
    assert who.user is not None
    with state.database.session() as session:
        return tenancy.operator_console(session, who.user.user_id)


def money(nanos: int) -> str:
    """An amount of the report on a page: to the cent, with thousands separators."""
    return format_cents(to_cents(nanos))


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
        return page(
            request, "console/operator/customer.html", who, report=report, org=org,
            streams=(*revenue.STREAMS, revenue.TOTAL), subscriptions=subscriptions,
            invoices=invoices, lines=lines, money=money,
        )  # fmt: skip
