"""``levante simulate``: a small company from the command line, after the operator's
organisation, with an owner to sign up as; a database with customers is refused."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from levante.storage import Database
from levante.storage.models import Membership, Organization, User
from tests.cli.runner import fails, ok


@pytest.fixture(autouse=True)
def _use_test_database(
    monkeypatch: pytest.MonkeyPatch, database_url: str, tmp_path: object
) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")


def test_a_small_company_and_its_operator(database: Database) -> None:
    out = ok("simulate", "--scale", "0.01", "--operator-email", "boss@levante.example")
    assert "a model of demand" in out
    assert "usage records" in out
    assert "/password/reset/pwr-" in out  # the owner's link to choose a password
    with database.session() as session:
        operator = session.scalars(select(Organization).where(Organization.is_operator)).one()
        boss = session.scalars(select(User).where(User.email == "boss@levante.example")).one()
        role = session.get(Membership, (boss.id, operator.id))
        assert role is not None
        assert role.role == "owner"
    assert ok("revenue", "--csv").startswith("month,stream,mrr")
    fails("simulate", "--scale", "0.01", message="fresh")
    assert "[api]" in ok("simulate", "--show-scenario")
