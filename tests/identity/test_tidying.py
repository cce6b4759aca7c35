"""Tidying the front door's rows: what no pace, link or session list reads again goes; what
may still be used stays."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from levante import identity
from levante.storage import Database, utcnow
from levante.storage.models import PasswordReset, SignupRequest, ThrottleAttempt, User, WebSession
from levante.tenancy.keys import hash_secret


def _count(database: Database, model: type) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_tidy_forgets_only_what_nothing_reads_again(database: Database) -> None:
    now = utcnow()
    old, recent = now - timedelta(hours=2), now - timedelta(minutes=5)
    with database.session() as session:
        user = User(id="user_t", email="t@example.com", name="")
        session.add(user)
        session.flush()
        session.add_all([
            ThrottleAttempt(subject="sign-in:old", at=old),
            ThrottleAttempt(subject="sign-in:recent", at=recent),
            SignupRequest(id="sign_a", email="a@example.com", token_hash=hash_secret("a"),
                          created_at=old, expires_at=now - timedelta(seconds=1)),
            SignupRequest(id="sign_b", email="b@example.com", token_hash=hash_secret("b"),
                          created_at=recent, expires_at=now + timedelta(hours=1)),
            PasswordReset(id="reset_c", user_id=user.id, token_hash=hash_secret("c"),
                          created_at=old, expires_at=now - timedelta(seconds=1)),
            PasswordReset(id="reset_d", user_id=user.id, token_hash=hash_secret("d"),
                          created_at=recent, expires_at=now + timedelta(hours=1)),
        ])  # fmt: skip
    with database.session() as session:
        live = identity.open_session(session, user, address="192.0.2.1", user_agent="")
        ended = identity.open_session(session, user, address="192.0.2.2", user_agent="")
        identity.end_session(session, ended.signed_in.session_id)
    with database.session() as session:
        session.get_one(WebSession, ended.signed_in.session_id).revoked_at = now - timedelta(days=8)

    tidied = identity.tidy(database, identity.DEFAULT_PACES, now=now)

    assert (tidied.attempts, tidied.sign_ups, tidied.password_links, tidied.sessions) == (
        1,
        1,
        1,
        1,
    )
    for model in (ThrottleAttempt, SignupRequest, PasswordReset, WebSession):
        assert _count(database, model) == 1, model
    with database.session() as session:
        assert identity.find_session(session, live.secret) is not None
