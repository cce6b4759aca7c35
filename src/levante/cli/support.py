"""``levante support …``: the support desk from the command line, as an agent of the
operator: tickets, the queue, reports, SLA policies, calendars and consulting hours."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer
from rich.table import Table

from levante import support
from levante.cli.context import CLI, JsonOption, console, database, handled, settings, show
from levante.pricing import format_amount, format_cents
from levante.support.calendars import WEEKDAYS
from levante.vocabulary import Severity, SlaTarget


def _now() -> datetime:
    return datetime.now(UTC)


support_app = typer.Typer(
    help="The support desk: tickets, the queue, reports, policies, calendars and hours.",
    no_args_is_help=True,
)
calendar_app = typer.Typer(help="Business-hours calendars.", no_args_is_help=True)
policy_app = typer.Typer(help="The support plans' SLA policies.", no_args_is_help=True)
support_app.add_typer(calendar_app, name="calendar")
support_app.add_typer(policy_app, name="policy")

Ticket = Annotated[str, typer.Argument(help="The ticket's number (1042) or id.")]


def _left(delta: timedelta | None) -> str:
    if delta is None:
        return "-"
    minutes = int(delta.total_seconds() // 60)
    sign = "-" if minutes < 0 else ""
    hours, rest = divmod(abs(minutes), 60)
    return f"{sign}{hours}h{rest:02d}" if hours else f"{sign}{rest} min"


@support_app.command("tickets")
def tickets(
    org: Annotated[str | None, typer.Option("--org", "-o", help="One customer only.")] = None,
    status: Annotated[str | None, typer.Option(help="new, open, pending, solved, closed")] = None,
    open_only: Annotated[bool, typer.Option("--open", help="Waiting tickets only.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    as_json: JsonOption = False,
) -> None:
    """Tickets, newest first."""
    with handled(), database() as db, db.session() as session:
        table = Table("number", "organization", "severity", "status", "subject", "due", "breached")
        rows = support.list_tickets(session, CLI, organization=org, status=status,
                                    open_only=open_only, limit=limit)  # fmt: skip
        for t in rows:
            due = f"{t.due_at:%Y-%m-%d %H:%M}" if t.due_at else "-"
            table.add_row(str(t.number), t.organization_id, str(t.severity), t.status,
                          t.subject, due, "yes" if t.breached else "")  # fmt: skip
        show(table, as_json)


@support_app.command("show")
def show_ticket(ticket: Ticket) -> None:
    """A ticket: its terms, SLA timers and whole history (internal notes included)."""
    with handled(), database() as db, db.session() as session:
        seen = support.view(session, CLI, ticket, now=_now())
        t = seen.ticket
        console.print(f"#{t.number} {t.subject}  ({seen.organization.name})")
        console.print(
            f"severity {t.severity} · {t.status} · {seen.terms.plan_name}"
            + (f" · assigned to {seen.assignee.email}" if seen.assignee else "")
        )
        timers = Table("target", "severity", "clock", "due", "state", "used")
        for timer in seen.sla.timers:
            due = f"{timer.due_at:%Y-%m-%d %H:%M}" if timer.due_at else "-"
            used = _left(timer.used)
            name = timer.target.value + (f" {timer.cycle}" if timer.cycle else "")
            timers.add_row(name, str(timer.severity), timer.clock.value, due, timer.state, used)
        if seen.sla.timers:
            console.print(timers)
        for event in seen.events:
            tag = "" if event.public else " (internal)"
            console.print(f"{event.at:%Y-%m-%d %H:%M} {event.author} · {event.kind}{tag}")
            if event.body:
                console.print(event.body, markup=False, highlight=False)


@support_app.command("queue")
def queue(
    assignee: Annotated[str | None, typer.Option(help="An agent's email, or 'none'.")] = None,
    as_json: JsonOption = False,
) -> None:
    """The tickets waiting on the desk, the nearest due first."""
    config = settings()
    warn = timedelta(minutes=config.support.escalate_before_minutes)
    with handled(), database() as db, db.session() as session:
        table = Table("number", "organization", "severity", "status", "subject", "left",
                      "mark", "assignee")  # fmt: skip
        for item in support.queue(session, CLI, now=_now(), warn_before=warn,
                                  assignee=assignee):  # fmt: skip
            t = item.ticket
            table.add_row(str(t.number), item.organization, str(t.severity), t.status,
                          t.subject, _left(item.time_left), item.mark or "",
                          item.assignee or "")  # fmt: skip
        show(table, as_json)


@support_app.command("reply")
def reply(ticket: Ticket, body: Annotated[str, typer.Option(help="The message.")]) -> None:
    """Answer a ticket as the support team (the customer sees it)."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        support.reply(session, CLI, ticket, body, reopen_days=config.support.reopen_days,
                      now=_now(), public_url=config.billing.public_url)  # fmt: skip
    console.print(f"replied to {ticket}")


