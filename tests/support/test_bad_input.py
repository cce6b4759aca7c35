"""Ticket references and attachments the desk refuses, on both databases alike: a number
past what the column holds or written in other digits is simply not a ticket (404, never a
500), and an attachment refused for its content type leaves no file behind."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from levante import support
from levante.errors import InvalidRequestError, NotFoundError
from levante.storage import Database
from tests.support.conftest import Person, add_customer, utc


@pytest.fixture
def acme(desk: Database) -> Person:
    return add_customer(desk, "Acme", "support-premium", since=utc(2026, 1, 1))


@pytest.mark.parametrize(
    "ref", ["99999999999999999", "#2147483648", "²", "\u0661\u0660\u0660\u0661x", "1\u00b9"]
)
def test_a_number_no_ticket_can_have_is_not_found(desk: Database, acme: Person, ref: str) -> None:
    with desk.session() as session, pytest.raises(NotFoundError):
        support.view(session, acme.actor, ref, now=utc(2026, 3, 2))
    with desk.session() as session, pytest.raises(NotFoundError):
        support.ticket_place(session, acme.user_id, ref)


def test_an_over_long_content_type_is_refused_before_the_file_is_written(
    desk: Database, acme: Person, tmp_path: Path
) -> None:
    now = utc(2026, 3, 2, 10)
    with desk.session() as session:
        ticket = support.open_ticket(session, acme.actor, subject="Down", description="d",
                                     severity="3", now=now)  # fmt: skip
        number = ticket.number
    with desk.session() as session, pytest.raises(InvalidRequestError) as refused:
        support.attach(
            session, acme.actor, str(number), filename="notes.txt",
            content_type="application/" + "x" * 100, stream=io.BytesIO(b"hello"),
            root=tmp_path / "attachments", max_bytes=1024, now=now,
        )  # fmt: skip
    assert refused.value.param == "file"
    assert "content type is at most 100 characters" in refused.value.message
    assert not [p for p in (tmp_path / "attachments").rglob("*") if p.is_file()]
