"""The domain's words as types: the closed sets of values Levante stores and checks.

Each is a ``StrEnum``, so a member is its stored string; the database holds the same sets as
CHECK constraints (migration 0007), and the settings validate against them. Nothing here
imports the rest of Levante: storage, settings and every package may use it.
"""

from __future__ import annotations

from enum import StrEnum

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


class SignupMode(StrEnum):
    """Who may create an account on the web front end."""

    OPEN = "open"
    DOMAINS = "domains"  # addresses at the domains the settings list
    INVITE = "invite"  # only with an invitation
    CLOSED = "closed"
