"""Who may do what: the one table of roles and permissions, which every service checks.

A person acts in an organisation with the role their membership gives them; an API key acts
for its organisation, as an admin when it is an admin key; the command line runs the
deployment and may do everything. The operator's organisation is a customer like any other
for its own account, and its owners, admins and support agents also run the platform: the
operator's console, and the support queue of every customer.

The table is written once, here. ``docs/permissions.md`` is generated from it (run
``.venv/bin/python -m tests.tenancy.test_permissions``), and a test walks it against the
services and the pages.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from levante.audit import Actor
from levante.errors import NotFoundError, PermissionDeniedError
from levante.storage.models import Membership, Organization, Role
from levante.vocabulary import Permission

_CUSTOMER = frozenset(
    {
        Permission.OPEN_CONSOLE,
        Permission.READ_USAGE,
        Permission.MANAGE_KEYS,
        Permission.CHANGE_LIMITS,
        Permission.MANAGE_MEMBERS,
        Permission.BUY,
        Permission.READ_INVOICES,
        Permission.READ_AUDIT,
        Permission.USE_SUPPORT,
    }
)
_MONEY = frozenset(
    {
        Permission.OPEN_CONSOLE,
        Permission.READ_USAGE,
        Permission.BUY,
        Permission.READ_INVOICES,
        Permission.USE_SUPPORT,
    }
)
_RUN_PLATFORM = frozenset({Permission.OPERATE, Permission.WORK_TICKETS})

# What each role may do in its own organisation.
ROLES: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _CUSTOMER | {Permission.MANAGE_OWNERS},
    Role.ADMIN: _CUSTOMER,
    Role.BILLING: _MONEY,
    Role.MEMBER: frozenset({Permission.USE_SUPPORT}),
    Role.SUPPORT: frozenset({Permission.USE_SUPPORT}),
}
# What each role may do besides, in the operator's organisation.
OPERATOR_ROLES: dict[Role, frozenset[Permission]] = {
    Role.OWNER: _RUN_PLATFORM,
    Role.ADMIN: _RUN_PLATFORM,
    Role.BILLING: frozenset(),
    Role.MEMBER: frozenset(),
    Role.SUPPORT: frozenset({Permission.WORK_TICKETS}),
}
# API keys: an admin key acts as its organisation's admin, through the admin API; any other
# key only calls the models (which its allow-list and the limits decide, not this table).
ADMIN_KEY = (_CUSTOMER - {Permission.OPEN_CONSOLE}) | {Permission.USE_ADMIN_API}
PLAIN_KEY: frozenset[Permission] = frozenset()

_REFUSALS = {
    Permission.OPEN_CONSOLE: "the console is for an organisation's owners, admins and "
    "billing users",
    Permission.READ_USAGE: "only the organisation's owners, admins and billing users see its usage",
    Permission.MANAGE_KEYS: "only the organisation's owners and admins manage its API keys "
    "and workspaces",
    Permission.CHANGE_LIMITS: "only the organisation's owners and admins change its limits",
    Permission.MANAGE_MEMBERS: "only the organisation's owners and admins manage its members",
    Permission.MANAGE_OWNERS: "only the organisation's owners make someone an owner or take "
    "the role away",
    Permission.BUY: "only the organisation's owners, admins and billing users buy for it",
    Permission.READ_INVOICES: "only the organisation's owners, admins and billing users see "
    "its invoices",
    Permission.READ_AUDIT: "only the organisation's owners and admins read its audit log",
    Permission.USE_SUPPORT: "only the organisation's members open its tickets",
    Permission.WORK_TICKETS: "the support queue is for agents: the operator's owners, admins "
    "and users with the support role",
    Permission.OPERATE: "only the operator's owners and admins may do this",
    Permission.USE_ADMIN_API: "this endpoint needs an admin API key",
}


def refusal(permission: Permission) -> str:
    """How a refusal of ``permission`` reads."""
    return _REFUSALS[permission]


def granted(actor: Actor, *, operator_organization: bool) -> frozenset[Permission]:
    """Everything ``actor`` may do in its organisation (``operator_organization``: the
    operator's)."""
    if actor.operator:
        return frozenset(Permission)
    if actor.key:
        own = ADMIN_KEY if actor.role is not None else PLAIN_KEY
        extra = OPERATOR_ROLES[Role.ADMIN] if own else frozenset()
    elif actor.role is not None:
        own, extra = ROLES[actor.role], OPERATOR_ROLES[actor.role]
    else:
        return frozenset()
    if not operator_organization:
        return own
    # The operator's organisation is the desk: nobody in it opens tickets to it.
    return (own - {Permission.USE_SUPPORT}) | extra


def roles_with(permission: Permission, *, operator_organization: bool) -> tuple[Role, ...]:
    """The roles that grant ``permission`` (in the operator's organisation, or a customer's)."""
    return tuple(
        role
        for role in Role
        if permission
        in granted(Actor.user(None, "", role), operator_organization=operator_organization)
    )


def _in_operator_organization(session: Session, actor: Actor) -> bool:
    if actor.organization_id is None:
        return False
    org = session.get(Organization, actor.organization_id)
    return org is not None and org.is_operator


def may(session: Session, actor: Actor, permission: Permission) -> bool:
    """Whether ``actor`` may do what ``permission`` names, in its own organisation (for the
    operator's permissions, over every organisation)."""
    if actor.operator:
        return True
    operator_org = _in_operator_organization(session, actor)
    return permission in granted(actor, operator_organization=operator_org)


def require(session: Session, actor: Actor, permission: Permission) -> None:
    """Refuse (403) an actor without ``permission``, in words that say who has it."""
    if not may(session, actor, permission):
        raise PermissionDeniedError(refusal(permission))


def require_granted(actor: Actor, permission: Permission) -> None:
    """:func:`require` for a permission that holds the same in every organisation (not the
    operator's own), checked without the database."""
    if permission in _RUN_PLATFORM:
        raise ValueError(f"{permission} depends on the organisation: use require()")
    if permission not in granted(actor, operator_organization=False):
        raise PermissionDeniedError(refusal(permission))


def member_actor(session: Session, user_id: str, organization_id: str) -> Actor:
    """A person acting in one of their organisations, with the role they have there; an
    organisation they do not belong to is not found."""
    membership = session.get(Membership, (user_id, organization_id))
    if membership is None:
        raise NotFoundError("no such organisation", param="org")
    return Actor.user(organization_id, user_id, Role(membership.role))
