"""The support desk over HTTP (``/v1/support/…``), with an admin key.

A customer's key works its organisation's tickets; a key of the operator's organisation is
an agent's, and works every customer's, the queue, the policies and the calendars. Prepaid
consulting hours are bought and followed here too. Another organisation's ticket is a 404,
like one that does not exist.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Header, Query, UploadFile
from fastapi.responses import PlainTextResponse, Response

from levante import support
from levante.api.headers import download
from levante.api.schemas.support import (
    Assignment,
    AttachmentView,
    BoughtView,
    BuyPack,
    CalendarList,
    CalendarUpdate,
    CalendarView,
    EventView,
    HoursView,
    Message,
    OpenTicket,
    PackOffer,
    PackOfferList,
    PolicyList,
    PolicyUpdate,
    PolicyView,
    QueueEntry,
    QueueView,
    ReportList,
    ReportView,
    SeverityChange,
    StatusChange,
    TicketDetail,
    TicketList,
    TicketSummary,
    TimeEntry,
)
from levante.api.state import Admin, State
from levante.support import TicketView

router = APIRouter(prefix="/v1/support")
Ref = Annotated[str, "a ticket's number (1042) or id"]


def _detail(state: State, caller: Admin, ref: str) -> TicketDetail:
    with state.database.session() as session:
        seen: TicketView = support.view(session, caller.actor, ref, now=state.clock())
        return TicketDetail.of_view(seen)


@router.get("/tickets")
def list_tickets(
    state: State,
    caller: Admin,
    status: Annotated[str | None, Query(max_length=16)] = None,
    organization: Annotated[str | None, Query(max_length=64)] = None,
    open_only: Annotated[bool, Query(alias="open")] = False,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> TicketList:
    """The organisation's tickets, newest first (agents: every customer's, or one's)."""
    with state.database.session() as session:
        rows = support.list_tickets(
            session, caller.actor, organization=organization, status=status,
            open_only=open_only, limit=limit,
        )  # fmt: skip
        return TicketList(data=[TicketSummary.of(t) for t in rows])


@router.post("/tickets", status_code=201)
def open_ticket(body: OpenTicket, state: State, caller: Admin) -> TicketDetail:
    """Open a ticket; its SLA terms are the support contract's at this moment."""
    with state.database.session() as session:
        ticket = support.open_ticket(
            session, caller.actor, subject=body.subject, description=body.description,
            severity=body.severity, deployment=body.deployment, model=body.model,
            organization=body.organization, now=state.clock(),
        )  # fmt: skip
        number = str(ticket.number)
    return _detail(state, caller, number)


@router.get("/tickets/{ref}")
def ticket(ref: Ref, state: State, caller: Admin) -> TicketDetail:
    """A ticket with its history and SLA state (a customer sees no internal note)."""
    return _detail(state, caller, ref)


@router.post("/tickets/{ref}/replies", status_code=201)
def reply(ref: Ref, body: Message, state: State, caller: Admin) -> EventView:
    """A reply the customer sees (from a customer, it reopens a pending or solved ticket)."""
    with state.database.session() as session:
        event = support.reply(
            session, caller.actor, ref, body.body,
            reopen_days=state.settings.support.reopen_days, now=state.clock(),
            public_url=state.settings.billing.public_url,
        )  # fmt: skip
        return EventView.of(event)


@router.post("/tickets/{ref}/notes", status_code=201)
def note(ref: Ref, body: Message, state: State, caller: Admin) -> EventView:
    """An internal note (agents)."""
    with state.database.session() as session:
        return EventView.of(support.add_note(session, caller.actor, ref, body.body,
                                             now=state.clock()))  # fmt: skip


@router.post("/tickets/{ref}/status")
def status(ref: Ref, body: StatusChange, state: State, caller: Admin) -> TicketSummary:
    """Move the ticket (agents along the states; a customer may mark it solved)."""
    with state.database.session() as session:
        row = support.set_status(session, caller.actor, ref, body.status, now=state.clock())
        return TicketSummary.of(row)


@router.post("/tickets/{ref}/severity")
def severity(ref: Ref, body: SeverityChange, state: State, caller: Admin) -> TicketSummary:
    """Change the severity (agents); the targets follow."""
    with state.database.session() as session:
        row = support.set_severity(session, caller.actor, ref, body.severity,
                                   reason=body.reason, now=state.clock())  # fmt: skip
        return TicketSummary.of(row)


@router.post("/tickets/{ref}/assignee")
def assignee(ref: Ref, body: Assignment, state: State, caller: Admin) -> TicketSummary:
    """Give the ticket to an agent, or back to the queue with ``null`` (agents)."""
    with state.database.session() as session:
        row = support.assign(session, caller.actor, ref, body.agent, now=state.clock())
        return TicketSummary.of(row)


@router.post("/tickets/{ref}/time", status_code=201)
def log_time(ref: Ref, body: TimeEntry, state: State, caller: Admin) -> EventView:
    """Log consulting time on the ticket (agents)."""
    with state.database.session() as session:
        event = support.log_time(session, caller.actor, ref, body.minutes, note=body.note,
                                 now=state.clock())  # fmt: skip
        return EventView.of(event)


