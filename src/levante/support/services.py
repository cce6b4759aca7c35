"""Professional services: consulting hours sold as prepaid packs, drawn down by the time agents
log on tickets, and the time past them billed at the contract's hourly rate.

A pack is a catalogue plan bought once (interval ``once``): its ``features`` say how many
``hours`` it holds and for how many ``valid_months`` after the purchase. Buying one is a
charge of kind ``hour_pack``, invoiced at once; its hours are there from the purchase (an
unpaid invoice goes through dunning like any other).

Each logged entry draws on the packs bought before it and still valid at it, the one that
expires first first; the minutes no pack covers are billable. The drawdown is recomputed from
the packs and the tickets' time entries whenever it is asked for, so it never drifts from
them. At a month's invoice run (:func:`bill_time`, which ``levante.platform.run_invoices``
calls before billing bills the month), the month's billable minutes become one charge of
kind ``services`` at the hourly rate of the support contract in force at the month's end, or
without one the rate the packs list, keyed by organisation and month: like service credits,
it is recomputed while no issued invoice holds it (a draft of the month is rebuilt with it),
and a void hands the same charge to the next invoice.
"""

from __future__ import annotations

from calendar import monthrange
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit, billing, tenancy
from levante.audit import Actor
from levante.billing import (
    Invoice,
    InvoiceLine,
    Plan,
    find_plan,
    is_billed,
    parse_period,
    plan_price,
)
from levante.errors import InvalidRequestError, NotFoundError, PermissionDeniedError
from levante.pricing import CENT, format_amount
from levante.settings import BillingSettings
from levante.storage import new_id
from levante.storage.models import Charge, HourPack, SupportTicket, TicketEvent
from levante.support.charges import TIME_KEY, month_key, settle_month_charge
from levante.support.contracts import contract_of
from levante.support.policies import duration, hourly_rate
from levante.vocabulary import ChargeKind, Interval, Permission, Product, TicketEventKind


@dataclass(frozen=True, slots=True)
class PackBalance:
    """A pack as it stands at an instant: what it held, what has been drawn from it."""

    pack: HourPack
    plan: Plan
    used: int  # minutes

    @property
    def left(self) -> int:
        return self.pack.minutes - self.used

    def valid_at(self, at: datetime) -> bool:
        return self.pack.bought_at <= at and (
            self.pack.expires_at is None or at < self.pack.expires_at
        )


@dataclass(frozen=True, slots=True)
class TimeEntry:
    """An agent's logged time, and how much of it the packs covered."""

    event: TicketEvent
    ticket_number: int
    minutes: int
    from_packs: int

    @property
    def billable(self) -> int:
        return self.minutes - self.from_packs


@dataclass(frozen=True, slots=True)
class Hours:
    """An organisation's consulting hours at an instant: its packs and the time drawn."""

    organization_id: str
    at: datetime
    packs: list[PackBalance]
    entries: list[TimeEntry]
    organization: str = ""  # its name, where it was asked for by a person

    @property
    def left(self) -> int:
        """Minutes still to draw on packs valid now."""
        return sum(p.left for p in self.packs if p.valid_at(self.at))

    @property
    def open_packs(self) -> list[PackBalance]:
        """The packs valid now with minutes left on them."""
        return [p for p in self.packs if p.valid_at(self.at) and p.left > 0]

    @property
    def bought(self) -> int:
        return sum(p.pack.minutes for p in self.packs)

    def in_period(self, start: datetime, end: datetime) -> list[TimeEntry]:
        return [e for e in self.entries if start <= e.event.at < end]

    def used_in(self, start: datetime, end: datetime) -> tuple[int, int]:
        """Minutes logged in [start, end): drawn from packs, and billable."""
        entries = self.in_period(start, end)
        return sum(e.from_packs for e in entries), sum(e.billable for e in entries)


@dataclass(frozen=True, slots=True)
class Bought:
    pack: HourPack
    plan: Plan
    invoice: Invoice | None  # None when nothing was left to pay (e.g. a zero price)


