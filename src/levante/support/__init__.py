"""The support desk: tickets, SLA policies from the customer's support contract,
business-hours calendars, clocks derived from each ticket's history, escalations, service
credits on the customer's invoice, prepaid consulting hours, and reports. No HTTP here: the
API, the command line and the web pages call these services."""

from levante.storage.models import SupportCalendar, SupportTicket, TicketAttachment, TicketEvent
from levante.support.attachments import attach, open_attachment
from levante.support.calendars import parse_calendar
from levante.support.clocks import Timer, countdown
from levante.support.contracts import (
    ensure_calendars,
    list_calendars,
    set_calendar,
    set_policy,
    support_plans,
    terms_for,
)
from levante.support.credits import credit_breaches
from levante.support.desk import Place, agents, customers, place_for, place_on, places
from levante.support.escalation import SupportWorker
from levante.support.policies import (
    describe_minutes,
    duration,
    terms_of,
)
from levante.support.reports import MonthReport, monthly_report, report_csv
from levante.support.services import (
    Bought,
    Hours,
    PackBalance,
    TimeEntry,
    bill_time,
    buy_pack,
    hours_of,
    may_buy,
    pack_hours,
    pack_invoice,
    pack_offers,
)
from levante.support.tickets import (
    MOVES,
    QueueItem,
    TicketView,
    add_note,
    assign,
    list_tickets,
    log_time,
    open_ticket,
    queue,
    reference,
    reply,
    set_severity,
    set_status,
    ticket_place,
    view,
)

__all__ = [
    "MOVES",
    "Bought",
    "Hours",
    "MonthReport",
    "PackBalance",
    "Place",
    "QueueItem",
    "SupportCalendar",
    "SupportTicket",
    "SupportWorker",
    "TicketAttachment",
    "TicketEvent",
    "TicketView",
    "TimeEntry",
    "Timer",
    "add_note",
    "agents",
    "assign",
    "attach",
    "bill_time",
    "buy_pack",
    "countdown",
    "credit_breaches",
    "customers",
    "describe_minutes",
    "duration",
    "ensure_calendars",
    "hours_of",
    "list_calendars",
    "list_tickets",
    "log_time",
    "may_buy",
    "monthly_report",
    "open_attachment",
    "open_ticket",
    "pack_hours",
    "pack_invoice",
    "pack_offers",
    "parse_calendar",
    "place_for",
    "place_on",
    "places",
    "queue",
    "reference",
    "reply",
    "report_csv",
    "set_calendar",
    "set_policy",
    "set_severity",
    "set_status",
    "support_plans",
    "terms_for",
    "terms_of",
    "ticket_place",
    "view",
]
