"""Accounts: sign-up under the deployment's policy, sign-in with throttling, passwords that
change or are reset by mail, and deleting an account with everything that is only its own.

Each sign-up gets a personal organisation (its owner, on the Free plan, with a billing
account), so that a person who chats is a customer in the same record as an API customer.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.billing.accounts import ensure_account
from levante.billing.subscriptions import LIVE, cancel
from levante.errors import (
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitedError,
)
from levante.identity.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from levante.identity.sessions import end_sessions
from levante.mail import queue_mail
from levante.storage import new_id, utcnow
from levante.storage.models import (
    Invitation,
    LoginFailure,
    Membership,
    Organization,
    PasswordReset,
    Role,
    Subscription,
    User,
    Workspace,
)
from levante.tenancy.keys import hash_secret
from levante.tenancy.service import DEFAULT_WORKSPACE, count_seats, normalise_email
from levante.vocabulary import SignupMode

RESET_HOURS = 2
FAILURE_WINDOW = timedelta(minutes=15)
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 20


@dataclass(frozen=True, slots=True)
class SignupPolicy:
    """Who may create an account: everyone, addresses at ``domains``, holders of an
    invitation, or nobody (accounts are then made by the operator)."""

    mode: SignupMode = SignupMode.OPEN
    domains: tuple[str, ...] = ()

    def check(self, email: str, *, invited: bool) -> None:
        if self.mode == SignupMode.OPEN or invited:
            return
        if self.mode == SignupMode.DOMAINS:
            domain = email.rsplit("@", 1)[1]
            if domain in self.domains:
                return
            allowed = ", ".join(self.domains) or "none"
            raise PermissionDeniedError(
                f"sign-up is open to addresses at {allowed} only", param="email"
            )
        if self.mode == SignupMode.INVITE:
            raise PermissionDeniedError("sign-up is by invitation only", param="email")
        raise PermissionDeniedError("sign-up is closed on this deployment", param="email")


def sign_up(
    session: Session,
    email: str,
    password: str,
    *,
    name: str = "",
    policy: SignupPolicy,
    invitation_token: str | None = None,
    currency: str,
    now: datetime | None = None,
    seat_check: Callable[[int], None] | None = None,
) -> User:
    """Create an account and its personal organisation (audited). An invitation, if given,
    must be for this address; it lets the address in whatever the policy, and is accepted by
    the caller (the product it invites to)."""
    now = now or utcnow()
    email = normalise_email(email)
    check_new_password(password, email=email)
    name = name.strip()[:200]
    invited = False
    if invitation_token:
        invitation = open_invitation(session, invitation_token, now=now)
        if invitation.email != email:
            raise PermissionDeniedError("this invitation is for another address", param="email")
        invited = True
    policy.check(email, invited=invited)
    existing = session.scalar(select(User).where(User.email == email))
    if existing is not None and existing.password_hash is not None:
        raise ConflictError(
            "an account with this address exists: sign in, or reset its password",
            param="email",
        )
    if seat_check is not None and existing is None:
        seat_check(count_seats(session) + 1)
    if existing is None:
        user = User(id=new_id("user"), email=email, name=name)
        session.add(user)
    else:  # added by an organisation before, never signed in: the address takes it over
        user = existing
        user.name = user.name or name
    user.password_hash = hash_password(password)
    session.flush()
    org = personal_organization(session, user, currency=currency)
    audit.record(
        session, organization_id=org.id, actor=Actor.user(org.id, user.id),
        action="user.signed_up", target=user.id, details={"email": email},
    )  # fmt: skip
    return user


def personal_organization(session: Session, user: User, *, currency: str) -> Organization:
    """The user's own organisation, which they own and which is billed for them alone."""
    org = session.scalar(select(Organization).where(Organization.slug == _personal_slug(user)))
    if org is None:
        org = Organization(id=new_id("org"), name=user.email, slug=_personal_slug(user))
        session.add(org)
        session.flush()  # no relationships order the inserts: the organisation goes first
        session.add(Workspace(id=new_id("ws"), organization_id=org.id, name=DEFAULT_WORKSPACE))
        session.add(Membership(user_id=user.id, organization_id=org.id, role=Role.OWNER))
        session.flush()
        ensure_account(session, org.id, currency)
    return org


WRONG_SIGN_IN = "wrong email address or password"


def sign_in(
    session: Session, email: str, password: str, *, address: str, now: datetime | None = None
) -> User | None:
    """The user with this address and password, or None (:data:`WRONG_SIGN_IN`): the
    failure is then counted, in the caller's transaction, against the account and against
    the address it came from. Past a few in a quarter of an hour, either is refused for a
    while (429), whatever the password."""
    now = now or utcnow()
    try:
        email = normalise_email(email)
    except InvalidRequestError:
        email = email.strip().lower()[:320]
    subjects = (f"account:{email}", f"address:{address}")
    _check_throttle(session, subjects, now)
    user = session.scalar(select(User).where(User.email == email))
    if not verify_password(user.password_hash if user else None, password) or user is None:
        for subject in subjects:
            session.add(LoginFailure(subject=subject[:400], at=now))
        return None
    session.execute(delete(LoginFailure).where(LoginFailure.subject == subjects[0]))
    if user.password_hash and needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    return user


