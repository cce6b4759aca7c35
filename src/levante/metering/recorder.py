"""Writing usage events: exactly one row per request id."""

from __future__ import annotations

import logging
from dataclasses import asdict

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from levante.metering.events import UsageEvent
from levante.storage import Database
from levante.storage.models import UsageRecord

log = logging.getLogger(__name__)


class UsageRecorder:
    """Persists usage events; recording the same request id twice keeps the first."""

    def __init__(self, database: Database) -> None:
        self._database = database

    def record(self, event: UsageEvent) -> bool:
        """Write the event; returns False when the request id was already recorded."""
        fields = asdict(event)
        fields["status"] = event.status.value
        fields["request_metadata"] = fields.pop("metadata")
        row = UsageRecord(**fields, usage_date=event.started_at.date())
        try:
            with self._database.session() as session:
                session.add(row)
        except IntegrityError:
            with self._database.session() as session:
                exists = session.scalar(
                    select(UsageRecord.id).where(UsageRecord.request_id == event.request_id)
                )
            if exists is None:
                raise
            log.warning("usage for request %s was already recorded", event.request_id)
            return False
        return True
