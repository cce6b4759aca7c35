"""``levante price …``, ``levante limits …`` and ``levante billing …``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer
from rich.table import Table

from levante import quota
from levante.cli.context import (
    CLI,
    JsonOption,
    console,
    database,
    errors,
    handled,
    settings,
    show,
    styled,
)
from levante.engine import ModelNames
from levante.metering import Ledger, reconcile
from levante.pricing import (
    DEFAULT_BATCH_DISCOUNT_PERCENT,
    NewPrice,
    add_price,
    format_amount,
    list_prices,
)

price_app = typer.Typer(help="Model prices: dated versions per 1M tokens.", no_args_is_help=True)
limits_app = typer.Typer(
    help="Usage tiers, spending limits and paid spend of organisations.", no_args_is_help=True
)
billing_app = typer.Typer(
    help="The usage ledger, billing accounts and the billing cycle.", no_args_is_help=True
)

OrgOption = Annotated[str, typer.Option("--org", "-o", help="Organisation id or slug.")]


def _optional_amount(nanos: int | None) -> str:
    return "-" if nanos is None else format_amount(nanos)


@price_app.command("set")
def price_set(
    model: Annotated[str, typer.Argument(help="Model id or alias.")],
    input_price: Annotated[str, typer.Option("--input", help="Per 1M prompt tokens.")],
    output_price: Annotated[str, typer.Option("--output", help="Per 1M completion tokens.")],
    currency: Annotated[
        str | None, typer.Option(help="Three-letter code (default: the configured currency).")
    ] = None,
    cached_input: Annotated[
        str | None, typer.Option(help="Per 1M cached prompt tokens (default 10% of input).")
    ] = None,
    batch_discount: Annotated[
        int, typer.Option(min=0, max=100, help="Batch discount, percent.")
    ] = DEFAULT_BATCH_DISCOUNT_PERCENT,
    effective_from: Annotated[
        datetime | None,
        typer.Option("--from", help="When it applies (UTC; default: as soon as allowed)."),
    ] = None,
) -> None:
    """Add a price version for a model, in the configured currency."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        added = add_price(
            session,
            CLI,
            NewPrice(
                model=model,
                input=input_price,
                output=output_price,
                cached_input=cached_input,
                currency=currency,
                batch_discount_percent=batch_discount,
                effective_from=effective_from,
            ),
            models=ModelNames(config.models),
            default_currency=config.currency,
            lead_seconds=config.price_refresh_seconds,
        )
        price = added.price
        console.print(
            f"price {price.id}: {price.model} {format_amount(price.input_nanos)} in / "
            f"{format_amount(price.output_nanos)} out per 1M tokens ({price.currency}), "
            f"from {price.effective_from.isoformat(timespec='seconds')}"
        )
        for warning in added.warnings:
            errors.print(styled(("warning:", "yellow"), f" {warning}"))


@price_app.command("list")
def price_list(
    model: Annotated[str | None, typer.Argument()] = None, as_json: JsonOption = False
) -> None:
    """List price versions."""
    with handled(), database() as db, db.session() as session:
        table = Table("model", "from", "currency", "input", "cached input", "output", "batch")
        for p in list_prices(session, model):
            table.add_row(
                p.model,
                p.effective_from.isoformat(timespec="seconds"),
                p.currency,
                format_amount(p.input_nanos),
                format_amount(p.cached_input_nanos),
                format_amount(p.output_nanos),
                f"-{p.batch_discount_percent}%",
            )
        show(table, as_json)


