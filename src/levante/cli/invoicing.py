"""``levante invoices …``, ``levante plans …``, ``levante subscriptions …``,
``levante wallet …`` and ``levante billing account|run``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from levante import billing, platform
from levante.cli.billing import OrgOption, billing_app
from levante.cli.context import CLI, JsonOption, console, database, handled, settings, show
from levante.pricing import format_amount, format_cents
from levante.vocabulary import Currency

invoices_app = typer.Typer(help="Invoices: generate, list, show, pay, void.", no_args_is_help=True)
plans_app = typer.Typer(help="The catalogue of plans and their prices.", no_args_is_help=True)
subscriptions_app = typer.Typer(help="Subscriptions of organisations.", no_args_is_help=True)
wallet_app = typer.Typer(help="Prepaid credits of organisations.", no_args_is_help=True)


def _money(cents: int, currency: str) -> str:
    return f"{format_cents(cents)} {currency}"


# -- invoices -------------------------------------------------------------------------------------


@invoices_app.command("generate")
def invoices_generate(
    period: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    org: Annotated[str | None, typer.Option("--org", "-o", help="One organisation only.")] = None,
    draft: Annotated[bool, typer.Option("--draft", help="Leave the invoices as drafts.")] = False,
) -> None:
    """Build the period's invoices; finalize them once the period is closed. Running it again
    changes nothing."""
    config = settings()
    columns = (
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with (
        handled(),
        database() as db,
        Progress(*columns, console=console, transient=True) as progress,
    ):
        task = progress.add_task(f"invoicing {period}", total=None)
        run = platform.run_invoices(
            db,
            CLI,
            period,
            organization=org,
            finalize=not draft,
            settings=config.billing,
            default_currency=config.currency,
            settle_seconds=config.max_request_seconds,
            progress=lambda done, total: progress.update(task, completed=done, total=total),
        )
    console.print(
        f"{period}: {run.count('created')} created, {run.count('updated')} updated, "
        f"{run.count('unchanged')} unchanged; {run.drafts} draft(s)"
    )


@invoices_app.command("list")
def invoices_list(
    org: Annotated[str | None, typer.Option("--org", "-o")] = None,
    period: Annotated[str | None, typer.Option(help="YYYY-MM")] = None,
    status: Annotated[str | None, typer.Option(help="draft, finalized, paid or void")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """List invoices, newest first."""
    with handled(), database() as db, db.session() as session:
        rows = billing.invoices_of(session, CLI, org, period=period, status=status, limit=limit)
        table = Table("number", "id", "organisation", "kind", "period", "status", "total", "due")
        for inv in rows:
            table.add_row(
                inv.number or "-",
                inv.id,
                inv.organization_id,
                inv.kind,
                inv.period or "-",
                inv.status,
                _money(inv.total_cents, inv.currency),
                f"{inv.due_at:%Y-%m-%d}" if inv.due_at else "-",
            )
        show(table, as_json)


@invoices_app.command("show")
def invoices_show(
    ref: Annotated[str, typer.Argument(help="Invoice id or number.")],
    html: Annotated[Path | None, typer.Option(help="Also write it as HTML here.")] = None,
    pdf: Annotated[Path | None, typer.Option(help="Also write it as PDF here.")] = None,
) -> None:
    """Show an invoice, and write it as HTML or PDF."""
    with handled(), database() as db, db.session() as session:
        inv, lines = billing.invoice_of(session, CLI, ref)
        _print_invoice(inv, lines)
        if html is not None:
            html.write_text(billing.render_html(inv, lines), encoding="utf-8")
            console.print(f"wrote {html}")
        if pdf is not None:
            pdf.write_bytes(billing.render_pdf(inv, lines))
            console.print(f"wrote {pdf}")


def _print_invoice(inv: billing.Invoice, lines: list[billing.InvoiceLine]) -> None:
    console.print(
        f"{inv.number or '(draft)'} {inv.id} {inv.kind} {inv.period or ''} "
        f"({inv.status}) for {inv.customer.get('name') or inv.organization_id}"
    )
    table = Table("description", "quantity", "unit price", "amount")
    for line in lines:
        table.add_row(
            line.description,
            f"{line.quantity:,}",
            line.unit_price,
            _money(line.amount_cents, inv.currency),
        )
    console.print(table)
    console.print(f"subtotal {_money(inv.subtotal_cents, inv.currency)}")
    if inv.credits_cents:
        console.print(f"credits -{_money(inv.credits_cents, inv.currency)}")
    console.print(f"VAT {inv.tax_rate}% {_money(inv.tax_cents, inv.currency)}  {inv.tax_note}")
    console.print(f"total {_money(inv.total_cents, inv.currency)}")


@invoices_app.command("pay")
def invoices_pay(
    ref: Annotated[str, typer.Argument(help="Invoice id or number.")],
    reference: Annotated[str, typer.Option(help="The bank transfer's reference.")],
    amount: Annotated[str | None, typer.Option(help="Default: the amount due.")] = None,
) -> None:
    """Record a bank transfer against an invoice (the same reference twice records once)."""
    with handled(), database() as db, db.session() as session:
        _, inv = billing.record_transfer(session, CLI, ref, reference=reference, amount=amount)
        console.print(
            f"{inv.number}: paid {_money(inv.paid_cents, inv.currency)} of "
            f"{_money(inv.total_cents, inv.currency)} ({inv.status})"
        )


@invoices_app.command("void")
def invoices_void(ref: Annotated[str, typer.Argument(help="Invoice id or number.")]) -> None:
    """Void a finalized, unpaid invoice (its fees return to the next invoice)."""
    with handled(), database() as db, db.session() as session:
        inv = billing.void(session, CLI, ref)
        console.print(f"{inv.number or inv.id}: {inv.status}")


@invoices_app.command("top-up")
def invoices_top_up(
    org: OrgOption, amount: Annotated[str, typer.Argument(help="Credits to sell, before VAT.")]
) -> None:
    """Issue an invoice for prepaid credits; the credits arrive when it is paid."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        inv, _ = billing.buy_credits(
            session,
            CLI,
            org,
            amount=amount,
            settings=config.billing,
            default_currency=config.currency,
        )
        console.print(f"{inv.number} ({inv.id}): {_money(inv.total_cents, inv.currency)} due")


