"""What an organisation's admins (over HTTP), the operator (on the command line) and the
console pages do to keys and members: one function each, which checks who may act, resolves
model aliases, writes the audit record and tells the caches.

Every function takes the :class:`~levante.audit.Actor` and the organisation it acts on (an id
or a slug). An actor that holds an organisation's powers may act on that organisation only;
the operator's organisation and the command line may act on any (:func:`sees_all`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.engine import ModelNames
from levante.errors import NotFoundError, PermissionDeniedError
from levante.storage import utcnow
from levante.storage.models import (
    ApiKey,
    Invitation,
    Membership,
    Organization,
    Role,
    User,
    Workspace,
)
from levante.tenancy import invitations, records
from levante.tenancy.attempts import DEFAULT_PACES, Attempts, Paces
from levante.tenancy.invitations import MemberChange
from levante.tenancy.permissions import ROLES, granted, may, refusal, require
from levante.tenancy.records import DEFAULT_WORKSPACE, IssuedKey
from levante.vocabulary import Permission


def sees_all(session: Session, actor: Actor) -> bool:
    """Whether ``actor`` may see and act on every organisation: the command line, and those of
    the operator's organisation who run the platform (its console, or the support queue)."""
    if actor.operator:
        return True
    return may(session, actor, Permission.OPERATE) or may(session, actor, Permission.WORK_TICKETS)


# What a support agent may do in a customer's organisation.
AGENTS_REACH = (Permission.USE_SUPPORT, Permission.WORK_TICKETS)


def require_operator(session: Session, actor: Actor) -> None:
    """Refuse (403) an actor that is not the operator."""
    require(session, actor, Permission.OPERATE)


@dataclass(frozen=True, slots=True)
class ConsoleSeat:
    """A signed-in person on an organisation's console: the actor the services see (with the
    person's role), the organisation, and every organisation whose console they may open."""

    actor: Actor
    organization: Organization
    role: Role
    choices: tuple[tuple[Organization, Role], ...] = ()
    # What the pages offer this person (the services check again whatever they do).
    allowed: frozenset[Permission] = frozenset()

    @property
    def manages(self) -> bool:
        """Whether the console's forms for keys, workspaces and limits are shown."""
        return Permission.MANAGE_KEYS in self.allowed

    def may(self, permission: str) -> bool:
        return permission in self.allowed


def console_organizations(session: Session, user_id: str) -> list[tuple[Organization, Role]]:
    """The organisations whose console the person may open, the shared ones before the
    personal one."""
    rows = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
        .order_by(Organization.slug.startswith("personal-"), Organization.name)
    ).all()
    return [(org, Role(role)) for org, role in rows if Permission.OPEN_CONSOLE in ROLES[Role(role)]]


def console_seat(session: Session, user_id: str, organization: str | None) -> ConsoleSeat:
    """The console of ``organization`` (an id or slug; by default the person's first), for a
    member whose role opens it. Another organisation is not found; a member whose role does
    not open it is refused."""
    mine = console_organizations(session, user_id)
    chosen = None
    if organization is None and mine:
        chosen = mine[0]
    for org, role in mine:
        if organization in (org.id, org.slug):
            chosen = (org, role)
    if chosen is None:
        member = organization is None or session.scalar(
            select(Membership.role)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(Membership.user_id == user_id)
            .where((Organization.id == organization) | (Organization.slug == organization))
        )
        if member is not None:
            raise PermissionDeniedError(refusal(Permission.OPEN_CONSOLE))
        raise NotFoundError(f"no organisation '{organization}'", param="org")
    org, role = chosen
    actor = Actor.user(org.id, user_id, role)
    allowed = granted(actor, operator_organization=org.is_operator)
    return ConsoleSeat(actor, org, role, tuple(mine), allowed)


def operator_console(session: Session, user_id: str) -> Actor:
    """The actor a signed-in person is on the operator's console: one whose role in the
    operator's organisation lets them operate. Anyone else is refused (403)."""
    rows = session.execute(
        select(Membership.organization_id, Membership.role)
        .join(Organization, Organization.id == Membership.organization_id)
        .where(Membership.user_id == user_id, Organization.is_operator.is_(True))
    ).all()
    for org_id, role in rows:
        actor = Actor.user(org_id, user_id, Role(role))
        if Permission.OPERATE in granted(actor, operator_organization=True):
            return actor
    raise PermissionDeniedError(refusal(Permission.OPERATE))


