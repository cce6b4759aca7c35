"""The deployment's database as every front end opens it: migrated to the newest schema (with
``auto_migrate``) and holding the default plans, so that the server, the command line and the
web pages start from the same state. The front ends hold the :class:`Database` as an opaque
handle and give it to the services; they never reach into storage themselves.
"""

from __future__ import annotations

from levante.billing import ensure_catalog
from levante.settings import Settings
from levante.storage import Database, current_revision, head_revision, upgrade

__all__ = ["Database", "migrate", "open_database", "prepare", "release_revision", "revision"]


def prepare(database: Database, settings: Settings) -> None:
    """Bring the schema up to date (if ``auto_migrate``) and the default plans in."""
    if settings.auto_migrate:
        upgrade(database.engine)
    with database.session() as session:
        ensure_catalog(session)


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    database = Database(settings.resolved_database_url)
    if migrate:
        try:
            prepare(database, settings)
        except BaseException:
            database.dispose()
            raise
    return database


def migrate(database: Database, revision: str = "head") -> str | None:
    """Upgrade the schema to ``revision``; the revision it is at then."""
    upgrade(database.engine, revision)
    return current_revision(database.engine)


def revision(database: Database) -> str | None:
    return current_revision(database.engine)


def release_revision() -> str | None:
    """The newest schema revision this release knows."""
    return head_revision()
