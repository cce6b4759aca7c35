"""Run a simulated company through the services that bill real customers.

Everything a real customer does goes through the package that owns it, at the simulated
time: sign-ups through ``identity``, subscriptions, renewals, invoice runs, payments and
dunning through ``billing`` (and ``platform`` for the support credits), API usage through the
metering :class:`~levante.metering.Ledger`'s writer (the settlement code a served request
takes), licences and signed site reports through ``licensing``, tickets through ``support``.
Only the token counts are made up: they come from the demand model in
:mod:`levante.simulation.demand`, one usage record per customer, model and day (split where a
day's tokens would not fit a record), not from the engine.
"""

from __future__ import annotations

import heapq
import itertools
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante import billing, identity, licensing, platform, pricing, revenue, support, tenancy
from levante.audit import Actor
from levante.errors import ConfigurationError, ConflictError
from levante.metering import Ledger, UsageEvent, UsageStatus
from levante.pricing import parse_amount
from levante.settings import Settings
from levante.simulation.demand import (
    Member,
    Mix,
    day_shares,
    days_of,
    interpolate,
    month_start,
    nanos,
    noisy,
    population,
)
from levante.simulation.scenario import Scenario
from levante.storage import Database, new_id
from levante.storage.models import (
    Invoice,
    LicenseReport,
    Organization,
    SupportTicket,
    UsageRecord,
    User,
)
from levante.vocabulary import InvoiceStatus

CLI = Actor.command_line()
PASSWORD = "simulated-password-1"  # never used to sign in: every simulated account has it
MAX_TOKENS = 1_500_000_000  # a usage record's token counts stay inside a 32-bit column
YEARLY_PLANS = (
    "enterprise-seat", "enterprise-gpu", "support-standard", "support-premium", "support-critical",
)  # fmt: skip

Progress = Callable[[int, int, str], None]


@dataclass(slots=True)
class Outcome:
    """What the simulation made, and how long it took."""

    name: str
    first: str
    last: str
    organizations: int = 0
    users: int = 0
    usage_records: int = 0
    invoices: int = 0
    payments: int = 0
    tickets: int = 0
    licenses: int = 0
    reports: int = 0
    seconds: float = 0.0
    shares: dict[str, float] = field(default_factory=dict)  # what the scenario aimed at


@dataclass(slots=True)
class Customer:
    org_id: str
    currency: str
    key_id: str | None = None
    user_id: str | None = None
    subscriptions: dict[str, str] = field(default_factory=dict)  # plan code -> id


