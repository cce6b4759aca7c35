"""Prepaid credits: paid top-ups and free grants that expire, burned down by API usage.

Nothing is written when usage burns credits: the balance is worked out from the credits and
the usage ledger, so it is exact at any moment and never drifts from what is billed. Usage is
taken day by day from the grant that expires first, then from top-ups, oldest first; a grant
may be used on the days before its ``expires_on`` date and what is left of it then expires.
Credits cover API usage (the ledger), not subscription fees; they are applied on an invoice
before VAT, because paid top-ups are invoiced with VAT when they are bought.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.errors import InvalidRequestError
from levante.pricing import format_amount
from levante.storage import Topic, announce, new_id
from levante.storage.models import UsageRecord, WalletEntry
from levante.vocabulary import WalletKind

TOP_UP, GRANT = WalletKind


@dataclass(slots=True)
class _Bucket:
    kind: str
    remaining: int
    expires_on: date | None


@dataclass(frozen=True, slots=True)
class WalletState:
    currency: str
    since: datetime | None  # when the first credit arrived; usage before it is not covered
    credited_nanos: int = 0
    expired_nanos: int = 0
    consumed_nanos: int = 0
    usage_nanos: int = 0  # API usage since ``since``, covered or not
    # Per month (YYYY-MM): (credits from grants, credits from top-ups) used by that usage.
    consumed_by_month: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def balance_nanos(self) -> int:
        return self.credited_nanos - self.expired_nanos - self.consumed_nanos

    @property
    def limit_nanos(self) -> int:
        """What usage since ``since`` may add up to while credits last."""
        return self.credited_nanos - self.expired_nanos


def wallet_state(
    session: Session, organization_id: str, currency: str, at: datetime
) -> WalletState:
    entries = session.scalars(
        select(WalletEntry)
        .where(
            WalletEntry.organization_id == organization_id,
            WalletEntry.currency == currency,
            WalletEntry.created_at <= at,
        )
        .order_by(WalletEntry.created_at, WalletEntry.id)
    ).all()
    if not entries:
        return WalletState(currency=currency, since=None)
    since = entries[0].created_at
    usage = dict(
        session.execute(
            select(UsageRecord.usage_date, func.sum(UsageRecord.cost_nanos))
            .where(
                UsageRecord.organization_id == organization_id,
                UsageRecord.currency == currency,
                UsageRecord.started_at >= since,
                UsageRecord.started_at <= at,
            )
            .group_by(UsageRecord.usage_date)
        ).all()
    )
    credits: dict[date, list[WalletEntry]] = defaultdict(list)
    for entry in entries:
        credits[entry.created_at.date()].append(entry)
    expiries = {e.expires_on for e in entries if e.expires_on and e.expires_on <= at.date()}
    days = sorted({*credits, *usage, *expiries, at.date()})
    buckets: list[_Bucket] = []
    expired = consumed = total_usage = 0
    by_month: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for day in days:
        for entry in credits.get(day, []):
            buckets.append(_Bucket(entry.kind, entry.amount_nanos, entry.expires_on))
        for bucket in buckets:
            if bucket.expires_on is not None and bucket.expires_on <= day and bucket.remaining:
                expired += bucket.remaining
                bucket.remaining = 0
        need = int(usage.get(day) or 0)
        total_usage += need
        buckets.sort(key=lambda b: (b.expires_on is None, b.expires_on or date.max))
        for bucket in buckets:
            if need <= 0:
                break
            take = min(need, bucket.remaining)
            bucket.remaining -= take
            need -= take
            consumed += take
            by_month[day.strftime("%Y-%m")][0 if bucket.kind == GRANT else 1] += take
    return WalletState(
        currency=currency,
        since=since,
        credited_nanos=sum(e.amount_nanos for e in entries),
        expired_nanos=expired,
        consumed_nanos=consumed,
        usage_nanos=total_usage,
        consumed_by_month={m: (g, t) for m, (g, t) in by_month.items()},
    )


def grant_credits(
    session: Session,
    organization_id: str,
    amount_nanos: int,
    *,
    currency: str,
    expires_on: date | None,
    now: datetime,
    description: str = "Free credits",
    actor: Actor,
) -> WalletEntry:
    """Give free credits; they expire at the start of ``expires_on``."""
    if amount_nanos <= 0:
        raise InvalidRequestError("a grant must be a positive amount", param="amount")
    if expires_on is not None and expires_on <= now.date():
        raise InvalidRequestError("a grant must expire after today", param="expires_on")
    entry = _credit(session, organization_id, GRANT, amount_nanos, currency, now, description)
    entry.expires_on = expires_on
    audit.record(
        session,
        organization_id=organization_id,
        actor=actor,
        action="credits.granted",
        target=entry.id,
        details={
            "amount": format_amount(amount_nanos),
            "currency": currency,
            "expires_on": None if expires_on is None else expires_on.isoformat(),
        },
    )
    return entry


def add_top_up(
    session: Session,
    organization_id: str,
    amount_nanos: int,
    *,
    currency: str,
    reference: str,
    now: datetime,
) -> WalletEntry:
    """Credit a paid top-up (once per ``reference``, the invoice that sold it)."""
    existing = session.scalar(select(WalletEntry).where(WalletEntry.reference == reference))
    if existing is not None:
        return existing
    entry = _credit(
        session, organization_id, TOP_UP, amount_nanos, currency, now, "Prepaid credits"
    )
    entry.reference = reference
    return entry


def list_entries(session: Session, organization_id: str) -> list[WalletEntry]:
    return list(
        session.scalars(
            select(WalletEntry)
            .where(WalletEntry.organization_id == organization_id)
            .order_by(WalletEntry.created_at.desc())
        )
    )


def _credit(
    session: Session,
    organization_id: str,
    kind: str,
    amount_nanos: int,
    currency: str,
    now: datetime,
    description: str,
) -> WalletEntry:
    announce(session, Topic.POLICY, organization_id)
    entry = WalletEntry(
        id=new_id("cr"),
        organization_id=organization_id,
        kind=kind,
        amount_nanos=amount_nanos,
        currency=currency,
        description=description[:300],
        created_at=now,
    )
    session.add(entry)
    session.flush()
    return entry
