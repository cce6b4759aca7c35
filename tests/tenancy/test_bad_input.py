"""Names and expiries the tenancy services refuse, on both databases alike: a name longer
than its column (200 characters) names the field; an expiry further than ten years ahead, or
a time UTC cannot hold, is a 400 rather than a key no date arithmetic can use."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from levante.errors import InvalidRequestError
from levante.storage import Database, utcnow
from levante.tenancy.records import create_api_key, create_organization, create_workspace


def test_names_are_at_most_200_characters(database: Database) -> None:
    with database.session() as session:
        org = create_organization(session, "o" * 200)
        create_workspace(session, org.id, "w" * 200)
        create_api_key(session, org.id, "k" * 200)
        for make in (
            lambda: create_organization(session, "o" * 201),
            lambda: create_workspace(session, org.id, "w" * 201),
            lambda: create_api_key(session, org.id, "k" * 201),
            lambda: create_api_key(session, org.id, "k\x00"),
        ):
            with pytest.raises(InvalidRequestError) as refused:
                make()
            assert refused.value.param == "name"


@pytest.mark.parametrize(
    "expires_at",
    [
        datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),  # past UTC's end
        datetime(9999, 12, 31, tzinfo=UTC),
        utcnow() + timedelta(days=3660),
    ],
)
def test_an_expiry_is_at_most_ten_years_ahead(database: Database, expires_at: datetime) -> None:
    with database.session() as session:
        org = create_organization(session, "Acme")
        with pytest.raises(InvalidRequestError) as refused:
            create_api_key(session, org.id, "k", expires_at=expires_at)
        assert refused.value.param == "expires_at"
        kept = create_api_key(session, org.id, "k", expires_at=utcnow() + timedelta(days=3640))
        assert kept.key.expires_at is not None
