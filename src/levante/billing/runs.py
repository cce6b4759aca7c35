"""The invoice run: a period's invoices for every organisation with something to bill.

The one implementation behind ``POST /v1/admin/invoices/generate``, ``levante invoices
generate`` and the tests. Each organisation is invoiced in its own transaction, so that one
that fails leaves the others done, and a second run of the same period changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from levante import tenancy
from levante.audit import Actor
from levante.billing.invoices import (
    DRAFT,
    Generated,
    generate_for,
    organizations_to_invoice,
    parse_period,
)
from levante.settings import BillingSettings
from levante.storage import Database, utcnow

Progress = Callable[[int, int], None]  # (organisations done, organisations in the run)


@dataclass(slots=True)
class InvoiceRun:
    period: str
    results: list[Generated] = field(default_factory=list)

    def count(self, outcome: str) -> int:
        return sum(r.outcome == outcome for r in self.results)

    @property
    def drafts(self) -> int:
        return sum(r.invoice.status == DRAFT for r in self.results)


def invoice_period(
    database: Database,
    actor: Actor,
    period: str,
    *,
    organization: str | None = None,
    finalize: bool = True,
    settings: BillingSettings,
    default_currency: str,
    settle_seconds: float,
    now: datetime | None = None,
    progress: Progress | None = None,
) -> InvoiceRun:
    """Build (or bring up to date) the period's invoices of one organisation (an id or slug)
    or of all with something to bill; finalize them once the period has closed and settled
    (``settle_seconds`` after its end, with no request of it still running), unless
    ``finalize`` is off. Only the operator runs invoices."""
    parse_period(period)
    now = now or utcnow()
    with database.session() as session:
        tenancy.require_operator(session, actor)
        orgs = (
            [tenancy.acting_on(session, actor, organization).id]
            if organization
            else organizations_to_invoice(session, period)
        )
    run = InvoiceRun(period)
    for done, org in enumerate(orgs):
        if progress is not None:
            progress(done, len(orgs))
        with database.session() as session:
            run.results += generate_for(
                session,
                org,
                period,
                settings=settings,
                default_currency=default_currency,
                now=now,
                settle_seconds=settle_seconds,
                finalize=finalize,
            )
    if progress is not None:
        progress(len(orgs), len(orgs))
    return run
