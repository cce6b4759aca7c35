"""Mail to people (invitations, password resets, support replies), and webhooks to systems
(:mod:`levante.mail.webhooks`): queued in the database, so that any gateway
process can queue a message and nothing is lost if delivery is down. With an SMTP server
configured, every gateway process sends what is queued (:class:`MailWorker`); without one,
the operator reads the outbox (``levante mail outbox``) and passes messages on."""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime
from email.message import EmailMessage

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from levante.mail.webhooks import deliver_webhooks, queue_webhook
from levante.periodic import PeriodicWorker
from levante.settings import MailSettings
from levante.storage import Database, utcnow
from levante.storage.models import OutboundMail

log = logging.getLogger(__name__)


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


def deliver(database: Database, settings: MailSettings, *, limit: int = 100) -> int:
    """Send queued messages through the SMTP server; returns how many went. Each message is
    claimed (marked sent) in its own transaction before it goes, so that two processes never
    send it twice; one the server refuses is put back for the next round."""
    if not settings.smtp_host:
        return 0
    with database.session() as session:
        queued = [m.id for m in outbox(session, limit=limit)]
    sent = 0
    for message_id in queued:
        with database.session() as session:
            claimed = session.execute(
                update(OutboundMail)
                .where(OutboundMail.id == message_id, OutboundMail.sent_at.is_(None))
                .values(sent_at=utcnow())
            )
            if not getattr(claimed, "rowcount", 0):
                continue  # another process has it
            row = session.get_one(OutboundMail, message_id)
            to, subject, body = row.to, row.subject, row.body
        try:
            _send(settings, to, subject, body)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("mail to %s could not be sent, kept for later: %s", to, exc)
            with database.session() as session:
                session.execute(
                    update(OutboundMail).where(OutboundMail.id == message_id).values(sent_at=None)
                )
            break  # the server is down or refusing: try again next round
        sent += 1
    return sent


def _send(settings: MailSettings, to: str, subject: str, body: str) -> None:
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username:
            smtp.login(settings.smtp_username, settings.smtp_password)
        smtp.send_message(message)


class MailWorker(PeriodicWorker):
    """Sends queued mail every ``send_interval_seconds``, when an SMTP server is set."""

    def __init__(self, database: Database, settings: MailSettings) -> None:
        super().__init__(
            "mail",
            settings.send_interval_seconds,
            lambda: deliver(database, settings),
            run_at_start=True,
            enabled=bool(settings.smtp_host),
        )


__all__ = ["MailWorker", "deliver", "deliver_webhooks", "outbox", "queue_mail", "queue_webhook"]
