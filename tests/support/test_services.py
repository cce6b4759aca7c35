"""Professional services: hour packs bought from the catalogue and invoiced at once, logged
time drawing them down (the first to expire first), and the time past them billed on the
month's real invoice at the contract's hourly rate, once, even after a void."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from levante import billing, platform, support
from levante.audit import Actor
from levante.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from levante.storage import Database
from levante.storage.models import AuditEvent, Charge, Role
from levante.support.services import drawdown, hour_packs
from tests.support.conftest import Person, add_customer, add_person, utc
from tests.support.test_credits import CLOSE, SETTINGS, invoice_run, lines

CLI = Actor.command_line()


def buy(database: Database, who: Person, plan: str, at: datetime) -> support.Bought:
    with database.session() as session:
        bought = support.buy_pack(session, who.actor, plan, now=at, settings=SETTINGS,
                                  default_currency="EUR")  # fmt: skip
        session.expunge_all()
        return bought


def ticket(database: Database, who: Person, at: datetime) -> int:
    with database.session() as session:
        return support.open_ticket(
            session, who.actor, subject="Fine-tune on our data", description="Help us plan it.",
            severity=4, now=at,
        ).number  # fmt: skip


def log(database: Database, agent: Person, number: int, minutes: int, at: datetime) -> None:
    with database.session() as session:
        support.log_time(session, agent.actor, str(number), minutes, note="call", now=at)


def test_a_pack_is_bought_once_and_invoiced_at_once(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2026, 12, 1))
    bought = buy(desk, acme, "consulting-10h", utc(2026, 12, 2, 9))
    assert bought.pack.minutes == 600
    assert bought.pack.expires_at == utc(2027, 12, 2, 9)
    assert bought.invoice is not None
    assert bought.invoice.status == "finalized"
    assert bought.invoice.number is not None
    [line] = lines(desk, bought.invoice.id)
    assert line == ("charge", "Consulting, 10 hours, prepaid, valid until 2027-12-02", 200_000)
    with desk.session() as session:
        assert (
            session.scalar(select(AuditEvent.action).where(AuditEvent.target == bought.pack.id))
            == "support.hour_pack.bought"
        )
        with pytest.raises(InvalidRequestError, match="bought once"):
            billing.subscribe(session, acme.organization_id, "consulting-10h",
                              now=utc(2026, 12, 2), default_currency="EUR", actor=CLI)  # fmt: skip
        with pytest.raises(InvalidRequestError, match="not an hour pack"):
            support.buy_pack(session, acme.actor, "support-premium", now=utc(2026, 12, 2),
                             settings=SETTINGS, default_currency="EUR")  # fmt: skip
        assert [p.code for p in hour_packs(session)] == ["consulting-10h",
                                                                 "consulting-40h"]  # fmt: skip
        assert "consulting-10h" not in [p.code for p in support.support_plans(session)]


def test_only_the_organisations_managers_buy_and_nobody_sees_anothers_hours(
    desk: Database, agent: Person
) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2026, 12, 1))
    member = add_person(desk, acme.organization_id, "dev@acme.example", Role.MEMBER)
    other = add_customer(desk, "Globex", None, since=utc(2026, 12, 1))
    with pytest.raises(PermissionDeniedError):
        buy(desk, member, "consulting-10h", utc(2026, 12, 2))
    with pytest.raises(PermissionDeniedError):  # an agent buys for nobody, not even when vague
        buy(desk, agent, "consulting-10h", utc(2026, 12, 2))
    with desk.session() as session, pytest.raises(PermissionDeniedError):
        support.buy_pack(session, agent.actor, "consulting-10h", organization="acme",
                         now=utc(2026, 12, 2), settings=SETTINGS, default_currency="EUR")  # fmt: skip
    boss = add_person(desk, agent.organization_id, "boss@levante.example", Role.ADMIN)
    with pytest.raises(InvalidRequestError, match="name the organisation"):
        buy(desk, boss, "consulting-10h", utc(2026, 12, 2))
    with desk.session() as session:
        support.buy_pack(session, boss.actor, "consulting-10h", organization="acme",
                         now=utc(2026, 12, 2), settings=SETTINGS, default_currency="EUR")  # fmt: skip
    buy(desk, acme, "consulting-10h", utc(2026, 12, 2))
    with desk.session() as session:
        with pytest.raises(NotFoundError):
            support.hours_of(session, other.actor, acme.organization_id, now=utc(2026, 12, 3))
        assert support.hours_of(session, other.actor, now=utc(2026, 12, 3)).packs == []
        mine = support.hours_of(session, member.actor, now=utc(2026, 12, 3))
        assert mine.left == 1200  # members see the hours; they do not buy them
        assert len(mine.open_packs) == 2
        assert support.hours_of(session, agent.actor, "acme", now=utc(2026, 12, 3)).left == 1200


def test_time_draws_the_first_pack_to_expire_and_an_expired_pack_no_longer_counts(
    desk: Database, agent: Person
) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2025, 11, 1))
    old = buy(desk, acme, "consulting-10h", utc(2025, 11, 15))  # valid until 2026-11-15
    new = buy(desk, acme, "consulting-10h", utc(2026, 6, 1))
    number = ticket(desk, acme, utc(2026, 10, 1, 8))
    log(desk, agent, number, 120, utc(2026, 10, 1, 9))
    log(desk, agent, number, 90, utc(2026, 12, 1, 9))
    with desk.session() as session:
        hours = drawdown(session, acme.organization_id, utc(2026, 12, 2))
    used = {p.pack.id: p.used for p in hours.packs}
    assert used == {old.pack.id: 120, new.pack.id: 90}
    assert hours.left == 600 - 90  # the old pack's 480 minutes lapsed with it
    assert [e.billable for e in hours.entries] == [0, 0]


def test_time_past_the_packs_is_billed_on_the_next_invoice_at_the_contracts_rate_once(
    desk: Database, agent: Person
) -> None:
    acme = add_customer(desk, "Acme", "support-premium", since=utc(2026, 12, 1))
    buy(desk, acme, "consulting-10h", utc(2026, 12, 2))
    first = ticket(desk, acme, utc(2026, 12, 3, 8))
    second = ticket(desk, acme, utc(2026, 12, 9, 8))
    log(desk, agent, first, 360, utc(2026, 12, 3, 12))
    log(desk, agent, second, 300, utc(2026, 12, 10, 12))  # 4 h from the pack, 1 h past it
    log(desk, agent, first, 30, utc(2026, 12, 20, 12))

    [invoice] = invoice_run(desk)
    services = [line for line in lines(desk, invoice.invoice.id) if "Consulting time" in line[1]]
    # Premium's rate is 220.00 EUR an hour: 1 h 30 min is 330.00.
    assert services == [
        (
            "charge",
            "Consulting time past the prepaid hours, 2026-12: 1 h 30 min at 220.00 EUR an hour "
            f"(tickets #{first}, #{second})",
            33_000,
        )
    ]
    with desk.session() as session:
        billing.void(session, CLI, invoice.invoice.id)
    [again] = invoice_run(desk)
    services = [line for line in lines(desk, again.invoice.id) if "Consulting time" in line[1]]
    assert len(services) == 1
    assert services[0][2] == 33_000
    assert invoice_run(desk) == []
    with desk.session() as session:
        [charge] = session.scalars(select(Charge).where(Charge.kind == "services")).all()
        assert charge.quantity == 90
        assert charge.invoice_id == again.invoice.id
        [report] = support.monthly_report(session, agent.actor, "2026-12",
                                          organization="acme", now=CLOSE)  # fmt: skip
    assert (report.minutes_logged, report.minutes_from_packs, report.minutes_billable) == (
        690,
        600,
        90,
    )
    assert report.minutes_left == 0
    assert report.services == ""  # an agent works the tickets; the money is not theirs to see
    with desk.session() as session:
        [own] = support.monthly_report(session, acme.actor, "2026-12", now=CLOSE)
    assert own.services == "330.00 EUR"  # the customer's owner sees what it is billed
    assert "hours_from_packs" in support.report_csv([report]).splitlines()[0]


def test_without_a_contract_the_packs_list_rate_applies(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2026, 12, 1))
    number = ticket(desk, acme, utc(2026, 12, 3, 8))
    log(desk, agent, number, 60, utc(2026, 12, 3, 12))  # no pack at all: all of it billable
    with desk.session() as session:
        [charge] = support.bill_time(session, "2026-12", now=CLOSE, default_currency="EUR")
        assert charge.amount_nanos == 275 * 10**9
        assert "1 h at 275.00 EUR an hour" in charge.description
        # Computing it again changes nothing while no invoice holds it.
        assert support.bill_time(session, "2026-12", now=CLOSE, default_currency="EUR") == []


def test_time_logged_after_a_draft_of_the_month_is_still_billed(
    desk: Database, agent: Person
) -> None:
    acme = add_customer(desk, "Acme", "support-standard", since=utc(2026, 12, 1))
    number = ticket(desk, acme, utc(2026, 12, 3, 8))
    log(desk, agent, number, 60, utc(2026, 12, 3, 12))
    draft = platform.run_invoices(
        desk, CLI, "2026-12", settings=SETTINGS, default_currency="EUR", settle_seconds=60,
        now=utc(2026, 12, 15),
    ).results  # fmt: skip
    assert [d.invoice.status for d in draft] == ["draft"]
    log(desk, agent, number, 30, utc(2026, 12, 20, 12))
    [final] = invoice_run(desk)
    assert final.invoice.status == "finalized"
    services = [line for line in lines(desk, final.invoice.id) if "Consulting time" in line[1]]
    # Standard's rate is 250.00 EUR an hour: 1 h 30 min is 375.00.
    assert [line[2] for line in services] == [37_500]


def test_time_on_a_ticket_closed_before_the_month_is_reported_and_billed(
    desk: Database, agent: Person
) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2026, 11, 1))
    number = ticket(desk, acme, utc(2026, 11, 3, 8))
    with desk.session() as session:
        support.set_status(session, agent.actor, str(number), "closed", now=utc(2026, 11, 4))
    log(desk, agent, number, 45, utc(2026, 12, 3, 12))  # a follow-up call, logged on it
    with desk.session() as session:
        [charge] = support.bill_time(session, "2026-12", now=CLOSE, default_currency="EUR")
        [report] = support.monthly_report(session, agent.actor, "2026-12", now=CLOSE)
    assert charge.quantity == 45
    assert (report.organization, report.minutes_logged, report.minutes_billable) == (
        "Acme", 45, 45,
    )  # fmt: skip


def test_the_same_request_buys_once(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2026, 12, 1))
    with desk.session() as session:
        first = support.buy_pack(session, acme.actor, "consulting-10h", now=utc(2026, 12, 2),
                                 settings=SETTINGS, default_currency="EUR",
                                 request_key="click-1")  # fmt: skip
        again = support.buy_pack(session, acme.actor, "consulting-10h", now=utc(2026, 12, 2),
                                 settings=SETTINGS, default_currency="EUR",
                                 request_key="click-1")  # fmt: skip
        assert again.pack.id == first.pack.id
        assert again.invoice is not None
        assert first.invoice is not None
        assert again.invoice.id == first.invoice.id
        other = support.buy_pack(session, acme.actor, "consulting-10h", now=utc(2026, 12, 2),
                                 settings=SETTINGS, default_currency="EUR",
                                 request_key="click-2")  # fmt: skip
        assert other.pack.id != first.pack.id
        assert drawdown(session, acme.organization_id, utc(2026, 12, 3)).left == 1200
