"""Service credits on a real generated invoice: a breached severity-1 ticket credits the
month once, with its number, and a void-and-regenerate keeps exactly one credit."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from levante import billing, platform, support
from levante.audit import Actor
from levante.billing.invoices import Generated
from levante.settings import BillingSettings
from levante.storage import Database
from levante.storage.models import Charge, Invoice, InvoiceLine
from levante.support.credits import breaches_in
from tests.support.conftest import Person, add_customer, utc

CLOSE = utc(2027, 1, 1, 6)  # the invoice run, after December has closed
SETTINGS = BillingSettings(seller_country="FR")


def invoice_run(database: Database, period: str = "2026-12") -> list[Generated]:
    run = platform.run_invoices(
        database, Actor.command_line(), period, settings=SETTINGS, default_currency="EUR",
        settle_seconds=60, now=CLOSE,
    )  # fmt: skip
    return run.results


def lines(database: Database, invoice_id: str) -> list[tuple[str, str, int]]:
    with database.session() as session:
        return [
            (line.kind, line.description, line.amount_cents)
            for line in session.scalars(
                select(InvoiceLine)
                .where(InvoiceLine.invoice_id == invoice_id)
                .order_by(InvoiceLine.position)
            )
        ]


def breach(database: Database, who: Person, severity: int = 1, day: int = 9) -> int:
    """A ticket opened at 10:00 UTC on that December day and left unanswered."""
    with database.session() as session:
        ticket = support.open_ticket(
            session, who.actor, subject="Inference down", description="Every request fails.",
            severity=severity, now=utc(2026, 12, day, 10),
        )  # fmt: skip
        return ticket.number


def test_a_breached_severity_1_ticket_credits_the_month_once(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", "support-premium", since=utc(2026, 12, 1))
    number = breach(desk, acme)
    [first] = invoice_run(desk)
    credit = [line for line in lines(desk, first.invoice.id) if line[0] == "credit"]
    # Premium: 24,000.00 a year, 2,000.00 a month; 5% for one breached ticket.
    assert credit == [
        (
            "credit",
            f"Service credit, 2026-12: SLA targets missed on ticket #{number} "
            "(1 x 5% of the monthly support fee)",
            -10_000,
        )
    ]
    assert first.invoice.status == "finalized"
    assert first.invoice.subtotal_cents == 2_400_000
    assert first.invoice.credits_cents == 10_000

    with desk.session() as session:
        billing.void(session, Actor.command_line(), first.invoice.id)
    [again] = invoice_run(desk)
    assert again.invoice.id != first.invoice.id
    assert again.outcome == "created"
    credit = [line for line in lines(desk, again.invoice.id) if line[0] == "credit"]
    assert len(credit) == 1
    assert credit[0][2] == -10_000
    assert invoice_run(desk) == []  # nothing left to bill: a third run changes nothing
    with desk.session() as session:
        charges = session.scalars(select(Charge).where(Charge.kind == "service_credit")).all()
        assert len(charges) == 1
        assert charges[0].invoice_id == again.invoice.id
        statuses = sorted(i.status for i in session.scalars(select(Invoice)))
        assert statuses == ["finalized", "void"]


def test_a_ticket_answered_and_solved_in_time_and_a_lower_severity_earn_no_credit(
    desk: Database, agent: Person
) -> None:
    acme = add_customer(desk, "Acme", "support-premium", since=utc(2026, 12, 1))
    answered = breach(desk, acme)
    with desk.session() as session:
        support.reply(session, agent.actor, str(answered), "Fixed: restart the node.",
                      reopen_days=7, now=utc(2026, 12, 9, 10, 30))  # fmt: skip
        support.set_status(session, agent.actor, str(answered), "solved",
                           now=utc(2026, 12, 9, 10, 31))  # fmt: skip
    breach(desk, acme, severity=3)  # breached too, but Premium credits severities 1 and 2
    with desk.session() as session:
        assert support.credit_breaches(session, "2026-12", now=CLOSE) == []


def test_credits_are_capped_and_name_every_ticket(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", "support-standard", since=utc(2026, 12, 1))
    numbers = [breach(desk, acme, day=day) for day in range(1, 8)]
    with desk.session() as session:
        [charge] = support.credit_breaches(session, "2026-12", now=CLOSE)
        # Standard: 6,000.00 a year, 500.00 a month; 7 x 5% capped at 25%.
        assert charge.amount_nanos == -125 * 10**9
        assert all(f"#{n}" in charge.description for n in numbers)
        assert "capped at 25%" in charge.description


def test_a_breach_belongs_to_the_month_its_time_ran_out(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", "support-premium", since=utc(2026, 12, 1))
    with desk.session() as session:
        support.open_ticket(
            session, acme.actor, subject="Late", description="Opened at 23:30 on the 31st",
            severity=1, now=utc(2026, 12, 31, 23, 30),
        )  # fmt: skip
    with desk.session() as session:
        assert breaches_in(session, "2026-12", now=CLOSE) == {}
        january = breaches_in(session, "2027-01", now=CLOSE + timedelta(days=1))
        assert list(january) == [acme.organization_id]