# -- plans ----------------------------------------------------------------------------------------


@plans_app.command("list")
def plans_list(as_json: JsonOption = False) -> None:
    """Plans on offer, with their current prices."""
    with handled(), database() as db, db.session() as session:
        offers = billing.plans_on_offer(session)
    table = Table("code", "product", "name", "per", "unit", "trial", *Currency)
    for offer in offers:
        plan = offer.plan
        table.add_row(
            plan.code,
            plan.product,
            plan.name,
            plan.interval,
            plan.unit,
            f"{plan.trial_days} d" if plan.trial_days else "-",
            *(
                format_amount(offer.current_nanos[c]) if c in offer.current_nanos else "-"
                for c in Currency
            ),
        )
    show(table, as_json)


@plans_app.command("price")
def plans_price(
    code: Annotated[str, typer.Argument(help="Plan code.")],
    currency: Annotated[str, typer.Option(help="EUR or USD.")],
    amount: Annotated[str, typer.Option(help="Per unit and period.")],
    effective_from: Annotated[
        datetime | None, typer.Option("--from", help="When it applies (UTC; default now).")
    ] = None,
) -> None:
    """Add a dated price to a plan; periods that start from then on pay it."""
    with handled(), database() as db, db.session() as session:
        price = billing.price_plan(
            session, CLI, code, currency=currency, amount=amount, effective_from=effective_from
        )
        console.print(
            f"{code}: {format_amount(price.amount_nanos)} {price.currency} from "
            f"{price.effective_from.isoformat(timespec='seconds')}"
        )


# -- subscriptions --------------------------------------------------------------------------------


@subscriptions_app.command("create")
def subscriptions_create(
    org: OrgOption,
    plan: Annotated[str, typer.Argument(help="Plan code.")],
    seats: Annotated[int, typer.Option(min=1, help="Seats or GPUs.")] = 1,
    trial: Annotated[bool, typer.Option(help="Start with the plan's trial, if any.")] = True,
) -> None:
    """Subscribe an organisation to a plan (the first period is charged at once)."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        done = billing.start_subscription(
            session,
            CLI,
            org,
            plan=plan,
            seats=seats,
            trial=trial,
            settings=config.billing,
            default_currency=config.currency,
        )
        sub = done.subscription
        console.print(f"subscription {sub.id}: {plan} x{sub.quantity} ({sub.status})")


@subscriptions_app.command("change")
def subscriptions_change(
    org: OrgOption,
    subscription: Annotated[str, typer.Argument(help="Subscription id.")],
    plan: Annotated[str | None, typer.Option(help="New plan code.")] = None,
    seats: Annotated[int | None, typer.Option(min=1, help="New number of seats.")] = None,
) -> None:
    """Upgrade, downgrade or change seats now, prorated."""
    with handled(), database() as db, db.session() as session:
        sub = billing.change_subscription(
            session, CLI, org, subscription_id=subscription, plan=plan, seats=seats
        ).subscription
        console.print(f"subscription {sub.id}: x{sub.quantity} ({sub.status})")


@subscriptions_app.command("cancel")
def subscriptions_cancel(
    org: OrgOption,
    subscription: Annotated[str, typer.Argument(help="Subscription id.")],
    now: Annotated[bool, typer.Option("--now", help="End it at once, not at period end.")] = False,
) -> None:
    """Cancel at the end of the period (or at once, with --now)."""
    with handled(), database() as db, db.session() as session:
        sub = billing.cancel_subscription(
            session, CLI, org, subscription_id=subscription, at_period_end=not now
        ).subscription
        ends = sub.ended_at or sub.current_period_end
        console.print(f"subscription {sub.id} ends {ends:%Y-%m-%d %H:%M} UTC")


@subscriptions_app.command("list")
def subscriptions_list(
    org: Annotated[str | None, typer.Option("--org", "-o")] = None,
    ended: Annotated[bool, typer.Option("--ended", help="Include ended ones.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List subscriptions."""
    with handled(), database() as db, db.session() as session:
        rows = billing.subscriptions_of(session, CLI, org, include_ended=ended)
        table = Table("id", "organisation", "plan", "seats", "status", "period end", "cancels")
        for sub, plan in rows:
            table.add_row(
                sub.id,
                sub.organization_id,
                plan.code,
                str(sub.quantity),
                sub.status,
                f"{sub.current_period_end:%Y-%m-%d}",
                "yes" if sub.cancel_at_period_end else "",
            )
        show(table, as_json)


