"""The billing cycle: what runs on a timer in every gateway process (and on demand with
``levante billing run``). Every step is idempotent, so processes may run it side by side."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit
from levante.billing.payments import apply_dunning
from levante.billing.subscriptions import renew_due
from levante.billing.wallet import wallet_state
from levante.periodic import PeriodicWorker
from levante.pricing import format_amount
from levante.settings import BillingSettings
from levante.storage import Database, utcnow
from levante.storage.models import BillingAccount

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CycleReport:
    renewed: int
    low_balance: list[str]
    restricted: list[str]


def check_low_balances(session: Session, now: datetime) -> list[str]:
    """Record a ``wallet.low_balance`` event once each time a balance falls below its
    account's threshold; returns the organisations alerted now."""
    alerted = []
    accounts = session.scalars(
        select(BillingAccount).where(BillingAccount.low_balance_nanos.is_not(None))
    )
    for account in accounts:
        threshold = account.low_balance_nanos or 0
        balance = wallet_state(session, account.organization_id, account.currency, now)
        low = balance.balance_nanos < threshold
        if low and not account.low_balance_alerted:
            account.low_balance_alerted = True
            alerted.append(account.organization_id)
            log.warning("organisation %s: prepaid balance is low", account.organization_id)
            audit.record(
                session,
                organization_id=account.organization_id,
                actor="billing",
                action="wallet.low_balance",
                target=account.organization_id,
                details={
                    "balance": format_amount(balance.balance_nanos),
                    "threshold": format_amount(threshold),
                    "currency": account.currency,
                },
            )
        elif not low and account.low_balance_alerted:
            account.low_balance_alerted = False
    return alerted


def run_cycle(
    session: Session, settings: BillingSettings, now: datetime | None = None
) -> CycleReport:
    now = now or utcnow()
    return CycleReport(
        renewed=renew_due(session, now),
        low_balance=check_low_balances(session, now),
        restricted=apply_dunning(session, now=now, grace_days=settings.dunning_grace_days),
    )


class BillingWorker(PeriodicWorker):
    """Runs the cycle every ``cycle_seconds``."""

    def __init__(self, database: Database, settings: BillingSettings) -> None:
        def job() -> None:
            with database.session() as session:
                run_cycle(session, settings, utcnow())

        super().__init__("billing", settings.cycle_seconds, job)