def hour_packs(session: Session, *, include_inactive: bool = False) -> list[Plan]:
    """The packs of the catalogue, smallest first."""
    query = select(Plan).where(Plan.interval == Interval.ONCE)
    if not include_inactive:
        query = query.where(Plan.active.is_(True))
    packs = [p for p in session.scalars(query) if pack_terms(p) is not None]
    return sorted(packs, key=lambda p: (_pack_minutes(p), p.code))


def pack_offers(session: Session, *, now: datetime) -> list[billing.PlanOffer]:
    """The packs on offer with their prices in force now, smallest first."""
    order = {plan.id: i for i, plan in enumerate(hour_packs(session))}
    offers = [o for o in billing.plans_on_offer(session, now=now) if o.plan.id in order]
    return sorted(offers, key=lambda o: order[o.plan.id])


def pack_hours(plan: Plan) -> Decimal:
    return Decimal(_pack_minutes(plan)) / 60


def drawdown(session: Session, organization_id: str, until: datetime) -> Hours:
    """The organisation's packs and time entries before ``until``, each entry drawn from the
    packs bought before it and valid at it, the first to expire first."""
    rows = session.execute(
        select(HourPack, Plan)
        .join(Plan, Plan.id == HourPack.plan_id)
        .where(HourPack.organization_id == organization_id, HourPack.bought_at < until)
        .order_by(HourPack.bought_at, HourPack.id)
    ).all()
    used = {pack.id: 0 for pack, _ in rows}
    times = session.execute(
        select(TicketEvent, SupportTicket.number)
        .join(SupportTicket, SupportTicket.id == TicketEvent.ticket_id)
        .where(
            SupportTicket.organization_id == organization_id,
            TicketEvent.kind == TicketEventKind.TIME,
            TicketEvent.at < until,
        )
        .order_by(TicketEvent.at, TicketEvent.id)
    ).all()
    entries = []
    for event, number in times:
        minutes = int((event.data or {}).get("minutes", 0))
        wanted = minutes
        open_packs = sorted(
            (
                pack
                for pack, _ in rows
                if pack.bought_at <= event.at
                and (pack.expires_at is None or event.at < pack.expires_at)
                and used[pack.id] < pack.minutes
            ),
            key=lambda p: (p.expires_at is None, p.expires_at or p.bought_at, p.bought_at),
        )
        for pack in open_packs:
            take = min(wanted, pack.minutes - used[pack.id])
            used[pack.id] += take
            wanted -= take
            if not wanted:
                break
        entries.append(TimeEntry(event, number, minutes, minutes - wanted))
    packs = [PackBalance(pack, plan, used[pack.id]) for pack, plan in rows]
    return Hours(organization_id, until, packs, entries)


def hours_of(
    session: Session, actor: Actor, organization: str | None = None, *, now: datetime
) -> Hours:
    """The consulting hours of the actor's organisation (the operator's agents: any one's)."""
    org = tenancy.acting_on(session, actor, organization, needs=Permission.USE_SUPPORT)
    found = drawdown(session, org.id, now + timedelta(microseconds=1))
    return replace(found, organization=org.name)


def may_buy(session: Session, actor: Actor, organization_id: str) -> bool:
    """Whether ``actor`` may buy hours for the organisation (and see the invoices of them):
    whoever may buy for it, and the operator for any organisation."""
    if actor.organization_id == organization_id:
        return tenancy.may(session, actor, Permission.BUY)
    return tenancy.may(session, actor, Permission.OPERATE)


def pack_invoice(
    session: Session, actor: Actor, organization_id: str, ref: str
) -> tuple[Invoice, list[InvoiceLine]]:
    """An invoice of the organisation, for those who may buy hours for it; any other invoice,
    or anyone else, finds none."""
    if not may_buy(session, actor, organization_id):
        raise NotFoundError("this invoice does not exist", param="invoice")
    found, lines = billing.invoice_of(session, actor, ref)
    if found.organization_id != organization_id:
        raise NotFoundError("this invoice does not exist", param="invoice")
    return found, lines


