"""Engines and sessions for SQLite (the embedded default) and PostgreSQL."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from levante.errors import ConflictError, StoreUnavailableError
from levante.storage.text import check_flush

log = logging.getLogger(__name__)

_CHANGES = "levante.changes"
Listener = Callable[[str | None], None]


class Topic(StrEnum):
    """What a transaction can change that a process caches."""

    API_KEYS = "api_keys"  # keys by secret; the key is the organisation
    POLICY = "policy"  # an organisation's limits, tier, credit and billing state
    GUARDRAILS = "guardrails"  # an organisation's guardrail policy


def announce(session: Session, topic: Topic, key: str | None = None) -> None:
    """Say that what ``topic`` names (for ``key``, or all of it) changes in this transaction:
    once it commits, the listeners this process registered for ``topic`` hear of it (the
    caches drop what they hold). Other processes see the change when their caches expire."""
    changes: set[tuple[str, str | None]] = session.info.setdefault(_CHANGES, set())
    changes.add((topic, key))


def create_db_engine(url: str) -> Engine:
    """Create an engine; for SQLite, create the file's folder and turn on WAL and foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    return engine


class _Outage:
    """Whether the database is unreachable: logged once when it goes, once when it is back."""

    def __init__(self) -> None:
        self._since: float | None = None
        self._lock = threading.Lock()

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            if self._since is not None:
                return
            self._since = time.monotonic()
        log.error("the database is unreachable; answering 503 until it is back", exc_info=exc)

    def succeeded(self) -> None:
        if self._since is None:  # the common case, without the lock
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            log.warning("the database is reachable again after %.1f s", time.monotonic() - since)


def _is_duplicate(exc: IntegrityError) -> bool:
    """A unique key already taken (not a check or a foreign key failing: those are bugs)."""
    state = getattr(exc.orig, "sqlstate", None)  # psycopg
    if state is not None:
        return bool(state == "23505")
    return "UNIQUE constraint failed" in str(exc.orig)  # sqlite3


def _is_disconnect(exc: DBAPIError) -> bool:
    """A database that cannot be reached: a lost or refused connection, or a server shutting
    down; not a constraint, a schema or a data error, nor a busy SQLite file."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if isinstance(orig, psycopg.OperationalError | psycopg.InterfaceError):
        state = orig.sqlstate
        # No SQLSTATE: the client could not talk to the server. 08: connection exception.
        # 57P01-57P03: the server is shutting down, crashed or not accepting connections yet.
        return state is None or state.startswith("08") or state in {"57P01", "57P02", "57P03"}
    if isinstance(orig, sqlite3.OperationalError):
        text = str(orig)
        return "unable to open database file" in text or "disk I/O error" in text
    return False


class Database:
    """An engine and its session factory."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = create_db_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        event.listen(self._sessions, "before_flush", check_flush)
        self._outage = _Outage()
        self._listeners: defaultdict[str, list[Listener]] = defaultdict(list)

    def listen(self, topic: Topic, listener: Listener) -> None:
        """Call ``listener(key)`` after each commit in which ``topic`` was announced."""
        self._listeners[topic].append(listener)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in a transaction: committed on success, rolled back on error. A database
        that cannot be reached raises :class:`StoreUnavailableError` (503, retried by clients),
        logged once per outage rather than once per request."""
        try:
            with self._sessions.begin() as session:
                yield session
                changes: set[tuple[str, str | None]] = session.info.pop(_CHANGES, set())
        except IntegrityError as exc:
            if not _is_duplicate(exc):
                raise
            # Two requests made the same thing at the same moment (one sign-up confirmed from
            # two tabs, one idempotency key sent twice at once): the other one won; asking
            # again finds what it made.
            raise ConflictError(
                "another request made this at the same moment; reload or try again"
            ) from exc
        except DBAPIError as exc:
            if not _is_disconnect(exc):
                raise
            self._outage.failed(exc)
            raise StoreUnavailableError(
                "the database is unavailable; retry shortly", headers={"Retry-After": "2"}
            ) from exc
        self._outage.succeeded()
        for topic, key in sorted(changes, key=lambda change: (change[0], change[1] or "")):
            for listener in self._listeners.get(topic, ()):
                listener(key)

    def reachable(self) -> bool:
        """Whether a query gets an answer now (for readiness checks)."""
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def dispose(self) -> None:
        self.engine.dispose()
