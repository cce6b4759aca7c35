"""Queued mail goes out through a real SMTP server, once, and waits while the server is down."""

from __future__ import annotations

from collections.abc import Iterator
from email import message_from_bytes
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from levante.mail import deliver, outbox, queue_mail
from levante.settings import MailSettings
from levante.storage import Database, utcnow
from tests.helpers import free_port


class Inbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.content))
        return "250 OK"


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


def test_queued_mail_is_sent_once(database: Database, smtp: tuple[Inbox, int]) -> None:
    inbox, port = smtp
    settings = MailSettings(smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False,
                            sender="Levante <chat@example.com>")  # fmt: skip
    with database.session() as session:
        queue_mail(
            session, "ana@example.com", "Reset your password", "Open the link.", now=utcnow()
        )
        queue_mail(session, "ben@example.com", "Join the team", "Open the link.", now=utcnow())
    assert deliver(database, settings) == 2
    assert deliver(database, settings) == 0  # nothing is sent twice
    assert [(m["To"], m["Subject"]) for m in inbox.messages] == [
        ("ana@example.com", "Reset your password"),
        ("ben@example.com", "Join the team"),
    ]
    assert inbox.messages[0]["From"] == "Levante <chat@example.com>"
    with database.session() as session:
        assert outbox(session) == []


def test_mail_waits_in_the_outbox_while_the_server_is_down(database: Database) -> None:
    down = MailSettings(smtp_host="127.0.0.1", smtp_port=free_port(), smtp_starttls=False)
    with database.session() as session:
        queue_mail(session, "ana@example.com", "Hello", "Text.", now=utcnow())
    assert deliver(database, down) == 0
    with database.session() as session:
        assert [m.to for m in outbox(session)] == ["ana@example.com"]
    assert deliver(database, MailSettings()) == 0  # no server configured: the outbox keeps it
