"""Throttling the front door: sign-ins, sign-ups and mailed links, counted per subject.

A subject is what an attempt is counted against: an account tried from one address, an
address, a mailbox that links are sent to. Each subject has a :class:`Pace`: so many attempts
free within a window, then each further attempt must wait twice as long after the one before
it as the last had to, up to a ceiling. Nothing is ever locked outright: a stranger who keeps
guessing slows down only the subjects they touch, and the account's owner, signing in from
their own address, is counted apart from them. A refused attempt is not counted, so the wait
a refusal names is the wait there is.

Attempts are taken atomically with the work they guard: in the database, in the caller's
transaction, after a lock on each subject (PostgreSQL's advisory locks; SQLite has one writer
at a time), so that thirty guesses at once are still counted one by one; or in one Redis
script when several gateways share Redis. Attempts older than their window are swept.
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import redis
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from levante.errors import RateLimitedError
from levante.settings import ChatSettings
from levante.storage import utcnow
from levante.storage.models import ThrottleAttempt


@dataclass(frozen=True, slots=True)
class Pace:
    """How often a subject may be tried: ``free`` attempts within ``window``, then a growing
    wait between attempts, from ``first_wait`` doubling up to ``longest_wait``."""

    free: int
    window: timedelta
    first_wait: timedelta = timedelta(seconds=1)
    longest_wait: timedelta = timedelta(minutes=15)

    def wait_before(self, count: int) -> timedelta:
        """The wait the ``count``-th attempt within the window needs after the one before it."""
        if count <= self.free:
            return timedelta(0)
        doublings = min(count - self.free - 1, 30)
        wait: timedelta = self.first_wait * (2**doublings)
        return min(wait, self.longest_wait)


Subjects = Sequence[tuple[str, Pace]]

_HOUR = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class Paces:
    """How often the front door may be tried."""

    sign_ins: Pace  # one account from one address
    sign_ins_from: Pace  # one address, across accounts
    sign_ins_to: Pace  # one account, from addresses it was never signed into
    sign_ups: Pace  # from one address
    resets: Pace  # reset requests from one address
    mails: Pace  # links mailed to one mailbox
    invitations: Pace  # sent by one person

    @classmethod
    def of(cls, settings: ChatSettings) -> Paces:
        failures = settings.sign_in_failures
        return cls(
            sign_ins=Pace(failures, _HOUR),
            sign_ins_from=Pace(6 * failures, _HOUR),
            sign_ins_to=Pace(10 * failures, _HOUR, longest_wait=timedelta(minutes=1)),
            sign_ups=Pace(settings.sign_ups_per_hour, _HOUR, timedelta(minutes=1)),
            resets=Pace(settings.resets_per_hour, _HOUR, timedelta(seconds=30)),
            mails=Pace(settings.mails_per_hour, _HOUR, timedelta(minutes=2)),
            invitations=Pace(20, _HOUR, timedelta(seconds=30)),
        )

    @property
    def longest_window(self) -> timedelta:
        paces: list[Pace] = [getattr(self, name) for name in self.__slots__]
        return max(pace.window for pace in paces)


DEFAULT_PACES = Paces.of(ChatSettings())


@dataclass(frozen=True, slots=True)
class Taken:
    """An attempt as counted: ``wait`` above zero when it was refused (and nothing was
    taken); else what :meth:`Attempts.give_back` needs to uncount it."""

    wait: timedelta
    keys: tuple[str, ...] = ()
    rows: tuple[int, ...] = ()
    member: str = ""


class Attempts(Protocol):
    """Where attempts are counted: the database, or Redis when several gateways share it."""

    def take(self, session: Session, subjects: Subjects, now: datetime) -> Taken:
        """Take one attempt against every subject, atomically, if none must wait; else take
        nothing and say the longest wait."""
        ...

    def give_back(self, session: Session, taken: Taken) -> None:
        """Uncount an attempt that turned out to be the rightful one (a correct password)."""
        ...

    def forget(self, session: Session, subject: str) -> None:
        """Clear a subject's attempts."""
        ...


def admit(
    attempts: Attempts,
    session: Session,
    subjects: Subjects,
    *,
    message: str,
    now: datetime | None = None,
) -> Taken:
    """Take an attempt against every subject, or refuse it (429 with ``Retry-After``) while
    any of them must still wait."""
    taken = attempts.take(session, subjects, now or utcnow())
    if taken.wait > timedelta(0):
        seconds = max(1, math.ceil(taken.wait.total_seconds()))
        raise RateLimitedError(
            f"{message}; try again in {_say(seconds)}",
            code="too_many_attempts",
            headers={"Retry-After": str(seconds)},
        )
    return taken


def allowed(
    attempts: Attempts, session: Session, subjects: Subjects, *, now: datetime | None = None
) -> bool:
    """Like :func:`admit`, for attempts whose refusal must not show (a mail not sent)."""
    return attempts.take(session, subjects, now or utcnow()).wait <= timedelta(0)


