"""``levante``: serve the platform and administer it."""

from __future__ import annotations

import logging
import os
from datetime import date
from typing import Annotated

import typer
from rich.table import Table

from levante import __version__, platform
from levante.cli.billing import billing_app, limits_app, price_app
from levante.cli.chat import chat_app
from levante.cli.context import (
    CLI,
    JsonOption,
    console,
    database,
    errors,
    hand_over,
    handled,
    settings,
    show,
    styled,
)
from levante.cli.invoicing import invoices_app, plans_app, subscriptions_app, wallet_app
from levante.cli.licensing import license_app
from levante.cli.mail import mail_app
from levante.cli.revenue import revenue_app
from levante.cli.simulate import simulate
from levante.cli.support import support_app
from levante.cli.tenants import key_app, org_app, user_app
from levante.errors import ConfigurationError
from levante.licensing import open_guard
from levante.metering import GroupBy, UsageRow, deployment_usage, usage_summary
from levante.pricing import format_amount
from levante.settings import public_url_mismatch
from levante.tenancy import bootstrap

app = typer.Typer(
    help="Levante: an OpenAI- and Mistral-compatible API on open-weight models, metered.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(org_app, name="org")
app.add_typer(user_app, name="user")
app.add_typer(price_app, name="price")
app.add_typer(limits_app, name="limits")
app.add_typer(billing_app, name="billing")
app.add_typer(invoices_app, name="invoices")
app.add_typer(plans_app, name="plans")
app.add_typer(subscriptions_app, name="subscriptions")
app.add_typer(wallet_app, name="wallet")
app.add_typer(support_app, name="support")
app.add_typer(license_app, name="license")
app.add_typer(mail_app, name="mail")
app.add_typer(chat_app, name="chat")
app.add_typer(revenue_app, name="revenue")
app.command("simulate")(simulate)
app.add_typer(key_app, name="key")
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
app.add_typer(db_app, name="db")
models_app = typer.Typer(help="Models served here.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@app.command()
def version() -> None:
    """Print the version."""
    console.print(__version__)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Listen address (default: settings).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: settings).")] = None,
    workers: Annotated[int | None, typer.Option(min=1, help="Gateway processes.")] = None,
) -> None:
    """Migrate the database, create an admin key on first start, and serve the API."""
    import uvicorn

    config = settings()
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    with handled():
        for model in config.models:
            if model.upstreams:
                continue
            path = model.gguf_path()
            if not path.is_file():
                raise ConfigurationError(f"model '{model.id}': no file at {path}")
        # A licensed deployment checks its licence before it writes anything.
        open_guard(config)
    with database() as db:
        issued = bootstrap(db, config.bootstrap_organization)
    if issued is not None:
        hand_over(issued.secret, config)
    bind_host = host or config.host
    bind_port = port if port is not None else config.port
    # The app's processes read their settings from the environment: the address given here
    # is theirs too (the public URL follows it when it is not set).
    os.environ["LEVANTE_HOST"], os.environ["LEVANTE_PORT"] = bind_host, str(bind_port)
    mismatch = public_url_mismatch(config, bind_host, bind_port)
    if mismatch is not None:
        errors.print(styled(("warning:", "yellow"), f" {mismatch}"))
    console.print(f"serving on http://{bind_host}:{bind_port}/v1")
    uvicorn.run(
        "levante.api.app:create_app_from_env",
        factory=True,
        host=bind_host,
        port=bind_port,
        workers=workers or config.workers,
        log_level=config.log_level,
        timeout_graceful_shutdown=30,
        # uvicorn would believe X-Forwarded-* from 127.0.0.1 (or FORWARDED_ALLOW_IPS); the app
        # believes them from the proxies in ``trusted_proxies`` only (api.middleware).
        proxy_headers=False,
    )


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply the migrations up to REVISION (default: the newest)."""
    with database(migrate=False) as db:
        console.print(f"database at revision {platform.migrate(db, revision)}")


@db_app.command("current")
def db_current() -> None:
    """Show the schema revision of the database and of this release."""
    with database(migrate=False) as db:
        console.print(f"database: {platform.revision(db)}  release: {platform.release_revision()}")


@models_app.command("list")
def models_list(as_json: JsonOption = False) -> None:
    """List the configured models and where their weights are."""
    config = settings()
    table = Table()
    table.add_column("id", no_wrap=True)
    for header in ("aliases", "context", "threads", "weights"):
        table.add_column(header)
    table.add_column("file", overflow="fold")
    with handled():
        for model in config.models:
            if model.upstreams:
                where = ", ".join(u.url for u in model.upstreams)
                status = f"upstream, {len(model.upstreams)} replicas"
            else:
                path = model.gguf_path()
                where = str(path)
                status = "present" if path.is_file() else "missing"
            table.add_row(
                model.id,
                ", ".join(model.aliases),
                str(model.context_length),
                str(model.n_threads),
                status,
                where,
            )
    show(table, as_json)


@app.command()
def usage(
    org: Annotated[
        str | None,
        typer.Option("--org", "-o", help="Organisation id or slug; every one if left out."),
    ] = None,
    product: Annotated[
        str | None, typer.Option(help="api, chat, enterprise or support; all if left out.")
    ] = None,
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    end: Annotated[str | None, typer.Option(help="Last day, YYYY-MM-DD.")] = None,
    group_by: Annotated[
        list[GroupBy] | None, typer.Option("--group-by", "-g", help="Repeat to group by several.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show an organisation's usage as a table, or with no --org the whole deployment's (the
    cost of serving the chat: --product chat)."""
    first, last = _day(start, "start"), _day(end, "end")
    if org is None:
        _deployment_usage(
            product, first, last, group_by or [GroupBy.PRODUCT, GroupBy.MODEL], as_json
        )
        return
    groups = group_by or [GroupBy.DAY, GroupBy.MODEL]
    config = settings()
    with handled(), database() as db, db.session() as session:
        summary = usage_summary(
            session,
            CLI,
            org,
            start=first,
            end=last,
            group_by=groups,
            product=product,
            default_currency=config.currency,
        )
    show(_usage_table(groups, summary.rows, f"usage of {summary.organization_slug}",
                      summary.currency), as_json)  # fmt: skip


def _deployment_usage(
    product: str | None,
    first: date | None,
    last: date | None,
    groups: list[GroupBy],
    as_json: bool,
) -> None:
    with handled(), database() as db, db.session() as session:
        rows = deployment_usage(
            session, CLI, start=first, end=last, group_by=groups, product=product
        )
    title = f"usage of every organisation{f' ({product})' if product else ''}"
    show(_usage_table(groups, rows, title), as_json)


def _usage_table(
    groups: list[GroupBy], rows: list[UsageRow], title: str, currency: str | None = None
) -> Table:
    """Usage rows as a table; the cost in ``currency``, or each row's own (a report that
    spans organisations)."""
    table = Table(
        *(g.value for g in groups), "requests", "prompt", "cached", "completion", "total", "cost",
        title=title,
    )  # fmt: skip
    for row in rows:
        counts = (row.requests, row.prompt_tokens, row.cached_tokens, row.completion_tokens,
                  row.total_tokens)  # fmt: skip
        money = currency if currency is not None else row.currency or ""
        table.add_row(
            *(row.group[g.value] or "" for g in groups),
            *(f"{v:,}" for v in counts),
            f"{format_amount(row.cost_nanos)} {money}".strip(),
        )
    return table


def _day(value: str | None, name: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"'{value}' is not a date (YYYY-MM-DD)", param_hint=f"--{name}"
        ) from None


def main() -> None:
    app()