def acting_on(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    needs: Permission | None = None,
) -> Organization:
    """The organisation ``actor`` acts on: ``organization`` (an id or slug), or by default its
    own. Another organisation than its own is refused unless the actor :func:`sees_all`; it
    is refused as not found, so that a customer cannot even learn that it exists. ``needs``:
    the permission the action takes in its own organisation (the operator's own powers cover
    every other)."""
    if organization is None:
        if actor.organization_id is None:
            raise NotFoundError("name the organisation to act on", param="organization")
        organization = actor.organization_id
    if organization == actor.organization_id:
        if needs is not None:
            require(session, actor, needs)
        return session.get_one(Organization, organization)
    if not sees_all(session, actor):
        raise NotFoundError(f"no organisation '{organization}'", param="organization")
    if needs not in (None, *AGENTS_REACH):  # agents work tickets; the rest is operating
        require(session, actor, Permission.OPERATE)
    return records.find_organization(session, organization)


def listing_scope(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    all_by_default: bool = False,
    needs: Permission | None = None,
) -> str | None:
    """The organisation a listing covers, or None for every one. Naming another organisation
    is the operator's (403 for anyone else); naming none means the actor's own (``needs``: the
    permission reading it takes), or every organisation for the command line (and, with
    ``all_by_default``, for the operator)."""
    if organization is not None and organization != actor.organization_id:
        require_operator(session, actor)
        return acting_on(session, actor, organization).id
    if organization is None and (
        actor.operator or (all_by_default and may(session, actor, Permission.OPERATE))
    ):
        return None
    return acting_on(session, actor, organization, needs=needs).id


def workspaces_of(
    session: Session, actor: Actor, organization: str | None = None
) -> list[Workspace]:
    org = acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    return records.list_workspaces(session, org.id)


def list_keys(
    session: Session, actor: Actor, organization: str | None = None, *, include_revoked: bool
) -> Sequence[ApiKey]:
    org = acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    return records.list_api_keys(session, org.id, include_revoked=include_revoked)


def keys_last_used(
    session: Session, actor: Actor, organization: str | None = None
) -> dict[str, datetime]:
    """When each of the organisation's keys was last used (by key id; a key never used is not
    in it), from the usage ledger: a request counts once it is recorded."""
    org = acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    return records.keys_last_used(session, org.id)


def create_key(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    name: str,
    models: ModelNames,
    workspace: str = DEFAULT_WORKSPACE,
    admin: bool = False,
    expires_at: datetime | None = None,
    allowed_models: Sequence[str] | None = None,
) -> IssuedKey:
    """Issue a key; ``allowed_models`` may use aliases, and the key stores the models' ids."""
    org = acting_on(session, actor, organization, needs=Permission.MANAGE_KEYS)
    issued = records.create_api_key(
        session,
        org.id,
        name,
        workspace=workspace,
        is_admin=admin,
        expires_at=expires_at,
        allowed_models=models.canonical_ids(allowed_models or []) or None,
    )
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="api_key.created",
        target=issued.key.id,
        details={"name": issued.key.name, "admin": admin, "workspace": workspace},
    )
    return issued


def revoke_key(
    session: Session, actor: Actor, organization: str | None = None, *, key_id: str
) -> ApiKey:
    """Revoke a key; this process forgets it at once, others within ``auth_cache_seconds``."""
    org = acting_on(session, actor, organization, needs=Permission.MANAGE_KEYS)
    key = records.revoke_api_key(session, org.id, key_id)
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="api_key.revoked",
        target=key.id,
        details={"name": key.name},
    )
    return key


def members(
    session: Session, actor: Actor, organization: str | None = None, *, now: datetime | None = None
) -> tuple[list[tuple[User, str]], list[Invitation]]:
    """The organisation's users with their roles, and the invitations it has open."""
    org = acting_on(session, actor, organization, needs=Permission.READ_USAGE)
    open_ = invitations.list_invitations(session, org.id, now or utcnow())
    return records.list_members(session, org.id), list(open_)


def add_member(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    email: str,
    role: Role,
    name: str = "",
    public_url: str,
    seat_check: Callable[[int], None] | None = None,
    attempts: Attempts | None = None,
    paces: Paces = DEFAULT_PACES,
) -> MemberChange:
    """Add ``email`` to the organisation, or invite it if it is another organisation's user;
    ``public_url`` is where the invited person accepts. Making or unmaking an owner is an
    owner's."""
    org = acting_on(session, actor, organization, needs=Permission.MANAGE_MEMBERS)
    if role == Role.OWNER or _is_owner(session, org.id, email=email):
        require(session, actor, Permission.MANAGE_OWNERS)
    return invitations.add_or_invite(
        session,
        org.id,
        email,
        role,
        name,
        now=utcnow(),
        actor=actor,
        public_url=public_url,
        seat_check=seat_check,
        attempts=attempts,
        paces=paces,
    )


