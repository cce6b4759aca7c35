"""Accounts on both databases: addresses proven before they grant anything, sign-in paced
without locking anyone out, password links that end, and organisations that keep an owner."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from levante import identity, tenancy
from levante.audit import Actor
from levante.errors import ConflictError, NotFoundError, PermissionDeniedError, RateLimitedError
from levante.identity import SignupPolicy, accounts, passwords
from levante.mail import outbox
from levante.storage import Database, utcnow
from levante.storage.models import (
    Membership,
    OutboundMail,
    SignupRequest,
    ThrottleAttempt,
    User,
)
from levante.tenancy.attempts import DatabaseAttempts
from levante.vocabulary import PasswordLink
from tests.helpers import mailed_link

PASSWORD = "correct horse battery"
URL = "https://levante.example"
CLI = Actor.command_line()


def _ask(database: Database, email: str, *, address: str = "192.0.2.1") -> None:
    with database.session() as session:
        identity.sign_up(
            session,
            email,
            policy=SignupPolicy(),
            public_url=URL,
            attempts=DatabaseAttempts(),
            address=address,
        )


def _link(database: Database, to: str, path: str) -> str:
    """The secret of the newest link to ``path`` mailed to ``to``."""
    return mailed_link(database, to, path).removeprefix(path)


def _users(database: Database) -> int:
    with database.session() as session:
        return session.scalar(select(func.count()).select_from(User)) or 0


def test_an_account_is_made_only_when_the_mailed_link_is_followed(database: Database) -> None:
    _ask(database, "alice@example.com")
    assert _users(database) == 0
    token = _link(database, "alice@example.com", identity.CONFIRM_PATH)
    with database.session() as session:
        assert identity.check_sign_up_token(session, token) == "alice@example.com"
        user = identity.confirm_sign_up(session, token, PASSWORD, currency="EUR")
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
    with database.session() as session, pytest.raises(NotFoundError):
        identity.confirm_sign_up(session, token, PASSWORD, currency="EUR")  # used up


def test_signing_up_with_an_address_an_operator_added_takes_nothing_over(
    database: Database,
) -> None:
    """Finding 1: a user made by `levante org member add` has no password; a stranger signing
    up with its address used to set one and inherit the memberships."""
    with database.session() as session:
        operator = tenancy.open_organization(session, CLI, name="Ops", slug="ops")
        change = tenancy.add_member(
            session, CLI, operator.slug, email="boss@example.com", role=tenancy.Role.OWNER,
            public_url=URL,
        )  # fmt: skip
        assert change.claim_link is not None
        assert change.claim_link.startswith(URL)
    _ask(database, "boss@example.com")  # a stranger asks for it
    with database.session() as session:
        boss = session.scalars(select(User).where(User.email == "boss@example.com")).one()
        assert boss.password_hash is None  # nothing set
        assert session.scalars(select(SignupRequest)).all() == []
        assert identity.sign_in(
            database, "boss@example.com", PASSWORD, address="192.0.2.1",
            attempts=DatabaseAttempts(),
        ) is None  # fmt: skip
    # The address's owner got a fresh claim link, which sets the first password.
    token = _link(database, "boss@example.com", "/password/reset/")
    with database.session() as session:
        assert identity.check_reset_token(session, token) == PasswordLink.CLAIM
        identity.reset_password(session, token, "the owner's own secret")
    with database.session() as session:
        signed = identity.sign_in(
            database, "boss@example.com", "the owner's own secret", address="192.0.2.9",
            attempts=DatabaseAttempts(),
        )  # fmt: skip
        assert signed is not None
        assert session.get(Membership, (signed.id, operator.id)) is not None


def test_sign_up_says_the_same_whether_or_not_the_address_has_an_account(
    database: Database,
) -> None:
    """Finding 9: sign-up answered 409 for a known address."""
    _ask(database, "alice@example.com")
    with database.session() as session:
        identity.confirm_sign_up(
            session,
            _link(database, "alice@example.com", identity.CONFIRM_PATH),
            PASSWORD,
            currency="EUR",
        )
    _ask(database, "alice@example.com", address="192.0.2.2")  # no ConflictError
    with database.session() as session:
        mails = [m for m in outbox(session) if m.to == "alice@example.com"]
    assert "has an account already" in mails[-1].body
    assert _users(database) == 1


def test_a_new_password_ends_every_open_reset_link(database: Database) -> None:
    """Finding 9: a reset link outlived a password change."""
    attempts = DatabaseAttempts()
    _ask(database, "alice@example.com")
    with database.session() as session:
        user = identity.confirm_sign_up(
            session,
            _link(database, "alice@example.com", identity.CONFIRM_PATH),
            PASSWORD,
            currency="EUR",
        )
        identity.request_password_reset(
            session, "alice@example.com", public_url=URL, attempts=attempts, address="192.0.2.1"
        )
    token = _link(database, "alice@example.com", "/password/reset/")
    with database.session() as session:
        identity.change_password(
            session, user.id, PASSWORD, "a different secret", keep_session=None
        )
    with database.session() as session, pytest.raises(NotFoundError):
        identity.check_reset_token(session, token)


def test_a_stranger_guessing_does_not_lock_the_owner_out(database: Database) -> None:
    """Finding 3: five wrong passwords from anywhere locked the account for its owner."""
    attempts = DatabaseAttempts()
    _ask(database, "alice@example.com")
    with database.session() as session:
        user = identity.confirm_sign_up(
            session,
            _link(database, "alice@example.com", identity.CONFIRM_PATH),
            PASSWORD,
            currency="EUR",
        )
        identity.open_session(session, user, address="198.51.100.7", user_agent="home")
    now = utcnow()
    refused = 0
    for n in range(60):
        with database.session() as session:
            try:
                identity.sign_in(
                    database, "alice@example.com", "wrong guess!", address="203.0.113.66",
                    attempts=attempts, now=now + timedelta(milliseconds=n),
                )  # fmt: skip
            except RateLimitedError:
                refused += 1
    assert refused >= 50  # the stranger is slowed down...
    with database.session() as session:  # ...the owner, from home, is not
        assert identity.sign_in(
            database, "alice@example.com", PASSWORD, address="198.51.100.7", attempts=attempts,
            now=now + timedelta(seconds=1),
        ) is not None  # fmt: skip


def test_concurrent_wrong_passwords_get_only_the_free_guesses(database: Database) -> None:
    """Finding 2: on PostgreSQL, 30 concurrent wrong passwords gave 19 guesses (limit 5)."""
    attempts = DatabaseAttempts()
    _ask(database, "alice@example.com")
    with database.session() as session:
        identity.confirm_sign_up(
            session,
            _link(database, "alice@example.com", identity.CONFIRM_PATH),
            PASSWORD,
            currency="EUR",
        )
    now = utcnow()

    def guess(_: int) -> bool:
        try:
            identity.sign_in(
                database, "alice@example.com", "wrong guess!", address="203.0.113.66",
                attempts=attempts, now=now,
            )  # fmt: skip
        except RateLimitedError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=10) as pool:
        guesses = sum(pool.map(guess, range(30)))
    assert guesses == identity.DEFAULT_PACES.sign_ins.free


def test_sign_ups_and_reset_mails_are_paced(database: Database) -> None:
    """Finding 4: 30 sign-ups in 4 s from one address; 30 reset mails to one inbox in 2 s."""
    attempts = DatabaseAttempts()
    for n in range(5):
        _ask(database, f"person{n}@example.com", address="192.0.2.50")
    with database.session() as session, pytest.raises(RateLimitedError):
        identity.sign_up(
            session,
            "person9@example.com",
            policy=SignupPolicy(),
            public_url=URL,
            attempts=attempts,
            address="192.0.2.50",
        )
    with database.session() as session:
        identity.confirm_sign_up(
            session,
            _link(database, "person0@example.com", identity.CONFIRM_PATH),
            PASSWORD,
            currency="EUR",
        )
    for n in range(10):
        with database.session() as session:
            identity.request_password_reset(
                session, "person0@example.com", public_url=URL, attempts=attempts,
                address=f"192.0.2.{100 + n}",
            )  # fmt: skip
    with database.session() as session:
        mails = [m for m in outbox(session) if m.to == "person0@example.com"]
    assert len(mails) == 3  # the sign-up's own link, then two resets: three an hour


def test_no_change_leaves_an_organisation_without_an_owner(database: Database) -> None:
    """Finding 10: an admin could remove or demote the only owner."""
    with database.session() as session:
        org = tenancy.open_organization(session, CLI, name="Acme", slug="acme")
        owner = tenancy.add_member(
            session, CLI, "acme", email="o@acme.example", role=tenancy.Role.OWNER, public_url=URL
        ).user
        assert owner is not None
        tenancy.add_member(
            session, CLI, "acme", email="a@acme.example", role=tenancy.Role.ADMIN, public_url=URL
        )
    admin = Actor.user(org.id, "someone", tenancy.Role.ADMIN)
    itself = Actor.user(org.id, owner.id, tenancy.Role.OWNER)
    with database.session() as session, pytest.raises(PermissionDeniedError):
        tenancy.remove_member(session, admin, user_id=owner.id)  # an owner is an owner's
    with database.session() as session, pytest.raises(PermissionDeniedError):
        tenancy.add_member(  # and so is making one: an admin cannot promote themselves
            session, admin, email="a@acme.example", role=tenancy.Role.OWNER, public_url=URL
        )
    with database.session() as session, pytest.raises(ConflictError):
        tenancy.remove_member(session, itself, user_id=owner.id)
    with database.session() as session, pytest.raises(ConflictError):
        tenancy.add_member(
            session, itself, email="o@acme.example", role=tenancy.Role.MEMBER, public_url=URL
        )
    with database.session() as session:  # with a second owner, the first may step down
        tenancy.add_member(
            session, itself, email="a@acme.example", role=tenancy.Role.OWNER, public_url=URL
        )
        tenancy.remove_member(session, itself, user_id=owner.id)


def test_two_owners_stepping_down_at_once_leave_one(database: Database) -> None:
    """The last-owner rule holds under concurrency on SQLite too (FOR UPDATE is ignored)."""
    with database.session() as session:
        org = tenancy.open_organization(session, CLI, name="Acme", slug="acme")
        firsts = [
            tenancy.add_member(
                session, CLI, "acme", email=f"o{n}@acme.example", role=tenancy.Role.OWNER,
                public_url=URL,
            ).user
            for n in range(2)
        ]  # fmt: skip
    users = [u.id for u in firsts if u is not None]

    def step_down(user_id: str) -> bool:
        me = Actor.user(org.id, user_id, tenancy.Role.OWNER)
        try:
            with database.session() as session:
                tenancy.remove_member(session, me, user_id=user_id)
        except ConflictError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=2) as pool:
        done = list(pool.map(step_down, users))
    assert sorted(done) == [False, True]


def test_a_strangers_sign_up_never_sets_the_password(database: Database) -> None:
    """Review: the password given at sign-up was kept and set when the link was confirmed,
    so a stranger's sign-up, confirmed by the unsuspecting owner, held the account."""
    _ask(database, "victim@example.com", address="203.0.113.66")  # the stranger asks
    token = _link(database, "victim@example.com", identity.CONFIRM_PATH)
    with database.session() as session:
        user = identity.confirm_sign_up(session, token, "the owner's own secret", currency="EUR")
        email = user.email
    with database.session() as session:
        assert identity.sign_in(
            database, email, "the owner's own secret", address="198.51.100.1",
            attempts=DatabaseAttempts(),
        ) is not None  # fmt: skip


