"""The domain's words as types: the closed sets of values Levante stores and checks.

Each is a ``StrEnum``, so a member is its stored string; the database holds the same sets as
CHECK constraints (migration 0007), and the settings validate against them. Nothing here
imports the rest of Levante: storage, settings and every package may use it.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

from levante.errors import InvalidRequestError


class Currency(StrEnum):
    """The currencies Levante prices and bills in."""

    EUR = "EUR"
    USD = "USD"


def check_currency(value: str, param: str = "currency") -> Currency:
    """``value`` as a billing currency, or a 400 naming the ones there are."""
    try:
        return Currency(value.upper())
    except ValueError:
        names = ", ".join(Currency)
        raise InvalidRequestError(f"currency must be one of {names}", param=param) from None


class Role(StrEnum):
    """What a member may do in an organisation."""

    OWNER = "owner"
    ADMIN = "admin"
    BILLING = "billing"
    MEMBER = "member"
    # In the operator's organisation: a support agent, who works the support queue.
    SUPPORT = "support"


class Permission(StrEnum):
    """What an actor may do; which roles and keys may is :mod:`levante.tenancy.permissions`."""

    OPEN_CONSOLE = "open_console"  # the customer console at all
    READ_USAGE = "read_usage"  # usage, limits and tier
    MANAGE_KEYS = "manage_keys"  # API keys and workspaces
    CHANGE_LIMITS = "change_limits"  # monthly spending limits
    MANAGE_MEMBERS = "manage_members"  # add, invite, change roles, remove
    MANAGE_OWNERS = "manage_owners"  # make someone an owner, or an owner no longer one
    BUY = "buy"  # plans, seats, credits, hour packs
    READ_INVOICES = "read_invoices"  # the billing account and its invoices
    READ_AUDIT = "read_audit"  # the audit log: who changed keys, members, limits
    USE_SUPPORT = "use_support"  # open and follow the organisation's tickets
    WORK_TICKETS = "work_tickets"  # the support queue: every customer's tickets
    OPERATE = "operate"  # the operator's console and every organisation
    USE_ADMIN_API = "use_admin_api"  # the admin endpoints of the HTTP API (admin keys)


class Product(StrEnum):
    """The four lines of business, as usage, charges and invoice lines are filed."""

    API = "api"
    CHAT = "chat"
    ENTERPRISE = "enterprise"
    SUPPORT = "support"


class UsageStatus(StrEnum):
    """How a request that reached a model ended."""

    COMPLETED = "completed"
    CANCELLED = "cancelled"
    FAILED = "failed"
    # The gateway died while the request ran; swept from its reservation: prompt tokens only.
    INTERRUPTED = "interrupted"


class AccountState(StrEnum):
    ACTIVE = "active"
    RESTRICTED = "restricted"  # an invoice is overdue past the grace period


class Interval(StrEnum):
    MONTH = "month"
    YEAR = "year"
    ONCE = "once"  # bought once, never renewed: a prepaid pack of consulting hours


class Unit(StrEnum):
    """What a plan's price is per: the whole plan, a seat, or a GPU."""

    FLAT = "flat"
    SEAT = "seat"
    GPU = "gpu"


class SubscriptionStatus(StrEnum):
    TRIALING = "trialing"
    ACTIVE = "active"
    CANCELED = "canceled"


class ChargeKind(StrEnum):
    SUBSCRIPTION = "subscription"
    PRORATION = "proration"
    CARRIED = "carried"  # a balance carried from an invoice to the next
    SERVICE_CREDIT = "service_credit"  # a support contract's credit for its breached targets
    SERVICES = "services"  # professional services: consulting time past the prepaid hours
    HOUR_PACK = "hour_pack"  # a prepaid pack of consulting hours, bought once


class WalletKind(StrEnum):
    TOP_UP = "top_up"
    GRANT = "grant"


class InvoiceKind(StrEnum):
    PERIOD = "period"  # a month's usage and fees
    TOP_UP = "top_up"  # prepaid credits bought
    CHARGES = "charges"  # fees paid up front (a subscription with pay_now)


class InvoiceStatus(StrEnum):
    DRAFT = "draft"
    FINALIZED = "finalized"
    PAID = "paid"
    VOID = "void"


class LineKind(StrEnum):
    USAGE = "usage"
    CHARGE = "charge"
    CREDIT = "credit"
    TOP_UP = "top_up"
    CARRIED = "carried"


class PaymentProvider(StrEnum):
    MANUAL = "manual"  # a bank transfer, recorded by the operator
    STRIPE = "stripe"


class SiteKeyStatus(StrEnum):
    """Where a self-hosted site's report-signing key stands with the vendor."""

    PENDING = "pending"  # seen (an activation, a report) but not trusted yet
    BOUND = "bound"  # its reports are imported
    REVOKED = "revoked"  # its reports are refused