@dataclass(frozen=True, slots=True)
class PackTerms:
    minutes: int
    valid_months: int | None


def pack_terms(plan: Plan) -> PackTerms | None:
    """What a pack plan holds and for how long, or None if its features make no sense (such
    a pack is not on offer)."""
    features = plan.features or {}
    try:
        minutes = int(Decimal(str(features.get("hours") or 0)) * 60)
        months = int(features.get("valid_months") or 0)
    except (ArithmeticError, ValueError, TypeError):
        return None
    if not 0 < minutes <= 100_000 * 60 or not 0 <= months <= 120:
        return None
    return PackTerms(minutes, months or None)


def buy_pack(
    session: Session,
    actor: Actor,
    plan: str,
    *,
    organization: str | None = None,
    now: datetime,
    settings: BillingSettings,
    default_currency: str,
    request_key: str | None = None,
) -> Bought:
    """Buy a pack for the organisation (see :func:`may_buy`), charged and invoiced on its own
    at once in the organisation's currency. The operator names the organisation. The same
    ``request_key`` (an API client's Idempotency-Key, a form's one-time field) buys once:
    asking again answers the first purchase."""
    org = tenancy.acting_on(session, actor, organization)
    if not may_buy(session, actor, org.id):
        raise PermissionDeniedError(tenancy.refusal(Permission.BUY))
    if organization is None and tenancy.sees_all(session, actor):
        raise InvalidRequestError("name the organisation to buy hours for", param="organization")
    pack_plan = find_plan(session, plan)
    if pack_plan.interval != Interval.ONCE:
        raise InvalidRequestError(f"plan '{pack_plan.code}' is not an hour pack", param="plan")
    if not pack_plan.active:
        raise InvalidRequestError(f"plan '{pack_plan.code}' is no longer offered", param="plan")
    terms = pack_terms(pack_plan)
    if terms is None:
        raise InvalidRequestError(
            f"plan '{pack_plan.code}' has no valid hours or validity", param="plan"
        )
    minutes = terms.minutes
    # The account's row lock makes two purchases, and a purchase and the invoice run, take turns.
    account = billing.lock_account(session, org.id, default_currency)
    pack_id = new_id("hp")
    key = (
        f"hour-pack:{org.id}:{request_key.strip()[:64]}" if request_key else f"hour-pack:{pack_id}"
    )
    earlier = _bought_with(session, key)
    if earlier is not None:
        return earlier
    price = plan_price(session, pack_plan, account.currency, now)
    expires = _add_months(now, terms.valid_months) if terms.valid_months else None
    until = f", valid until {expires.date().isoformat()}" if expires is not None else ""
    charge = Charge(
        id=new_id("ch"),
        organization_id=org.id,
        kind=ChargeKind.HOUR_PACK,
        product=Product.SUPPORT,
        description=f"{pack_plan.name}, prepaid{until}"[:300],
        quantity=1,
        amount_nanos=price,
        currency=account.currency,
        charged_at=now,
        idempotency_key=key,
    )
    session.add(charge)
    session.flush()
    pack = HourPack(
        id=pack_id,
        organization_id=org.id,
        plan_id=pack_plan.id,
        minutes=minutes,
        bought_at=now,
        expires_at=expires,
        charge_id=charge.id,
        bought_by=actor.label[:200],
    )
    session.add(pack)
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="support.hour_pack.bought",
        target=pack.id,
        details={
            "plan": pack_plan.code,
            "hours": minutes / 60,
            "amount": format_amount(price),
            "currency": account.currency,
            "expires_at": expires.isoformat() if expires else None,
        },
    )
    session.flush()
    invoice = billing.invoice_pending_charges(
        session, org.id, settings=settings, default_currency=default_currency, now=now,
        only=[charge.id],
    )  # fmt: skip
    return Bought(pack, pack_plan, invoice)