def test_a_confirm_is_refused_once_the_address_has_a_user(database: Database) -> None:
    """Review: a pending sign-up took over a user an organisation added meanwhile."""
    _ask(database, "boss@example.com")
    token = _link(database, "boss@example.com", identity.CONFIRM_PATH)
    with database.session() as session:
        tenancy.open_organization(session, CLI, name="Ops", slug="ops")
        tenancy.add_member(
            session, CLI, "ops", email="boss@example.com", role=tenancy.Role.OWNER,
            public_url=URL,
        )  # fmt: skip
    with database.session() as session, pytest.raises(ConflictError):
        identity.confirm_sign_up(session, token, "a stranger's secret", currency="EUR")
    with database.session() as session:
        boss = session.scalars(select(User).where(User.email == "boss@example.com")).one()
        assert boss.password_hash is None


def test_an_invitation_link_does_not_make_an_account(database: Database) -> None:
    """Review: an invitation shown to its sender (no mail server) let them sign up as the
    invited address, and claim a user an operator had made."""
    with database.session() as session:
        tenancy.open_organization(session, CLI, name="Ops", slug="ops")
        tenancy.add_member(
            session, CLI, "ops", email="boss@example.com", role=tenancy.Role.OWNER,
            public_url=URL,
        )  # fmt: skip
        tenancy.open_organization(session, CLI, name="Eve", slug="eve")
        tenancy.add_member(
            session, CLI, "eve", email="eve@example.com", role=tenancy.Role.OWNER, public_url=URL
        )  # fmt: skip
        invited = tenancy.add_member(
            session, CLI, "eve", email="boss@example.com", role=tenancy.Role.MEMBER,
            public_url=URL,
        )  # fmt: skip
        assert invited.invitation is not None
    token = re.search(r"/invitations/(\S+)", _body(database, "boss@example.com", "invite"))
    assert token is not None
    with database.session() as session:
        identity.sign_up(
            session, "boss@example.com", policy=SignupPolicy(), public_url=URL,
            attempts=DatabaseAttempts(), address="203.0.113.66", invitation_token=token.group(1),
        )  # fmt: skip
    with database.session() as session:
        boss = session.scalars(select(User).where(User.email == "boss@example.com")).one()
        assert boss.password_hash is None


