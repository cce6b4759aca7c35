"""Accounts: sign-up under the deployment's policy, sign-in with throttling, passwords that
change or are reset by mail, and deleting an account with everything that is only its own.

Each sign-up gets a personal organisation (its owner, on the Free plan, with a billing
account), so that a person who chats is a customer in the same record as an API customer.
"""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
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
)
from levante.identity.passwords import (
    check_new_password,
    hash_password,
    needs_rehash,
    verify_password,
)
from levante.identity.sessions import SESSION_DAYS, end_sessions
from levante.mail import queue_mail
from levante.storage import Database, new_id, utcnow
from levante.storage.models import (
    Membership,
    Organization,
    PasswordReset,
    Role,
    SignupRequest,
    Subscription,
    User,
    WebSession,
    Workspace,
)
from levante.tenancy.attempts import DEFAULT_PACES, Attempts, Paces, admit, allowed
from levante.tenancy.invitations import PASSWORD_LINK_PATH, mail_claim_link, open_invitation
from levante.tenancy.keys import hash_secret
from levante.tenancy.permissions import granted
from levante.tenancy.records import (
    DEFAULT_WORKSPACE,
    count_seats,
    keep_an_owner,
    normalise_email,
)
from levante.vocabulary import PasswordLink, Permission, SignupMode

RESET_HOURS = 2
SIGN_UP_HOURS = 24
CONFIRM_PATH = "/signup/confirm/"


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
    *,
    name: str = "",
    policy: SignupPolicy,
    public_url: str,
    attempts: Attempts,
    address: str,
    paces: Paces = DEFAULT_PACES,
    invitation_token: str | None = None,
    now: datetime | None = None,
) -> str:
    """Ask for an account; returns the address, normalised. Nothing is made here: the link
    mailed to the address leads to a page where its owner chooses the password, and only
    then is the account made (:func:`confirm_sign_up`), so neither a stranger's password nor
    an invitation link shown on another's screen ever holds an account. An address that has
    an account is mailed how to sign in; one an organisation added, a fresh claim link. The
    answer is "check your mail" either way, so a sign-up tells nobody which addresses have
    accounts. An invitation for this address lets it in whatever the sign-up policy."""
    now = now or utcnow()
    email = normalise_email(email)
    name = name.strip()[:200]
    admit(attempts, session, [(f"sign-up-from:{address_group(address)}", paces.sign_ups)],
          message="too many sign-ups from your address", now=now)  # fmt: skip
    invited = False
    if invitation_token:
        invited = open_invitation(session, invitation_token, now=now).email == email
    policy.check(email, invited=invited)
    if not allowed(attempts, session, [(f"mail-to:{email}", paces.mails)], now=now):
        return email
    existing = session.scalar(select(User).where(User.email == email))
    base = public_url.rstrip("/")
    if existing is not None and existing.password_hash is None:
        mail_claim_link(session, existing, base, now=now)
    elif existing is not None:
        queue_mail(
            session, email, "Your Levante account",
            "Someone asked to sign up on Levante with this address, which has an account "
            f"already.\n\nTo sign in: {base}/login\nIf you forgot your password, choose a "
            f"new one: {_reset_link(session, existing, base, now)}\n(the link works once, for "
            f"{RESET_HOURS} hours)\n\nIf it was not you, ignore this message: nothing "
            "changed.\n",
            now=now,
        )  # fmt: skip
    else:
        token = f"sup-{secrets.token_urlsafe(32)}"
        session.add(
            SignupRequest(
                id=new_id("sup"), email=email, name=name, token_hash=hash_secret(token),
                created_at=now, expires_at=now + timedelta(hours=SIGN_UP_HOURS),
            )
        )  # fmt: skip
        queue_mail(
            session, email, "Confirm your address for Levante",
            "Someone asked to make a Levante account with this address.\n\n"
            f"To confirm it, choose your password and sign in, open: "
            f"{base}{CONFIRM_PATH}{token}\n\n"
            f"The link works once, for {SIGN_UP_HOURS} hours. If it was not you, ignore this "
            "message: no account is made.\n",
            now=now,
        )  # fmt: skip
    return email