def _check_throttle(session: Session, subjects: tuple[str, str], now: datetime) -> None:
    since = now - FAILURE_WINDOW
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - 4 * FAILURE_WINDOW))
    for subject, limit in zip(subjects, (FAILURES_PER_ACCOUNT, FAILURES_PER_ADDRESS), strict=True):
        count, first = session.execute(
            select(func.count(), func.min(LoginFailure.at)).where(
                LoginFailure.subject == subject, LoginFailure.at > since
            )
        ).one()
        if count >= limit and first is not None:
            wait = max(1, math.ceil((first + FAILURE_WINDOW - now).total_seconds() / 60))
            what = "this account" if subject.startswith("account:") else "this address"
            raise RateLimitedError(
                f"too many failed sign-ins for {what}; try again in {wait} minute"
                + ("s" if wait != 1 else ""),
                code="too_many_sign_ins",
                headers={"Retry-After": str(wait * 60)},
            )


def change_password(
    session: Session,
    user_id: str,
    current: str,
    new: str,
    *,
    now: datetime | None = None,
    keep_session: str | None,
) -> None:
    """Set a new password after checking the current one; other sessions end."""
    now = now or utcnow()
    user = session.get_one(User, user_id)
    if not verify_password(user.password_hash, current):
        raise InvalidRequestError("the current password is wrong", param="current_password")
    check_new_password(new, email=user.email)
    user.password_hash = hash_password(new)
    end_sessions(session, user.id, now=now, keep=keep_session)
    audit.record(
        session, organization_id=None, actor=Actor.user(None, user.id),
        action="user.password_changed", target=user.id,
    )  # fmt: skip


def request_password_reset(
    session: Session, email: str, *, link: str, now: datetime | None = None
) -> None:
    """Mail a single-use link to set a new password (``link`` has ``{token}`` for the secret),
    if an account has the address; the caller says the same either way."""
    now = now or utcnow()
    try:
        email = normalise_email(email)
    except InvalidRequestError:
        return
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        return
    token = f"pwr-{secrets.token_urlsafe(32)}"
    session.add(
        PasswordReset(
            id=new_id("pwr"),
            user_id=user.id,
            token_hash=hash_secret(token),
            created_at=now,
            expires_at=now + timedelta(hours=RESET_HOURS),
        )
    )
    queue_mail(
        session,
        email,
        "Reset your Levante password",
        "Someone asked to reset the password of your Levante account.\n\n"
        f"To choose a new one, open: {link.format(token=token)}\n\n"
        f"The link works once, for {RESET_HOURS} hours. If you did not ask, ignore this "
        "message: your password stays as it is.\n",
        now=now,
    )


def reset_password(session: Session, token: str, new: str, *, now: datetime | None = None) -> User:
    """Set a new password with a reset link's secret; the link is used up and every session
    of the account ends."""
    now = now or utcnow()
    reset = _usable_reset(session, token, now, lock=True)
    user = session.get_one(User, reset.user_id)
    check_new_password(new, email=user.email)
    user.password_hash = hash_password(new)
    reset.used_at = now
    end_sessions(session, user.id, now=now)
    session.execute(delete(LoginFailure).where(LoginFailure.subject == f"account:{user.email}"))
    audit.record(
        session, organization_id=None, actor=Actor.user(None, user.id),
        action="user.password_reset", target=user.id,
    )  # fmt: skip
    return user


def check_reset_token(session: Session, token: str, *, now: datetime | None = None) -> None:
    """Refuse (404) a reset link that cannot be used, before its form is shown."""
    _usable_reset(session, token, now or utcnow(), lock=False)


def _usable_reset(session: Session, token: str, now: datetime, *, lock: bool) -> PasswordReset:
    query = select(PasswordReset).where(PasswordReset.token_hash == hash_secret(token))
    reset = session.scalar(query.with_for_update() if lock else query)
    if reset is None or reset.used_at is not None or reset.expires_at <= now:
        raise NotFoundError("this reset link is unknown, used or expired; ask for a new one")
    return reset


def delete_account(
    session: Session, user_id: str, password: str, *, now: datetime | None = None
) -> None:
    """Delete the account and everything that is only its own: sessions, conversations,
    memberships. Its personal organisation stays, as the customer its invoices were issued
    to, with its subscriptions cancelled; usage records stay for billing, without the user."""
    now = now or utcnow()
    user = session.get_one(User, user_id)
    if not verify_password(user.password_hash, password):
        raise InvalidRequestError("the password is wrong", param="password")
    personal = session.scalar(select(Organization).where(Organization.slug == _personal_slug(user)))
    actor = Actor.user(personal.id if personal else None, user.id)
    if personal is not None:
        for sub in session.scalars(
            select(Subscription).where(
                Subscription.organization_id == personal.id, Subscription.status.in_(LIVE)
            )
        ):
            cancel(session, personal.id, sub.id, at_period_end=False, now=now, actor=actor)
    audit.record(
        session, organization_id=personal.id if personal else None, actor=actor,
        action="user.deleted", target=user.id,
    )  # fmt: skip
    session.delete(user)
    session.flush()


def open_invitation(session: Session, token: str, *, now: datetime | None = None) -> Invitation:
    """An invitation that can still be accepted, by its secret; else 404."""
    now = now or utcnow()
    invitation = session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_secret(token))
    )
    if (
        invitation is None
        or invitation.accepted_at is not None
        or invitation.revoked_at is not None
        or invitation.expires_at <= now
    ):
        raise NotFoundError("this invitation is unknown, used, withdrawn or expired")
    return invitation


def role_in(session: Session, user_id: str, organization_id: str) -> Role | None:
    membership = session.get(Membership, (user_id, organization_id))
    return Role(membership.role) if membership is not None else None


def _personal_slug(user: User) -> str:
    return f"personal-{user.id.removeprefix('user_')}".lower()[:64]
