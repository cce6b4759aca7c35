"""Support fixtures: the catalogue and calendars, the operator's organisation with an agent,
and customers with a person each, on a real database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from levante import billing, support
from levante.audit import Actor
from levante.identity.passwords import hash_password
from levante.storage import Database, new_id
from levante.storage.models import Membership, Organization, Role, User
from levante.tenancy import create_organization


@dataclass(frozen=True)
class Person:
    user_id: str
    email: str
    organization_id: str
    role: Role = Role.MEMBER

    @property
    def actor(self) -> Actor:
        return Actor.user(self.organization_id, self.user_id, self.role)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def add_person(database: Database, organization_id: str, email: str, role: Role) -> Person:
    with database.session() as session:
        user = User(id=new_id("user"), email=email, name=email.split("@")[0].title(),
                    password_hash=hash_password("correct horse battery"))  # fmt: skip
        session.add(user)
        session.flush()
        session.add(Membership(user_id=user.id, organization_id=organization_id, role=role))
        return Person(user.id, email, organization_id, role)


def add_customer(
    database: Database, name: str, plan: str | None, *, since: datetime, currency: str = "EUR"
) -> Person:
    with database.session() as session:
        org = create_organization(session, name)
        org_id = org.id
        billing.ensure_account(session, org_id, currency)
        if plan is not None:
            billing.subscribe(session, org_id, plan, now=since, default_currency=currency,
                              actor=Actor.command_line())  # fmt: skip
    return add_person(database, org_id, f"it@{name.lower()}.example", Role.OWNER)


@pytest.fixture
def desk(database: Database) -> Database:
    with database.session() as session:
        billing.ensure_catalog(session)
        support.ensure_calendars(session)
    return database


@pytest.fixture
def agent(desk: Database) -> Person:
    with desk.session() as session:
        operator = create_organization(session, "Levante Ops", "ops")
        session.get_one(Organization, operator.id).is_operator = True
        operator_id = operator.id
    return add_person(desk, operator_id, "agent@levante.example", Role.SUPPORT)