@limits_app.command("show")
def limits_show(org: OrgOption, as_json: JsonOption = False) -> None:
    """An organisation's tier, spending limits and this month's spend."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        standing = quota.tier_standing(session, CLI, org, tiers=config.tiers)
        limits = quota.spend_limits(session, CLI, org, default_currency=config.currency)
    tier = standing.tier
    pinned = " (pinned)" if standing.pinned else ""
    name = tier.name if tier else "none: the operator's organisation has no tier limits"
    paid = standing.paid_nanos
    spent = ", ".join(f"{format_amount(n)} {c}" for c, n in paid.items()) or "none"
    if not as_json:
        console.print(f"tier: {name}{pinned}; paid spend {spent}")
    money = limits.currency
    table = Table("scope", "monthly limit", "spent this month", "reserved now")
    for line in limits.lines:
        table.add_row(
            line.workspace or "(organisation)",
            "-"
            if line.monthly_limit_nanos is None
            else f"{format_amount(line.monthly_limit_nanos)} {money}",
            f"{format_amount(line.spent_nanos)} {money}",
            f"{format_amount(line.reserved_nanos)} {money}",
        )
    show(table, as_json)


@limits_app.command("tier")
def limits_tier(
    org: OrgOption,
    tier: Annotated[str | None, typer.Argument(help="Tier name; omit with --follow-spend.")] = None,
    follow_spend: Annotated[
        bool, typer.Option("--follow-spend", help="Unpin: the tier follows paid spend.")
    ] = False,
) -> None:
    """Pin an organisation to a usage tier, or let it follow paid spend again."""
    config = settings()
    if (tier is None) == (not follow_spend):
        raise typer.BadParameter("give a tier name, or --follow-spend")
    with handled(), database() as db, db.session() as session:
        quota.pin_tier(session, CLI, org, tier=tier, tiers=config.tiers)
    console.print(f"tier of {org}: {tier or 'follows paid spend'}")


@limits_app.command("spend")
def limits_spend(
    org: OrgOption,
    monthly_limit: Annotated[str, typer.Argument(help="Amount, or 'none' to remove the limit.")],
    workspace: Annotated[
        str | None, typer.Option("--workspace", "-w", help="A workspace instead of the org.")
    ] = None,
) -> None:
    """Set a monthly spending limit of an organisation or a workspace, in the organisation's
    billing currency."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        limits = quota.change_spend_limit(
            session,
            CLI,
            org,
            monthly_limit=None if monthly_limit.lower() == "none" else monthly_limit,
            workspace=workspace,
            default_currency=config.currency,
        )
    line = next(
        line
        for line in limits.lines
        if (workspace is None and line.workspace_id is None)
        or workspace in (line.workspace, line.workspace_id)
    )
    nanos = line.monthly_limit_nanos
    shown = "none" if nanos is None else f"{format_amount(nanos)} {limits.currency}"
    console.print(f"monthly spending limit of {workspace or org}: {shown}")


@limits_app.command("payment")
def limits_payment(
    org: OrgOption,
    amount: Annotated[str, typer.Argument(help="Amount paid.")],
    currency: Annotated[
        str | None, typer.Option(help="Default: the organisation's billing currency.")
    ] = None,
) -> None:
    """Count a payment towards an organisation's paid spend (tiers rise with it)."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        total, money, tier = quota.record_paid_spend(
            session,
            CLI,
            org,
            amount=amount,
            currency=currency,
            default_currency=config.currency,
            tiers=config.tiers,
        )
    console.print(
        f"paid spend of {org}: {format_amount(total)} {money}; tier {tier.name if tier else '-'}"
    )


@billing_app.command("reconcile")
def billing_reconcile(
    repair: Annotated[
        bool, typer.Option("--repair", help="Sweep orphaned reservations into the ledger.")
    ] = False,
) -> None:
    """Report (and with --repair, close) gaps in the ledger: reservations left by dead
    gateway processes, and records whose cost differs from their price version."""
    config = settings()
    with handled(), database() as db:
        ledger = Ledger(
            db,
            heartbeat_seconds=config.heartbeat_seconds,
            max_request_seconds=config.max_request_seconds,
        )
        result = reconcile(db, ledger, repair=repair)
    console.print(
        f"{result.records} usage records, {result.open_reservations} open reservations, "
        f"{len(result.orphaned)} orphaned, {len(result.mispriced)} mispriced"
    )
    for request_id in result.orphaned:
        console.print(f"  orphaned reservation {request_id}")
    for request_id in result.mispriced:
        console.print(f"  mispriced record {request_id}")
    if repair:
        console.print(f"swept {result.swept} reservation(s) into the ledger")
    if not result.clean and not repair:
        raise typer.Exit(1)