def create_account(
    session: Session,
    actor: Actor,
    email: str,
    password: str,
    *,
    name: str = "",
    currency: str,
    now: datetime | None = None,
) -> User:
    """Make an account at once, the address vouched for by the operator (the command line, a
    simulated company); anyone else signs up and proves the address."""
    if not actor.operator:
        raise PermissionDeniedError("only the operator makes accounts without a sign-up")
    now = now or utcnow()
    email = normalise_email(email)
    check_new_password(password, email=email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise ConflictError(f"{email} has an account already", param="email")
    return _make_account(
        session, email, name.strip()[:200], hash_password(password), currency=currency, now=now
    )


def confirm_sign_up(
    session: Session,
    token: str,
    password: str,
    *,
    currency: str,
    now: datetime | None = None,
    seat_check: Callable[[int], None] | None = None,
) -> User:
    """Make the account a sign-up asked for, with the password its address's owner chooses
    now (the link is used up). An address that has any user by now, claimed or not, is
    refused: its owner signs in, resets, or follows the claim link instead."""
    now = now or utcnow()
    request = _usable_sign_up(session, token, now, lock=True)
    check_new_password(password, email=request.email)
    if session.scalar(select(User.id).where(User.email == request.email)) is not None:
        raise ConflictError(
            "this address has an account already: sign in, or reset its password",
            param="email",
        )
    if seat_check is not None:
        seat_check(count_seats(session) + 1)
    request.used_at = now
    return _make_account(
        session, request.email, request.name, hash_password(password), currency=currency, now=now
    )


def check_sign_up_token(session: Session, token: str, *, now: datetime | None = None) -> str:
    """The address a sign-up link confirms; 404 for a link that cannot be used."""
    return _usable_sign_up(session, token, now or utcnow(), lock=False).email


def _usable_sign_up(session: Session, token: str, now: datetime, *, lock: bool) -> SignupRequest:
    query = select(SignupRequest).where(SignupRequest.token_hash == hash_secret(token[:200]))
    request = session.scalar(query.with_for_update() if lock else query)
    if request is None or request.used_at is not None or request.expires_at <= now:
        raise NotFoundError("this link is unknown, used or expired; sign up again")
    return request


def _make_account(
    session: Session, email: str, name: str, password_hash: str, *, currency: str, now: datetime
) -> User:
    user = User(id=new_id("user"), email=email, name=name, password_hash=password_hash)
    session.add(user)
    session.flush()
    org = personal_organization(session, user, currency=currency)
    audit.record(
        session, organization_id=org.id, actor=Actor.user(org.id, user.id, Role.OWNER),
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
    database: Database,
    email: str,
    password: str,
    *,
    address: str,
    attempts: Attempts,
    paces: Paces = DEFAULT_PACES,
    now: datetime | None = None,
) -> User | None:
    """The user with this address and password, or None (:data:`WRONG_SIGN_IN`).

    Every attempt is counted before the password is checked, against the account tried from
    this address (an IPv6 address by its /64), against the address, and against the account
    from addresses it has never been signed into (whose wait is a minute at most, so the owner
    from a new place is never held long): past a few, each next attempt waits longer (429 with
    ``Retry-After``). A stranger guessing slows down only themselves; the owner, from an
    address they have signed in from, is not held up by them. A correct password uncounts its
    attempt and clears the account-from-address count.

    The attempt is committed before the password is checked: it counts however the check
    ends, and no lock is held through argon2's tenth of a second (on SQLite, the one write
    lock every writer waits for).
    """
    now = now or utcnow()
    try:
        email = normalise_email(email)
    except InvalidRequestError:
        email = email.strip().lower()[:320]
    network = address_group(address)
    subjects = [
        (f"sign-in:{email}|{network}", paces.sign_ins),
        (f"sign-in-from:{network}", paces.sign_ins_from),
    ]
    with database.session() as session:
        user = session.scalar(select(User).where(User.email == email))
        if user is None or not _known_address(session, user.id, address, now):
            subjects.append((f"sign-in-to:{email}", paces.sign_ins_to))
        taken = admit(attempts, session, subjects, message="too many failed sign-ins", now=now)
    stored = user.password_hash if user is not None else None
    # Checked first, whoever asked: an unknown address takes as long as a known one.
    if not verify_password(stored, password) or user is None or stored is None:
        return None
    with database.session() as session:
        attempts.give_back(session, taken)
        attempts.forget(session, subjects[0][0])
        if needs_rehash(stored):  # unless the password changed meanwhile
            session.execute(
                update(User)
                .where(User.id == user.id, User.password_hash == stored)
                .values(password_hash=hash_password(password))
            )
    return user


def address_group(address: str) -> str:
    """What an address is counted as: an IPv4 address itself, an IPv6 one by its /64 (one
    subscriber's whole prefix, which a client can rotate through at will)."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if parsed.version == 6:
        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))
    return str(parsed)


def _known_address(session: Session, user_id: str, address: str, now: datetime) -> bool:
    """Whether the account has been signed into from ``address`` lately."""
    return (
        session.scalar(
            select(WebSession.id)
            .where(
                WebSession.user_id == user_id,
                WebSession.address == address[:64],
                WebSession.created_at > now - timedelta(days=SESSION_DAYS),
            )
            .limit(1)
        )
        is not None
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
    _end_password_links(session, user.id, now)
    audit.record(
        session, organization_id=None, actor=Actor.user(None, user.id),
        action="user.password_changed", target=user.id,
    )  # fmt: skip


def set_password(
    session: Session, actor: Actor, email: str, password: str, *, now: datetime | None = None
) -> User:
    """The operator sets a user's password (the first owner of a deployment, or someone who
    lost their mailbox): their links to set one end, and so do their sessions (audited)."""
    if not actor.operator:
        raise PermissionDeniedError("only the operator may set another person's password")
    now = now or utcnow()
    email = normalise_email(email)
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        raise NotFoundError(f"no user with the address {email}", param="email")
    check_new_password(password, email=email)
    user.password_hash = hash_password(password)
    _end_password_links(session, user.id, now)
    end_sessions(session, user.id, now=now)
    audit.record(
        session, organization_id=None, actor=actor, action="user.password_set",
        target=user.id, details={"email": email},
    )  # fmt: skip
    return user


def request_password_reset(
    session: Session,
    email: str,
    *,
    public_url: str,
    attempts: Attempts,
    address: str,
    paces: Paces = DEFAULT_PACES,
    now: datetime | None = None,
) -> None:
    """Mail a single-use link to set a new password, if an account has the address; the
    caller says the same either way. Requests are paced per requesting address (429) and per
    mailbox (silently: no more mail goes to one inbox than a person needs)."""
    now = now or utcnow()
    admit(attempts, session, [(f"reset-from:{address_group(address)}", paces.resets)],
          message="too many reset requests from your address", now=now)  # fmt: skip
    try:
        email = normalise_email(email)
    except InvalidRequestError:
        return
    if not allowed(attempts, session, [(f"mail-to:{email}", paces.mails)], now=now):
        return
    user = session.scalar(select(User).where(User.email == email))
    if user is None:
        return
    if user.password_hash is None:  # never claimed: the claim link says what to do
        mail_claim_link(session, user, public_url, now=now)
        return
    link = _reset_link(session, user, public_url, now)
    queue_mail(
        session,
        email,
        "Reset your Levante password",
        "Someone asked to reset the password of your Levante account.\n\n"
        f"To choose a new one, open: {link}\n\n"
        f"The link works once, for {RESET_HOURS} hours. If you did not ask, ignore this "
        "message: your password stays as it is.\n",
        now=now,
    )


def _reset_link(session: Session, user: User, public_url: str, now: datetime) -> str:
    """A new single-use link to choose a password (open for :data:`RESET_HOURS`). Every mail
    that reaches an account's inbox carries one, so that however many mails others cause, up
    to the cap on one mailbox, the owner always holds a link that works."""
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
    return f"{public_url.rstrip('/')}{PASSWORD_LINK_PATH}{token}"


def reset_password(session: Session, token: str, new: str, *, now: datetime | None = None) -> User:
    """Set a new password with a reset link's secret; the link is used up and every session
    of the account ends."""
    now = now or utcnow()
    reset = _usable_reset(session, token, now, take=True)
    user = session.get_one(User, reset.user_id)
    check_new_password(new, email=user.email)
    user.password_hash = hash_password(new)
    _end_password_links(session, user.id, now)
    end_sessions(session, user.id, now=now)
    audit.record(
        session, organization_id=None, actor=Actor.user(None, user.id),
        action="user.password_reset", target=user.id,
    )  # fmt: skip
    return user


def check_reset_token(session: Session, token: str, *, now: datetime | None = None) -> PasswordLink:
    """What a password link is for (a reset, or claiming an account an organisation made);
    404 for a link that cannot be used, before its form is shown."""
    return PasswordLink(_usable_reset(session, token, now or utcnow(), take=False).purpose)


def _end_password_links(session: Session, user_id: str, now: datetime) -> None:
    """A password was set: every link to set one that is still open ends."""
    session.execute(
        update(PasswordReset)
        .where(PasswordReset.user_id == user_id, PasswordReset.used_at.is_(None))
        .values(used_at=now)
    )


def _usable_reset(session: Session, token: str, now: datetime, *, take: bool) -> PasswordReset:
    """The open link behind ``token``; with ``take``, used up first, in one statement, so that
    of two requests at once (on SQLite too, which has no row locks) only one finds it open. A
    form refused after that rolls back and leaves the link open."""
    hashed = hash_secret(token[:200])
    if take:
        taken = session.execute(
            update(PasswordReset)
            .where(
                PasswordReset.token_hash == hashed,
                PasswordReset.used_at.is_(None),
                PasswordReset.expires_at > now,
            )
            .values(used_at=now)
        )
        if not getattr(taken, "rowcount", 0):
            raise NotFoundError("this reset link is unknown, used or expired; ask for a new one")
    reset = session.scalar(select(PasswordReset).where(PasswordReset.token_hash == hashed))
    if reset is None or (not take and (reset.used_at is not None or reset.expires_at <= now)):
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
    for membership in session.scalars(select(Membership).where(Membership.user_id == user.id)):
        others = session.scalar(
            select(Membership.user_id).where(
                Membership.organization_id == membership.organization_id,
                Membership.user_id != user.id,
            )
        )
        if others is not None:  # a shared organisation (a Team too) keeps an owner
            keep_an_owner(session, membership)
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


def _personal_slug(user: User) -> str:
    return f"personal-{user.id.removeprefix('user_')}".lower()[:64]


def home_of(session: Session, user_id: str) -> str:
    """Where a signed-in person belongs when they open the site: the operator's console for
    those who operate it, the support queue for its agents, an organisation's console for
    those who run one they were added to, and the chat for everyone else (a personal
    organisation is the chat's, whose console stays a click away)."""
    user = session.get(User, user_id)
    if user is None:
        return "/chat"
    rows = session.execute(
        select(Organization, Membership.role)
        .join(Membership, Membership.organization_id == Organization.id)
        .where(Membership.user_id == user_id)
    ).all()
    places = set()
    for org, role in rows:
        allowed = granted(
            Actor.user(org.id, user_id, Role(role)), operator_organization=org.is_operator
        )
        if org.is_operator and Permission.OPERATE in allowed:
            places.add("/console/operator")
        elif org.is_operator and Permission.WORK_TICKETS in allowed:
            places.add("/support/queue")
        elif org.slug != _personal_slug(user) and Permission.OPEN_CONSOLE in allowed:
            places.add("/console")
    for place in ("/console/operator", "/support/queue", "/console"):
        if place in places:
            return place
    return "/chat"