@support_app.command("note")
def note(ticket: Ticket, body: Annotated[str, typer.Option(help="The note.")]) -> None:
    """Add an internal note (never shown to the customer)."""
    with handled(), database() as db, db.session() as session:
        support.add_note(session, CLI, ticket, body, now=_now())
    console.print(f"noted on {ticket}")


@support_app.command("status")
def status(
    ticket: Ticket,
    to: Annotated[str, typer.Argument(help="open, pending, solved or closed")],
) -> None:
    """Move a ticket to another state."""
    with handled(), database() as db, db.session() as session:
        row = support.set_status(session, CLI, ticket, to, now=_now())
        console.print(f"#{row.number} is {row.status}")


@support_app.command("severity")
def severity(
    ticket: Ticket,
    level: Annotated[int, typer.Argument(min=1, max=4, help="1 critical ... 4 question")],
    reason: Annotated[str, typer.Option(help="Why, for the history.")] = "",
) -> None:
    """Change a ticket's severity; its targets follow."""
    with handled(), database() as db, db.session() as session:
        row = support.set_severity(session, CLI, ticket, level, reason=reason, now=_now())
        console.print(f"#{row.number} is severity {row.severity}")


@support_app.command("assign")
def assign(
    ticket: Ticket,
    agent: Annotated[str, typer.Argument(help="An agent's email, or 'none' for the queue.")],
) -> None:
    """Give a ticket to an agent."""
    with handled(), database() as db, db.session() as session:
        row = support.assign(session, CLI, ticket, None if agent == "none" else agent,
                             now=_now())  # fmt: skip
        console.print(f"#{row.number} assigned to {agent}")


@support_app.command("time")
def log_time(
    ticket: Ticket,
    minutes: Annotated[int, typer.Argument(min=1, max=1440)],
    note: Annotated[str, typer.Option(help="What the time was spent on.")] = "",
) -> None:
    """Log consulting time on a ticket."""
    with handled(), database() as db, db.session() as session:
        support.log_time(session, CLI, ticket, minutes, note=note, now=_now())
    console.print(f"logged {minutes} min on {ticket}")


@support_app.command("report")
def report(
    period: Annotated[str, typer.Option(help="The month, YYYY-MM.")],
    org: Annotated[str | None, typer.Option("--org", "-o", help="One customer only.")] = None,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV instead of a table.")] = False,
    as_json: JsonOption = False,
) -> None:
    """A month's report per customer: tickets by severity, attainment of each target,
    breaches, credits, hours logged (from the packs, billed past them, left on them)."""
    with handled(), database() as db, db.session() as session:
        rows = support.monthly_report(session, CLI, period, organization=org, now=_now())
    if as_csv:
        sys.stdout.write(support.report_csv(rows))
        return
    table = Table("organization", "opened", "sev 1/2/3/4", "first response", "next response",
                  "resolution", "breached", "credit", "hours", "from packs", "billed",
                  "left")  # fmt: skip
    for r in rows:
        parts = []
        for target in SlaTarget:
            a = r.targets[target]
            parts.append(f"{a.met}/{a.total} ({a.percent:.0f}%)" if a.total else "-")
        table.add_row(
            r.organization, str(r.opened_total), "/".join(str(r.opened[s]) for s in range(1, 5)),
            *parts, " ".join(f"#{n}" for n in r.breached_tickets) or "-", r.credit or "-",
            f"{r.minutes_logged / 60:.2f}", f"{r.minutes_from_packs / 60:.2f}",
            f"{r.minutes_billable / 60:.2f}" + (f" ({r.services})" if r.services else ""),
            f"{r.minutes_left / 60:.2f}",
        )  # fmt: skip
    show(table, as_json)


