"""The one table of roles and permissions, walked against the services that check it, and
written out as docs/permissions.md (``.venv/bin/python -m tests.tenancy.test_permissions``
rewrites it)."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from levante import billing, metering, quota, support, tenancy
from levante.audit import Actor
from levante.engine import ModelNames
from levante.errors import NotFoundError, PermissionDeniedError
from levante.settings import BillingSettings
from levante.storage import Database, new_id
from levante.storage.models import Membership, Organization, Role, User
from levante.support.desk import desk_of
from levante.tenancy.permissions import ADMIN_KEY, PLAIN_KEY, granted, refusal
from levante.vocabulary import Permission

DOC = Path(__file__).parents[2] / "docs" / "permissions.md"
START, END = "<!-- permissions:start -->", "<!-- permissions:end -->"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)


def render_table() -> str:
    """The table as docs/permissions.md shows it."""
    admin_key, plain_key = Actor.api_key("", "", admin=True), Actor.api_key("", "")
    columns = [
        *((f"{r}", granted(Actor.user("", "", r), operator_organization=False)) for r in Role),
        *(
            (f"operator's {r}", granted(Actor.user("", "", r), operator_organization=True))
            for r in Role
        ),
        ("admin key", granted(admin_key, operator_organization=False)),
        ("operator's admin key", granted(admin_key, operator_organization=True)),
        ("other key", granted(plain_key, operator_organization=False)),
    ]
    lines = [
        START,
        "<!-- generated from levante/tenancy/permissions.py by tests/tenancy/test_permissions.py;"
        " run `.venv/bin/python -m tests.tenancy.test_permissions` to update -->",
        "",
        "| permission | " + " | ".join(name for name, _ in columns) + " | refused with |",
        "|---|" + "---|" * len(columns) + "---|",
    ]
    for permission in Permission:
        marks = " | ".join("yes" if permission in allowed else "" for _, allowed in columns)
        lines.append(f"| `{permission}` | {marks} | {refusal(permission)} |")
    lines.append(END)
    return "\n".join(lines)


def test_docs_permissions_shows_the_table_of_today() -> None:
    text = DOC.read_text()
    shown = text[text.index(START) : text.index(END) + len(END)]
    assert shown == render_table(), (
        "docs/permissions.md is out of date: run .venv/bin/python -m tests.tenancy.test_permissions"
    )


def test_the_command_line_may_do_everything_and_nobody_else_by_default() -> None:
    assert granted(Actor.command_line(), operator_organization=False) == frozenset(Permission)
    assert granted(Actor.user("org", "user"), operator_organization=True) == frozenset()
    assert Permission.OPERATE not in granted(
        Actor.user("org", "user", Role.OWNER), operator_organization=False
    )


# -- the walk: each permission tried through a service that needs it -----------------------------


@dataclass(frozen=True)
class World:
    customer: str
    operator: str
    key_id: str


def _person(session: Session, organization_id: str, role: Role) -> str:
    user = User(id=new_id("user"), email=f"{new_id('p')}@example.com", name="")
    session.add(user)
    session.flush()
    session.add(Membership(user_id=user.id, organization_id=organization_id, role=role))
    session.flush()
    return user.id


@pytest.fixture
def world(database: Database) -> World:
    with database.session() as session:
        billing.ensure_catalog(session)
        support.ensure_calendars(session)
        customer = tenancy.create_organization(session, "Acme")
        operator = tenancy.create_organization(session, "Ops")
        session.get_one(Organization, operator.id).is_operator = True
        for org in (customer, operator):
            billing.ensure_account(session, org.id, "EUR")
        key = tenancy.create_api_key(session, customer.id, "ci")
        return World(customer.id, operator.id, key.key.id)


Attempt = Callable[[Session, Actor, str], object]


def _console(session: Session, actor: Actor, org: str) -> object:
    user = actor.label.removeprefix("user:")
    return tenancy.console_seat(session, user, org)


def _open_ticket(session: Session, actor: Actor, org: str) -> object:
    """A ticket of one's own organisation, as a customer (agents open them for customers,
    under ``work_tickets``)."""
    if desk_of(session, actor).agent:
        raise PermissionDeniedError("an agent, not a customer")
    return support.open_ticket(
        session, actor, subject="walk", description="walk", severity=4, now=NOW
    )


ATTEMPTS: dict[Permission, Attempt] = {
    Permission.OPEN_CONSOLE: _console,
    Permission.READ_USAGE: lambda s, a, _: metering.usage_summary(
        s, a, start=NOW.date(), end=NOW.date(), default_currency="EUR"
    ),
    Permission.MANAGE_KEYS: lambda s, a, _: tenancy.create_key(
        s, a, name="walk", models=ModelNames([])
    ),
    Permission.CHANGE_LIMITS: lambda s, a, _: quota.change_spend_limit(
        s, a, monthly_limit="10", default_currency="EUR"
    ),
    Permission.MANAGE_MEMBERS: lambda s, a, _: tenancy.add_member(
        s, a, email="walk@example.com", role=Role.MEMBER, public_url="http://x"
    ),
    Permission.MANAGE_OWNERS: lambda s, a, _: tenancy.add_member(
        s, a, email="walk-owner@example.com", role=Role.OWNER, public_url="http://x"
    ),
    Permission.BUY: lambda s, a, _: billing.buy_credits(
        s, a, amount="20", settings=BillingSettings(), default_currency="EUR"
    ),
    Permission.READ_INVOICES: lambda s, a, _: billing.invoices_of(s, a),
    Permission.READ_AUDIT: lambda s, a, _: tenancy.audit_log(s, a),
    Permission.USE_SUPPORT: _open_ticket,
    Permission.WORK_TICKETS: lambda s, a, _: support.queue(s, a, now=NOW, warn_before=NOW - NOW),
    Permission.OPERATE: lambda s, a, _: tenancy.list_organizations(s, a),
    Permission.USE_ADMIN_API: lambda s, a, _: tenancy.require_granted(a, Permission.USE_ADMIN_API),
}
PEOPLE_ONLY = {Permission.OPEN_CONSOLE}
KEYS_ONLY = {Permission.USE_ADMIN_API}


def _refused(database: Database, attempt: Attempt, actor: Actor, org: str) -> bool:
    with database.session() as session:
        nested = session.begin_nested()
        try:
            attempt(session, actor, org)
        except (PermissionDeniedError, NotFoundError):
            return True
        finally:
            nested.rollback()
    return False


@pytest.mark.parametrize("where", ["customer", "operator"])
@pytest.mark.parametrize("role", list(Role))
def test_each_role_gets_exactly_what_the_table_says(
    database: Database, world: World, role: Role, where: str
) -> None:
    org = world.customer if where == "customer" else world.operator
    with database.session() as session:
        actor = Actor.user(org, _person(session, org, role), role)
    allowed = granted(actor, operator_organization=where == "operator")
    for permission, attempt in ATTEMPTS.items():
        if permission in KEYS_ONLY:
            continue
        refused = _refused(database, attempt, actor, org)
        assert refused is (permission not in allowed), (role, where, permission)


@pytest.mark.parametrize("admin", [True, False])
def test_keys_get_exactly_what_the_table_says(
    database: Database, world: World, admin: bool
) -> None:
    actor = Actor.api_key(world.customer, world.key_id, admin=admin)
    allowed = ADMIN_KEY if admin else PLAIN_KEY
    for permission, attempt in ATTEMPTS.items():
        if permission in PEOPLE_ONLY:
            continue
        refused = _refused(database, attempt, actor, world.customer)
        assert refused is (permission not in allowed), (admin, permission)


def test_an_agent_reaches_tickets_but_not_a_customers_keys(
    database: Database, world: World
) -> None:
    with database.session() as session:
        agent = Actor.user(world.operator, _person(session, world.operator, Role.SUPPORT),
                           Role.SUPPORT)  # fmt: skip
        operator = Actor.user(world.operator, _person(session, world.operator, Role.OWNER),
                              Role.OWNER)  # fmt: skip
    with database.session() as session:
        assert tenancy.sees_all(session, agent)
        with pytest.raises(PermissionDeniedError):
            tenancy.create_key(session, agent, world.customer, name="x", models=ModelNames([]))
        with pytest.raises(PermissionDeniedError):
            billing.invoices_of(session, agent, world.customer)
        tenancy.create_key(session, operator, world.customer, name="x", models=ModelNames([]))


def main() -> None:
    """Rewrite the table in docs/permissions.md."""
    text = DOC.read_text()
    DOC.write_text(text[: text.index(START)] + render_table() + text[text.index(END) + len(END) :])


if __name__ == "__main__":
    main()
    print(re.sub(r"\s+", " ", f"updated {DOC}"))
