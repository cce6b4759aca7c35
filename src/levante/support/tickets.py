"""Tickets: opened by a customer, answered by agents, through the states ``new`` → ``open``
→ ``pending`` (waiting on the customer) → ``solved`` → ``closed``.

Every change is an event of the ticket (its history, from which the SLA state is derived)
and an entry of the audit log. A customer sees their organisation's tickets and the public
events of them; an internal note, and who wrote it, are the agents' alone. A customer's
reply to a pending ticket reopens it (its clocks resume), and so does one to a solved
ticket within ``reopen_days``; after that the ticket is closed and a new one is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.mail import queue_mail
from levante.storage import new_id, next_number
from levante.storage.models import (
    Organization,
    SupportTicket,
    TicketAttachment,
    TicketEvent,
    User,
)
from levante.support.clocks import Happening, SlaState, derive
from levante.support.contracts import terms_for
from levante.support.desk import Desk, Place, desk_of, find_agent, place_for_ticket
from levante.support.policies import SupportTerms
from levante.vocabulary import Severity, TicketEventKind, TicketStatus, check_severity

NEW, OPEN, PENDING, SOLVED, CLOSED = TicketStatus
MAX_SUBJECT = 200
MAX_BODY = 50_000
MAX_MINUTES = 24 * 60
MAX_SEARCH = 200
TICKET_PATH = "/support/tickets/"  # a ticket's page, under the deployment's public URL
WAITING = (NEW, OPEN, PENDING)  # the queue's tickets unless it is asked for others
# Where an agent may move a ticket (a customer may only solve theirs, or write to reopen it).
MOVES: dict[TicketStatus, tuple[TicketStatus, ...]] = {
    NEW: (OPEN, PENDING, SOLVED, CLOSED),
    OPEN: (PENDING, SOLVED, CLOSED),
    PENDING: (OPEN, SOLVED, CLOSED),
    SOLVED: (OPEN, CLOSED),
    CLOSED: (),
}


@dataclass(frozen=True, slots=True)
class TicketView:
    """A ticket as one person at the desk may see it."""

    ticket: SupportTicket
    organization: Organization
    events: list[TicketEvent]
    attachments: list[TicketAttachment]
    terms: SupportTerms
    sla: SlaState
    assignee: User | None
    agent_view: bool

    @property
    def reference(self) -> str:
        return f"#{self.ticket.number}"


def reference(ticket: SupportTicket) -> str:
    return f"#{ticket.number}"


# -- reading --------------------------------------------------------------------------------------


def find_ticket(session: Session, desk: Desk, ref: str, *, lock: bool = False) -> SupportTicket:
    """A ticket by number (``1042`` or ``#1042``) or id, if the desk may see it; another
    organisation's is not found, like one that does not exist."""
    text = ref.strip().removeprefix("#")
    query = select(SupportTicket)
    if text.isdecimal() and len(text) < 18:  # what int() reads, and a BIGINT holds
        query = query.where(SupportTicket.number == int(text))
    else:
        query = query.where(SupportTicket.id == text)
    if lock:
        query = query.with_for_update()
    ticket = session.scalar(query)
    if ticket is None or (not desk.agent and ticket.organization_id != desk.organization_id):
        raise NotFoundError(f"ticket '{ref}' does not exist", param="ticket")
    return ticket


def history(session: Session, ticket: SupportTicket) -> list[TicketEvent]:
    return list(
        session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
    )


def sla_of(ticket: SupportTicket, events: Sequence[TicketEvent], now: datetime) -> SlaState:
    """The ticket's SLA state at ``now``, from its terms and its history."""
    terms = SupportTerms.from_json(ticket.terms)
    opened = next(e for e in events if e.kind == TicketEventKind.OPENED)
    severity = Severity(int((opened.data or {}).get("severity", ticket.severity)))
    happenings = [
        Happening(TicketEventKind(e.kind), e.at, e.by_agent, e.public, e.data or {})
        for e in events
        if e.kind != TicketEventKind.OPENED
    ]
    return derive(terms, opened.at, severity, happenings, now)


def view(session: Session, actor: Actor, ref: str, *, now: datetime) -> TicketView:
    desk = desk_of(session, actor)
    ticket = find_ticket(session, desk, ref)
    return _view(session, desk, ticket, now)


def _view(session: Session, desk: Desk, ticket: SupportTicket, now: datetime) -> TicketView:
    events = history(session, ticket)
    attachments = list(
        session.scalars(
            select(TicketAttachment)
            .where(TicketAttachment.ticket_id == ticket.id)
            .order_by(TicketAttachment.created_at)
        )
    )
    sla = sla_of(ticket, events, now)
    if not desk.agent:
        events = [e for e in events if e.public]
        attachments = [a for a in attachments if a.public]
    return TicketView(
        ticket=ticket,
        organization=session.get_one(Organization, ticket.organization_id),
        events=events,
        attachments=attachments,
        terms=SupportTerms.from_json(ticket.terms),
        sla=sla,
        assignee=session.get(User, ticket.assignee_id) if ticket.assignee_id else None,
        agent_view=desk.agent,
    )


def list_tickets(
    session: Session,
    actor: Actor,
    *,
    organization: str | None = None,
    status: str | None = None,
    open_only: bool = False,
    limit: int = 100,
) -> list[SupportTicket]:
    """A customer's tickets (their organisation's), or for an agent every customer's (or one
    organisation's), newest first."""
    desk = desk_of(session, actor)
    query = select(SupportTicket)
    if not desk.agent:
        query = query.where(SupportTicket.organization_id == desk.organization_id)
    elif organization is not None:
        org = session.scalar(
            select(Organization).where(
                or_(Organization.id == organization, Organization.slug == organization)
            )
        )
        if org is None:
            raise NotFoundError(f"no organisation '{organization}'", param="organization")
        query = query.where(SupportTicket.organization_id == org.id)
    if status is not None:
        query = query.where(SupportTicket.status == _status(status))
    if open_only:
        query = query.where(SupportTicket.status.in_((NEW, OPEN, PENDING)))
    return list(session.scalars(query.order_by(SupportTicket.number.desc()).limit(limit)))


def _status(value: str) -> TicketStatus:
    try:
        return TicketStatus(value)
    except ValueError:
        names = ", ".join(TicketStatus)
        raise InvalidRequestError(f"status is one of {names}", param="status") from None


# -- changing -------------------------------------------------------------------------------------


def open_ticket(
    session: Session,
    actor: Actor,
    *,
    subject: str,
    description: str,
    severity: object,
    deployment: str = "",
    model: str = "",
    organization: str | None = None,
    now: datetime,
) -> SupportTicket:
    """Open a ticket for the actor's organisation (an agent names the customer). Its SLA
    terms are the contract's at this moment; with no support contract, it has none."""
    desk = desk_of(session, actor)
    subject = " ".join(subject.split())
    if not subject:
        raise InvalidRequestError("a ticket needs a subject", param="subject")
    if len(subject) > MAX_SUBJECT:
        raise InvalidRequestError(
            f"the subject is at most {MAX_SUBJECT} characters", param="subject"
        )
    body = _body(description, "description")
    level = check_severity(severity)
    if desk.agent:
        if organization is None:
            raise InvalidRequestError("name the customer's organisation", param="organization")
        org = session.scalar(
            select(Organization).where(
                or_(Organization.id == organization, Organization.slug == organization)
            )
        )
        if org is None:
            raise NotFoundError(f"no organisation '{organization}'", param="organization")
    else:
        org = session.get_one(Organization, desk.organization_id)
    terms = terms_for(session, org.id, now)
    requester = desk.name
    if desk.user_id is not None:
        user = session.get_one(User, desk.user_id)
        requester = user.email
    ticket = SupportTicket(
        id=new_id("tkt"),
        number=next_number(session, "support_ticket", after=1000),
        organization_id=org.id,
        opened_by=desk.user_id,
        requester=requester,
        subject=subject,
        severity=int(level),
        status=NEW,
        deployment=deployment.strip()[:200],
        model=model.strip()[:200],
        terms=terms.to_json(),
        created_at=now,
        updated_at=now,
    )
    session.add(ticket)
    session.flush()
    add_event(session, ticket, desk, TicketEventKind.OPENED, now, body=body,
           data={"severity": int(level), "subject": subject})  # fmt: skip
    audit_change(session, desk, ticket, "opened", {"severity": int(level), "plan": terms.plan})
    refresh(session, ticket, now)
    return ticket


def reply(
    session: Session,
    actor: Actor,
    ref: str,
    body: str,
    *,
    reopen_days: int,
    now: datetime,
    public_url: str = "",
) -> TicketEvent:
    """A message the customer sees: from an agent, it answers (and a new ticket opens); from
    the customer, it reopens a pending ticket, or a solved one within ``reopen_days``. The
    mail telling the other side links to the ticket at ``public_url`` (the deployment's
    address, where it is known)."""
    desk = desk_of(session, actor)
    ticket = find_ticket(session, desk, ref, lock=True)
    text = _body(body, "body")
    status = TicketStatus(ticket.status)
    late = ticket.solved_at is not None and now - ticket.solved_at > timedelta(days=reopen_days)
    if status == CLOSED or (status == SOLVED and late and not desk.agent):
        raise ConflictError(
            f"ticket #{ticket.number} is closed; open a new ticket and mention it",
            code="ticket_closed",
        )
    event = add_event(session, ticket, desk, TicketEventKind.REPLY, now, body=text)
    if (desk.agent and status == NEW) or (not desk.agent and status in (PENDING, SOLVED)):
        _move(session, ticket, desk, OPEN, now)
    audit_change(session, desk, ticket, "replied", {"event": event.id})
    _notify_reply(session, ticket, desk, text, now, public_url)
    refresh(session, ticket, now)
    return event


def add_note(session: Session, actor: Actor, ref: str, body: str, *, now: datetime) -> TicketEvent:
    """An internal note: the agents' alone, and no answer to the customer."""
    desk = desk_of(session, actor)
    desk.require_agent()
    ticket = find_ticket(session, desk, ref, lock=True)
    event = add_event(session, ticket, desk, TicketEventKind.NOTE, now, body=_body(body, "body"),
                   public=False)  # fmt: skip
    audit_change(session, desk, ticket, "noted", {"event": event.id})
    return event


def set_status(
    session: Session, actor: Actor, ref: str, status: str, *, now: datetime
) -> SupportTicket:
    """Move a ticket. Agents move it along :data:`MOVES`; a customer may mark theirs solved."""
    desk = desk_of(session, actor)
    ticket = find_ticket(session, desk, ref, lock=True)
    new = _status(status)
    current = TicketStatus(ticket.status)
    if new == current:
        return ticket
    if not desk.agent and new != SOLVED:
        raise InvalidRequestError(
            "a customer may mark a ticket solved; to reopen one, write to it", param="status"
        )
    if new not in MOVES[current]:
        raise ConflictError(f"a {current} ticket cannot become {new}", param="status")
    _move(session, ticket, desk, new, now)
    refresh(session, ticket, now)
    return ticket


def set_severity(
    session: Session, actor: Actor, ref: str, severity: object, *, reason: str = "", now: datetime
) -> SupportTicket:
    """Change a ticket's severity (agents): recorded, and its targets follow
    (:mod:`levante.support.clocks`)."""
    desk = desk_of(session, actor)
    desk.require_agent()
    ticket = find_ticket(session, desk, ref, lock=True)
    level = check_severity(severity)
    if level == ticket.severity:
        return ticket
    before = ticket.severity
    ticket.severity = int(level)
    add_event(session, ticket, desk, TicketEventKind.SEVERITY, now, body=reason.strip()[:2000],
           data={"from": before, "to": int(level)})  # fmt: skip
    audit_change(session, desk, ticket, "severity_changed", {"from": before, "to": int(level)})
    refresh(session, ticket, now)
    return ticket


def assign(
    session: Session, actor: Actor, ref: str, agent: str | None, *, now: datetime
) -> SupportTicket:
    """Give a ticket to an agent (by id or email), or take it back to the queue (None)."""
    desk = desk_of(session, actor)
    desk.require_agent()
    ticket = find_ticket(session, desk, ref, lock=True)
    user = find_agent(session, agent) if agent else None
    ticket.assignee_id = user.id if user is not None else None
    add_event(session, ticket, desk, TicketEventKind.ASSIGNED, now, public=False,
           data={"to": user.email if user is not None else None})  # fmt: skip
    audit_change(session, desk, ticket, "assigned", {"to": user.email if user else None})
    ticket.updated_at = now
    return ticket


def log_time(
    session: Session, actor: Actor, ref: str, minutes: int, *, note: str = "", now: datetime
) -> TicketEvent:
    """An agent's consulting time on a ticket, in minutes (``levante.support.services``
    draws it from the prepaid hours)."""
    desk = desk_of(session, actor)
    desk.require_agent()
    ticket = find_ticket(session, desk, ref, lock=True)
    if not 1 <= minutes <= MAX_MINUTES:
        raise InvalidRequestError("time is logged in minutes, 1 to 1440 at a time", param="minutes")
    event = add_event(session, ticket, desk, TicketEventKind.TIME, now, body=note.strip()[:2000],
                   public=False, data={"minutes": minutes})  # fmt: skip
    audit_change(session, desk, ticket, "time_logged", {"minutes": minutes})
    return event


def close_solved(session: Session, *, reopen_days: int, now: datetime) -> int:
    """Close the tickets solved more than ``reopen_days`` ago; returns how many."""
    cutoff = now - timedelta(days=reopen_days)
    tickets = session.scalars(
        select(SupportTicket)
        .where(SupportTicket.status == SOLVED, SupportTicket.solved_at <= cutoff)
        .with_for_update()
    ).all()
    desk = Desk(Actor("support"), True, None, None, "Levante")
    for ticket in tickets:
        _move(session, ticket, desk, CLOSED, now)
        refresh(session, ticket, now)
    return len(tickets)


def refresh(session: Session, ticket: SupportTicket, now: datetime) -> SlaState:
    """Recompute what the queue sorts and filters by from the ticket's history."""
    session.flush()
    state = sla_of(ticket, history(session, ticket), now)
    ticket.due_at = state.next_due
    ticket.breached = state.breached
    return state


# -- the pieces -----------------------------------------------------------------------------------


def _body(text: str, param: str) -> str:
    text = text.strip()
    if not text:
        raise InvalidRequestError("write something", param=param)
    if len(text) > MAX_BODY:
        raise InvalidRequestError(f"at most {MAX_BODY:,} characters", param=param)
    return text


def add_event(
    session: Session,
    ticket: SupportTicket,
    desk: Desk,
    kind: TicketEventKind,
    now: datetime,
    *,
    body: str = "",
    public: bool = True,
    data: dict[str, Any] | None = None,
    dedupe_key: str | None = None,
) -> TicketEvent:
    event = TicketEvent(
        ticket_id=ticket.id,
        at=now,
        kind=kind,
        author_id=desk.user_id,
        author=desk.name,
        by_agent=desk.agent,
        public=public,
        body=body,
        data=data,
        dedupe_key=dedupe_key,
    )
    session.add(event)
    ticket.updated_at = now
    session.flush()
    return event


def _move(
    session: Session, ticket: SupportTicket, desk: Desk, new: TicketStatus, now: datetime
) -> None:
    before = TicketStatus(ticket.status)
    ticket.status = new
    if new == SOLVED:
        ticket.solved_at = now
    elif new == CLOSED:
        ticket.closed_at = now
        ticket.solved_at = ticket.solved_at or now
    else:
        ticket.solved_at = None
    add_event(session, ticket, desk, TicketEventKind.STATUS, now,
           data={"from": before.value, "to": new.value})  # fmt: skip
    audit_change(session, desk, ticket, "status_changed", {"from": before.value, "to": new.value})


def audit_change(
    session: Session, desk: Desk, ticket: SupportTicket, what: str, details: dict[str, Any]
) -> None:
    audit.record(
        session,
        organization_id=ticket.organization_id,
        actor=desk.actor,
        action=f"support.ticket.{what}",
        target=ticket.id,
        details={"number": ticket.number, **details},
    )


def ticket_link(public_url: str, number: int) -> str:
    """The address of ticket ``number``'s page, at the deployment's ``public_url``."""
    return f"{public_url.rstrip('/')}{TICKET_PATH}{number}"


def _notify_reply(
    session: Session,
    ticket: SupportTicket,
    desk: Desk,
    text: str,
    now: datetime,
    public_url: str,
) -> None:
    """Mail the other side, with a link to the ticket: the requester when an agent answers,
    the assigned agent when the customer writes."""
    if desk.agent:
        to = ticket.requester if "@" in ticket.requester else None
        who = "Support"
    else:
        assignee = session.get(User, ticket.assignee_id) if ticket.assignee_id else None
        to = assignee.email if assignee is not None else None
        who = desk.name
    if to:
        subject = f"[#{ticket.number}] {ticket.subject}"
        link = ticket_link(public_url, ticket.number) if public_url else ""
        follow = f"\nRead it and answer at {link}\n" if link else ""
        queue_mail(session, to, subject, f"{who} wrote:\n\n{text}\n{follow}", now=now)


@dataclass(frozen=True, slots=True)
class QueueItem:
    """A ticket on the agents' queue: what is due next, how long is left, and its mark."""

    ticket: SupportTicket
    organization: str
    assignee: str | None
    time_left: timedelta | None
    mark: str | None  # breached | warning | None


def queue(
    session: Session,
    actor: Actor,
    *,
    now: datetime,
    warn_before: timedelta,
    assignee: str | None = None,
    status: str | None = None,
    search: str = "",
    limit: int = 200,
) -> list[QueueItem]:
    """The tickets waiting on the desk (new, open and pending), the nearest due first, then
    those with no target running. ``assignee`` (an agent's id, or ``none``) narrows it;
    ``status`` asks for the tickets of one status instead, or ``all``; ``search`` keeps those
    whose number it is, or whose subject, description or customer's name holds it."""
    desk = desk_of(session, actor)
    desk.require_agent()
    query = select(SupportTicket, Organization.name).join(
        Organization, Organization.id == SupportTicket.organization_id
    )
    if status is None:
        query = query.where(SupportTicket.status.in_(WAITING))
    elif status != "all":
        query = query.where(SupportTicket.status == _status(status))
    if assignee == "none":
        query = query.where(SupportTicket.assignee_id.is_(None))
    elif assignee is not None:
        query = query.where(SupportTicket.assignee_id == find_agent(session, assignee).id)
    if search.strip():
        query = query.where(_matching(search))
    # The waiting oldest first, as they were asked; the others (solved, closed) newest first.
    number = SupportTicket.number if status is None else SupportTicket.number.desc()
    rows = session.execute(
        query.order_by(SupportTicket.due_at.is_(None), SupportTicket.due_at, number).limit(limit)
    ).all()
    agents = {u.id: u.email for u in session.scalars(select(User).where(
        User.id.in_({t.assignee_id for t, _ in rows if t.assignee_id})
    ))}  # fmt: skip
    items = []
    for ticket, org_name in rows:
        left = ticket.due_at - now if ticket.due_at is not None else None
        mark = None
        if ticket.breached or (left is not None and left <= timedelta(0)):
            mark = "breached"  # a due time in the past is a breach the worker has not seen
        elif left is not None and left <= warn_before:
            mark = "warning"
        assigned = agents.get(ticket.assignee_id) if ticket.assignee_id else None
        items.append(QueueItem(ticket, org_name, assigned, left, mark))
    return items


def _matching(search: str) -> ColumnElement[bool]:
    """Tickets whose number is ``search`` (``1042``, ``#1042``), or whose subject,
    description or customer's name holds it, in any case (its ``%`` and ``_`` are letters)."""
    text = search.strip()
    if len(text) > MAX_SEARCH:
        raise InvalidRequestError(f"search for at most {MAX_SEARCH} characters", param="q")
    described = (
        select(TicketEvent.id)
        .where(
            TicketEvent.ticket_id == SupportTicket.id,
            TicketEvent.kind == TicketEventKind.OPENED,
            TicketEvent.body.icontains(text, autoescape=True),
        )
        .exists()
    )
    found = [
        SupportTicket.subject.icontains(text, autoescape=True),
        Organization.name.icontains(text, autoescape=True),
        described,
    ]
    number = text.removeprefix("#")
    if number.isdecimal() and len(number) < 18:  # what int() reads, and a BIGINT holds
        found.append(SupportTicket.number == int(number))
    return or_(*found)


def ticket_place(session: Session, user_id: str, ref: str) -> Place:
    """Where a signed-in person sits to see ticket ``ref``: a 404 if they may not."""
    text = ref.strip().removeprefix("#")
    org_id = None
    if text.isdecimal() and len(text) < 18:  # what int() reads, and a BIGINT holds
        org_id = session.scalar(
            select(SupportTicket.organization_id).where(SupportTicket.number == int(text))
        )
    if org_id is None:
        raise NotFoundError(f"ticket '{ref}' does not exist", param="ticket")
    return place_for_ticket(session, user_id, org_id)