def remove_member(
    session: Session, actor: Actor, organization: str | None = None, *, user_id: str
) -> User:
    """Take a user out of the organisation (their seat is freed if it was their last); an
    owner only by an owner."""
    org = acting_on(session, actor, organization, needs=Permission.MANAGE_MEMBERS)
    if _is_owner(session, org.id, user_id=user_id):
        require(session, actor, Permission.MANAGE_OWNERS)
    user = records.remove_member(session, org.id, user_id)
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="member.removed",
        target=user.id,
        details={"email": user.email},
    )
    return user


def _is_owner(
    session: Session, organization_id: str, *, email: str = "", user_id: str = ""
) -> bool:
    query = (
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.organization_id == organization_id, Membership.role == Role.OWNER)
    )
    if user_id:
        query = query.where(Membership.user_id == user_id)
    else:
        query = query.where(User.email == email.strip().lower())
    return session.scalar(query.limit(1)) is not None


def audit_log(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    limit: int = 100,
    before_id: int | None = None,
) -> tuple[Organization, list[audit.AuditEvent]]:
    """An organisation's audit events, newest first (page with ``before_id``): its own for
    its owners, admins and admin keys, any for the operator."""
    org = acting_on(session, actor, organization, needs=Permission.READ_AUDIT)
    return org, audit.list_events(session, org.id, limit=limit, before_id=before_id)


@dataclass(frozen=True, slots=True)
class AuditLine:
    """An audit event as a person reads it: who by address or key name, on which
    organisation."""

    event: audit.AuditEvent
    who: str
    organization: Organization | None


@dataclass(frozen=True, slots=True)
class AuditTrail:
    lines: list[AuditLine]
    organization: Organization | None  # None: every organisation's (the operator's view)
    older: int | None  # the ``before_id`` of the next page, if there is one


def audit_trail(
    session: Session,
    actor: Actor,
    organization: str | None = None,
    *,
    everyone: bool = False,
    action: str | None = None,
    before_id: int | None = None,
    limit: int = 100,
) -> AuditTrail:
    """The audit log as the consoles show it: one organisation's (its own for its owners,
    admins and admin keys, any for the operator), or with ``everyone`` every organisation's
    (the operator's); newest first, people by their address and keys by their name."""
    if everyone and organization is None:
        require_operator(session, actor)
        org = None
    else:
        org = acting_on(session, actor, organization, needs=Permission.READ_AUDIT)
    events = audit.list_events(
        session, org.id if org else None, limit=limit + 1, before_id=before_id, action=action
    )
    shown = events[:limit]
    users = {e.actor.removeprefix("user:") for e in shown if e.actor.startswith("user:")}
    keys = {e.actor.removeprefix("api_key:") for e in shown if e.actor.startswith("api_key:")}
    emails = dict(session.execute(select(User.id, User.email).where(User.id.in_(users))).all())
    names = dict(session.execute(select(ApiKey.id, ApiKey.name).where(ApiKey.id.in_(keys))).all())
    orgs = {
        o.id: o
        for o in session.scalars(
            select(Organization).where(
                Organization.id.in_({e.organization_id for e in shown if e.organization_id})
            )
        )
    }

    def who(label: str) -> str:
        kind, _, key = label.partition(":")
        if kind == "user":
            return str(emails.get(key, "a deleted user"))
        if kind == "api_key":
            return f"key {names[key]}" if key in names else "a deleted key"
        return "the command line" if label == "cli" else label

    lines = [AuditLine(e, who(e.actor), orgs.get(e.organization_id or "")) for e in shown]
    return AuditTrail(lines, org, events[limit].id if len(events) > limit else None)


def list_organizations(session: Session, actor: Actor) -> Sequence[Organization]:
    """Every organisation (the operator only)."""
    require_operator(session, actor)
    return records.list_organizations(session)


def open_organization(
    session: Session, actor: Actor, *, name: str, slug: str | None = None
) -> Organization:
    """The operator opens an organisation for a customer, with its default workspace."""
    require_operator(session, actor)
    org = records.create_organization(session, name, slug)
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="organization.created",
        target=org.id,
        details={"name": org.name, "slug": org.slug},
    )
    return org


def add_workspace(
    session: Session, actor: Actor, organization: str | None = None, *, name: str
) -> Workspace:
    org = acting_on(session, actor, organization, needs=Permission.MANAGE_KEYS)
    workspace = records.create_workspace(session, org.id, name)
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="workspace.created",
        target=workspace.id,
        details={"name": workspace.name},
    )
    return workspace
