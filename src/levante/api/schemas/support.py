"""What the support routes answer and accept: tickets with their history and SLA state, the
agents' queue, reports, policies, calendars and consulting hours."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from levante import support
from levante.api.schemas.billing import InvoiceView
from levante.billing import Plan, PlanOffer
from levante.pricing import format_amount
from levante.support import (
    Bought,
    Hours,
    MonthReport,
    PackBalance,
    QueueItem,
    SupportCalendar,
    SupportTicket,
    TicketAttachment,
    TicketEvent,
    TicketView,
    Timer,
)
from levante.vocabulary import SlaTarget


class TimerView(BaseModel):
    target: Literal["first_response", "next_response", "resolution"]
    cycle: int
    severity: int
    clock: Literal["24x7", "business"]
    allowed_minutes: int
    started_at: datetime
    ended_at: datetime | None
    due_at: datetime | None
    used_minutes: float
    state: Literal["running", "paused", "met", "breached"]

    @classmethod
    def of(cls, timer: Timer) -> TimerView:
        return cls(
            target=timer.target.value,
            cycle=timer.cycle,
            severity=int(timer.severity),
            clock=timer.clock.value,
            allowed_minutes=int(timer.allowed.total_seconds() // 60),
            started_at=timer.started_at,
            ended_at=timer.ended_at,
            due_at=timer.due_at,
            used_minutes=round(timer.used.total_seconds() / 60, 2),
            state=timer.state,
        )


class TicketSummary(BaseModel):
    object: Literal["support.ticket"] = "support.ticket"
    id: str
    number: int
    organization_id: str
    subject: str
    severity: int
    status: Literal["new", "open", "pending", "solved", "closed"]
    requester: str
    deployment: str
    model: str
    plan: str | None = Field(description="the support plan whose terms the ticket runs under")
    created_at: datetime
    updated_at: datetime
    solved_at: datetime | None
    closed_at: datetime | None
    due_at: datetime | None = Field(description="when the next running target falls due")
    breached: bool

    @classmethod
    def of(cls, ticket: SupportTicket) -> TicketSummary:
        return cls(
            id=ticket.id,
            number=ticket.number,
            organization_id=ticket.organization_id,
            subject=ticket.subject,
            severity=ticket.severity,
            status=ticket.status,
            requester=ticket.requester,
            deployment=ticket.deployment,
            model=ticket.model,
            plan=(ticket.terms or {}).get("plan"),
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
            solved_at=ticket.solved_at,
            closed_at=ticket.closed_at,
            due_at=ticket.due_at,
            breached=ticket.breached,
        )


class EventView(BaseModel):
    object: Literal["support.event"] = "support.event"
    id: int
    kind: str
    at: datetime
    author: str
    by_agent: bool
    public: bool
    body: str
    data: dict[str, Any] | None

    @classmethod
    def of(cls, event: TicketEvent) -> EventView:
        return cls(
            id=event.id,
            kind=event.kind,
            at=event.at,
            author=event.author,
            by_agent=event.by_agent,
            public=event.public,
            body=event.body,
            data=event.data,
        )


class AttachmentView(BaseModel):
    object: Literal["support.attachment"] = "support.attachment"
    id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    public: bool
    created_at: datetime

    @classmethod
    def of(cls, row: TicketAttachment) -> AttachmentView:
        return cls(
            id=row.id,
            filename=row.filename,
            content_type=row.content_type,
            size=row.size,
            sha256=row.sha256,
            public=row.public,
            created_at=row.created_at,
        )


class TicketDetail(TicketSummary):
    assignee: str | None
    events: list[EventView]
    attachments: list[AttachmentView]
    sla: list[TimerView]

    @classmethod
    def of_view(cls, seen: TicketView) -> TicketDetail:
        base = TicketSummary.of(seen.ticket).model_dump()
        return cls(
            **base,
            assignee=seen.assignee.email if seen.assignee is not None and seen.agent_view else None,
            events=[EventView.of(e) for e in seen.events],
            attachments=[AttachmentView.of(a) for a in seen.attachments],
            sla=[TimerView.of(t) for t in seen.sla.timers],
        )


class TicketList(BaseModel):
    object: Literal["list"] = "list"
    data: list[TicketSummary]


class OpenTicket(BaseModel):
    subject: str = Field(max_length=200)
    description: str = Field(max_length=50_000)
    severity: int = Field(ge=1, le=4, description="1 critical, 2 high, 3 normal, 4 question")
    deployment: str = Field(default="", max_length=200, description="a licence id or a site")
    model: str = Field(default="", max_length=200)
    organization: str | None = Field(
        default=None, max_length=64, description="agents: the customer the ticket is for"
    )


class Message(BaseModel):
    body: str = Field(max_length=50_000)


class StatusChange(BaseModel):
    status: Literal["new", "open", "pending", "solved", "closed"]


class SeverityChange(BaseModel):
    severity: int = Field(ge=1, le=4)
    reason: str = Field(default="", max_length=2000)


class Assignment(BaseModel):
    agent: str | None = Field(default=None, max_length=320, description="an id or email; null")


class TimeEntry(BaseModel):
    minutes: int = Field(ge=1, le=1440)
    note: str = Field(default="", max_length=2000)


class QueueEntry(BaseModel):
    ticket: TicketSummary
    organization: str
    assignee: str | None
    seconds_left: int | None
    mark: Literal["breached", "warning"] | None

    @classmethod
    def of(cls, item: QueueItem) -> QueueEntry:
        left = item.time_left
        return cls(
            ticket=TicketSummary.of(item.ticket),
            organization=item.organization,
            assignee=item.assignee,
            seconds_left=None if left is None else int(left.total_seconds()),
            mark=item.mark,
        )


class QueueView(BaseModel):
    object: Literal["list"] = "list"
    data: list[QueueEntry]


class Attainment(BaseModel):
    met: int
    breached: int
    percent: float | None


class ReportView(BaseModel):
    object: Literal["support.report"] = "support.report"
    organization_id: str
    organization: str
    period: str
    opened: dict[str, int]
    first_response: Attainment
    next_response: Attainment
    resolution: Attainment
    breached_tickets: list[int]
    credit: str | None
    currency: str | None
    hours_logged: float
    hours_from_packs: float
    hours_billable: float
    hours_left: float
    services: str | None

    @classmethod
    def of(cls, report: MonthReport) -> ReportView:
        def part(target: SlaTarget) -> Attainment:
            a = report.targets[target]
            return Attainment(met=a.met, breached=a.breached, percent=a.percent)

        return cls(
            organization_id=report.organization_id,
            organization=report.organization,
            period=report.period,
            opened={str(k): v for k, v in report.opened.items()},
            first_response=part(SlaTarget.FIRST_RESPONSE),
            next_response=part(SlaTarget.NEXT_RESPONSE),
            resolution=part(SlaTarget.RESOLUTION),
            breached_tickets=report.breached_tickets,
            credit=report.credit.split()[0] if report.credit_nanos else None,
            currency=report.credit_currency or None,
            hours_logged=round(report.minutes_logged / 60, 2),
            hours_from_packs=round(report.minutes_from_packs / 60, 2),
            hours_billable=round(report.minutes_billable / 60, 2),
            hours_left=round(report.minutes_left / 60, 2),
            services=report.services.split()[0] if report.services_nanos else None,
        )


class ReportList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ReportView]


class PolicyView(BaseModel):
    object: Literal["support.policy"] = "support.policy"
    plan: str
    name: str
    sla: dict[str, Any]
    calendar: str | None
    credits: dict[str, Any] | None
    hourly_rate: dict[str, str] | None

    @classmethod
    def of(cls, plan: Plan) -> PolicyView:
        features = plan.features or {}
        return cls(
            plan=plan.code,
            name=plan.name,
            sla=features.get("sla") or {},
            calendar=features.get("calendar"),
            credits=features.get("credits"),
            hourly_rate=features.get("hourly_rate"),
        )


class PolicyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PolicyView]


class PolicyUpdate(BaseModel):
    sla: dict[str, dict[str, Any]] | None = None
    credits: dict[str, Any] | None = None
    calendar: str | None = Field(default=None, max_length=64)
    hourly_rate: dict[str, str] | None = None


class CalendarView(BaseModel):
    object: Literal["support.calendar"] = "support.calendar"
    name: str
    organization_id: str | None
    timezone: str
    hours: dict[str, list[str]]
    holidays: list[str]
    description: str

    @classmethod
    def of(cls, row: SupportCalendar) -> CalendarView:
        calendar = support.parse_calendar(row.spec)
        spec = calendar.to_json()
        return cls(
            name=row.name,
            organization_id=row.organization_id,
            timezone=spec["timezone"],
            hours=spec["hours"],
            holidays=spec["holidays"],
            description=calendar.describe(),
        )


class CalendarList(BaseModel):
    object: Literal["list"] = "list"
    data: list[CalendarView]


class CalendarUpdate(BaseModel):
    timezone: str = Field(max_length=64)
    hours: dict[str, list[str]]
    holidays: list[str] = Field(default_factory=list, max_length=1000)
    organization: str | None = Field(
        default=None, max_length=64, description="make it this customer's own calendar"
    )


class PackOffer(BaseModel):
    object: Literal["support.hour_pack_offer"] = "support.hour_pack_offer"
    plan: str
    name: str
    hours: float
    valid_months: int | None
    prices: dict[str, str]
    hourly_rate: dict[str, str] | None  # past the pack, without a support contract

    @classmethod
    def of(cls, offer: PlanOffer) -> PackOffer:
        features = offer.plan.features or {}
        return cls(
            plan=offer.plan.code,
            name=offer.plan.name,
            hours=float(support.pack_hours(offer.plan)),
            valid_months=features.get("valid_months"),
            prices={c: format_amount(n) for c, n in offer.current_nanos.items()},
            hourly_rate=features.get("hourly_rate"),
        )


class PackOfferList(BaseModel):
    object: Literal["list"] = "list"
    data: list[PackOffer]


class BuyPack(BaseModel):
    plan: str = Field(max_length=64)
    organization: str | None = Field(default=None, max_length=64)


class PackView(BaseModel):
    object: Literal["support.hour_pack"] = "support.hour_pack"
    id: str
    plan: str
    name: str
    hours: float
    hours_used: float
    hours_left: float
    bought_at: datetime
    expires_at: datetime | None
    valid: bool

    @classmethod
    def of(cls, balance: PackBalance, at: datetime) -> PackView:
        return cls(
            id=balance.pack.id,
            plan=balance.plan.code,
            name=balance.plan.name,
            hours=round(balance.pack.minutes / 60, 2),
            hours_used=round(balance.used / 60, 2),
            hours_left=round(balance.left / 60, 2),
            bought_at=balance.pack.bought_at,
            expires_at=balance.pack.expires_at,
            valid=balance.valid_at(at),
        )


class LoggedTime(BaseModel):
    ticket: int
    at: datetime
    minutes: int
    from_packs: int
    billable: int

    @classmethod
    def of(cls, entry: support.TimeEntry) -> LoggedTime:
        return cls(
            ticket=entry.ticket_number,
            at=entry.event.at,
            minutes=entry.minutes,
            from_packs=entry.from_packs,
            billable=entry.billable,
        )


class HoursView(BaseModel):
    object: Literal["support.hours"] = "support.hours"
    organization_id: str
    hours_bought: float
    hours_left: float
    packs: list[PackView]
    time: list[LoggedTime]  # the newest first

    @classmethod
    def of(cls, hours: Hours, *, limit: int = 500) -> HoursView:
        return cls(
            organization_id=hours.organization_id,
            hours_bought=round(hours.bought / 60, 2),
            hours_left=round(hours.left / 60, 2),
            packs=[PackView.of(p, hours.at) for p in hours.packs],
            time=[LoggedTime.of(e) for e in reversed(hours.entries[-limit:])],
        )


class BoughtView(BaseModel):
    object: Literal["support.hour_pack_purchase"] = "support.hour_pack_purchase"
    pack: PackView
    invoice: InvoiceView | None

    @classmethod
    def of(cls, bought: Bought) -> BoughtView:
        balance = PackBalance(bought.pack, bought.plan, 0)
        invoice = InvoiceView.of(bought.invoice) if bought.invoice is not None else None
        return cls(pack=PackView.of(balance, bought.pack.bought_at), invoice=invoice)
