"""Paying an invoice at the payment provider, and the page a browser comes back to.

A browser that returns from Stripe Checkout carries no API key, so the return address holds
its own credential: an HMAC of the invoice id under a key derived from the Stripe secret key.
It shows that one invoice's number, amount and state, and nothing else; every gateway process
computes the same token from the same settings, with nothing stored.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import StrEnum
from html import escape
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.billing.invoices import FINALIZED, PAID, get_invoice
from levante.billing.payments import Checkout, provider_for
from levante.errors import InvalidRequestError, NotFoundError
from levante.pricing import format_cents
from levante.settings import BillingSettings
from levante.storage.models import Invoice
from levante.vocabulary import Permission

RETURN_PATH = "/billing/checkout"


class Outcome(StrEnum):
    """What the provider said when it sent the browser back."""

    SUCCESS = "success"
    CANCEL = "cancel"


def return_token(settings: BillingSettings, invoice_id: str) -> str:
    """The credential of an invoice's return page; empty without a Stripe secret key."""
    if not settings.stripe_secret_key:
        return ""
    key = hashlib.sha256(b"levante checkout return\0" + settings.stripe_secret_key.encode())
    return hmac.new(key.digest(), invoice_id.encode(), hashlib.sha256).hexdigest()[:32]


def return_url(
    settings: BillingSettings, invoice_id: str, outcome: Outcome, path: str = RETURN_PATH
) -> str:
    query = urlencode({"token": return_token(settings, invoice_id), "checkout": outcome.value})
    return f"{settings.public_url.rstrip('/')}{path}/{invoice_id}?{query}"


def start_checkout(
    settings: BillingSettings, invoice: Invoice, *, return_path: str = RETURN_PATH
) -> Checkout:
    """How to pay ``invoice`` with the configured provider (a page, or instructions). The
    browser comes back to ``return_path``/<invoice> (a page of the app that started it)."""
    return provider_for(settings).checkout(
        invoice,
        success_url=return_url(settings, invoice.id, Outcome.SUCCESS, return_path),
        cancel_url=return_url(settings, invoice.id, Outcome.CANCEL, return_path),
    )


def pay_invoice(
    session: Session,
    actor: Actor,
    ref: str,
    *,
    settings: BillingSettings,
    organization: str | None = None,
) -> Checkout:
    """A checkout for one of the organisation's finalized invoices (by id or number)."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.BUY)
    invoice = get_invoice(session, ref, org.id)
    if invoice.status != FINALIZED:
        raise InvalidRequestError(f"invoice {invoice.number or invoice.id} is {invoice.status}")
    return start_checkout(settings, invoice)


@dataclass(frozen=True, slots=True)
class ReturnPage:
    """What the browser coming back from the provider is told."""

    invoice_number: str
    amount: str
    state: str  # paid | confirming | unpaid | void
    message: str


def returned_from_checkout(
    session: Session, invoice_id: str, token: str, outcome: str, settings: BillingSettings
) -> ReturnPage:
    """The state of the invoice behind a return address (``outcome`` as the address has it);
    an address that is not one Levante made, whatever is wrong with it, is "not found"."""
    expected = return_token(settings, invoice_id)
    if not expected or not hmac.compare_digest(expected.encode(), token.encode()):
        raise NotFoundError("this payment page does not exist")
    if outcome not in set(Outcome):
        raise NotFoundError("this payment page does not exist")
    invoice = get_invoice(session, invoice_id)
    due = f"{format_cents(invoice.amount_due_cents)} {invoice.currency}"
    amount = f"{format_cents(invoice.total_cents)} {invoice.currency}"
    number = invoice.number or invoice.id
    if invoice.status == PAID:
        return ReturnPage(number, amount, "paid", f"Thank you: invoice {number} is paid.")
    if invoice.status != FINALIZED:
        return ReturnPage(number, amount, invoice.status, f"Invoice {number} is void.")
    if outcome == Outcome.SUCCESS:
        return ReturnPage(
            number,
            amount,
            "confirming",
            f"Thank you: your payment of invoice {number} is being confirmed. "
            "It shows as paid as soon as the payment provider confirms it.",
        )
    return ReturnPage(
        number,
        amount,
        "unpaid",
        f"The payment was cancelled: invoice {number} is still due ({due}). "
        "You can pay it later from the same place.",
    )


def render_return_page(page: ReturnPage | None, seller: str) -> str:
    """The return page as HTML; None renders "not found" (a wrong or stale address)."""
    if page is None:
        title, body = "Payment page not found", "<p>This payment page does not exist.</p>"
    else:
        title = f"Invoice {page.invoice_number}"
        body = (
            f"<p class='state {escape(page.state)}'>{escape(page.message)}</p>"
            f"<dl><dt>Invoice</dt><dd>{escape(page.invoice_number)}</dd>"
            f"<dt>Amount</dt><dd>{escape(page.amount)}</dd>"
            f"<dt>State</dt><dd>{escape(page.state)}</dd></dl>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{escape(title)} · {escape(seller)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 3rem auto; max-width: 36rem; color: #222;
       padding: 0 1rem; }}
.state {{ padding: .8rem 1rem; border-radius: .4rem; background: #f3f3f3; }}
.paid {{ background: #e6f4ea; }} .unpaid {{ background: #fdecea; }}
dl {{ display: grid; grid-template-columns: auto 1fr; gap: .3rem 1rem; }}
dt {{ font-weight: 600; }}
</style></head>
<body><h1>{escape(title)}</h1>{body}<p><small>{escape(seller)}</small></p></body></html>
"""
