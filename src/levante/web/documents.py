"""What the pages send that is not a page: an invoice as a document, and the way to a payment."""

from __future__ import annotations

from fastapi.responses import RedirectResponse, Response

from levante import billing
from levante.api.headers import standalone_document
from levante.api.state import AppState
from levante.errors import NotFoundError
from levante.web.identity import Visitor, tell


def invoice_document(
    invoice: billing.Invoice, lines: list[billing.InvoiceLine], kind: str
) -> Response:
    """An invoice as HTML (a document that keeps its look when saved) or PDF (a download
    named after its number); any other kind is not found."""
    if kind == "pdf":
        name = invoice.number or invoice.id
        return Response(
            billing.render_pdf(invoice, lines),
            media_type="application/pdf",
            headers={"content-disposition": f'attachment; filename="{name}.pdf"'},
        )
    if kind == "html":
        return standalone_document(billing.render_html(invoice, lines))
    raise NotFoundError("an invoice is .html or .pdf")


def to_payment(state: AppState, who: Visitor, checkout: billing.Checkout, *, back: str) -> Response:
    """The payment provider's page when it has one; else back to ``back``, told how to pay
    (a bank transfer's details)."""
    if checkout.url:
        return RedirectResponse(checkout.url, status_code=303)
    tell(state, who, checkout.instructions)
    return RedirectResponse(back, status_code=303)
