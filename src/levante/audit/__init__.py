"""The audit log: who created or revoked keys, changed limits, prices or caps, and when."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante.storage.models import AuditEvent

__all__ = ["AuditEvent", "list_events", "record"]


def record(
    session: Session,
    *,
    organization_id: str | None,
    actor: str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to the caller's transaction, so it commits with the change it describes."""
    session.add(
        AuditEvent(
            organization_id=organization_id,
            actor=actor,
            action=action,
            target=target,
            details=details,
        )
    )


def list_events(
    session: Session,
    organization_id: str,
    *,
    limit: int = 100,
    before_id: int | None = None,
) -> list[AuditEvent]:
    """An organisation's events, newest first; page with ``before_id``."""
    query = select(AuditEvent).where(AuditEvent.organization_id == organization_id)
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
