"""The domain's words are CHECK constraints: the database refuses a status, kind, role,
product or currency Levante does not know, whoever writes it; migration 0007 adds them to an
existing database without losing a row."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from levante import billing
from levante.audit import Actor
from levante.billing.catalog import DEFAULT_PLANS
from levante.errors import ConfigurationError
from levante.storage import Database, upgrade, utcnow
from levante.storage.models import Charge, Plan, PlanPrice, Subscription
from levante.tenancy.records import add_member
from levante.vocabulary import Role
from tests.helpers import make_tenant


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE plans SET interval = 'week'",
        "UPDATE plans SET product = 'crypto'",
        "UPDATE plan_prices SET currency = 'GBP'",
        "UPDATE memberships SET role = 'root'",
    ],
)
def test_the_database_refuses_unknown_words(database: Database, statement: str) -> None:
    tenant = make_tenant(database, "Acme")
    with database.session() as session:
        billing.ensure_catalog(session)
        add_member(session, tenant.organization_id, "ana@acme.test", Role.ADMIN)
    with pytest.raises(IntegrityError), database.engine.begin() as connection:
        connection.execute(text(statement))


def _subscribed(db: Database) -> str:
    org = make_tenant(db, "Carl GmbH").organization_id
    renewing = [p for p in DEFAULT_PLANS if p.interval != "once"]  # all 0006 knew
    with db.session() as session:
        billing.ensure_catalog(session, renewing)
        billing.subscribe(
            session, org, "support-premium", now=utcnow(), default_currency="EUR",
            actor=Actor("test"),
        )  # fmt: skip
    return org


def test_migration_0007_keeps_every_row_and_the_foreign_keys(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0006")
    _subscribed(db)  # plans, plan prices, a subscription and its charge, all referring

    def counts() -> list[int]:
        with db.session() as session:
            return [
                session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Plan, PlanPrice, Subscription, Charge)
            ]

    before = counts()
    upgrade(db.engine)
    assert counts() == before
    assert min(before) > 0
    with db.engine.connect() as connection:  # a fresh connection enforces foreign keys
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(text("UPDATE subscriptions SET plan_id = 'plan_gone'"))
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(text("UPDATE subscriptions SET status = 'paused'"))
    db.dispose()


def test_migration_0007_names_the_values_it_cannot_keep(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0006")
    with db.engine.begin() as connection:
        connection.execute(text(
            "INSERT INTO prices (id, model, currency, input_nanos, cached_input_nanos,"
            " output_nanos, batch_discount_percent, effective_from, created_at) VALUES"
            " ('price_gbp', 'm', 'GBP', 1, 0, 1, 0, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        ))  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"prices\.currency = 'GBP'"):
        upgrade(db.engine)
    db.dispose()


def test_migration_0010_keeps_every_row_and_knows_the_plans_bought_once(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(db.engine, "0009")
    _subscribed(db)
    with db.session() as session:
        before = [session.scalar(select(func.count()).select_from(m)) for m in (Plan, Charge)]
    upgrade(db.engine)
    with db.session() as session:
        after = [session.scalar(select(func.count()).select_from(m)) for m in (Plan, Charge)]
        assert after == before
        assert billing.ensure_catalog(session) == 2  # the two consulting packs
    with pytest.raises(IntegrityError), db.engine.begin() as connection:
        connection.execute(text("UPDATE charges SET kind = 'gift'"))
    db.dispose()
