"""Two requests that make the same thing at the same moment: the loser gets a 409 it can act
on, never a 500 with a traceback (probe: three tabs confirming one sign-up, five top-ups of an
organisation without a billing account, one idempotency key sent five times at once)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy.exc import IntegrityError

from levante.errors import ConflictError
from levante.storage import Database
from levante.storage.models import UsageRecord, User
from tests.helpers import make_tenant


def test_a_key_taken_meanwhile_is_a_conflict(database: Database) -> None:
    with database.session() as session:
        session.add(User(id="user_a", email="same@example.com", name=""))
    with pytest.raises(ConflictError) as raised, database.session() as session:
        session.add(User(id="user_b", email="same@example.com", name=""))
    assert raised.value.status_code == 409
    assert isinstance(raised.value.__cause__, IntegrityError)


def test_a_broken_check_stays_a_bug(database: Database) -> None:
    """A check constraint failing means the code let bad data through: not the caller's to
    retry."""
    org = make_tenant(database, "Checks").organization_id
    when = datetime(2026, 10, 5, tzinfo=UTC)
    with pytest.raises(IntegrityError), database.session() as session:
        session.add(UsageRecord(
            request_id="negative", organization_id=org, endpoint="x", model="m",
            status="completed", duration_ms=0, started_at=when, finished_at=when,
            usage_date=when.date(), prompt_tokens=-1, completion_tokens=1, cached_tokens=0,
        ))  # fmt: skip
