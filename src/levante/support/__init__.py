"""The support desk: tickets, SLA policies from the customer's support contract,
business-hours calendars, clocks derived from each ticket's history, escalations, service
credits on the customer's invoice, and reports. No HTTP here: the API, the command line and
the web pages call these services."""

from levante.storage.models import SupportCalendar, SupportTicket, TicketAttachment, TicketEvent
from levante.support.calendars import ALWAYS, Calendar, advance, counted, parse_calendar
from levante.support.clocks import Happening, SlaState, Timer, derive
from levante.support.contracts import (
    DEFAULT_CALENDAR,
    Contract,
    calendar_of,
    contract_of,
    ensure_calendars,
    list_calendars,
    set_calendar,
    set_policy,
    support_plans,
    terms_for,
)
from levante.support.credits import Breach, breaches_in, credit_breaches
from levante.support.desk import Desk, agents, desk_of
from levante.support.escalation import Escalation, SupportWorker, escalate, run_desk
from levante.support.policies import COMMUNITY, CreditTerms, Targets, Terms, describe_minutes
from levante.support.tickets import (
    MOVES,
    TicketView,
    add_note,
    assign,
    list_tickets,
    log_time,
    open_ticket,
    reference,
    reply,
    set_severity,
    set_status,
    view,
)

__all__ = [
    "ALWAYS",
    "COMMUNITY",
    "DEFAULT_CALENDAR",
    "MOVES",
    "Breach",
    "Calendar",
    "Contract",
    "CreditTerms",
    "Desk",
    "Escalation",
    "Happening",
    "SlaState",
    "SupportCalendar",
    "SupportTicket",
    "SupportWorker",
    "Targets",
    "Terms",
    "TicketAttachment",
    "TicketEvent",
    "TicketView",
    "Timer",
    "add_note",
    "advance",
    "agents",
    "assign",
    "breaches_in",
    "calendar_of",
    "contract_of",
    "counted",
    "credit_breaches",
    "derive",
    "describe_minutes",
    "desk_of",
    "ensure_calendars",
    "escalate",
    "list_calendars",
    "list_tickets",
    "log_time",
    "open_ticket",
    "parse_calendar",
    "reference",
    "reply",
    "run_desk",
    "set_calendar",
    "set_policy",
    "set_severity",
    "set_status",
    "support_plans",
    "terms_for",
    "view",
]
