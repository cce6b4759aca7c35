"""Who is at the support desk: a customer's person or key, who sees their organisation's
tickets only, or an agent (a user of the operator's organisation with the ``support``,
``admin`` or ``owner`` role, an operator admin key, or the command line), who works every
customer's."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante.audit import Actor
from levante.errors import NotFoundError, PermissionDeniedError
from levante.storage.models import Membership, Organization, Role, User

AGENT_ROLES = (Role.SUPPORT, Role.ADMIN, Role.OWNER)


@dataclass(frozen=True, slots=True)
class Desk:
    actor: Actor
    agent: bool
    organization_id: str | None  # the customer's organisation; None for an agent
    user_id: str | None
    name: str  # as the ticket's history shows them

    def require_agent(self) -> None:
        if not self.agent:
            raise PermissionDeniedError("only support agents may do this")


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
    role = None
    if user_id is not None:
        membership = session.get(Membership, (user_id, org.id))
        if membership is None:
            raise NotFoundError("no such organisation")
        role = Role(membership.role)
    if org.is_operator:
        if user_id is not None and role not in AGENT_ROLES:
            raise PermissionDeniedError(
                "the support queue is for agents: the operator's users with the support role"
            )
        return Desk(actor, True, None, user_id, name)
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


def find_agent(session: Session, ref: str) -> User:
    """An agent by id or email address."""
    for agent in agents(session):
        if ref in (agent.id, agent.email):
            return agent
    raise NotFoundError(f"no support agent '{ref}'", param="assignee")
