"""Adding people to an organisation without exposing or enrolling anyone against their will.

Users are global (one person may belong to several organisations), so an organisation that
adds an email already known here must not learn who that user is, nor make them a member on
its own say: it gets an invitation, mailed to the address, which the user accepts. An email
not known yet becomes a new user of that organisation at once, without a password: the
address is mailed a single-use link to choose one (a claim link), and nobody signs in as that
user until its owner has followed it. Signing up with the address does not take the account
over: it mails a fresh claim link to the address, and the page says only "check your mail".
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.errors import NotFoundError, PermissionDeniedError
from levante.mail import queue_mail
from levante.storage import new_id, utcnow
from levante.storage.models import (
    Invitation,
    Membership,
    Organization,
    PasswordReset,
    Role,
    User,
)
from levante.tenancy.attempts import DEFAULT_PACES, Attempts, Paces, admit
from levante.tenancy.keys import hash_secret
from levante.tenancy.records import add_member, count_seats, normalise_email
from levante.vocabulary import PasswordLink

INVITATION_DAYS = 7
CLAIM_DAYS = 7
# Where a mailed link to set a password is opened: the account pages serve it.
PASSWORD_LINK_PATH = "/password/reset/"


# Where an invited person opens their invitation: the account pages serve it.
INVITATION_PATH = "/invitations/"


@dataclass(frozen=True, slots=True)
class MemberChange:
    """What adding an email did: ``added`` (a new user), ``updated`` (already a member: the
    role changed) or ``invited`` (an existing user, who must accept; ``user`` is None)."""

    status: str
    email: str
    role: str
    user: User | None = None
    invitation: Invitation | None = None
    # The claim link mailed to a new user: for the operator's command line to show when no
    # mail server is configured, never in an answer to an organisation's admin.
    claim_link: str | None = None


def add_or_invite(
    session: Session,
    organization_id: str,
    email: str,
    role: Role,
    name: str = "",
    *,
    now: datetime,
    actor: Actor,
    public_url: str,
    seat_check: Callable[[int], None] | None = None,
    attempts: Attempts | None = None,
    paces: Paces = DEFAULT_PACES,
) -> MemberChange:
    """Add ``email`` to the organisation, or invite it if it is another user's (audited). A
    new user is mailed a claim link; an invited one, how to accept (both at ``public_url``).
    With ``attempts``, what mails someone is paced per actor and per address (429), so that an
    organisation's admin cannot flood a mailbox."""
    email = normalise_email(email)
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFoundError(f"organisation '{organization_id}' does not exist")
    user = session.scalar(select(User).where(User.email == email))
    member = user is not None and session.get(Membership, (user.id, organization_id)) is not None
    if user is None or member:
        added = add_member(session, organization_id, email, role, name, seat_check=seat_check)
        status = "updated" if member else "added"
        audit.record(
            session, organization_id=organization_id, actor=actor,
            action="member.added" if status == "added" else "member.role_changed",
            target=added.id, details={"email": email, "role": role.value},
        )  # fmt: skip
        link = None
        if added.password_hash is None:
            pace_invitation(attempts, paces, session, actor, email, now)
            link = mail_claim_link(session, added, public_url, now=now)
        return MemberChange(status, email, role.value, user=added, claim_link=link)
    pace_invitation(attempts, paces, session, actor, email, now)
    invitation, token = issue_invitation(
        session, organization_id, email, role, actor=actor, now=now
    )
    queue_mail(
        session,
        email,
        f"You are invited to join {org.name} on Levante",
        f"{org.name} invites you to join it as {role.value}.\n\n"
        f"To accept, open {public_url.rstrip('/')}{INVITATION_PATH}{token} and sign in as "
        f"{email} (or sign up with this address first).\n\n"
        f"The invitation expires on {invitation.expires_at:%Y-%m-%d}. If you do not know "
        f"{org.name}, ignore this message: nothing changes unless you accept.\n",
        now=now,
    )
    return MemberChange("invited", email, role.value, invitation=invitation)


