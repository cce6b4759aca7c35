"""The one table of roles and permissions, walked against the services that check it, and
written out as docs/permissions.md (``.venv/bin/python -m tests.tenancy.test_permissions``
rewrites it)."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from levante import (
    audit,
    billing,
    chat,
    guardrails,
    identity,
    licensing,
    metering,
    pricing,
    quota,
    revenue,
    support,
    tenancy,
)
from levante.audit import Actor
from levante.engine import ModelNames
from levante.errors import LevanteError, NotFoundError, PermissionDeniedError
from levante.settings import BillingSettings, RevenueSettings, TierSettings
from levante.storage import Database, new_id
from levante.storage.models import Membership, Organization, Role, User
from levante.support.desk import desk_of
from levante.tenancy.permissions import ADMIN_KEY, PLAIN_KEY, granted, refusal
from levante.vocabulary import Permission

DOC = Path(__file__).parents[2] / "docs" / "permissions.md"
START, END = "<!-- permissions:start -->", "<!-- permissions:end -->"
NOW = datetime(2026, 12, 7, 12, tzinfo=UTC)
CLI = Actor.command_line()


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


# -- every service: each one an actor calls, tried by every role ----------------------------------
#
# The walk above tries one service per permission; this one tries every other exported
# service that takes an actor, with arguments good enough to get past the check: a service is
# refused when it raises PermissionDeniedError, let through when it does anything else (a
# "not found" for a made-up reference, a bad-request, or success). A new exported service that
# takes an actor must be added here, or to DECIDED_BY_THE_OBJECT with the test that walks it.

TIERS = (TierSettings(name="free"),)
PAYING = BillingSettings()

SERVICES: dict[Callable[..., object], tuple[Permission, Attempt]] = {
    billing.account_of: (Permission.READ_INVOICES, lambda s, a, _: billing.account_of(s, a, default_currency="EUR")),
    billing.edit_account: (Permission.BUY, lambda s, a, _: billing.edit_account(
        s, a, change=billing.AccountChange(legal_name="Acme SAS"), default_currency="EUR")),
    billing.subscriptions_of: (Permission.READ_INVOICES, lambda s, a, _: billing.subscriptions_of(s, a)),
    billing.start_subscription: (Permission.BUY, lambda s, a, _: billing.start_subscription(
        s, a, plan="support-premium", settings=PAYING, default_currency="EUR")),
    billing.invoice_page: (Permission.READ_INVOICES, lambda s, a, _: billing.invoice_page(s, a)),
    billing.wallet_of: (Permission.READ_INVOICES, lambda s, a, _: billing.wallet_of(s, a, default_currency="EUR")),
    billing.give_credits: (Permission.OPERATE, lambda s, a, org: billing.give_credits(
        s, a, org, amount="5", default_currency="EUR")),
    billing.price_plan: (Permission.OPERATE, lambda s, a, _: billing.price_plan(
        s, a, "support-premium", currency="EUR", amount="10")),
    billing.plan_catalog: (Permission.OPERATE, lambda s, a, _: billing.plan_catalog(s, a)),
    billing.find_customers: (Permission.OPERATE, lambda s, a, _: billing.find_customers(s, a, "ac")),
    billing.record_transfer: (Permission.OPERATE, lambda s, a, _: billing.record_transfer(
        s, a, "INV-NONE", reference="x")),
    billing.void: (Permission.OPERATE, lambda s, a, _: billing.void(s, a, "INV-NONE")),
    metering.deployment_usage: (Permission.OPERATE, lambda s, a, _: metering.deployment_usage(s, a)),
    metering.gateways: (Permission.OPERATE, lambda s, a, _: metering.gateways(
        s, a, heartbeat_seconds=10, now=NOW)),
    quota.spend_limits: (Permission.READ_USAGE, lambda s, a, _: quota.spend_limits(s, a, default_currency="EUR")),
    quota.tier_standing: (Permission.READ_USAGE, lambda s, a, _: quota.tier_standing(
        s, a, tiers=TIERS)),
    quota.pin_tier: (Permission.OPERATE, lambda s, a, org: quota.pin_tier(
        s, a, org, tier="free", tiers=TIERS)),
    quota.record_paid_spend: (Permission.OPERATE, lambda s, a, org: quota.record_paid_spend(
        s, a, org, amount="5", currency=None, tiers=TIERS, default_currency="EUR")),
    revenue.list_rates: (Permission.OPERATE, lambda s, a, _: revenue.list_rates(s, a)),
    revenue.report: (Permission.OPERATE, lambda s, a, _: revenue.report(
        s, a, RevenueSettings(), now=NOW)),
    revenue.set_rate: (Permission.OPERATE, lambda s, a, _: revenue.set_rate(
        s, a, base="EUR", quote="USD", rate="1.1", effective_on=NOW.date())),
    licensing.licenses_of: (Permission.READ_INVOICES, lambda s, a, _: licensing.licenses_of(s, a)),
    licensing.held: (Permission.OPERATE, lambda s, a, _: licensing.held(s, a)),
    licensing.import_report: (Permission.OPERATE, lambda s, a, _: licensing.import_report(
        s, a, "not a report")),
    chat.chat_users: (Permission.OPERATE, lambda s, a, _: chat.chat_users(s, a, now=NOW)),
    chat.set_plan: (Permission.OPERATE, lambda s, a, _: chat.set_plan(
        s, a, "nobody@example.com", "chat-pro", settings=BillingSettings(), currency="EUR")),
    guardrails.policy_of: (Permission.READ_USAGE, lambda s, a, _: guardrails.policy_of(s, a)),
    guardrails.set_policy: (Permission.CHANGE_LIMITS, lambda s, a, org: guardrails.set_policy(
        s, a, org, rules={}, thresholds=None, now=NOW)),
    support.buy_pack: (Permission.BUY, lambda s, a, _: support.buy_pack(
        s, a, "support-hours-10", now=NOW, settings=PAYING, default_currency="EUR")),
    support.hours_of: (Permission.USE_SUPPORT, lambda s, a, _: support.hours_of(s, a, now=NOW)),
    support.list_calendars: (Permission.OPERATE, lambda s, a, _: support.list_calendars(s, a)),
    support.set_calendar: (Permission.OPERATE, lambda s, a, _: support.set_calendar(
        s, a, "walk", {"timezone": "UTC"})),
    support.set_policy: (Permission.OPERATE, lambda s, a, _: support.set_policy(
        s, a, "support-premium")),
    tenancy.add_workspace: (Permission.MANAGE_KEYS, lambda s, a, _: tenancy.add_workspace(
        s, a, name="walk")),
    tenancy.list_keys: (Permission.READ_USAGE, lambda s, a, _: tenancy.list_keys(
        s, a, include_revoked=False)),
    tenancy.revoke_key: (Permission.MANAGE_KEYS, lambda s, a, _: tenancy.revoke_key(
        s, a, key_id="key_none")),
    tenancy.workspaces_of: (Permission.READ_USAGE, lambda s, a, _: tenancy.workspaces_of(s, a)),
    tenancy.audit_trail: (Permission.READ_AUDIT, lambda s, a, _: tenancy.audit_trail(s, a)),
    tenancy.keys_last_used: (Permission.READ_USAGE, lambda s, a, _: tenancy.keys_last_used(s, a)),
    tenancy.members: (Permission.READ_USAGE, lambda s, a, _: tenancy.members(s, a)),
    tenancy.remove_member: (Permission.MANAGE_MEMBERS, lambda s, a, _: tenancy.remove_member(
        s, a, user_id="user_none")),
    tenancy.open_organization: (Permission.OPERATE, lambda s, a, _: tenancy.open_organization(
        s, a, name="Walk")),
}  # fmt: skip

# Services whose answer depends on the object named, not on a role alone: each is walked by
# the tests named here (a ticket's own organisation and the desk; a licence's holder and the
# operator; an invoice's organisation).
DECIDED_BY_THE_OBJECT = {
    "support": {"add_note", "assign", "attach", "log_time", "open_attachment", "reply",
                "set_severity", "set_status", "view", "may_buy", "pack_invoice",
                "monthly_report", "customers"},  # tests/support
    "licensing": {"accept_held", "activations_of", "bind_key", "issue", "license_of", "release",
                  "reject_held", "renew", "revoke", "revoke_key", "site_keys_of"},  # tests/licensing
    "billing": {"invoice_of", "invoice_period", "cancel_subscription", "change_subscription",
                "resume_subscription", "pay_invoice"},  # tests/billing
    "audit": {"record"},  # writes the log; checks nothing
}  # fmt: skip
# What only the command line does (making an account without a sign-up, setting someone's
# password, accepting an invitation for its recipient):
# test_only_the_command_line_makes_accounts_and_sets_passwords.
COMMAND_LINE_ONLY = {"create_account", "set_password", "accept_on_behalf"}
# The checks themselves, and services that take an actor only to record who did it.
CHECKS = {"acting_on", "listing_scope", "may", "require", "require_granted", "require_operator",
          "sees_all", "import_usage", "add_paid_spend", "bind_site_key", "issue_license",
          "create_price", "subscribe", "cancel", "change", "update_account", "record_payment"}  # fmt: skip


def _refused_by_its_check(database: Database, attempt: Attempt, actor: Actor, org: str) -> bool:
    with database.session() as session:
        nested = session.begin_nested()
        try:
            attempt(session, actor, org)
        except PermissionDeniedError:
            return True
        except LevanteError:
            return False
        finally:
            nested.rollback()
    return False


def test_every_service_that_takes_an_actor_is_walked() -> None:
    walked = {f for f in SERVICES} | {f for f in (
        metering.usage_summary, tenancy.create_key, quota.change_spend_limit, tenancy.add_member,
        billing.buy_credits, billing.invoices_of, tenancy.audit_log, support.open_ticket,
        support.queue, tenancy.list_organizations, support.list_tickets, pricing.add_price,
    )}  # fmt: skip
    missing = []
    for package in (audit, billing, chat, guardrails, identity, licensing, metering, pricing,
                    quota, revenue, support, tenancy):  # fmt: skip
        short = package.__name__.rsplit(".", 1)[1]
        for name in package.__all__:
            service = getattr(package, name)
            if not inspect.isfunction(service) or service in walked:
                continue
            if "actor" not in inspect.signature(service).parameters:
                continue
            if name in CHECKS | COMMAND_LINE_ONLY or name in DECIDED_BY_THE_OBJECT.get(
                short, set()
            ):
                continue
            missing.append(f"{short}.{name}")
    assert not missing, missing


@pytest.mark.parametrize("where", ["customer", "operator"])
@pytest.mark.parametrize("role", list(Role))
def test_every_service_refuses_exactly_whom_the_table_refuses(
    database: Database, world: World, role: Role, where: str
) -> None:
    org = world.customer if where == "customer" else world.operator
    with database.session() as session:
        actor = Actor.user(org, _person(session, org, role), role)
    allowed = granted(actor, operator_organization=where == "operator")
    wrong = []
    for service, (permission, attempt) in SERVICES.items():
        refused = _refused_by_its_check(database, attempt, actor, org)
        if refused is not (permission not in allowed):
            name = f"{service.__module__}.{service.__name__}"
            wrong.append((name, permission.value, "refused" if refused else "let in"))
    assert not wrong, (role, where, wrong)


@pytest.mark.parametrize("where", ["customer", "operator"])
def test_only_the_command_line_makes_accounts_and_sets_passwords(
    database: Database, world: World, where: str
) -> None:
    org = world.customer if where == "customer" else world.operator
    email = "walk-made@example.com"
    with database.session() as session:
        owner = Actor.user(org, _person(session, org, Role.OWNER), Role.OWNER)
    for actor in (owner, Actor.api_key(org, world.key_id, admin=True)):
        with database.session() as session, pytest.raises(PermissionDeniedError):
            identity.create_account(session, actor, email, "a long enough secret", currency="EUR")
        with database.session() as session, pytest.raises(PermissionDeniedError):
            identity.set_password(session, actor, email, "a long enough secret")
        with database.session() as session, pytest.raises(PermissionDeniedError):
            tenancy.accept_on_behalf(session, actor, "inv-anything")
    with database.session() as session:
        identity.create_account(session, CLI, email, "a long enough secret", currency="EUR")
        identity.set_password(session, CLI, email, "another long secret")


def main() -> None:
    """Rewrite the table in docs/permissions.md."""
    text = DOC.read_text()
    DOC.write_text(text[: text.index(START)] + render_table() + text[text.index(END) + len(END) :])


if __name__ == "__main__":
    main()
    print(re.sub(r"\s+", " ", f"updated {DOC}"))