# -- consulting hours -----------------------------------------------------------------------------


@support_app.command("packs")
def packs(as_json: JsonOption = False) -> None:
    """The prepaid consulting hour packs on offer."""
    with handled(), database() as db, db.session() as session:
        table = Table("plan", "name", "hours", "valid months", "prices", "rate past it")
        for offer in support.pack_offers(session, now=_now()):
            features = offer.plan.features or {}
            prices = ", ".join(f"{format_amount(n)} {c}" for c, n in offer.current_nanos.items())
            rates = features.get("hourly_rate") or {}
            table.add_row(
                offer.plan.code, offer.plan.name, f"{support.pack_hours(offer.plan):g}",
                str(features.get("valid_months") or "-"), prices,
                ", ".join(f"{v} {c}/h" for c, v in rates.items()) or "-",
            )  # fmt: skip
        show(table, as_json)


@support_app.command("hours")
def hours(
    org: Annotated[str, typer.Option("--org", "-o", help="The customer.")],
    as_json: JsonOption = False,
) -> None:
    """A customer's hour packs: bought, used, left, and until when."""
    with handled(), database() as db, db.session() as session:
        found = support.hours_of(session, CLI, org, now=_now())
        table = Table("pack", "plan", "bought", "expires", "hours", "used", "left", "valid")
        for p in found.packs:
            expires = f"{p.pack.expires_at:%Y-%m-%d}" if p.pack.expires_at else "-"
            table.add_row(
                p.pack.id, p.plan.code, f"{p.pack.bought_at:%Y-%m-%d}", expires,
                support.duration(p.pack.minutes), support.duration(p.used),
                support.duration(p.left), "yes" if p.valid_at(found.at) else "no",
            )  # fmt: skip
        billable = sum(e.billable for e in found.entries)
    show(table, as_json)
    if not as_json:
        console.print(
            f"{support.duration(found.left)} left; {support.duration(billable)} logged past the "
            "packs in all (billed with each month's invoice)"
        )


@support_app.command("buy-hours")
def buy_hours(
    plan: Annotated[str, typer.Argument(help="A pack: consulting-10h, ...")],
    org: Annotated[str, typer.Option("--org", "-o", help="The customer.")],
) -> None:
    """Buy an hour pack for a customer; it is invoiced at once."""
    config = settings()
    with handled(), database() as db, db.session() as session:
        bought = support.buy_pack(
            session, CLI, plan, organization=org, now=_now(), settings=config.billing,
            default_currency=config.currency,
        )  # fmt: skip
        invoice = bought.invoice
        line = f"{bought.plan.name} for {org}: {support.duration(bought.pack.minutes)}"
        if bought.pack.expires_at is not None:
            line += f", valid until {bought.pack.expires_at:%Y-%m-%d}"
        if invoice is not None:
            line += f"; invoice {invoice.number} ({format_cents(invoice.total_cents)} "
            line += f"{invoice.currency}, {invoice.status})"
    console.print(line)


# -- policies -------------------------------------------------------------------------------------