def issue_invitation(
    session: Session,
    organization_id: str,
    email: str,
    role: Role,
    *,
    actor: Actor,
    now: datetime,
) -> tuple[Invitation, str]:
    """The one open invitation of ``email`` to the organisation (any earlier one is withdrawn),
    audited; returns it with its secret, which is stored only as a hash. The caller mails it."""
    for pending in list_invitations(session, organization_id, now, email=email):
        pending.revoked_at = now
    # Prefixed: a bare URL-safe secret may start with '-', which a command line reads as an
    # option ('levante org member accept -N…').
    token = f"inv-{secrets.token_urlsafe(32)}"
    invitation = Invitation(
        id=new_id("inv"),
        organization_id=organization_id,
        email=email,
        role=role.value,
        token_hash=hash_secret(token),
        invited_by=actor.label[:100],
        created_at=now,
        expires_at=now + timedelta(days=INVITATION_DAYS),
    )
    session.add(invitation)
    audit.record(
        session, organization_id=organization_id, actor=actor, action="member.invited",
        target=invitation.id, details={"email": email, "role": role.value},
    )  # fmt: skip
    session.flush()
    return invitation, token


def pace_invitation(
    attempts: Attempts | None,
    paces: Paces,
    session: Session,
    actor: Actor,
    email: str,
    now: datetime,
) -> None:
    """Refuse (429) past the pace of mail one actor may cause, and of mail to one address."""
    if attempts is not None:
        subjects = [(f"invite-from:{actor.label}", paces.invitations),
                    (f"mail-to:{email}", paces.mails)]  # fmt: skip
        admit(attempts, session, subjects, message="too many invitations at once", now=now)


def mail_claim_link(session: Session, user: User, public_url: str, *, now: datetime) -> str:
    """Mail the address of a user without a password a single-use link to choose one, saying
    which organisations added it; returns the link. Links sent before stay usable (a stranger
    asking for another must not kill the one the operator printed) until a password is set,
    which ends them all."""
    joined = session.execute(
        select(Organization.name, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user.id)
        .order_by(Organization.name)
    ).all()
    where = ", ".join(f"{name} (as {role})" for name, role in joined) or "an organisation"
    token = f"pwr-{secrets.token_urlsafe(32)}"
    session.add(
        PasswordReset(
            id=new_id("pwr"),
            user_id=user.id,
            token_hash=hash_secret(token),
            purpose=PasswordLink.CLAIM,
            created_at=now,
            expires_at=now + timedelta(days=CLAIM_DAYS),
        )
    )
    link = f"{public_url.rstrip('/')}{PASSWORD_LINK_PATH}{token}"
    queue_mail(
        session,
        user.email,
        "Choose your Levante password",
        f"This address was added to {where} on Levante.\n\n"
        f"To choose your password and sign in, open: {link}\n\n"
        f"The link works once, for {CLAIM_DAYS} days. If you did not expect this, ignore "
        "this message: nobody can sign in with this address until a password is chosen "
        "through this link.\n",
        now=now,
    )
    session.flush()
    return link


def accept_invitation(
    session: Session,
    user_id: str,
    token: str,
    *,
    now: datetime | None = None,
    seat_check: Callable[[int], None] | None = None,
) -> tuple[Organization, User, str]:
    """The invited person, signed in, accepts: they become a member with the role they were
    invited with (the organisation, the user and that role). The secret alone proves nothing
    (an inviter may have seen it): signed in as another address, the invitation is not found."""
    now = now or utcnow()
    invitation = open_invitation(session, token, now=now, lock=True)
    user = session.get(User, user_id)
    if user is None or user.email != invitation.email:
        raise NotFoundError("this invitation is unknown, used, withdrawn or expired")
    return _join(session, invitation, user, now=now, seat_check=seat_check)


