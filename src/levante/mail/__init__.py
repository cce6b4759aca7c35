"""Mail to people (invitations now; password resets with the web front ends): queued in the
database, so that any gateway process can queue a message and nothing is lost if delivery is
down. Until a mail transport is configured, the operator reads the outbox
(``levante mail outbox``) and passes messages on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante.storage.models import OutboundMail


def queue_mail(session: Session, to: str, subject: str, body: str, *, now: datetime) -> None:
    session.add(OutboundMail(to=to, subject=subject[:300], body=body, created_at=now))


def outbox(session: Session, *, limit: int = 100) -> list[OutboundMail]:
    """Messages not sent yet, oldest first."""
    return list(
        session.scalars(
            select(OutboundMail)
            .where(OutboundMail.sent_at.is_(None))
            .order_by(OutboundMail.id)
            .limit(limit)
        )
    )


__all__ = ["outbox", "queue_mail"]
