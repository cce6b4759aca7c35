"""``levante revenue``: the revenue report per stream, and the exchange rates it converts at."""

from __future__ import annotations

import sys
from datetime import UTC, date, datetime
from typing import Annotated

import typer
from rich.table import Table

from levante import revenue
from levante.cli.context import CLI, JsonOption, console, database, handled, settings, show

revenue_app = typer.Typer(
    help="Revenue per stream (api, chat, enterprise, support): ARR, MRR movements, churn, "
    "retention, invoiced and collected; and the exchange rates it is reported with.",
)
rates_app = typer.Typer(help="Exchange rates into the reporting currency.", no_args_is_help=True)
revenue_app.add_typer(rates_app, name="rates")

_STREAMS = (*revenue.STREAMS, revenue.TOTAL)


def _pct(value: object) -> str:
    return "-" if value is None else f"{float(str(value)) * 100:.1f}%"


@revenue_app.callback(invoke_without_command=True)
def report(
    ctx: typer.Context,
    first: Annotated[
        str | None, typer.Option("--from", help="The first month, YYYY-MM (default: 11 before).")
    ] = None,
    last: Annotated[
        str | None,
        typer.Option("--to", help="The last month, YYYY-MM (default: the last closed one)."),
    ] = None,
    org: Annotated[str | None, typer.Option("--org", "-o", help="One customer only.")] = None,
    top: Annotated[int, typer.Option(min=1, max=1000, help="How many top customers.")] = 10,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="Print a CSV row per month and stream instead.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """ARR by stream month by month, the last month's figures and movements, retention of
    the first month's customers, and the top customers."""
    if ctx.invoked_subcommand is not None:
        return
    config = settings()
    with handled(), database() as db, db.session() as session:
        rep = revenue.report(
            session, CLI, config.revenue, now=datetime.now(UTC),
            first=first, last=last, organization=org, top=top,
        )  # fmt: skip
    if as_csv:
        sys.stdout.write(revenue.report_csv(rep))
        return
    money = revenue.money_text
    by_month = Table(
        "month", *(f"{s} arr" for s in _STREAMS), "net new mrr",
        title=f"ARR by stream, {rep.currency}",
    )  # fmt: skip
    for m in rep.months:
        by_month.add_row(
            m.month, *(money(m.streams[s].arr) for s in _STREAMS),
            money(m.movements[revenue.TOTAL].net),
        )  # fmt: skip
    if as_json:
        show(by_month, as_json)
        return
    console.print(by_month)
    latest = rep.latest
    streams = Table(
        "stream", "mrr", "subscription arr", "usage", "run-rate 3m", "run-rate 1m", "arr",
        "share", "customers", "arpa", "invoiced", "collected", title=f"{latest.month}",
    )  # fmt: skip
    for s in _STREAMS:
        f = latest.streams[s]
        streams.add_row(
            s, money(f.mrr), money(f.subscription_arr), money(f.usage),
            money(f.run_rate_3_months), money(f.run_rate_last_month), money(f.arr),
            _pct(f.share), str(f.customers), "-" if f.arpa is None else money(f.arpa),
            money(latest.invoiced[s]), money(latest.collected[s]),
        )  # fmt: skip
    console.print(streams)
    console.print(f"{rep.policy_text}")
    moves = Table(
        "stream", "new", "expansion", "contraction", "churn", "reactivation", "fx", "net",
        "gross churn", "net churn", title=f"MRR movements, {latest.month}",
    )  # fmt: skip
    for s in _STREAMS:
        mv, ch = latest.movements[s], latest.churn[s]
        moves.add_row(
            s, *(money(v) for v in (mv.new, mv.expansion, mv.contraction, mv.churn,
                                    mv.reactivation, mv.fx, mv.net)),
            _pct(ch.gross), _pct(ch.net),
        )  # fmt: skip
    console.print(moves)
    cohort = Table(
        "stream", "customers", "retained", "opening", "closing", "nrr", "grr",
        title=f"Retention of the customers of {rep.first}, at {rep.last}",
    )  # fmt: skip
    for s in _STREAMS:
        c = rep.cohort[s]
        cohort.add_row(
            s, str(c.customers), str(c.retained), money(c.opening), money(c.closing),
            _pct(c.nrr), _pct(c.grr),
        )  # fmt: skip
    console.print(cohort)
    customers = Table("customer", "name", *(f"{s} arr" for s in _STREAMS), title="Top customers")
    for figures in rep.top:
        who = rep.customers[figures.organization_id]
        customers.add_row(who.slug, who.name, *(money(figures.arr.get(s, 0)) for s in _STREAMS))
    console.print(customers)


@rates_app.command("list")
def list_rates(as_json: JsonOption = False) -> None:
    """Every rate set, by pair, newest first."""
    with handled(), database() as db, db.session() as session:
        rates = revenue.list_rates(session, CLI)
    table = Table("base", "quote", "rate", "from", "set by")
    for r in rates:
        table.add_row(r.base, r.quote, str(r.rate), r.effective_on.isoformat(), r.set_by)
    show(table, as_json)


@rates_app.command("set")
def set_rate(
    base: Annotated[str, typer.Argument(help="The currency converted, e.g. EUR.")],
    quote: Annotated[str, typer.Argument(help="The currency it is worth, e.g. USD.")],
    rate: Annotated[str, typer.Argument(help="What one BASE is worth in QUOTE, e.g. 1.0825.")],
    effective_on: Annotated[
        datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="The day it applies from.")
    ],
) -> None:
    """Set an exchange rate from a day on (a second rate for the day replaces the first)."""
    with handled(), database() as db, db.session() as session:
        done = revenue.set_rate(
            session, CLI, base=base.upper(), quote=quote.upper(), rate=rate,
            effective_on=date(effective_on.year, effective_on.month, effective_on.day),
        )  # fmt: skip
    console.print(f"1 {done.base} = {done.rate} {done.quote} from {done.effective_on.isoformat()}")