def _body(database: Database, to: str, word: str) -> str:
    with database.session() as session:
        bodies = session.scalars(
            select(OutboundMail.body).where(OutboundMail.to == to).order_by(OutboundMail.id)
        ).all()
    return next(b for b in reversed(bodies) if word in b)


def test_the_attempt_is_committed_before_the_password_is_checked(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Review: the attempt stayed uncommitted through argon2, so on SQLite every writer waited
    for each sign-in's tenth of a second. Now another connection sees it during the check."""
    seen: list[int] = []
    real = passwords.verify_password

    def watched(stored: str | None, password: str) -> bool:
        with database.session() as other:
            seen.append(len(other.scalars(select(ThrottleAttempt)).all()))
        return real(stored, password)

    monkeypatch.setattr(accounts, "verify_password", watched)
    assert identity.sign_in(
        database, "nobody@example.com", "wrong guess!", address="203.0.113.66",
        attempts=DatabaseAttempts(),
    ) is None  # fmt: skip
    assert seen == [3]  # the account from this address, the address, the account from anywhere


def test_a_reset_link_sets_one_password_when_used_at_once(database: Database) -> None:
    """Probe: on SQLite, six requests at once with one reset link all set a password (the
    last won); PostgreSQL's row lock held."""
    _ask(database, "alice@example.com")
    with database.session() as session:
        identity.confirm_sign_up(
            session, _link(database, "alice@example.com", identity.CONFIRM_PATH), PASSWORD,
            currency="EUR",
        )  # fmt: skip
        identity.request_password_reset(
            session, "alice@example.com", public_url=URL, attempts=DatabaseAttempts(),
            address="192.0.2.1",
        )  # fmt: skip
    token = _link(database, "alice@example.com", "/password/reset/")

    def use(n: int) -> bool:
        try:
            with database.session() as session:
                identity.reset_password(session, token, f"new secret number {n}")
        except NotFoundError:
            return False
        return True

    with ThreadPoolExecutor(max_workers=6) as pool:
        done = list(pool.map(use, range(6)))
    assert done.count(True) == 1


def test_mail_others_cause_leaves_the_owner_a_working_link(database: Database) -> None:
    """Probe: strangers' sign-ups with an address used up its mailbox's cap with mails that
    held no link, so the owner's own reset request sent nothing they could use."""
    _ask(database, "alice@example.com")
    with database.session() as session:
        identity.confirm_sign_up(
            session, _link(database, "alice@example.com", identity.CONFIRM_PATH), PASSWORD,
            currency="EUR",
        )  # fmt: skip
    for n in range(6):  # strangers, each from an address of their own
        _ask(database, "alice@example.com", address=f"203.0.113.{n + 10}")
    with database.session() as session:
        identity.request_password_reset(  # the owner: past the cap, nothing new is sent
            session, "alice@example.com", public_url=URL, attempts=DatabaseAttempts(),
            address="198.51.100.1",
        )  # fmt: skip
    token = _link(database, "alice@example.com", "/password/reset/")
    with database.session() as session:
        identity.reset_password(session, token, "the owner's new secret")
