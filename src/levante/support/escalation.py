"""Escalation: a note to the agents a configurable time before a target falls due, and
another at breach, each raised once (whichever gateway process notices first) as an event
of the ticket, a mail (to the assigned agent, or the desk's address) and a signed webhook.
The :class:`SupportWorker` runs it, with the closing of long-solved tickets and the sending
of webhooks, on a timer in every gateway process."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from levante.audit import Actor
from levante.mail import deliver_webhooks, queue_mail, queue_webhook
from levante.periodic import PeriodicWorker
from levante.settings import SupportSettings
from levante.storage import Database, utcnow
from levante.storage.models import SupportTicket, TicketEvent, User
from levante.support.clocks import Timer
from levante.support.desk import Desk
from levante.support.tickets import close_solved, refresh
from levante.vocabulary import TicketEventKind, TicketStatus

log = logging.getLogger(__name__)
WARNING, BREACH = "warning", "breach"
_WORKING = (TicketStatus.NEW, TicketStatus.OPEN, TicketStatus.PENDING, TicketStatus.SOLVED)
_LEVANTE = Desk(Actor("support"), True, None, None, "Levante")


@dataclass(frozen=True, slots=True)
class Escalation:
    ticket: SupportTicket
    timer: Timer
    level: str  # warning | breach


def escalate(session: Session, settings: SupportSettings, now: datetime) -> list[Escalation]:
    """Raise the warnings and breaches due by ``now`` that are not raised yet."""
    warn = timedelta(minutes=settings.escalate_before_minutes)
    tickets = session.scalars(
        select(SupportTicket).where(
            SupportTicket.status.in_(_WORKING),
            SupportTicket.due_at.is_not(None),
            SupportTicket.due_at <= now + warn,
        )
    ).all()
    raised: list[Escalation] = []
    for ticket in tickets:
        state = refresh(session, ticket, now)
        for timer in state.timers:
            level = None
            if timer.state == "breached" and timer.due_at is not None and timer.due_at <= now:
                level = BREACH
            elif (
                timer.state == "running" and timer.due_at is not None and timer.due_at - warn <= now
            ):
                level = WARNING
            if level is None:
                continue
            if level == BREACH and timer.ended_at is not None:
                continue  # answered late: the breach shows on the ticket, nobody is woken
            if _raise(session, ticket, timer, level, now, settings):
                raised.append(Escalation(ticket, timer, level))
    return raised


def _raise(
    session: Session,
    ticket: SupportTicket,
    timer: Timer,
    level: str,
    now: datetime,
    settings: SupportSettings,
) -> bool:
    key = f"{ticket.id}:{timer.key}:{level}"
    if session.scalar(select(TicketEvent.id).where(TicketEvent.dedupe_key == key)):
        return False
    what = timer.target.value.replace("_", " ")
    due = f"{timer.due_at:%Y-%m-%d %H:%M} UTC" if timer.due_at else "now"
    text = (
        f"The {what} target of #{ticket.number} is due at {due}"
        if level == WARNING
        else f"The {what} target of #{ticket.number} was breached at {due}"
    )
    try:
        with session.begin_nested():
            session.add(
                TicketEvent(
                    ticket_id=ticket.id, at=now, kind=TicketEventKind.ESCALATION,
                    author=_LEVANTE.name, by_agent=True, public=False, body=text,
                    data={"level": level, "target": timer.target.value, "cycle": timer.cycle,
                          "due_at": timer.due_at.isoformat() if timer.due_at else None},
                    dedupe_key=key,
                )
            )  # fmt: skip
    except IntegrityError:
        return False  # another process raised it first
    assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
    to = assignee.email if assignee is not None else settings.notify_email
    if to:
        subject = f"[#{ticket.number}] SLA {level}: {ticket.subject}"
        queue_mail(session, to, subject, text + "\n", now=now)
    if settings.webhook_url:
        queue_webhook(
            session,
            settings.webhook_url,
            f"support.sla.{level}",
            {
                "ticket": ticket.number,
                "organization_id": ticket.organization_id,
                "severity": ticket.severity,
                "target": timer.target.value,
                "cycle": timer.cycle,
                "due_at": timer.due_at.isoformat() if timer.due_at else None,
            },
            now=now,
        )
    log.warning("%s", text)
    return True


def run_desk(database: Database, settings: SupportSettings, now: datetime | None = None) -> int:
    """One round of the support worker: escalations, then closing long-solved tickets; the
    webhooks it queued are sent after. Returns how many escalations were raised."""
    now = now or utcnow()
    with database.session() as session:
        raised = escalate(session, settings, now)
        close_solved(session, reopen_days=settings.reopen_days, now=now)
    if settings.webhook_url:
        deliver_webhooks(database, settings.webhook_secret, now=now)
    return len(raised)


class SupportWorker(PeriodicWorker):
    """Runs :func:`run_desk` every ``worker_seconds``."""

    def __init__(self, database: Database, settings: SupportSettings) -> None:
        super().__init__("support", settings.worker_seconds, lambda: run_desk(database, settings))
