"""The deployment's database as every front end opens it: migrated to the newest schema (with
``auto_migrate``) and holding the default plans, so that the server, the command line and the
web pages start from the same state. The front ends hold the :class:`Database` as an opaque
handle and give it to the services; they never reach into storage themselves.
"""

from __future__ import annotations

from datetime import datetime

from levante import billing, pricing, support, tenancy
from levante.audit import Actor
from levante.billing import InvoiceRun, ensure_catalog
from levante.billing.runs import Progress
from levante.settings import BillingSettings, Settings
from levante.storage import Database, current_revision, head_revision, upgrade, utcnow

__all__ = [
    "Database",
    "migrate",
    "open_database",
    "prepare",
    "release_revision",
    "revision",
    "run_invoices",
]


def prepare(database: Database, settings: Settings) -> list[str]:
    """Bring the schema up to date (if ``auto_migrate``) and the default plans in; returns
    what the operator should hear at start (a served model without a price)."""
    if settings.auto_migrate:
        upgrade(database.engine)
    with database.session() as session:
        ensure_catalog(session)
        support.ensure_calendars(session)
        unpriced = pricing.unpriced_models_warning(session, [m.id for m in settings.models])
    return [unpriced] if unpriced else []


def run_invoices(
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
    """The deployment's invoice run: the month's service credits of the support contracts
    and its consulting time past the prepaid hours brought up to date first
    (:func:`levante.support.credit_breaches`, :func:`levante.support.bill_time`), then
    billing's run (:func:`levante.billing.invoice_period`), which bills them with everything
    else."""
    now = now or utcnow()
    with database.session() as session:
        tenancy.require_operator(session, actor)
        org_id = tenancy.acting_on(session, actor, organization).id if organization else None
        support.credit_breaches(session, period, now=now, organization_id=org_id)
        support.bill_time(session, period, now=now, default_currency=default_currency,
                          organization_id=org_id)  # fmt: skip
    return billing.invoice_period(
        database, actor, period, organization=organization, finalize=finalize,
        settings=settings, default_currency=default_currency, settle_seconds=settle_seconds,
        now=now, progress=progress,
    )  # fmt: skip


def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    database = Database(settings.resolved_database_url)
    if migrate:
        try:
            prepare(database, settings)
        except BaseException:
            database.dispose()
            raise
    return database


def migrate(database: Database, revision: str = "head") -> str | None:
    """Upgrade the schema to ``revision``; the revision it is at then."""
    upgrade(database.engine, revision)
    return current_revision(database.engine)


def revision(database: Database) -> str | None:
    return current_revision(database.engine)


def release_revision() -> str | None:
    """The newest schema revision this release knows."""
    return head_revision()
