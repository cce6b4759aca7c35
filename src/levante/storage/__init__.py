"""Persistence: the schema, its migrations, and database sessions."""

from levante.storage.database import Database, Topic, announce, create_db_engine
from levante.storage.ids import new_id
from levante.storage.migrate import current_revision, head_revision, upgrade
from levante.storage.sequences import next_number
from levante.storage.text import fit
from levante.storage.types import MISSED_HEARTBEATS, alive_since, as_utc, utcnow

__all__ = [
    "MISSED_HEARTBEATS",
    "Database",
    "Topic",
    "alive_since",
    "announce",
    "as_utc",
    "create_db_engine",
    "current_revision",
    "fit",
    "head_revision",
    "new_id",
    "next_number",
    "upgrade",
    "utcnow",
]