def _bought_with(session: Session, key: str) -> Bought | None:
    charge = session.scalar(select(Charge).where(Charge.idempotency_key == key))
    if charge is None:
        return None
    pack = session.scalars(select(HourPack).where(HourPack.charge_id == charge.id)).one()
    invoice = session.get(Invoice, charge.invoice_id) if charge.invoice_id else None
    return Bought(pack, session.get_one(Plan, pack.plan_id), invoice)


def bill_time(
    session: Session,
    period: str,
    *,
    now: datetime,
    default_currency: str,
    organization_id: str | None = None,
) -> list[Charge]:
    """Bring the month's consulting-time charges up to date (a step of the invoice run before
    billing bills the month); returns the charges made or changed."""
    start, end = parse_period(period)
    query = (
        select(SupportTicket.organization_id)
        .join(TicketEvent, TicketEvent.ticket_id == SupportTicket.id)
        .where(TicketEvent.kind == TicketEventKind.TIME, TicketEvent.at >= start)
        .where(TicketEvent.at < end)
        .distinct()
    )
    if organization_id is not None:
        query = query.where(SupportTicket.organization_id == organization_id)
    changed = []
    for org_id in sorted(session.scalars(query)):
        key = month_key(TIME_KEY, org_id, period)
        # Two invoice runs take turns here, as they do on the invoices themselves.
        currency = billing.lock_account(session, org_id, default_currency).currency
        existing = session.scalar(select(Charge).where(Charge.idempotency_key == key))
        if existing is not None and is_billed(session, existing):
            continue  # on an issued invoice: never changed, never doubled
        entries = [e for e in drawdown(session, org_id, end).in_period(start, end) if e.billable]
        minutes = sum(e.billable for e in entries)
        rate = rate_for(session, org_id, currency, end - timedelta(microseconds=1))
        if not minutes or rate is None:
            # Nothing to bill, or nobody set a rate (reported as unbilled, never guessed): an
            # earlier figure that no issued invoice holds goes.
            if existing is not None:
                existing.invoice_id = None
                session.delete(existing)
            continue
        cents = (rate * minutes / 60 * 100).quantize(Decimal(1), ROUND_HALF_UP)
        numbers = ", ".join(f"#{n}" for n in sorted({e.ticket_number for e in entries}))
        description = (
            f"Consulting time past the prepaid hours, {period}: {duration(minutes)} at "
            f"{rate:.2f} {currency} an hour (ticket{'s' if ',' in numbers else ''} {numbers})"
        )
        charge = settle_month_charge(
            session, existing, key=key, kind=ChargeKind.SERVICES, organization_id=org_id,
            period=(start, end), description=description, quantity=minutes,
            amount_nanos=int(cents) * CENT, currency=currency,
            action="support.services.computed",
            details={"period": period, "minutes": minutes, "rate": f"{rate:.2f}"},
        )  # fmt: skip
        if charge is not None:
            changed.append(charge)
    session.flush()
    return changed


def rate_for(session: Session, organization_id: str, currency: str, at: datetime) -> Decimal | None:
    """The hourly rate of consulting time past the packs: the support contract's in force at
    ``at``, else the rate the organisation's latest pack lists, else the catalogue's."""
    contract = contract_of(session, organization_id, at)
    if contract is not None:
        rate = hourly_rate(contract.plan.features, currency)
        if rate is not None:
            return rate
    latest = session.scalar(
        select(Plan)
        .join(HourPack, HourPack.plan_id == Plan.id)
        .where(HourPack.organization_id == organization_id, HourPack.bought_at <= at)
        .order_by(HourPack.bought_at.desc())
        .limit(1)
    )
    for plan in ([latest] if latest is not None else []) + hour_packs(session):
        rate = hourly_rate(plan.features, currency)
        if rate is not None:
            return rate
    return None


def _pack_minutes(plan: Plan) -> int:
    terms = pack_terms(plan)
    return terms.minutes if terms is not None else 0


def _add_months(at: datetime, months: int) -> datetime:
    month = at.month - 1 + months
    year, month = at.year + month // 12, month % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, monthrange(year, month)[1]))