class HeldStatus(StrEnum):
    """A usage report signed with a key its licence has not bound, and the operator's word."""

    HELD = "held"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class MessageRole(StrEnum):
    """Who wrote a message of a chat conversation (the custom instructions are not stored as
    messages: they are the user's, and apply to every conversation)."""

    USER = "user"
    ASSISTANT = "assistant"


class MessageState(StrEnum):
    """How an assistant's answer ended; a user's message is always ``complete``."""

    COMPLETE = "complete"
    STREAMING = "streaming"  # being written; a crash leaves it so, and the next read says so
    STOPPED = "stopped"  # the user stopped it, or the browser went away
    FAILED = "failed"


class TitleSource(StrEnum):
    """Where a conversation's title comes from."""

    PENDING = "pending"  # the first words of the first message, until the model writes one
    MODEL = "model"
    USER = "user"


class PasswordLink(StrEnum):
    """What a mailed link to set a password is for."""

    RESET = "reset"  # the account's owner forgot the password
    CLAIM = "claim"  # an organisation added the address: its owner chooses the first password


class SignupMode(StrEnum):
    """Who may create an account on the web front end."""

    OPEN = "open"
    DOMAINS = "domains"  # addresses at the domains the settings list
    INVITE = "invite"  # only with an invitation
    CLOSED = "closed"


class Severity(IntEnum):
    """How badly a support ticket's problem hurts: 1 is production down, 4 a question."""

    CRITICAL = 1
    HIGH = 2
    NORMAL = 3
    LOW = 4

    @property
    def label(self) -> str:
        return SEVERITY_LABELS[self]


SEVERITY_LABELS = {
    Severity.CRITICAL: "1 · critical",
    Severity.HIGH: "2 · high",
    Severity.NORMAL: "3 · normal",
    Severity.LOW: "4 · question",
}


def check_severity(value: object, param: str = "severity") -> Severity:
    """``value`` (1 to 4, as a number or a string) as a severity, or a 400."""
    try:
        return Severity(int(str(value).strip()))
    except ValueError:
        raise InvalidRequestError(
            "severity is 1 (critical), 2 (high), 3 (normal) or 4 (question)", param=param
        ) from None


class TicketStatus(StrEnum):
    """Where a support ticket stands. ``pending`` waits on the customer, and its SLA clocks
    are paused meanwhile."""

    NEW = "new"
    OPEN = "open"
    PENDING = "pending"
    SOLVED = "solved"
    CLOSED = "closed"


class TicketEventKind(StrEnum):
    """What happened to a ticket: its history, from which its SLA state is derived."""

    OPENED = "opened"
    REPLY = "reply"  # a message the customer sees, from the customer or an agent
    NOTE = "note"  # an agents' internal note, never shown to the customer
    STATUS = "status"
    SEVERITY = "severity"
    ASSIGNED = "assigned"
    ATTACHMENT = "attachment"
    TIME = "time"  # an agent's consulting time, in minutes
    ESCALATION = "escalation"  # a target is near, or is breached


class SlaTarget(StrEnum):
    """The three promises of a support contract (Zammad's first response, update and
    solution times)."""

    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"


class ClockKind(StrEnum):
    """Whether a target's time runs around the clock or on the calendar's business hours."""

    ALWAYS = "24x7"
    BUSINESS = "business"


class FilePurpose(StrEnum):
    """What an uploaded file is for (Mistral's purposes)."""

    BATCH = "batch"
    FINE_TUNE = "fine-tune"
    OCR = "ocr"


class SampleType(StrEnum):
    """What a file's lines are (Mistral's ``sample_type``): requests a customer uploaded for a
    batch job, or the results and errors a job wrote."""

    PRETRAIN = "pretrain"
    INSTRUCT = "instruct"
    BATCH_REQUEST = "batch_request"
    BATCH_RESULT = "batch_result"
    BATCH_ERROR = "batch_error"
    OCR_INPUT = "ocr_input"


class FileSource(StrEnum):
    """Where a file came from: a customer's upload, or written by the platform (a batch job's
    output; Mistral calls that source ``mistral``)."""

    UPLOAD = "upload"
    MISTRAL = "mistral"


class BatchStatus(StrEnum):
    """Where a batch job stands (Mistral's statuses; OpenAI's names are mapped at the edge)."""

    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"
    TIMEOUT_EXCEEDED = "TIMEOUT_EXCEEDED"
    CANCELLATION_REQUESTED = "CANCELLATION_REQUESTED"
    CANCELLED = "CANCELLED"

    @property
    def active(self) -> bool:
        """Whether lines may still run (or are running) for the job."""
        return self in (BatchStatus.QUEUED, BatchStatus.RUNNING)

    @property
    def final(self) -> bool:
        return self in (
            BatchStatus.SUCCESS,
            BatchStatus.FAILED,
            BatchStatus.TIMEOUT_EXCEEDED,
            BatchStatus.CANCELLED,
        )


class LineState(StrEnum):
    """Where one request of a batch job stands: waiting (or being run by the process that
    claimed it), answered, or failed (an error answer, or never run: cancelled, expired)."""

    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
