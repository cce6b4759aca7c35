"""Forgetting what the front door no longer needs: attempts older than any pace looks back,
sign-up and password links past their expiry, sessions ended or expired a while ago. Every
gateway process runs it on a timer; deleting what is already gone is harmless, so processes
run it side by side."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_

from levante.periodic import PeriodicWorker
from levante.storage import Database, utcnow
from levante.storage.models import PasswordReset, SignupRequest, ThrottleAttempt, WebSession
from levante.tenancy.attempts import Paces

# Ended sessions stay listed this long (the account page shows where one signed in from).
ENDED_SESSIONS_KEPT = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Tidied:
    attempts: int
    sign_ups: int
    password_links: int
    sessions: int


def tidy(database: Database, paces: Paces, *, now: datetime | None = None) -> Tidied:
    """Delete the rows nothing will read again; return how many of each."""
    now = now or utcnow()
    with database.session() as session:
        attempts = session.execute(
            delete(ThrottleAttempt).where(ThrottleAttempt.at <= now - paces.longest_window)
        )
        sign_ups = session.execute(delete(SignupRequest).where(SignupRequest.expires_at <= now))
        links = session.execute(delete(PasswordReset).where(PasswordReset.expires_at <= now))
        ended = now - ENDED_SESSIONS_KEPT
        sessions = session.execute(
            delete(WebSession).where(
                or_(WebSession.expires_at <= ended, WebSession.revoked_at <= ended)
            )
        )
        return Tidied(*(_count(r) for r in (attempts, sign_ups, links, sessions)))


def _count(result: object) -> int:
    return int(getattr(result, "rowcount", 0) or 0)


class TidyingWorker(PeriodicWorker):
    """Runs :func:`tidy` every ``interval_seconds`` (ten minutes by default)."""

    def __init__(self, database: Database, paces: Paces, interval_seconds: float = 600) -> None:
        super().__init__("identity-tidying", interval_seconds, lambda: tidy(database, paces))
