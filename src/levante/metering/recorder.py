"""Writing usage events: exactly one row per request id."""

from __future__ import annotations

import logging

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
        row = UsageRecord(
            request_id=event.request_id,
            organization_id=event.organization_id,
            workspace_id=event.workspace_id,
            api_key_id=event.api_key_id,
            product=event.product,
            endpoint=event.endpoint,
            model=event.model,
            prompt_tokens=event.prompt_tokens,
            completion_tokens=event.completion_tokens,
            cached_tokens=event.cached_tokens,
            status=event.status.value,
            finish_reason=event.finish_reason,
            stream=event.stream,
            time_to_first_token_ms=event.time_to_first_token_ms,
            duration_ms=event.duration_ms,
            end_user=event.end_user,
            request_metadata=event.metadata,
            started_at=event.started_at,
            finished_at=event.finished_at,
            usage_date=event.started_at.date(),
        )
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
