"""Support reports, per customer and month: tickets opened by severity, attainment of the
first-response, next-response and resolution targets, breaches, service credits and
consulting time (drawn from the prepaid packs, billable past them, left on them). Everything
is recomputed from the tickets' histories and the charges.

A target counts in the month in which it was settled: met when it ended (a reply, solved),
breached when its time ran out. Targets still running at the end of the month count in the
month they settle.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.billing import parse_period
from levante.errors import NotFoundError
from levante.pricing import format_amount
from levante.spreadsheet import csv_text
from levante.storage.models import Charge, Organization, SupportTicket, TicketEvent
from levante.support.charges import CREDIT_KEY, TIME_KEY, month_key
from levante.support.desk import desk_of
from levante.support.services import drawdown
from levante.support.tickets import history, sla_of
from levante.vocabulary import ChargeKind, Permission, SlaTarget, TicketEventKind


@dataclass(slots=True)
class Attainment:
    met: int = 0
    breached: int = 0

    @property
    def total(self) -> int:
        return self.met + self.breached

    @property
    def percent(self) -> float | None:
        return None if not self.total else 100.0 * self.met / self.total


@dataclass(slots=True)
class MonthReport:
    organization_id: str
    organization: str
    period: str
    opened: dict[int, int] = field(default_factory=lambda: dict.fromkeys(range(1, 5), 0))
    targets: dict[SlaTarget, Attainment] = field(
        default_factory=lambda: {t: Attainment() for t in SlaTarget}
    )
    breached_tickets: list[int] = field(default_factory=list)
    credit_nanos: int = 0
    credit_currency: str = ""
    minutes_logged: int = 0
    minutes_from_packs: int = 0
    minutes_billable: int = 0  # past the prepaid hours
    minutes_left: int = 0  # on the packs still valid at the month's end (or now)
    services_nanos: int = 0  # the month's consulting-time charge
    services_currency: str = ""

    @property
    def opened_total(self) -> int:
        return sum(self.opened.values())

    @property
    def credit(self) -> str:
        if not self.credit_nanos:
            return ""
        return f"{format_amount(-self.credit_nanos)} {self.credit_currency}"

    @property
    def services(self) -> str:
        if not self.services_nanos:
            return ""
        return f"{format_amount(self.services_nanos)} {self.services_currency}"


def monthly_report(
    session: Session,
    actor: Actor,
    period: str,
    *,
    organization: str | None = None,
    now: datetime,
) -> list[MonthReport]:
    """The month's report for the actor's organisation, or (agents) for every customer with
    tickets in it, or one."""
    start, end = parse_period(period)
    desk = desk_of(session, actor)
    org_id = desk.organization_id
    if desk.agent and organization is not None:
        org = session.scalar(
            select(Organization).where(
                or_(Organization.id == organization, Organization.slug == organization)
            )
        )
        if org is None:
            raise NotFoundError(f"no organisation '{organization}'", param="organization")
        org_id = org.id
    query = select(SupportTicket).where(
        SupportTicket.created_at < end,
        or_(SupportTicket.closed_at.is_(None), SupportTicket.closed_at >= start),
    )
    if org_id is not None:
        query = query.where(SupportTicket.organization_id == org_id)
    reports: dict[str, MonthReport] = {}

    def of(organization_id: str) -> MonthReport:
        if organization_id not in reports:
            name = session.get_one(Organization, organization_id).name
            reports[organization_id] = MonthReport(organization_id, name, period)
        return reports[organization_id]

    if org_id is not None:
        of(org_id)
    for ticket in session.scalars(query.order_by(SupportTicket.number)):
        events = history(session, ticket)
        report = of(ticket.organization_id)
        if start <= ticket.created_at < end:
            report.opened[_opening_severity(events, ticket)] += 1
        state = sla_of(ticket, events, now)
        breached_here = False
        for timer in state.timers:
            settled = timer.breached_at if timer.state == "breached" else timer.ended_at
            if timer.state not in ("met", "breached") or settled is None:
                continue
            if not start <= settled < end:
                continue
            if timer.state == "met":
                report.targets[timer.target].met += 1
            else:
                report.targets[timer.target].breached += 1
                breached_here = True
        if breached_here:
            report.breached_tickets.append(ticket.number)
    # Time may be logged on a ticket closed before the month: its customer is in the report.
    timed = (
        select(SupportTicket.organization_id)
        .join(TicketEvent, TicketEvent.ticket_id == SupportTicket.id)
        .where(TicketEvent.kind == TicketEventKind.TIME, TicketEvent.at >= start)
        .where(TicketEvent.at < end)
    )
    if org_id is not None:
        timed = timed.where(SupportTicket.organization_id == org_id)
    for organization_id in session.scalars(timed.distinct()):
        of(organization_id)
    for report in list(reports.values()):
        hours = drawdown(session, report.organization_id, min(end, now + timedelta(microseconds=1)))
        report.minutes_from_packs, report.minutes_billable = hours.used_in(start, end)
        report.minutes_logged = report.minutes_from_packs + report.minutes_billable
        report.minutes_left = hours.left
    # Money (service credits, consulting charges) for those who may see the invoices: the
    # operator, or the organisation's own owners, admins and billing users; not for agents
    # or members, who see the report without it.
    money = tenancy.may(session, actor, Permission.OPERATE) or (
        not desk.agent and tenancy.may(session, actor, Permission.READ_INVOICES)
    )
    keys = [month_key(p, o, period) for o in reports for p in (CREDIT_KEY, TIME_KEY)]
    if not money:
        keys = []
    for charge in session.scalars(select(Charge).where(Charge.idempotency_key.in_(keys))):
        report = reports[charge.organization_id]
        if charge.kind == ChargeKind.SERVICE_CREDIT:
            report.credit_nanos, report.credit_currency = charge.amount_nanos, charge.currency
        elif charge.kind == ChargeKind.SERVICES:
            report.services_nanos, report.services_currency = charge.amount_nanos, charge.currency
    return sorted(reports.values(), key=lambda r: r.organization.lower())


def _opening_severity(events: list[TicketEvent], ticket: SupportTicket) -> int:
    opened = next((e for e in events if e.kind == TicketEventKind.OPENED), None)
    return int(((opened.data if opened else None) or {}).get("severity", ticket.severity))


CSV_COLUMNS = [
    "organization", "period", "opened", "opened_sev1", "opened_sev2", "opened_sev3",
    "opened_sev4", "first_response_met", "first_response_breached", "next_response_met",
    "next_response_breached", "resolution_met", "resolution_breached", "breached_tickets",
    "credit", "currency", "hours_logged", "hours_from_packs", "hours_billable", "hours_left",
    "services", "services_currency",
]  # fmt: skip


def report_csv(reports: list[MonthReport]) -> str:
    """The reports as CSV, a row per organisation (its name as text a spreadsheet won't run)."""
    return csv_text(CSV_COLUMNS, (_csv_row(r) for r in reports))


def _csv_row(r: MonthReport) -> list[object]:
    t = r.targets
    return [
        r.organization, r.period, r.opened_total, *(r.opened[s] for s in range(1, 5)),
        t[SlaTarget.FIRST_RESPONSE].met, t[SlaTarget.FIRST_RESPONSE].breached,
        t[SlaTarget.NEXT_RESPONSE].met, t[SlaTarget.NEXT_RESPONSE].breached,
        t[SlaTarget.RESOLUTION].met, t[SlaTarget.RESOLUTION].breached,
        " ".join(f"#{n}" for n in r.breached_tickets),
        format_amount(-r.credit_nanos) if r.credit_nanos else "0", r.credit_currency,
        f"{r.minutes_logged / 60:.2f}", f"{r.minutes_from_packs / 60:.2f}",
        f"{r.minutes_billable / 60:.2f}", f"{r.minutes_left / 60:.2f}",
        format_amount(r.services_nanos) if r.services_nanos else "0", r.services_currency,
    ]  # fmt: skip
