"""Escalation before and at breach: raised once, mailed, and sent as a signed webhook to a
real HTTP endpoint on loopback."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest
from sqlalchemy import select

from levante import support
from levante.mail import outbox
from levante.mail.webhooks import SIGNATURE_HEADER, verify
from levante.settings import SupportSettings
from levante.storage import Database, utcnow
from levante.storage.models import TicketEvent, WebhookDelivery
from levante.support.escalation import escalate, run_desk
from tests.support.conftest import Person, add_customer, utc

OPENED = utc(2026, 12, 2, 10)
SECRET = "whsec_support_test"


class Receiver(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, str]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        self.received.append((body, self.headers.get(SIGNATURE_HEADER, "")))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Receiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hooks"
    server.shutdown()


def test_a_warning_before_and_a_breach_at_the_target_each_raised_once(
    desk: Database, agent: Person, endpoint: str
) -> None:
    acme = add_customer(desk, "Acme", "support-premium", since=utc(2026, 11, 1))
    with desk.session() as session:
        ticket = support.open_ticket(session, acme.actor, subject="Down", description="500s",
                                     severity=1, now=OPENED)  # fmt: skip
        number = ticket.number
    settings = SupportSettings(
        escalate_before_minutes=30, notify_email="desk@levante.example",
        webhook_url=endpoint, webhook_secret=SECRET,
    )  # fmt: skip
    due = OPENED + timedelta(hours=1)
    with desk.session() as session:
        assert escalate(session, settings, due - timedelta(minutes=31)) == []
    with desk.session() as session:
        [warning] = escalate(session, settings, due - timedelta(minutes=30))
        assert warning.level == "warning"
        assert warning.timer.target == "first_response"
    with desk.session() as session:
        assert escalate(session, settings, due - timedelta(minutes=1)) == []
    with desk.session() as session:
        [breach] = escalate(session, settings, due)
        assert breach.level == "breach"
    with desk.session() as session:
        assert escalate(session, settings, due + timedelta(minutes=5)) == []
        kinds = session.scalars(
            select(TicketEvent.data).where(TicketEvent.kind == "escalation")
        ).all()
        assert [k["level"] for k in kinds if k] == ["warning", "breach"]
        mails = outbox(session)
        assert [m.to for m in mails] == ["desk@levante.example"] * 2
        assert f"[#{number}] SLA breach" in mails[1].subject
    assert run_desk(desk, settings, due + timedelta(minutes=6)) == 0
    assert len(Receiver.received) == 2
    for body, signature in Receiver.received:
        assert verify(SECRET, body, signature, now=utcnow())
        assert not verify("another secret", body, signature, now=utcnow())
    with desk.session() as session:
        rows = session.scalars(select(WebhookDelivery)).all()
        assert all(r.delivered_at is not None for r in rows)


def test_an_answer_before_the_target_raises_no_breach(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", "support-premium", since=utc(2026, 11, 1))
    with desk.session() as session:
        ticket = support.open_ticket(session, acme.actor, subject="Down", description="500s",
                                     severity=1, now=OPENED)  # fmt: skip
        support.reply(session, agent.actor, str(ticket.number), "On it", reopen_days=7,
                      now=OPENED + timedelta(minutes=10))  # fmt: skip
    settings = SupportSettings()
    with desk.session() as session:
        raised = escalate(session, settings, OPENED + timedelta(hours=2))
        assert all(e.timer.target != "first_response" for e in raised)


def test_long_solved_tickets_are_closed(desk: Database, agent: Person) -> None:
    acme = add_customer(desk, "Acme", None, since=utc(2026, 11, 1))
    with desk.session() as session:
        ticket = support.open_ticket(session, acme.actor, subject="Q", description="How?",
                                     severity=4, now=OPENED)  # fmt: skip
        support.set_status(session, agent.actor, str(ticket.number), "solved", now=OPENED)
        number = ticket.number
    run_desk(desk, SupportSettings(reopen_days=7), OPENED + timedelta(days=8))
    with desk.session() as session:
        assert support.view(session, acme.actor, str(number), now=OPENED).ticket.status == "closed"