def accept_on_behalf(
    session: Session,
    actor: Actor,
    token: str,
    *,
    now: datetime | None = None,
    seat_check: Callable[[int], None] | None = None,
) -> tuple[Organization, User, str]:
    """The command line accepts an invitation for its recipient (who gave the operator its
    secret); an address without a user joins as a new one, with a claim link to come."""
    if not actor.operator:
        raise PermissionDeniedError("only the command line accepts for someone else")
    now = now or utcnow()
    invitation = open_invitation(session, token, now=now, lock=True)
    user = session.scalar(select(User).where(User.email == invitation.email))
    return _join(session, invitation, user, now=now, seat_check=seat_check)


@dataclass(frozen=True, slots=True)
class OpenInvitation:
    """An invitation as the page that offers it shows it; ``yours``: whether the person
    signed in (if anyone) is the one invited, and so may accept it."""

    email: str
    role: str
    organization: str
    yours: bool


def invitation_of(session: Session, token: str, user_id: str | None) -> OpenInvitation:
    invitation = open_invitation(session, token)
    user = session.get(User, user_id) if user_id is not None else None
    return OpenInvitation(
        email=invitation.email,
        role=invitation.role,
        organization=session.get_one(Organization, invitation.organization_id).name,
        yours=user is not None and user.email == invitation.email,
    )


def _join(
    session: Session,
    invitation: Invitation,
    user: User | None,
    *,
    now: datetime,
    seat_check: Callable[[int], None] | None,
) -> tuple[Organization, User, str]:
    if user is None:  # the user was deleted since: the address joins as a new user
        user = add_member(
            session, invitation.organization_id, invitation.email, Role(invitation.role),
            seat_check=seat_check,
        )  # fmt: skip
    else:
        takes_seat = session.scalar(
            select(Membership.user_id).where(Membership.user_id == user.id).limit(1)
        ) is None  # fmt: skip
        if takes_seat and seat_check is not None:
            seat_check(count_seats(session) + 1)
        if session.get(Membership, (user.id, invitation.organization_id)) is None:
            session.add(
                Membership(
                    user_id=user.id,
                    organization_id=invitation.organization_id,
                    role=invitation.role,
                )
            )
    invitation.accepted_at = now
    audit.record(
        session, organization_id=invitation.organization_id, actor=f"user:{user.id}",
        action="member.joined", target=user.id,
        details={"email": user.email, "role": invitation.role, "invitation": invitation.id},
    )  # fmt: skip
    session.flush()
    membership = session.get_one(Membership, (user.id, invitation.organization_id))
    return session.get_one(Organization, invitation.organization_id), user, membership.role


def _still_open(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """What an invitation that can still be accepted is: neither accepted, withdrawn nor
    expired (the one rule, for every query of them)."""
    return (
        Invitation.accepted_at.is_(None),
        Invitation.revoked_at.is_(None),
        Invitation.expires_at > now,
    )


def list_invitations(
    session: Session, organization_id: str, now: datetime, *, email: str | None = None
) -> list[Invitation]:
    """The organisation's open invitations (to ``email`` only, if given), oldest first."""
    query = select(Invitation).where(
        Invitation.organization_id == organization_id, *_still_open(now)
    )
    if email is not None:
        query = query.where(Invitation.email == email)
    return list(session.scalars(query.order_by(Invitation.created_at)))


def open_invitation(
    session: Session, token: str, *, now: datetime | None = None, lock: bool = False
) -> Invitation:
    """An invitation that can still be accepted, by its secret; else 404."""
    query = select(Invitation).where(
        Invitation.token_hash == hash_secret(token[:200]), *_still_open(now or utcnow())
    )
    invitation = session.scalar(query.with_for_update() if lock else query)
    if invitation is None:
        raise NotFoundError("this invitation is unknown, used, withdrawn or expired")
    return invitation
