"""Who is at the support desk: a customer's person or key, who sees their organisation's
tickets only, or an agent (whoever may work tickets: see :mod:`levante.tenancy.permissions`;
the command line too), who works every customer's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante.audit import Actor
from levante.errors import NotFoundError, PermissionDeniedError
from levante.storage.models import Membership, Organization, Role, User
from levante.tenancy import may, member_actor, refusal, require
from levante.tenancy.permissions import roles_with
from levante.vocabulary import Permission

AGENT_ROLES = roles_with(Permission.WORK_TICKETS, operator_organization=True)


@dataclass(frozen=True, slots=True)
class Desk:
    actor: Actor
    agent: bool
    organization_id: str | None  # the customer's organisation; None for an agent
    user_id: str | None
    name: str  # as the ticket's history shows them

    def require_agent(self) -> None:
        if not self.agent:
            raise PermissionDeniedError(refusal(Permission.WORK_TICKETS))


def user_of(actor: Actor) -> str | None:
    """The user behind an actor made by :meth:`Actor.user`, if it is one."""
    return actor.label.removeprefix("user:") if actor.label.startswith("user:") else None


def desk_of(session: Session, actor: Actor) -> Desk:
    """Place ``actor`` at the desk, as an agent or as the customer it acts for."""
    user_id = user_of(actor)
    name = actor.label
    if user_id is not None:
        user = session.get(User, user_id)
        if user is None:
            raise PermissionDeniedError("this account no longer exists")
        name = user.name or user.email
    if actor.operator:
        return Desk(actor, True, None, user_id, "Levante support")
    if actor.organization_id is None:
        raise PermissionDeniedError("the support desk is for signed-in people and API keys")
    org = session.get(Organization, actor.organization_id)
    if org is None:
        raise NotFoundError("no such organisation")
    if user_id is not None:  # the role the person holds now
        actor = member_actor(session, user_id, org.id)
    if may(session, actor, Permission.WORK_TICKETS):
        return Desk(actor, True, None, user_id, name)
    if org.is_operator:
        raise PermissionDeniedError(refusal(Permission.WORK_TICKETS))
    require(session, actor, Permission.USE_SUPPORT)
    return Desk(actor, False, org.id, user_id, name)


def agents(session: Session) -> list[User]:
    """The people who may work the queue."""
    return list(
        session.scalars(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(Organization, Organization.id == Membership.organization_id)
            .where(Organization.is_operator.is_(True), Membership.role.in_(AGENT_ROLES))
            .order_by(User.email)
        )
    )


def customers(session: Session, actor: Actor) -> list[Organization]:
    """The customers' organisations the actor may see at the desk, by name: an agent's, every
    one; a customer's, their own."""
    desk = desk_of(session, actor)
    if not desk.agent:
        return [session.get_one(Organization, desk.organization_id)]
    return list(
        session.scalars(
            select(Organization)
            .where(Organization.is_operator.is_(False))
            .order_by(func.lower(Organization.name), Organization.slug)
        )
    )


def find_agent(session: Session, ref: str) -> User:
    """An agent by id or email address."""
    for agent in agents(session):
        if ref in (agent.id, agent.email):
            return agent
    raise NotFoundError(f"no support agent '{ref}'", param="assignee")


@dataclass(frozen=True, slots=True)
class Place:
    """Where a signed-in person may sit at the desk: as an agent, or for one organisation
    they belong to."""

    organization_id: str
    name: str
    agent: bool
    personal: bool
    role: Role = Role.MEMBER

    def actor(self, user_id: str) -> Actor:
        return Actor.user(self.organization_id, user_id, self.role)


def places(session: Session, user_id: str) -> list[Place]:
    """The user's places: the agent's first, then their organisations by name (their own
    personal one last)."""
    rows = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
    ).all()
    found = []
    for org, role in rows:
        if org.is_operator and Role(role) not in AGENT_ROLES:
            continue
        personal = org.slug.startswith("personal-")
        found.append(Place(org.id, org.name, org.is_operator, personal, Role(role)))
    return sorted(found, key=lambda p: (not p.agent, p.personal, p.name.lower()))


def place_for(session: Session, user_id: str, organization_id: str | None) -> Place:
    """The place the user asked for (an organisation's id), or their first; a place that is
    not theirs is not found."""
    mine = places(session, user_id)
    if not mine:
        raise NotFoundError("you belong to no organisation")
    if organization_id is None:
        return mine[0]
    for place in mine:
        if place.organization_id == organization_id:
            return place
    raise NotFoundError("no such organisation", param="org")


def place_on(session: Session, user_id: str, organization_id: str) -> Place:
    """The user's place to act on ``organization_id``: as an agent if they are one, else as
    a member of it; an organisation that is neither is not found."""
    for place in places(session, user_id):
        if place.agent or place.organization_id == organization_id:
            return place
    raise NotFoundError("no such organisation", param="org")


def place_for_ticket(session: Session, user_id: str, ticket_org: str) -> Place:
    """The user's place for a ticket of ``ticket_org``: as an agent if they are one, else as
    a member of that organisation; otherwise the ticket is not found."""
    for place in places(session, user_id):
        if place.agent or place.organization_id == ticket_org:
            return place
    raise NotFoundError("ticket does not exist", param="ticket")
