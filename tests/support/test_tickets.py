"""Tickets through their states, on real databases: who may see and do what, the history
every change leaves, and the SLA state the queue sorts by."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from levante import support
from levante.audit import AuditEvent
from levante.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from levante.mail import outbox
from levante.storage import Database
from levante.storage.models import Role
from levante.vocabulary import SlaTarget
from tests.support.conftest import Person, add_customer, add_person, utc

OPENED = utc(2026, 12, 2, 10)  # a Wednesday
HOUR = timedelta(hours=1)


@pytest.fixture
def acme(desk: Database) -> Person:
    return add_customer(desk, "Acme", "support-premium", since=utc(2026, 11, 1))


@pytest.fixture
def globex(desk: Database) -> Person:
    return add_customer(desk, "Globex", None, since=utc(2026, 11, 1))


def open_one(database: Database, who: Person, severity: int = 1, subject: str = "Down") -> int:
    with database.session() as session:
        ticket = support.open_ticket(
            session, who.actor, subject=subject, description="Our deployment answers 500.",
            severity=severity, deployment="lic_123", model="mistral-small", now=OPENED,
        )  # fmt: skip
        return ticket.number


def test_a_ticket_opens_under_the_contracts_terms(desk: Database, acme: Person) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        seen = support.view(session, acme.actor, str(number), now=OPENED)
        assert seen.ticket.status == "new"
        assert seen.ticket.requester == acme.email
        assert seen.terms.plan == "support-premium"
        assert seen.ticket.due_at == OPENED + HOUR
        first = seen.sla.latest(SlaTarget.FIRST_RESPONSE)
        assert first is not None
        assert first.due_at == OPENED + HOUR
        actions = session.scalars(select(AuditEvent.action)).all()
        assert "support.ticket.opened" in actions


def test_without_a_contract_a_ticket_has_no_sla(desk: Database, globex: Person) -> None:
    number = open_one(desk, globex)
    with desk.session() as session:
        seen = support.view(session, globex.actor, str(number), now=OPENED + 100 * HOUR)
        assert seen.terms.plan is None
        assert not seen.sla.timers
        assert seen.ticket.due_at is None


def test_an_agents_answer_opens_the_ticket_and_meets_the_first_response(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        support.reply(session, agent.actor, f"#{number}", "Looking now.", reopen_days=7,
                      now=OPENED + HOUR / 2)  # fmt: skip
    with desk.session() as session:
        seen = support.view(session, acme.actor, str(number), now=OPENED + HOUR)
        assert seen.ticket.status == "open"
        assert seen.sla.latest(SlaTarget.FIRST_RESPONSE).state == "met"  # type: ignore[union-attr]
        assert seen.ticket.due_at == OPENED + 24 * HOUR  # the resolution target is next


def test_the_customer_never_sees_an_internal_note(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        support.add_note(session, agent.actor, str(number), "Customer runs v0.3; known bug.",
                         now=OPENED + HOUR / 4)  # fmt: skip
        support.assign(session, agent.actor, str(number), agent.email, now=OPENED + HOUR / 4)
    with desk.session() as session:
        customer = support.view(session, acme.actor, str(number), now=OPENED + HOUR)
        agents = support.view(session, agent.actor, str(number), now=OPENED + HOUR)
        assert all(e.public for e in customer.events)
        assert "known bug" not in " ".join(e.body for e in customer.events)
        assert any(e.kind == "note" for e in agents.events)
        # A note is no answer: the first response is still owed.
        first = agents.sla.latest(SlaTarget.FIRST_RESPONSE)
        assert first is not None
        assert first.state == "breached"


def test_a_customer_never_sees_another_customers_ticket(
    desk: Database, acme: Person, globex: Person
) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        with pytest.raises(NotFoundError):
            support.view(session, globex.actor, str(number), now=OPENED)
        with pytest.raises(NotFoundError):
            support.reply(session, globex.actor, str(number), "hello", reopen_days=7, now=OPENED)
        assert support.list_tickets(session, globex.actor) == []
        assert [t.number for t in support.list_tickets(session, acme.actor)] == [number]


def test_only_agents_write_notes_change_severity_or_assign(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        for attempt in (
            lambda: support.add_note(session, acme.actor, str(number), "x", now=OPENED),
            lambda: support.set_severity(session, acme.actor, str(number), 4, now=OPENED),
            lambda: support.assign(session, acme.actor, str(number), agent.email, now=OPENED),
            lambda: support.log_time(session, acme.actor, str(number), 30, now=OPENED),
        ):
            with pytest.raises(PermissionDeniedError):
                attempt()


def test_an_operator_member_without_the_support_role_is_no_agent(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    bookkeeper = add_person(desk, agent.organization_id, "books@levante.example", Role.BILLING)
    with desk.session() as session, pytest.raises(PermissionDeniedError):
        support.view(session, bookkeeper.actor, str(number), now=OPENED)


def test_pending_waits_on_the_customer_whose_reply_reopens_it(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        support.reply(session, agent.actor, str(number), "Which version?", reopen_days=7,
                      now=OPENED + HOUR / 4)  # fmt: skip
        support.set_status(session, agent.actor, str(number), "pending", now=OPENED + HOUR)
    with desk.session() as session:
        seen = support.view(session, agent.actor, str(number), now=OPENED + 48 * HOUR)
        assert seen.ticket.due_at is None  # paused
        resolution = seen.sla.latest(SlaTarget.RESOLUTION)
        assert resolution is not None
        assert resolution.state == "paused"
    back = OPENED + 49 * HOUR
    with desk.session() as session:
        support.reply(session, acme.actor, str(number), "v0.3.1", reopen_days=7, now=back)
    with desk.session() as session:
        seen = support.view(session, agent.actor, str(number), now=back)
        assert seen.ticket.status == "open"
        resolution = seen.sla.latest(SlaTarget.RESOLUTION)
        assert resolution is not None
        assert resolution.due_at == back + 23 * HOUR
        assert seen.ticket.due_at == back + 2 * HOUR  # the next response comes first


def test_each_transition_follows_the_state_machine(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    ref = str(number)
    with desk.session() as session:
        with pytest.raises(InvalidRequestError):
            support.set_status(session, agent.actor, ref, "waiting", now=OPENED)
        with pytest.raises(InvalidRequestError):  # a customer may only solve
            support.set_status(session, acme.actor, ref, "pending", now=OPENED)
        for status in ("open", "pending", "open", "solved", "open", "closed"):
            support.set_status(session, agent.actor, ref, status, now=OPENED + HOUR)
        with pytest.raises(ConflictError):
            support.set_status(session, agent.actor, ref, "open", now=OPENED + HOUR)
        with pytest.raises(ConflictError):
            support.reply(session, acme.actor, ref, "still broken", reopen_days=7,
                          now=OPENED + 2 * HOUR)  # fmt: skip


def test_a_solved_ticket_reopens_on_a_reply_within_the_window_only(
    desk: Database, acme: Person, agent: Person
) -> None:
    first, second = open_one(desk, acme), open_one(desk, acme, subject="Slow")
    with desk.session() as session:
        for number in (first, second):
            support.set_status(session, agent.actor, str(number), "solved", now=OPENED)
    with desk.session() as session:
        support.reply(session, acme.actor, str(first), "It is back", reopen_days=7,
                      now=OPENED + 6 * 24 * HOUR)  # fmt: skip
        with pytest.raises(ConflictError):
            support.reply(session, acme.actor, str(second), "It is back", reopen_days=7,
                          now=OPENED + 8 * 24 * HOUR)  # fmt: skip
    with desk.session() as session:
        assert support.view(session, acme.actor, str(first), now=OPENED).ticket.status == "open"


def test_a_customer_may_solve_their_own_ticket(desk: Database, acme: Person) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        ticket = support.set_status(session, acme.actor, str(number), "solved", now=OPENED)
        assert ticket.status == "solved"
        assert ticket.solved_at == OPENED


def test_raising_severity_is_recorded_and_the_targets_follow(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme, severity=3)
    with desk.session() as session:
        support.set_severity(session, agent.actor, str(number), 1, reason="production down",
                             now=OPENED + HOUR / 2)  # fmt: skip
    with desk.session() as session:
        seen = support.view(session, acme.actor, str(number), now=OPENED + HOUR / 2)
        assert seen.ticket.severity == 1
        assert any(e.kind == "severity" and e.data == {"from": 3, "to": 1} for e in seen.events)
        assert seen.ticket.due_at == OPENED + HOUR


def test_bad_input_is_refused_with_a_reason(desk: Database, acme: Person) -> None:
    with desk.session() as session:
        for fields in (
            {"subject": "", "description": "x", "severity": 1},
            {"subject": "x" * 201, "description": "x", "severity": 1},
            {"subject": "ok", "description": "  ", "severity": 1},
            {"subject": "ok", "description": "x", "severity": 7},
            {"subject": "ok", "description": "x", "severity": "high"},
        ):
            with pytest.raises(InvalidRequestError):
                support.open_ticket(session, acme.actor, now=OPENED, **fields)


def test_an_agent_opens_a_ticket_for_a_customer(
    desk: Database, acme: Person, agent: Person
) -> None:
    with desk.session() as session:
        with pytest.raises(InvalidRequestError):
            support.open_ticket(session, agent.actor, subject="Call", description="By phone",
                                severity=2, now=OPENED)  # fmt: skip
        ticket = support.open_ticket(session, agent.actor, subject="Call", description="By phone",
                                     severity=2, organization=acme.organization_id, now=OPENED)  # fmt: skip
        assert ticket.organization_id == acme.organization_id
    with desk.session() as session:
        assert len(support.list_tickets(session, acme.actor)) == 1


def test_ticket_numbers_are_consecutive(desk: Database, acme: Person, globex: Person) -> None:
    numbers = [open_one(desk, acme), open_one(desk, globex), open_one(desk, acme)]
    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]


def test_an_agents_answer_mails_the_customer_a_link_to_the_ticket(
    desk: Database, acme: Person, agent: Person
) -> None:
    number = open_one(desk, acme)
    with desk.session() as session:
        support.reply(session, agent.actor, str(number), "Fixed.", reopen_days=7,
                      now=OPENED + HOUR / 2, public_url="https://desk.example/")  # fmt: skip
    with desk.session() as session:
        mail = outbox(session)[-1]
        assert mail.to == acme.email
        assert "Fixed." in mail.body
        assert f"https://desk.example/support/tickets/{number}\n" in mail.body


def test_agents_search_the_queue_and_list_solved_and_closed_tickets(
    desk: Database, acme: Person, globex: Person, agent: Person
) -> None:
    down = open_one(desk, acme, subject="Inference is down")
    odd = open_one(desk, acme, subject="Quota at 100% after 50_000 tokens")
    slow = open_one(desk, globex, subject="Slow answers")
    solved, closed = open_one(desk, globex, subject="Solved one"), open_one(desk, acme)
    with desk.session() as session:
        support.set_status(session, agent.actor, str(solved), "solved", now=OPENED + HOUR)
        support.set_status(session, agent.actor, str(closed), "closed", now=OPENED + HOUR)

    def found(status: str | None = None, search: str = "") -> list[int]:
        with desk.session() as session:
            items = support.queue(session, agent.actor, now=OPENED + HOUR, warn_before=HOUR,
                                  status=status, search=search)  # fmt: skip
            return sorted(item.ticket.number for item in items)

    assert found() == [down, odd, slow]  # the waiting ones
    assert found(status="solved") == [solved]
    assert found(status="closed") == [closed]
    assert found(status="all") == [down, odd, slow, solved, closed]
    assert found(search="IS DOWN") == [down]  # the subject, in any case
    assert found(search="answers 500") == [down, odd, slow]  # the description
    assert found(search=f"#{slow}") == [slow]
    assert found(search=str(slow)) == [slow]
    assert found(search="globex") == [slow]  # the customer's name
    assert found(search="globex", status="all") == [slow, solved]
    assert found(search="100%") == [odd]  # % and _ are letters, not wildcards
    assert found(search="0%") == [odd]
    assert found(search="%") == [odd]
    assert found(search="50_000") == [odd]
    assert found(search="_") == [odd]
    with desk.session() as session:
        with pytest.raises(PermissionDeniedError):
            support.queue(session, acme.actor, now=OPENED, warn_before=HOUR, search="down")
        with pytest.raises(InvalidRequestError):
            support.queue(session, agent.actor, now=OPENED, warn_before=HOUR, status="gone")
        with pytest.raises(InvalidRequestError):
            support.queue(session, agent.actor, now=OPENED, warn_before=HOUR, search="x" * 201)


def test_the_customers_an_agent_picks_from_are_every_customer_by_name(
    desk: Database, acme: Person, globex: Person, agent: Person
) -> None:
    with desk.session() as session:
        mine = [org.name for org in support.customers(session, agent.actor)]
        theirs = [org.name for org in support.customers(session, globex.actor)]
    assert mine == ["Acme", "Globex"]  # not the operator's own organisation
    assert theirs == ["Globex"]
