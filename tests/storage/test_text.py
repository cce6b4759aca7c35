"""Text as both databases hold it: a value longer than its column, or with a NUL character in
it, is a 400 naming the field before anything is written, on SQLite (which would keep it) and
PostgreSQL (which would refuse it with a 500) alike."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, text

from levante.errors import InvalidRequestError
from levante.storage import Database, fit, new_id, utcnow
from levante.storage.models import ApiKey, Organization, OutboundMail, Workspace


def test_fit_takes_what_the_column_holds_and_names_the_field() -> None:
    assert fit(Workspace.name, "w" * 200) == "w" * 200
    with pytest.raises(InvalidRequestError) as long:
        fit(Workspace.name, "w" * 201)
    assert (long.value.param, long.value.message) == (
        "name", "the name is at most 200 characters (201 given)",
    )  # fmt: skip
    with pytest.raises(InvalidRequestError) as nul:
        fit(ApiKey.display_prefix, "a\x00", param="prefix", label="key's prefix")
    assert (nul.value.param, nul.value.message) == (
        "prefix", "the key's prefix may not contain NUL characters",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("row", "param"),
    [
        (Organization(id=new_id("org"), name="n" * 201, slug="acme"), "name"),
        (Organization(id=new_id("org"), name="a\x00b", slug="acme"), "name"),
        (OutboundMail(to="a@b.example", subject="s", body="a\x00b", created_at=utcnow()), "body"),
    ],
)
def test_a_flush_refuses_text_no_column_can_hold(
    database: Database, row: object, param: str
) -> None:
    with database.session() as session:
        session.add(row)
        with pytest.raises(InvalidRequestError) as refused:
            session.flush()
        session.rollback()
    assert refused.value.param == param
    with database.session() as session:  # the transaction wrote nothing
        assert session.scalar(select(func.count()).select_from(Organization)) == 0
        assert session.scalar(select(func.count()).select_from(OutboundMail)) == 0


def test_a_change_is_checked_and_an_old_long_value_stays_usable(database: Database) -> None:
    with database.session() as session:
        org = Organization(id=new_id("org"), name="Acme", slug="acme")
        session.add(org)
    with database.session() as session:
        session.get_one(Organization, org.id).name = "n" * 201
        with pytest.raises(InvalidRequestError):
            session.flush()
        session.rollback()
    if database.engine.dialect.name == "sqlite":  # only SQLite can hold what was kept before
        with database.engine.begin() as connection:
            connection.execute(text("UPDATE organizations SET name = :n"), {"n": "n" * 300})
        with database.session() as session:
            session.get_one(Organization, org.id).slug = "acme-2"  # the name is not touched
        with database.session() as session:
            assert session.get_one(Organization, org.id).slug == "acme-2"
