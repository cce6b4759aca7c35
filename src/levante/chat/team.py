"""Chat Team: an organisation on a seat-priced chat plan, whose owner and admins invite
people by email, remove them, and buy seats. A member chats on the Team's plan, in
conversations that stay their own.

Seats taken are members plus open invitations: an invitation past the seats paid for is
refused, and so is accepting one once the seats are gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante import audit, billing, tenancy
from levante.audit import Actor
from levante.chat.plans import chat_standing
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.identity import (
    DEFAULT_PACES,
    Attempts,
    Paces,
)
from levante.mail import queue_mail
from levante.storage import utcnow
from levante.storage.models import (
    ChatProfile,
    Invitation,
    Membership,
    Organization,
    Subscription,
    User,
)
from levante.tenancy.invitations import (
    issue_invitation,
    list_invitations,
    open_invitation,
    pace_invitation,
)
from levante.tenancy.records import normalise_email
from levante.vocabulary import Permission, Role

INVITATION_DAYS = 7


@dataclass(frozen=True, slots=True)
class Team:
    organization: Organization
    subscription: Subscription | None  # None: not on a Team plan (invitations are refused)
    seats_paid: int
    members: list[tuple[User, str]]
    invitations: list[Invitation]

    @property
    def seats_taken(self) -> int:
        return len(self.members) + len(self.invitations)


@dataclass(frozen=True, slots=True)
class Invited:
    invitation: Invitation
    link: str  # shown to the owner when no mail server sends it


def manages_team(session: Session, user_id: str, organization_id: str) -> bool:
    """Whether the person manages the team's members (else the page is a member's)."""
    try:
        _manager(session, user_id, organization_id)
    except NotFoundError:
        return False
    return True


def team_of(
    session: Session, user_id: str, organization_id: str, *, now: datetime | None = None
) -> Team:
    """The organisation as its owner or admins see it; anyone else gets "not found"."""
    _manager(session, user_id, organization_id)
    now = now or utcnow()
    org = session.get_one(Organization, organization_id)
    standing = chat_standing(session, organization_id)
    seated = standing.subscribed is not None and standing.subscribed.unit == "seat"
    sub = standing.subscription if seated else None
    members = [
        (user, role)
        for user, role in session.execute(
            select(User, Membership.role)
            .join(Membership, Membership.user_id == User.id)
            .where(Membership.organization_id == organization_id)
            .order_by(Membership.created_at, User.email)
        ).all()
    ]
    return Team(
        org,
        sub,
        sub.quantity if sub else 0,
        members,
        list_invitations(session, organization_id, now),
    )


def invite(
    session: Session,
    user_id: str,
    organization_id: str,
    email: str,
    *,
    link: str,
    attempts: Attempts,
    paces: Paces = DEFAULT_PACES,
    now: datetime | None = None,
) -> Invited:
    """Invite ``email`` to the Team (``link`` has ``{token}`` for the secret); mailed
    through the outbox, and returned for the owner to pass on. Invitations are paced per
    inviter and per address invited, so that a Team cannot be used to flood a mailbox."""
    now = now or utcnow()
    team = team_of(session, user_id, organization_id, now=now)
    if team.subscription is None:
        raise ConflictError("invitations are for a Team plan; choose one on the account page")
    email = normalise_email(email)
    manager = _manager(session, user_id, organization_id)
    pace_invitation(attempts, paces, session, manager, email, now)
    if any(member.email == email for member, _ in team.members):
        raise ConflictError(f"{email} is already in the team", param="email")
    pending = [i for i in team.invitations if i.email == email]
    if not pending and team.seats_taken >= team.seats_paid:
        raise ConflictError(
            f"all {team.seats_paid} seats are taken (members and open invitations); add seats "
            "first",
            param="email",
        )
    invitation, token = issue_invitation(
        session, organization_id, email, Role.MEMBER, actor=manager, now=now
    )
    url = link.format(token=token)
    inviter = session.get_one(User, user_id)
    queue_mail(
        session,
        email,
        f"{inviter.email} invites you to their team on Levante Chat",
        f"{inviter.email} invites you to chat on their team's plan.\n\nTo join, open: {url}\n\n"
        f"The link expires on {invitation.expires_at:%Y-%m-%d}. Your conversations stay yours: "
        "the team does not see them.\n",
        now=now,
    )
    return Invited(invitation, url)


def invitation_for(session: Session, user_id: str | None, token: str) -> tuple[Invitation, str]:
    """An open invitation and the name of its team; for a signed-in user, only one made out
    to their address (another's is "not found")."""
    invitation = open_invitation(session, token)
    if user_id is not None:
        user = session.get_one(User, user_id)
        if user.email != invitation.email:
            raise NotFoundError("this invitation is unknown, used, withdrawn or expired")
    inviter = invitation.invited_by.removeprefix("user:")
    host = session.get(User, inviter)
    name = (
        host.email
        if host is not None
        else session.get_one(Organization, invitation.organization_id).name
    )
    return invitation, name


def join(
    session: Session, user_id: str, token: str, *, now: datetime | None = None
) -> Organization:
    """The invited user joins: a member of the Team, whose plan their chat uses from now."""
    now = now or utcnow()
    invitation, _ = invitation_for(session, user_id, token)
    org_id = invitation.organization_id
    standing = chat_standing(session, org_id)
    sub = standing.subscription
    if sub is None or standing.subscribed is None or standing.subscribed.unit != "seat":
        raise ConflictError("this team is no longer on a Team plan")
    members = session.scalar(
        select(func.count()).select_from(Membership).where(Membership.organization_id == org_id)
    )
    if session.get(Membership, (user_id, org_id)) is None:
        if int(members or 0) >= sub.quantity:
            raise ConflictError("the team has no free seat; ask its owner to add one")
        session.add(Membership(user_id=user_id, organization_id=org_id, role=invitation.role))
    invitation.accepted_at = now
    profile = session.get(ChatProfile, user_id)
    if profile is None:  # joined before ever chatting: the assistant adds their own org later
        profile = ChatProfile(user_id=user_id, instructions="", created_at=now)
        session.add(profile)
    profile.organization_id = org_id
    audit.record(
        session, organization_id=org_id, actor=Actor.user(org_id, user_id),
        action="member.joined", target=user_id, details={"invitation": invitation.id},
    )  # fmt: skip
    session.flush()
    return session.get_one(Organization, org_id)


def remove_member(session: Session, user_id: str, organization_id: str, member_id: str) -> None:
    """Take a member out of the Team; they go back to their own plan, conversations kept."""
    _manager(session, user_id, organization_id)
    membership = session.get(Membership, (member_id, organization_id))
    if membership is None:
        raise NotFoundError("this person is not in the team")
    if membership.role == Role.OWNER:
        raise InvalidRequestError("the team's owner cannot be removed")
    session.delete(membership)
    audit.record(
        session, organization_id=organization_id, actor=_manager(session, user_id, organization_id),
        action="member.removed", target=member_id,
    )  # fmt: skip
    session.flush()


def withdraw(
    session: Session,
    user_id: str,
    organization_id: str,
    invitation_id: str,
    *,
    now: datetime | None = None,
) -> None:
    _manager(session, user_id, organization_id)
    invitation = session.get(Invitation, invitation_id)
    if invitation is None or invitation.organization_id != organization_id:
        raise NotFoundError("this invitation does not exist")
    if invitation.accepted_at is None and invitation.revoked_at is None:
        invitation.revoked_at = now or utcnow()


def set_seats(session: Session, user_id: str, organization_id: str, seats: int) -> Subscription:
    """Buy or give back seats (prorated, through billing); never below the seats taken."""
    team = team_of(session, user_id, organization_id)
    if team.subscription is None:
        raise ConflictError("seats are for a Team plan; choose one on the account page")
    if seats < max(1, team.seats_taken):
        raise InvalidRequestError(
            f"{team.seats_taken} seats are taken; remove members or withdraw invitations first",
            param="seats",
        )
    changed = billing.change_subscription(
        session, tenancy.member_actor(session, user_id, organization_id), organization_id,
        subscription_id=team.subscription.id, seats=seats,
    )  # fmt: skip
    return changed.subscription


def _manager(session: Session, user_id: str, organization_id: str) -> Actor:
    """The person managing the team, as the services see them; anyone who may not manage its
    members finds no team here."""
    try:
        actor = tenancy.member_actor(session, user_id, organization_id)
    except NotFoundError:
        raise NotFoundError("this team does not exist") from None
    if not tenancy.may(session, actor, Permission.MANAGE_MEMBERS):
        raise NotFoundError("this team does not exist")
    return actor