@policy_app.command("list")
def policy_list(as_json: JsonOption = False) -> None:
    """What each support plan promises, per severity."""
    with handled(), database() as db, db.session() as session:
        table = Table("plan", "severity", "clock", "first response", "next response",
                      "resolution", "credit")  # fmt: skip
        for plan in support.support_plans(session):
            terms = support.terms_of(plan.code, plan.name, plan.features, None)
            credit = terms.credits
            for level in Severity:
                targets = terms.for_severity(level)
                if targets is None:
                    continue
                credited = credit is not None and level in credit.severities
                table.add_row(
                    plan.code, str(int(level)), targets.clock.value,
                    *(support.describe_minutes(targets.minutes(t), targets.clock, None)
                      for t in SlaTarget),
                    f"{credit.percent_per_breach}%" if credited and credit else "",
                )  # fmt: skip
        show(table, as_json)


@policy_app.command("set")
def policy_set(
    plan: Annotated[str, typer.Argument(help="A support plan: support-standard, ...")],
    severity: Annotated[int, typer.Option(min=1, max=4, help="The severity to change.")],
    clock: Annotated[str | None, typer.Option(help="24x7 or business")] = None,
    first_response: Annotated[int | None, typer.Option(help="Minutes.")] = None,
    next_response: Annotated[int | None, typer.Option(help="Minutes.")] = None,
    resolution: Annotated[int | None, typer.Option(help="Minutes; 0 for none.")] = None,
) -> None:
    """Change one severity's targets of a support plan; tickets already open keep theirs."""
    sla: dict[str, object] = {}
    if clock is not None:
        sla["clock"] = clock  # checked with the rest by the policy
    for key, value in (("first_response", first_response), ("next_response", next_response),
                       ("resolution", resolution)):  # fmt: skip
        if value is not None:
            sla[key] = value or None
    with handled(), database() as db, db.session() as session:
        row = support.set_policy(session, CLI, plan, sla={str(severity): sla})
        now = (row.features or {})["sla"][str(severity)]
    console.print(f"{plan}: severity {severity} is now {now}")


# -- calendars ------------------------------------------------------------------------------------


@calendar_app.command("list")
def calendar_list(as_json: JsonOption = False) -> None:
    """The calendars: hours, time zone, holidays, and whose they are."""
    with handled(), database() as db, db.session() as session:
        table = Table("name", "hours", "holidays", "organization")
        for row in support.list_calendars(session, CLI):
            calendar = support.parse_calendar(row.spec)
            table.add_row(row.name, calendar.describe(), str(len(calendar.holidays)),
                          row.organization_id or "")  # fmt: skip
        show(table, as_json)


@calendar_app.command("set")
def calendar_set(
    name: Annotated[str, typer.Argument(help="The calendar's name.")],
    timezone: Annotated[str, typer.Option(help="An IANA zone, e.g. Europe/Paris.")],
    hours: Annotated[
        list[str],
        typer.Option(help="Days and hours, e.g. 'mon-fri 09:00-17:00' (repeat for more)."),
    ],
    holiday: Annotated[list[str] | None, typer.Option(help="A date, YYYY-MM-DD (repeat).")] = None,
    org: Annotated[str | None, typer.Option("--org", "-o", help="A customer's own.")] = None,
) -> None:
    """Create or replace a business-hours calendar."""
    spec_hours: dict[str, list[str]] = {}
    for entry in hours:
        days, _, spans = entry.strip().partition(" ")
        first, _, last = days.partition("-")
        names = list(WEEKDAYS)
        if first not in names or (last and last not in names):
            console.print(f"'{days}' is not a day or a range of days such as mon-fri")
            raise typer.Exit(1)
        chosen = names[names.index(first) : names.index(last or first) + 1]
        for day in chosen:
            spec_hours.setdefault(day, []).extend(s for s in spans.split(",") if s)
    spec = {"timezone": timezone, "hours": spec_hours, "holidays": holiday or []}
    with handled(), database() as db, db.session() as session:
        row = support.set_calendar(session, CLI, name, spec, organization=org)
        console.print(f"{row.name}: {support.parse_calendar(row.spec).describe()}")
