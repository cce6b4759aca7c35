"""Finding and repairing gaps between reservations, usage records and prices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import select

from levante.metering.ledger import Ledger
from levante.pricing import PriceVersion, price_usage
from levante.storage import Database, alive_since, utcnow
from levante.storage.models import GatewayInstance, Price, Reservation, UsageRecord


@dataclass
class Reconciliation:
    records: int = 0
    open_reservations: int = 0
    orphaned: list[str] = field(default_factory=list)  # reservations of dead processes
    mispriced: list[str] = field(default_factory=list)  # cost differs from its price version
    swept: int = 0

    @property
    def clean(self) -> bool:
        return not self.orphaned and not self.mispriced


def reconcile(database: Database, ledger: Ledger, *, repair: bool) -> Reconciliation:
    """Check that every reservation belongs to a live process and every usage record's cost
    is what its price version gives. ``repair`` sweeps orphaned reservations into the ledger;
    mispriced records are reported only, since the ledger is never rewritten."""
    result = Reconciliation()
    stale = alive_since(utcnow(), timedelta(seconds=ledger.heartbeat_seconds))
    with database.session() as session:
        live = set(
            session.scalars(select(GatewayInstance.id).where(GatewayInstance.last_seen >= stale))
        )
        too_old = utcnow() - timedelta(seconds=ledger.max_request_seconds)
        for reservation in session.scalars(select(Reservation)):
            result.open_reservations += 1
            if reservation.instance_id not in live or reservation.started_at < too_old:
                result.orphaned.append(reservation.request_id)
        prices = {p.id: PriceVersion.of(p) for p in session.scalars(select(Price))}
        rows = session.execute(
            select(
                UsageRecord.request_id,
                UsageRecord.price_id,
                UsageRecord.prompt_tokens,
                UsageRecord.cached_tokens,
                UsageRecord.completion_tokens,
                UsageRecord.cost_nanos,
            )
        )
        for request_id, price_id, prompt, cached, completion, cost in rows:
            result.records += 1
            expected = price_usage(
                prices.get(price_id) if price_id else None,
                prompt_tokens=prompt,
                cached_tokens=cached,
                completion_tokens=completion,
            )
            if expected.total_nanos != cost:
                result.mispriced.append(request_id)
    if repair and result.orphaned:
        result.swept = ledger.sweep()
    return result