# -- wallet ---------------------------------------------------------------------------------------


@wallet_app.command("show")
def wallet_show(org: OrgOption, as_json: JsonOption = False) -> None:
    """An organisation's prepaid balance and credits."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        found = billing.wallet_of(session, CLI, org, default_currency=config.currency)
    state, money = found.state, found.account.currency
    if not as_json:
        console.print(
            f"balance {format_amount(state.balance_nanos)} {money} "
            f"(credited {format_amount(state.credited_nanos)}, used "
            f"{format_amount(state.consumed_nanos)}, "
            f"expired {format_amount(state.expired_nanos)})"
            f"{'; prepaid only' if found.account.prepaid_only else ''}"
        )
    table = Table("id", "kind", "amount", "expires", "added")
    for entry in found.entries:
        table.add_row(
            entry.id,
            entry.kind,
            format_amount(entry.amount_nanos),
            entry.expires_on.isoformat() if entry.expires_on else "-",
            entry.created_at.isoformat(timespec="seconds"),
        )
    show(table, as_json)


@wallet_app.command("grant")
def wallet_grant(
    org: OrgOption,
    amount: Annotated[str, typer.Argument(help="Free credits to give.")],
    expires: Annotated[
        datetime | None, typer.Option(help="First day they no longer apply.", formats=["%Y-%m-%d"])
    ] = None,
) -> None:
    """Give an organisation free credits."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        entry = billing.give_credits(
            session,
            CLI,
            org,
            amount=amount,
            expires_on=expires.date() if expires else None,
            default_currency=config.currency,
        )
        console.print(f"granted {format_amount(entry.amount_nanos)} {entry.currency} ({entry.id})")


# -- billing account and cycle --------------------------------------------------------------------


@billing_app.command("account")
def billing_account(
    org: OrgOption,
    name: Annotated[str | None, typer.Option(help="Legal name on invoices.")] = None,
    email: Annotated[str | None, typer.Option()] = None,
    address: Annotated[str | None, typer.Option()] = None,
    country: Annotated[str | None, typer.Option(help="ISO 3166 code, e.g. FR.")] = None,
    vat_number: Annotated[str | None, typer.Option(help="EU VAT number ('' clears).")] = None,
    business: Annotated[bool | None, typer.Option("--business/--consumer")] = None,
    currency: Annotated[str | None, typer.Option(help="EUR or USD.")] = None,
    force: Annotated[
        bool, typer.Option(help="Change the currency even if some models have no price in it.")
    ] = False,
    prepaid_only: Annotated[bool | None, typer.Option("--prepaid-only/--postpaid")] = None,
    low_balance: Annotated[
        str | None, typer.Option(help="Alert below this balance ('none' removes it).")
    ] = None,
) -> None:
    """Show or change an organisation's billing account."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        account = billing.edit_account(
            session,
            CLI,
            org,
            change=billing.AccountChange(
                legal_name=name,
                email=email,
                address=address,
                country=country,
                vat_number=vat_number,
                is_business=business,
                currency=currency,
                force=force,
                prepaid_only=prepaid_only,
                low_balance_threshold="" if low_balance == "none" else low_balance,
            ),
            default_currency=config.currency,
        )
        console.print(
            f"{org}: {account.legal_name or '-'}, {account.country or '-'}, "
            f"{'business' if account.is_business else 'consumer'}"
            f"{', VAT ' + account.vat_number if account.vat_number else ''}, {account.currency}"
            f"{', prepaid only' if account.prepaid_only else ''}, {account.state}"
        )


@billing_app.command("run")
def billing_run() -> None:
    """Run the billing cycle now: renew subscriptions, alert low balances, restrict
    organisations with overdue invoices (gateway processes do this every minute)."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        report = billing.run_cycle(session, config.billing)
    console.print(
        f"{report.renewed} period(s) renewed or ended; low balance: "
        f"{', '.join(report.low_balance) or 'none'}; restricted: "
        f"{', '.join(report.restricted) or 'none'}"
    )