class Simulation:
    def __init__(
        self,
        database: Database,
        settings: Settings,
        scenario: Scenario,
        *,
        now: datetime,
        progress: Progress | None = None,
    ) -> None:
        self.db = database
        self.settings = settings
        self.scenario = scenario
        self.real_now = now
        self.progress = progress
        self.rng = random.Random(scenario.seed)
        end = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        last = month_start(end.date(), -1)
        self.start = month_start(last.date(), -(scenario.months - 1))
        self.months = scenario.months
        self.months_start = [month_start(self.start.date(), m) for m in range(self.months + 1)]
        self.rates = [interpolate(*scenario.eur_usd, m, self.months) for m in range(self.months)]
        self.queue: list[tuple[datetime, int, Callable[..., None], tuple[object, ...]]] = []
        self.seq = itertools.count()
        self.outcome = Outcome(
            scenario.name,
            f"{self.start:%Y-%m}",
            f"{last:%Y-%m}",
            shares=scenario.shares(),
        )
        self.names = itertools.count(1)
        self.prices: dict[tuple[str, str], pricing.PriceVersion] = {}
        self.yearly: dict[tuple[str, str], float] = {}  # (plan, currency) -> its price a year
        self.planned_spend: dict[int, float] = {}  # API member -> its year's spend (USD)
        self.support_for: dict[tuple[str, int], str] = {}  # (stream, member) -> level
        self.ledger = Ledger(database)

    # -- the clock ---------------------------------------------------------------------------

    def at(self, when: datetime, action: Callable[..., None], *args: object) -> None:
        """Do ``action(when, *args)`` at ``when`` (never past the real clock)."""
        if when <= self.real_now:
            heapq.heappush(self.queue, (when, next(self.seq), action, args))

    def month_time(self, month: int, day: int, hour: int, minute: int = 0) -> datetime:
        base = self.months_start[month]
        return base + timedelta(days=day - 1, hours=hour, minutes=minute)

    def rate(self, month: int) -> Decimal:
        return self.rates[min(month, self.months - 1)]

    def currency(self) -> str:
        return "EUR" if self.rng.random() < self.scenario.eur_share else "USD"

    # -- running -----------------------------------------------------------------------------

    def run(self) -> Outcome:
        began = time.perf_counter()
        self._check_fresh()
        self._prices_and_rates()
        self._plan_api()
        self._plan_chat()
        self._plan_enterprise()
        for day in self._days():
            self.at(day + timedelta(minutes=30), self._daily)
        self.ledger.start()
        try:
            done = 0
            while self.queue:
                when, _, action, args = heapq.heappop(self.queue)
                action(when, *args)
                done += 1
                if self.progress is not None and done % 100 == 0:
                    self.progress(done, done + len(self.queue), f"{when:%Y-%m-%d}")
            self._flush()
        finally:
            self.ledger.close()
        if self.progress is not None:
            self.progress(done, done, "done")
        self._count()
        self.outcome.seconds = time.perf_counter() - began
        return self.outcome

    def _days(self) -> list[datetime]:
        out = []
        for m in range(self.months + 1):
            out.extend(days_of(self.months_start[m]))
        return out

    def _check_fresh(self) -> None:
        with self.db.session() as session:
            customers = session.scalar(
                select(func.count()).select_from(Organization).where(~Organization.is_operator)
            )
            used = session.scalar(select(func.count()).select_from(UsageRecord))
        if customers or used:
            raise ConflictError(
                "the database already holds customers: simulate on a fresh one "
                "(set LEVANTE_DATABASE_URL to a new database)",
                code="simulation_needs_fresh_database",
            )

    def _prices_and_rates(self) -> None:
        with self.db.session() as session:
            billing.ensure_catalog(session)
            support.ensure_calendars(session)
            for code in YEARLY_PLANS:  # the catalogue's prices, which the sizing divides by
                plan = billing.find_plan(session, code)
                for currency in ("USD", "EUR"):
                    nanos = billing.plan_price(session, plan, currency, self.start)
                    self.yearly[(code, currency)] = nanos / 1e9
            for m in range(self.months):
                revenue.set_rate(
                    session, CLI, base="EUR", quote="USD", rate=str(self.rates[m]),
                    effective_on=self.months_start[m].date(),
                )  # fmt: skip
            for model in self.scenario.api.models:
                for currency, factor in (("USD", Decimal(1)), ("EUR", 1 / self.rates[0])):
                    price = pricing.create_price(
                        session,
                        model=model.name,
                        currency=currency,
                        input_nanos=_cents(Decimal(model.input) * factor),
                        output_nanos=_cents(Decimal(model.output) * factor),
                        effective_from=self.start,
                        now=self.start,
                        actor=CLI,
                    )
                    self.prices[(model.name, currency)] = pricing.PriceVersion.of(price)

    # -- customers ---------------------------------------------------------------------------

    def _organization(self, session: Session, kind: str, currency: str) -> Customer:
        n = next(self.names)
        org = tenancy.create_organization(session, f"{kind.title()} {n:05d}", f"{kind}-{n:05d}")
        billing.ensure_account(session, org.id, currency)
        billing.update_account(
            session, org.id,
            billing.AccountChange(
                legal_name=f"{kind.title()} {n:05d} Ltd", email=f"billing@{kind}-{n:05d}.example",
                country="FR" if currency == "EUR" else "US", is_business=True,
            ),
            default_currency=currency, actor=CLI,
        )  # fmt: skip
        issued = tenancy.create_api_key(session, org.id, "simulated")
        return Customer(org.id, currency, key_id=issued.key.id)

    def _sign_up(self, session: Session, kind: str, when: datetime) -> Customer:
        n = next(self.names)
        currency = self.currency()
        user = identity.create_account(
            session, CLI, f"{kind}-{n:05d}@chat.example", PASSWORD,
            name=f"{kind.title()} {n:05d}", currency=currency, now=when,
        )  # fmt: skip
        org = identity.personal_organization(session, user, currency=currency)
        return Customer(org.id, currency, user_id=user.id)

    def _subscribe(
        self, session: Session, who: Customer, plan: str, when: datetime, quantity: int = 1
    ) -> str:
        sub = billing.subscribe(
            session, who.org_id, plan, quantity=quantity, now=when,
            default_currency=who.currency, actor=CLI,
        )  # fmt: skip
        who.subscriptions[plan] = sub.id
        return sub.id

    # -- the API -----------------------------------------------------------------------------

    def _plan_api(self) -> None:
        api = self.scenario.api
        members = population(
            self.rng, final=api.customers, months=self.months, opening=0.55,
            churn=api.monthly_churn, sigma=1.6,
        )  # fmt: skip
        curve = [
            api.opening_share + (1 - api.opening_share) * m / max(1, self.months - 1)
            for m in range(self.months)
        ]
        raw: dict[int, list[float]] = {}
        for member in members:
            fade = 1.0 if self.rng.random() > 0.1 else 0.6  # some customers' usage falls
            raw[member.index] = [
                member.weight * curve[m] * noisy(self.rng) * (fade ** max(0, m - member.joins))
                if member.active(m) else 0.0
                for m in range(self.months)
            ]  # fmt: skip
        last = range(max(0, self.months - 3), self.months)
        trailing = sum(raw[i][m] for i in raw for m in last)
        factor = api.arr / (4 * trailing) if trailing else 0.0
        for member in members:
            monthly = [v * factor for v in raw[member.index]]
            if member.leaves is None:
                self.planned_spend[member.index] = sum(monthly)
            self.at(
                self.month_time(member.joins, member.day, member.hour),
                self._api_joins,
                member,
                monthly,
            )

    def _api_joins(self, when: datetime, member: Member, spend: list[float]) -> None:
        with self.db.session() as session:
            who = self._organization(session, "api", self.currency())
        level = self.support_for.get(("api", member.index))
        if level is not None:
            self._support_starts(when + timedelta(hours=1), who, level)
        for m in range(member.joins, self.months):
            if spend[m] <= 0:
                continue
            days = days_of(self.months_start[m])
            shares = day_shares(self.months_start[m])
            first = member.day - 1 if m == member.joins else 0
            scale = 1 / sum(shares[first:])  # the month's spend, from the day it joins
            for d in range(first, len(days)):
                amount = spend[m] * shares[d] * scale
                self.at(
                    days[d] + timedelta(hours=23, minutes=50),
                    self._settle_day,
                    who,
                    amount,
                    m,
                )

    def _settle_day(self, when: datetime, who: Customer, usd: float, month: int) -> None:
        """A day of one customer's API usage, per model, through the ledger's writer."""
        amount = usd if who.currency == "USD" else usd / float(self.rate(month))
        day = when.replace(hour=0, minute=0, second=0, microsecond=0)
        for model in self.scenario.api.models:
            price = self.prices[(model.name, who.currency)]
            spend = nanos(amount * model.share)
            if spend <= 0:
                continue
            prompt, cached, completion = Mix().tokens_for(
                spend, price.input_nanos, price.cached_input_nanos, price.output_nanos
            )
            parts = max(1, -(-max(prompt, completion) // MAX_TOKENS))
            for k in range(parts):
                p, c, o = (_part(prompt, parts, k), _part(cached, parts, k),
                           _part(completion, parts, k))  # fmt: skip
                cost = pricing.price_usage(price, prompt_tokens=p, cached_tokens=c,
                                           completion_tokens=o)  # fmt: skip
                started = day + timedelta(hours=12, seconds=k)
                self.ledger.settle(
                    UsageEvent(
                        request_id=new_id("sim"), organization_id=who.org_id,
                        workspace_id=None, api_key_id=who.key_id, product="api",
                        endpoint="/v1/chat/completions", model=model.name, prompt_tokens=p,
                        completion_tokens=o, cached_tokens=c, status=UsageStatus.COMPLETED,
                        finish_reason="stop", stream=False, time_to_first_token_ms=None,
                        duration_ms=0, started_at=started, finished_at=started,
                        metadata={"simulated": "a day's usage"}, price_id=cost.price_id,
                        currency=cost.currency, input_cost_nanos=cost.input_nanos,
                        cached_cost_nanos=cost.cached_nanos, output_cost_nanos=cost.output_nanos,
                    )
                )  # fmt: skip

    # -- the chat ----------------------------------------------------------------------------

    def _plan_chat(self) -> None:
        chat = self.scenario.chat
        pros = population(self.rng, final=chat.pro_users, months=self.months, opening=0.5,
                          churn=chat.monthly_churn, sigma=0.0)  # fmt: skip
        teams = population(self.rng, final=chat.team_organizations, months=self.months,
                           opening=0.5, churn=chat.monthly_churn, sigma=0.9)  # fmt: skip
        frees = population(self.rng, final=chat.free_users, months=self.months, opening=0.5,
                           churn=0.0, sigma=0.0)  # fmt: skip
        annual = {("pro", m.index): self.rng.random() < chat.annual_share for m in pros}
        annual |= {("team", m.index): self.rng.random() < chat.annual_share for m in teams}
        pro_mrr = sum(
            (14.99 * 12 * 0.8 / 12 if annual[("pro", m.index)] else 14.99)
            for m in pros if m.leaves is None
        )  # fmt: skip
        seat = {m.index: (24.99 * 0.8 if annual[("team", m.index)] else 24.99) for m in teams}
        # A Team that joins within its trial of the end pays nothing yet.
        paying = [m for m in teams if m.leaves is None and not (
            m.joins == self.months - 1 and m.day > 14)]  # fmt: skip
        weight = sum(m.weight * seat[m.index] for m in paying)
        per_weight = max(0.0, chat.arr / 12 - pro_mrr) / weight if weight else 0.0
        for m in pros:
            plan = "chat-pro-annual" if annual[("pro", m.index)] else "chat-pro-monthly"
            self.at(self.month_time(m.joins, m.day, m.hour),
                    self._chat_joins, m, plan, 1)  # fmt: skip
        for m in teams:
            plan = "chat-team-annual" if annual[("team", m.index)] else "chat-team-monthly"
            seats = max(2, round(m.weight * per_weight))
            self.at(self.month_time(m.joins, m.day, m.hour),
                    self._chat_joins, m, plan, seats)  # fmt: skip
        for m in frees:
            self.at(self.month_time(m.joins, m.day, m.hour),
                    self._free_joins)  # fmt: skip

    def _free_joins(self, when: datetime) -> None:
        with self.db.session() as session:
            self._sign_up(session, "free", when)

    def _chat_joins(self, when: datetime, member: Member, plan: str, seats: int) -> None:
        with self.db.session() as session:
            who = self._sign_up(session, "team" if "team" in plan else "pro", when)
            sub = self._subscribe(session, who, plan, when, seats)
        if member.leaves is not None:
            left = self.month_time(member.leaves, self.rng.randint(1, 27), 10)
            self.at(left, self._cancel, who, sub)
            if self.rng.random() < 0.3 and member.leaves + 2 < self.months:  # comes back
                back = self.month_time(member.leaves + 2, self.rng.randint(1, 27), 11)
                self.at(back, self._resubscribe, who, plan, seats)

    def _cancel(self, when: datetime, who: Customer, sub: str) -> None:
        with self.db.session() as session:
            billing.cancel(session, who.org_id, sub, at_period_end=True, now=when, actor=CLI)

    def _resubscribe(self, when: datetime, who: Customer, plan: str, seats: int) -> None:
        with self.db.session() as session:
            self._subscribe(session, who, plan, when, seats)

    # -- enterprise licences -----------------------------------------------------------------

    def _plan_enterprise(self) -> None:
        ent = self.scenario.enterprise
        members = population(self.rng, final=ent.customers, months=self.months,
                             opening=ent.opening_share, churn=0.0, sigma=0.7)  # fmt: skip
        weight = sum(m.weight for m in members)
        self._enterprise_keyring()
        for m in members:
            arr = ent.arr * m.weight / weight if weight else 0.0
            grows = self.rng.random() < ent.expanding and m.joins < self.months - 2
            self.at(self.month_time(m.joins, m.day, m.hour),
                    self._enterprise_joins, m, arr, grows)  # fmt: skip
        self._plan_support([("enterprise", m.index, m.weight) for m in members])

    def _enterprise_keyring(self) -> None:
        keys = licensing.Keyring(self.settings.license_keys_dir)
        try:
            self.signing_key = keys.signing_key()
        except ConfigurationError:  # none yet: the vendor makes one, as `levante license keygen`
            self.signing_key = keys.generate()

    def _enterprise_joins(self, when: datetime, member: Member, arr: float, grows: bool) -> None:
        """A licence by the GPU or by the seat (one enterprise plan per customer), sized to
        the customer's share of the stream's ARR."""
        currency = self.currency()
        fx = float(self.rate(self.months - 1)) if currency == "EUR" else 1.0
        by_gpu = self.rng.random() < self.scenario.enterprise.gpu_share
        plan = "enterprise-gpu" if by_gpu else "enterprise-seat"
        price = self.yearly[(plan, currency)]
        units = max(1, round(arr / (price * fx)))
        first = max(1, round(units * 0.7)) if grows else units
        site = Ed25519PrivateKey.generate()
        with self.db.session() as session:
            who = self._organization(session, "enterprise", currency)
            self._subscribe(session, who, plan, when, first)
            record = licensing.issue_license(
                session, who.org_id, self.signing_key, licensing.LicenseTerms(), now=when, actor=CLI
            )
            licensing.bind_site_key(
                session, record, licensing.encode_public(site.public_key()),
                source="simulation", now=when, actor=CLI,
            )  # fmt: skip
            license_id = record.id
        if grows and units > first:
            later = self.rng.randint(member.joins + 1, self.months - 1)
            self.at(self.month_time(later, self.rng.randint(1, 27), 15),
                    self._enterprise_grows, who, plan, units)  # fmt: skip
        seats = units if not by_gpu else units * 20
        for m in range(member.joins + 1, self.months + 1):
            self.at(self.month_time(m, 2, 3), self._site_report, license_id, site, seats)
        level = self.support_for.get(("enterprise", member.index))
        if level is not None:
            self._support_starts(when + timedelta(hours=1), who, level)

    def _enterprise_grows(self, when: datetime, who: Customer, plan: str, units: int) -> None:
        with self.db.session() as session:
            billing.change(session, who.org_id, who.subscriptions[plan], quantity=units,
                           now=when, actor=CLI)  # fmt: skip

    def _site_report(
        self, when: datetime, license_id: str, key: Ed25519PrivateKey, seats: int
    ) -> None:
        """The site's usage report of the month before, signed with its key, imported."""
        end = when.date().replace(day=1)
        start = (end - timedelta(days=1)).replace(day=1)
        with self.db.session() as session:
            issued = licensing.read_issued(licensing.get_license(session, license_id).file)
            begin = max(start, issued.starts_at.date())
            if begin >= end:
                return
            lines = [
                licensing.ReportLine(
                    begin + timedelta(days=d), "open-weights-large",
                    self.rng.randint(2_000, 9_000), self.rng.randint(20_000_000, 90_000_000), 0,
                    self.rng.randint(5_000_000, 30_000_000),
                )
                for d in range((end - begin).days)
            ]  # fmt: skip
            text = licensing.sign_report(
                issued, key, start=begin, end=end, now=when,
                active_seats=max(1, round(seats * 0.9)), lines=lines,
            )  # fmt: skip
            licensing.import_usage(session, text, now=when, actor=CLI)

    # -- support contracts -------------------------------------------------------------------

    def _plan_support(self, enterprise: list[tuple[str, int, float]]) -> None:
        """Contracts for the enterprise customers first (the largest first), then for the
        largest API customers that stay, until the contracts' ARR reaches the scenario's."""
        sup = self.scenario.support
        levels = list(sup.levels)
        weights = [sup.levels[k] for k in levels]
        api = sorted(self.planned_spend.items(), key=lambda x: -x[1])
        candidates = [(s, i) for s, i, _ in sorted(enterprise, key=lambda x: -x[2])]
        candidates += [("api", i) for i, _ in api]
        price = {k: self.yearly[(f"support-{k}", "USD")] for k in levels}
        total = 0.0
        for key in candidates:
            if total >= sup.arr:
                break
            level = self.rng.choices(levels, weights)[0]
            if total + price[level] > sup.arr * 1.005:  # the last contract: what fits best
                fits = [k for k in levels if total + price[k] <= sup.arr * 1.005]
                if not fits:
                    break
                level = max(fits, key=lambda k: price[k])
            self.support_for[key] = level
            total += price[level]

    def _month_of(self, when: datetime) -> int:
        return max(i for i, start in enumerate(self.months_start) if start <= when)

    def _support_starts(self, when: datetime, who: Customer, level: str) -> None:
        with self.db.session() as session:
            self._subscribe(session, who, f"support-{level}", when)
        rate = self.scenario.support.tickets_per_month
        for m in range(self._month_of(when), self.months):
            count = _poisson(self.rng, rate)
            for _ in range(count):
                opened = self.month_time(m, self.rng.randint(1, 27), self.rng.randint(8, 16),
                                         self.rng.randint(0, 59))  # fmt: skip
                if opened <= when:
                    continue
                self.at(opened, self._ticket, who, level)

    def _ticket(self, when: datetime, who: Customer, level: str) -> None:
        severity = self.rng.choices([1, 2, 3, 4], [1, 3, 5, 3] if level != "standard"
                                    else [0.2, 2, 5, 4])[0]  # fmt: skip
        assert who.key_id is not None
        actor = Actor.api_key(
            who.org_id, who.key_id, admin=True
        )  # the support API takes admin keys
        with self.db.session() as session:
            ticket = support.open_ticket(
                session, actor, subject=f"Simulated issue ({level}, severity {severity})",
                description="A simulated ticket: the model answers slowly on our cluster.",
                severity=severity, now=when,
            )  # fmt: skip
            ref = support.reference(ticket)
        late = self.rng.random() < self.scenario.support.late_answers
        delay = (
            timedelta(days=self.rng.uniform(2, 5))
            if late
            else timedelta(minutes=self.rng.uniform(5, 40))
        )
        self.at(when + delay, self._answer, ref)

    def _answer(self, when: datetime, ref: str) -> None:
        with self.db.session() as session:
            support.reply(
                session, CLI, ref, "We found the cause and rolled out a fix; please check.",
                reopen_days=self.settings.support.reopen_days, now=when,
            )  # fmt: skip
        self.at(when + timedelta(hours=self.rng.uniform(2, 30)), self._solve, ref)

    def _solve(self, when: datetime, ref: str) -> None:
        with self.db.session() as session:
            support.set_status(session, CLI, ref, "solved", now=when)

    # -- every day: renewals, the invoice run, payments and dunning ---------------------------

    def _daily(self, when: datetime) -> None:
        with self.db.session() as session:  # what the billing worker does every day
            billing.run_cycle(session, self.settings.billing, now=when)
        if when.day == 1 and when > self.start + timedelta(days=1):
            period = f"{when - timedelta(days=1):%Y-%m}"
            self._flush()
            run_at = when + timedelta(hours=5)
            run = platform.run_invoices(
                self.db, CLI, period, settings=self.settings.billing,
                default_currency=self.settings.currency, settle_seconds=0, now=run_at,
            )  # fmt: skip
            for result in run.results:
                self._pay_later(result.invoice.id, run_at)

    def _pay_later(self, invoice_id: str, issued: datetime) -> None:
        api = self.scenario.api
        roll = self.rng.random()
        if roll < api.unpaid:
            return
        days = self.rng.uniform(35, 50) if roll < api.unpaid + api.late_payments else (
            self.rng.uniform(2, 20))  # fmt: skip
        self.at(issued + timedelta(days=days), self._pay, invoice_id)

    def _pay(self, when: datetime, invoice_id: str) -> None:
        with self.db.session() as session:
            invoice = session.get(Invoice, invoice_id)
            if invoice is None or invoice.status != InvoiceStatus.FINALIZED:
                return
            due = invoice.total_cents - invoice.paid_cents
            if due <= 0:
                return
            billing.record_payment(
                session, invoice, provider="manual", reference=f"sim-{invoice_id}",
                amount_cents=due, now=when, actor=CLI,
            )  # fmt: skip

    def _flush(self) -> None:
        self.ledger.wait_written()

    def _count(self) -> None:
        with self.db.session() as session:
            o = self.outcome

            def count(model: type) -> int:
                return int(session.scalar(select(func.count()).select_from(model)) or 0)

            o.organizations = count(Organization)
            o.users = count(User)
            o.usage_records = count(UsageRecord)
            o.invoices = count(Invoice)
            o.payments = int(session.scalar(
                select(func.count()).select_from(Invoice).where(
                    Invoice.status == InvoiceStatus.PAID)) or 0)  # fmt: skip
            o.tickets = count(SupportTicket)
            o.licenses = len(licensing.list_licenses(session))
            o.reports = count(LicenseReport)


def _cents(amount: Decimal) -> int:
    return parse_amount(amount.quantize(Decimal("0.01")))


def _part(total: int, parts: int, k: int) -> int:
    return total // parts + (1 if k < total % parts else 0)


def _poisson(rng: random.Random, rate: float) -> int:
    # Knuth's method: fine for the small rates of tickets per contract and month.
    limit, k, p = math.exp(-rate), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