def _say(seconds: int) -> str:
    if seconds < 90:
        return f"{seconds} second" + ("s" if seconds != 1 else "")
    return f"{math.ceil(seconds / 60)} minutes"


def _wait(pace: Pace, count: int, previous: datetime | None, now: datetime) -> timedelta:
    """How long the ``count``-th attempt must still wait, the one before it at ``previous``."""
    if previous is None or count <= pace.free:
        return timedelta(0)
    return max(timedelta(0), previous + pace.wait_before(count) - now)


class DatabaseAttempts:
    """Attempts as rows in the caller's transaction, behind a lock on each subject, so that
    an attempt sees every attempt before it and is gone again if the work it guards fails."""

    def take(self, session: Session, subjects: Subjects, now: datetime) -> Taken:
        names = [subject[:400] for subject, _ in subjects]
        if session.get_bind().dialect.name == "postgresql":
            for name in sorted(set(names)):  # one order, so two takers never deadlock
                session.execute(select(func.pg_advisory_xact_lock(_lock_key(name))))
        rows = [ThrottleAttempt(subject=name, at=now) for name in names]
        session.add_all(rows)
        session.flush()  # on SQLite, this takes the one write lock
        wait = timedelta(0)
        for row, (_, pace) in zip(rows, subjects, strict=True):
            session.execute(
                delete(ThrottleAttempt).where(
                    ThrottleAttempt.subject == row.subject, ThrottleAttempt.at <= now - pace.window
                )
            )
            count, previous = session.execute(
                select(func.count(), func.max(ThrottleAttempt.at)).where(
                    ThrottleAttempt.subject == row.subject, ThrottleAttempt.id != row.id
                )
            ).one()
            wait = max(wait, _wait(pace, int(count) + 1, previous, now))
        if wait > timedelta(0):
            for row in rows:
                session.delete(row)
            session.flush()
            return Taken(wait)
        return Taken(wait, rows=tuple(row.id for row in rows))

    def give_back(self, session: Session, taken: Taken) -> None:
        if taken.rows:
            session.execute(delete(ThrottleAttempt).where(ThrottleAttempt.id.in_(taken.rows)))

    def forget(self, session: Session, subject: str) -> None:
        session.execute(delete(ThrottleAttempt).where(ThrottleAttempt.subject == subject[:400]))


def _lock_key(subject: str) -> int:
    return int.from_bytes(hashlib.sha256(subject.encode()).digest()[:8], "big", signed=True)


# KEYS: one sorted set per subject, of its attempts' times. ARGV: now (ms), a unique member,
# then per subject its window, free attempts, first and longest wait (ms). Returns the longest
# wait (ms); the attempt is added to every set only when that is 0.
_TAKE = """
local now = tonumber(ARGV[1])
local longest = 0
for i, key in ipairs(KEYS) do
  local base = 3 + 4 * (i - 1)
  local window = tonumber(ARGV[base])
  local free = tonumber(ARGV[base + 1])
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local count = redis.call('ZCARD', key) + 1
  local newest = redis.call('ZRANGE', key, -1, -1, 'WITHSCORES')
  if count > free and newest[2] then
    local doublings = math.min(count - free - 1, 30)
    local gap = math.min(tonumber(ARGV[base + 2]) * 2 ^ doublings, tonumber(ARGV[base + 3]))
    local wait = tonumber(newest[2]) + gap - now
    if wait > longest then longest = wait end
  end
end
if longest > 0 then return tostring(longest) end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now, ARGV[2])
  redis.call('PEXPIRE', key, tonumber(ARGV[3 + 4 * (i - 1)]))
end
return '0'
"""


class RedisAttempts:
    """Attempts in Redis, shared by every gateway process: one script takes them all."""

    def __init__(self, url: str, prefix: str = "levante:attempts:") -> None:
        self._client = redis.Redis.from_url(url)
        self._script = self._client.register_script(_TAKE)
        self._prefix = prefix

    def take(self, session: Session, subjects: Subjects, now: datetime) -> Taken:
        member = f"{time.time_ns()}-{secrets.token_hex(4)}"
        args: list[int | str] = [int(now.timestamp() * 1000), member]
        for _, pace in subjects:
            args += [_ms(pace.window), pace.free, _ms(pace.first_wait), _ms(pace.longest_wait)]
        keys = tuple(self._prefix + s for s, _ in subjects)
        wait = timedelta(milliseconds=float(self._script(keys=list(keys), args=args)))
        return Taken(wait) if wait > timedelta(0) else Taken(wait, keys=keys, member=member)

    def give_back(self, session: Session, taken: Taken) -> None:
        for key in taken.keys:
            self._client.zrem(key, taken.member)

    def forget(self, session: Session, subject: str) -> None:
        self._client.delete(self._prefix + subject)

    def close(self) -> None:
        self._client.close()


def _ms(span: timedelta) -> int:
    return int(span.total_seconds() * 1000)


def open_attempts(redis_url: str = "") -> Attempts:
    """Where this process counts attempts: Redis when one is configured, else the database."""
    return RedisAttempts(redis_url) if redis_url else DatabaseAttempts()
