"""Web sessions: a row per signed-in browser, found by the SHA-256 of the cookie's secret.

Sessions live in the database, so that every gateway process knows them and ending one (a
sign-out, a password change, a deleted account) ends it everywhere at once.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from levante.storage import new_id, utcnow
from levante.storage.models import User, WebSession
from levante.tenancy.keys import hash_secret

SESSION_DAYS = 30
_TOUCH_EVERY = timedelta(minutes=5)


@dataclass(frozen=True, slots=True)
class SignedIn:
    """A live session and its user, as a page sees them (with the notice left for it)."""

    session_id: str
    user_id: str
    email: str
    name: str
    csrf_token: str
    notice: str | None = None  # the outcome of a form, told once on the next page


@dataclass(frozen=True, slots=True)
class BrowserSession:
    """One of a person's live sessions, as the account page lists them."""

    id: str
    address: str
    user_agent: str
    created_at: datetime
    last_seen_at: datetime
    current: bool


@dataclass(frozen=True, slots=True)
class OpenedSession:
    signed_in: SignedIn
    secret: str  # for the cookie; never stored
    expires_at: datetime


def open_session(
    session: Session, user: User, *, address: str, user_agent: str, now: datetime | None = None
) -> OpenedSession:
    now = now or utcnow()
    secret = secrets.token_urlsafe(32)
    row = WebSession(
        id=new_id("ses"),
        token_hash=hash_secret(secret),
        user_id=user.id,
        csrf_token=secrets.token_urlsafe(32),
        address=address[:64],
        user_agent=user_agent[:200],
        created_at=now,
        last_seen_at=now,
        expires_at=now + timedelta(days=SESSION_DAYS),
    )
    session.add(row)
    session.flush()
    return OpenedSession(_signed_in(row, user), secret, row.expires_at)


def find_session(
    session: Session, secret: str, *, now: datetime | None = None, take_notice: bool = False
) -> SignedIn | None:
    """The live session behind a cookie's secret, or None; seen at most every few minutes.
    With ``take_notice`` (a page about to be shown), the notice left for it comes along and
    is cleared."""
    now = now or utcnow()
    if not secret or len(secret) > 100:
        return None
    found = session.execute(
        select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.token_hash == hash_secret(secret))
    ).first()
    if found is None:
        return None
    row, user = found
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    notice = None
    if take_notice and row.notice is not None:
        notice, row.notice = row.notice, None
    return _signed_in(row, user, notice)


def leave_notice(session: Session, session_id: str, text: str) -> None:
    """Leave ``text`` for the session's next page (the outcome of a form it posted)."""
    session.execute(update(WebSession).where(WebSession.id == session_id).values(notice=text[:500]))


def list_sessions(
    session: Session, user_id: str, *, current: str, now: datetime | None = None
) -> list[BrowserSession]:
    """The person's live sessions, this one first, then the most recently seen."""
    now = now or utcnow()
    rows = session.scalars(
        select(WebSession)
        .where(
            WebSession.user_id == user_id,
            WebSession.revoked_at.is_(None),
            WebSession.expires_at > now,
        )
        .order_by(WebSession.last_seen_at.desc())
    ).all()
    found = [
        BrowserSession(
            row.id,
            row.address,
            row.user_agent,
            row.created_at,
            row.last_seen_at,
            row.id == current,
        )
        for row in rows
    ]
    return sorted(found, key=lambda item: not item.current)


def end_session(session: Session, session_id: str, *, now: datetime | None = None) -> None:
    now = now or utcnow()
    session.execute(
        update(WebSession)
        .where(WebSession.id == session_id, WebSession.revoked_at.is_(None))
        .values(revoked_at=now)
    )


def end_sessions(
    session: Session, user_id: str, *, now: datetime | None = None, keep: str | None = None
) -> int:
    """End every session of the user (but ``keep``); returns how many."""
    now = now or utcnow()
    query = update(WebSession).where(WebSession.user_id == user_id, WebSession.revoked_at.is_(None))
    if keep is not None:
        query = query.where(WebSession.id != keep)
    result = session.execute(query.values(revoked_at=now))
    return int(getattr(result, "rowcount", 0) or 0)


def _signed_in(row: WebSession, user: User, notice: str | None = None) -> SignedIn:
    return SignedIn(row.id, user.id, user.email, user.name, row.csrf_token, notice)