@router.post("/tickets/{ref}/attachments", status_code=201)
def attach(
    ref: Ref,
    state: State,
    caller: Admin,
    file: Annotated[UploadFile, File()],
    internal: Annotated[bool, Form()] = False,
) -> AttachmentView:
    """Attach a file (multipart, field ``file``; at most ``support.attachment_max_bytes``);
    ``internal`` makes it the agents' alone."""
    with state.database.session() as session:
        row = support.attach(
            session, caller.actor, ref, filename=file.filename or "",
            content_type=file.content_type or "", stream=file.file,
            root=state.settings.attachments_dir,
            max_bytes=state.settings.support.attachment_max_bytes, internal=internal,
            now=state.clock(),
        )  # fmt: skip
        return AttachmentView.of(row)


@router.get("/tickets/{ref}/attachments/{attachment_id}")
def attachment(ref: Ref, attachment_id: str, state: State, caller: Admin) -> Response:
    """The file, as an attachment download."""
    with state.database.session() as session:
        stored = support.open_attachment(
            session, caller.actor, ref, attachment_id, root=state.settings.attachments_dir
        )
    return download(
        str(stored.path),
        content_type=stored.attachment.content_type,
        filename=stored.attachment.filename,
    )


@router.get("/queue")
def queue(
    state: State,
    caller: Admin,
    assignee: Annotated[str | None, Query(max_length=320)] = None,
) -> QueueView:
    """The tickets waiting on the desk, the nearest due first (agents)."""
    warn = timedelta(minutes=state.settings.support.escalate_before_minutes)
    with state.database.session() as session:
        items = support.queue(session, caller.actor, now=state.clock(), warn_before=warn,
                              assignee=assignee)  # fmt: skip
        return QueueView(data=[QueueEntry.of(i) for i in items])


@router.get("/reports", response_model=None)
def reports(
    state: State,
    caller: Admin,
    period: Annotated[str, Query(max_length=7, description="YYYY-MM")],
    organization: Annotated[str | None, Query(max_length=64)] = None,
    format: Annotated[Literal["json", "csv"], Query()] = "json",
) -> ReportList | PlainTextResponse:
    """The month's report: tickets by severity, attainment per target, breaches, credits,
    hours (``format=csv`` for a spreadsheet)."""
    with state.database.session() as session:
        rows = support.monthly_report(
            session, caller.actor, period, organization=organization, now=state.clock()
        )
    if format == "csv":
        return PlainTextResponse(
            support.report_csv(rows),
            media_type="text/csv",
            headers={"content-disposition": f'attachment; filename="support-{period}.csv"'},
        )
    return ReportList(data=[ReportView.of(r) for r in rows])


@router.get("/policies")
def policies(state: State, caller: Admin) -> PolicyList:
    """What each support plan promises."""
    with state.database.session() as session:
        return PolicyList(data=[PolicyView.of(p) for p in support.support_plans(session)])


@router.put("/policies/{plan}")
def set_policy(plan: str, body: PolicyUpdate, state: State, caller: Admin) -> PolicyView:
    """Change a support plan's policy (the operator); open tickets keep their terms."""
    with state.database.session() as session:
        row = support.set_policy(
            session, caller.actor, plan, sla=body.sla, credits=body.credits,
            calendar=body.calendar, hourly_rate=body.hourly_rate,
        )  # fmt: skip
        return PolicyView.of(row)


@router.get("/calendars")
def calendars(state: State, caller: Admin) -> CalendarList:
    """The business-hours calendars (the operator)."""
    with state.database.session() as session:
        rows = support.list_calendars(session, caller.actor)
        return CalendarList(data=[CalendarView.of(r) for r in rows])


@router.put("/calendars/{name}")
def set_calendar(name: str, body: CalendarUpdate, state: State, caller: Admin) -> CalendarView:
    """Create or replace a calendar; with ``organization``, that customer's own."""
    spec = {"timezone": body.timezone, "hours": body.hours, "holidays": body.holidays}
    with state.database.session() as session:
        row = support.set_calendar(session, caller.actor, name, spec,
                                   organization=body.organization)  # fmt: skip
        return CalendarView.of(row)


@router.get("/packs")
def packs(state: State, caller: Admin) -> PackOfferList:
    """The prepaid consulting hour packs on offer, with their prices."""
    with state.database.session() as session:
        offers = support.pack_offers(session, now=state.clock())
        return PackOfferList(data=[PackOffer.of(o) for o in offers])


@router.post("/packs", status_code=201)
def buy_pack(
    body: BuyPack,
    state: State,
    caller: Admin,
    idempotency_key: Annotated[str | None, Header(max_length=64)] = None,
) -> BoughtView:
    """Buy an hour pack for the organisation, invoiced at once; the same ``Idempotency-Key``
    buys once."""
    with state.database.session() as session:
        bought = support.buy_pack(
            session, caller.actor, body.plan, organization=body.organization,
            now=state.clock(), settings=state.settings.billing,
            default_currency=state.settings.currency, request_key=idempotency_key,
        )  # fmt: skip
        return BoughtView.of(bought)


@router.get("/hours")
def hours(
    state: State, caller: Admin, organization: Annotated[str | None, Query(max_length=64)] = None
) -> HoursView:
    """The organisation's packs, what is left on them, and the time logged against them."""
    with state.database.session() as session:
        return HoursView.of(support.hours_of(session, caller.actor, organization,
                                             now=state.clock()))  # fmt: skip
