"""Persistence: the schema, its migrations, and database sessions."""

from levante.storage.database import Database, Topic, announce
from levante.storage.ids import new_id
from levante.storage.migrate import current_revision, head_revision, upgrade
from levante.storage.paging import Page, paged
from levante.storage.sequences import next_number
from levante.storage.text import fit, visible
from levante.storage.types import alive_since, as_utc, utcnow

__all__ = [
    "Database",
    "Page",
    "Topic",
    "alive_since",
    "announce",
    "as_utc",
    "current_revision",
    "fit",
    "head_revision",
    "new_id",
    "next_number",
    "paged",
    "upgrade",
    "utcnow",
    "visible",
]
