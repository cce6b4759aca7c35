"""Admission: before a request is dispatched, check and take its rate limits and the worst case
of its tokens and cost, and make the reservation durable; when it ends, settle to the actual.

Every limit is taken in one atomic store call, so concurrent requests can never take more than a
limit holds: a spending cap is passed only if a request ends up costing more than its worst
case, which a local model cannot do (its completion stops at ``max_tokens``).
"""

from __future__ import annotations

import calendar
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante.errors import (
    InvalidRequestError,
    LevanteError,
    MessageLimitReachedError,
    OverloadedError,
    PaymentRequiredError,
    RateLimitedError,
    SpendLimitReachedError,
)
from levante.metering import Hold, Ledger, UsageEvent
from levante.pricing import Cost, PriceBook, PriceVersion, format_amount, price_usage
from levante.quota.policy import PolicyCache
from levante.quota.store import (
    CounterCheck,
    QuotaStore,
    RateCheck,
    Verdict,
    WindowCheck,
    store_unavailable,
)
from levante.storage import Database, utcnow
from levante.storage.models import Reservation, UsageRecord
from levante.vocabulary import Product

log = logging.getLogger(__name__)

MONTH_TTL = 40 * 86400
MINUTE_TTL = 120
_MICRO = 1000  # spend counters count micro-units (1e-6): exact in a Lua double up to 9e9


@dataclass(frozen=True, slots=True)
class Caller:
    organization_id: str
    workspace_id: str | None
    api_key_id: str | None
    user_id: str | None = None


@dataclass(slots=True)
class Grant:
    """What admission took for one request, to be settled or given back when it ends."""

    request_id: str
    caller: Caller
    model: str
    price: PriceVersion | None
    started_at: datetime
    tokens: int  # worst-case tokens taken from the token counters
    micros: int  # worst-case cost taken from the spend counters
    token_keys: tuple[str, ...]
    spend_keys: tuple[str, ...]
    headers: dict[str, str] = field(default_factory=dict)
    settled: bool = False
    window_entries: tuple[tuple[str, str], ...] = ()  # (log, member) taken for a message
    batch: bool = False  # a batch job's line: batch price, recorded by the job (see ``Ask``)


@dataclass(frozen=True, slots=True)
class MessageWindow:
    """A chat plan's limit: at most ``limit`` messages in any ``seconds`` (rolling)."""

    limit: int
    seconds: int


@dataclass(frozen=True, slots=True)
class Allowance:
    """Where a caller stands under one window: messages counted now, and when the oldest of
    them leaves the window (None: none counted)."""

    window: MessageWindow
    used: int
    resets_at: datetime | None

    @property
    def left(self) -> int:
        return max(0, self.window.limit - self.used)


@dataclass(frozen=True, slots=True)
class Ask:
    """A request as admission sees it. A chat message (``product`` chat) is not priced and
    not held to the API's tiers and caps: its plan's ``windows`` limit it instead."""

    request_id: str
    caller: Caller
    model: str
    product: str
    endpoint: str
    stream: bool
    prompt_tokens: int
    max_completion_tokens: int
    windows: tuple[MessageWindow, ...] = ()
    # A batch job's line: priced at the batch discount, held to the monthly token limits and
    # spending caps but not to the per-second and per-minute rates (a job runs on idle
    # capacity at its own pace), and not reserved in the ledger: the job's line is the
    # durable record, settled with its usage record in one transaction.
    batch: bool = False


def month_key(when: datetime) -> str:
    return f"{when.year:04d}{when.month:02d}"


def month_start(when: datetime) -> datetime:
    return when.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def seconds_to_next_month(when: datetime) -> int:
    days = calendar.monthrange(when.year, when.month)[1]
    end = month_start(when).replace(day=days).timestamp() + 86400
    return max(1, math.ceil(end - when.timestamp()))


class Admission:
    def __init__(
        self,
        *,
        store: QuotaStore,
        ledger: Ledger,
        prices: PriceBook,
        policies: PolicyCache,
        database: Database,
    ) -> None:
        self._store = store
        self._ledger = ledger
        self._prices = prices
        self._policies = policies
        self._database = database

    async def admit(self, ask: Ask) -> Grant:
        """Take the request's limits and reserve its worst case, durably; raise a 429 when a
        limit or a spending cap does not allow it (a rejected request takes nothing)."""
        if ask.product == Product.CHAT:
            return await self._admit_message(ask)
        org = ask.caller.organization_id
        policy = self._policies.cached(org)
        if policy is None:
            policy = await anyio.to_thread.run_sync(self._policies.get, org)
        if policy.restricted:
            raise PaymentRequiredError(
                "the organisation is restricted for an overdue invoice; pay it to resume",
                code="account_restricted",
            )
        if self._prices.stale():  # rare under traffic: the list is refreshed ahead
            await anyio.to_thread.run_sync(self._prices.reload)
        now = utcnow()
        price = self._prices.version(ask.model, now, policy.currency)
        if price is None and self._prices.currencies(ask.model):
            raise InvalidRequestError(
                f"model '{ask.model}' has no price in {policy.currency}, the organisation's "
                "billing currency",
                code="model_not_priced",
                param="model",
            )
        worst = price_usage(
            price,
            prompt_tokens=ask.prompt_tokens,
            cached_tokens=0,
            completion_tokens=ask.max_completion_tokens,
            batch=ask.batch,
        )
        tokens = ask.prompt_tokens + ask.max_completion_tokens
        micros = -(-worst.total_nanos // _MICRO)
        limits = policy.limits_for(ask.model)
        month = month_key(now)
        minute = int(now.timestamp()) // 60
        tag = f"lv:{{{org}}}"
        rates = []
        if limits.requests_per_second is not None and not ask.batch:
            rates.append(
                RateCheck(
                    # Keyed by the rate too: a new tier starts from a clean slate.
                    f"{tag}:rps:{limits.requests_per_second:g}:{ask.model}",
                    limits.requests_per_second,
                    burst=max(1, math.ceil(limits.requests_per_second)),
                )
            )
        counters = [
            CounterCheck(
                f"{tag}:tpm:{ask.model}:{minute}",
                tokens,
                None if ask.batch else limits.tokens_per_minute,
                MINUTE_TTL,
            ),
            CounterCheck(
                f"{tag}:tokens:{ask.model}:{month}",
                tokens,
                limits.tokens_per_month,
                MONTH_TTL,
                seeded=True,
            ),
            CounterCheck(
                f"{tag}:spend:{month}",
                micros,
                _cap_micros(policy.organization_cap_nanos),
                MONTH_TTL,
                seeded=True,
            ),
        ]
        workspace = ask.caller.workspace_id
        if workspace is not None:
            counters.append(
                CounterCheck(
                    f"{tag}:spend:{workspace}:{month}",
                    micros,
                    _cap_micros(policy.workspace_caps_nanos.get(workspace)),
                    MONTH_TTL,
                    seeded=True,
                )
            )
        if policy.wallet_limit_nanos is not None:
            since = int(policy.wallet_since.timestamp()) if policy.wallet_since else 0
            counters.append(
                CounterCheck(
                    f"{tag}:wallet:{policy.currency}:{since}",
                    micros,
                    max(0, policy.wallet_limit_nanos) // _MICRO,
                    MONTH_TTL,
                    seeded=True,
                )
            )
        verdict = await self._acquire(rates, counters, ask, now)
        if not verdict.allowed:
            raise _refusal(verdict, rates, counters, now, tokens)
        grant = Grant(
            request_id=ask.request_id,
            caller=ask.caller,
            model=ask.model,
            price=price,
            started_at=now,
            tokens=tokens,
            micros=micros,
            token_keys=(counters[0].key, counters[1].key),
            spend_keys=tuple(c.key for c in counters[2:]),
            headers=_headers(rates, verdict, counters, tokens),
            batch=ask.batch,
        )
        if not ask.batch:
            await self._hold(grant, ask, worst.total_nanos)
        return grant

    async def _admit_message(self, ask: Ask) -> Grant:
        """A chat message: take one place in each of its plan's windows, then hold it."""
        now = utcnow()
        checks = [
            WindowCheck(self._log_key(ask.caller, ask.endpoint, w), ask.request_id, w.limit,
                        w.seconds)
            for w in ask.windows
        ]  # fmt: skip
        verdict = await self._acquire([], [], ask, now, checks)
        if not verdict.allowed:
            raise _message_refusal(verdict, ask.windows, now)
        grant = Grant(
            request_id=ask.request_id,
            caller=ask.caller,
            model=ask.model,
            price=None,
            started_at=now,
            tokens=0,
            micros=0,
            token_keys=(),
            spend_keys=(),
            window_entries=tuple((c.key, c.member) for c in checks),
        )
        await self._hold(grant, ask, 0)
        return grant

    async def allowance(
        self, caller: Caller, endpoint: str, windows: Sequence[MessageWindow]
    ) -> list[Allowance]:
        """Where the caller stands under each window now (the logs seeded if need be)."""
        ask = Ask("", caller, "", Product.CHAT, endpoint, False, 0, 0, tuple(windows))
        result = []
        for window in windows:
            key = self._log_key(caller, endpoint, window)
            try:
                state = await self._store.window(key, window.seconds)
                if state is None:
                    await self._seed(key, ask, utcnow())
                    state = await self._store.window(key, window.seconds)
            except Exception as exc:
                raise store_unavailable(exc) from exc
            used = state.count if state is not None else 0
            oldest = state.oldest_ms if state is not None else None
            resets = (
                None
                if oldest is None
                else datetime.fromtimestamp(oldest / 1000 + window.seconds, UTC)
            )
            result.append(Allowance(window, used, resets))
        return result

    @staticmethod
    def _log_key(caller: Caller, endpoint: str, window: MessageWindow) -> str:
        # lv:{org}:msgs:<user>:<endpoint>:<seconds>
        user = caller.user_id or caller.api_key_id or "-"
        return f"lv:{{{caller.organization_id}}}:msgs:{user}:{endpoint}:{window.seconds}"

    async def _hold(self, grant: Grant, ask: Ask, reserved_nanos: int) -> None:
        """Make the reservation durable; if that fails, give everything taken back."""
        try:
            await self._ledger.hold(
                Hold(
                    request_id=ask.request_id,
                    organization_id=ask.caller.organization_id,
                    workspace_id=ask.caller.workspace_id,
                    api_key_id=ask.caller.api_key_id,
                    user_id=ask.caller.user_id,
                    product=ask.product,
                    endpoint=ask.endpoint,
                    model=ask.model,
                    stream=ask.stream,
                    prompt_tokens=ask.prompt_tokens,
                    max_completion_tokens=ask.max_completion_tokens,
                    price_id=grant.price.id if grant.price else None,
                    reserved_nanos=reserved_nanos,
                    started_at=grant.started_at,
                )
            )
        except BaseException:
            with anyio.CancelScope(shield=True):
                await self._give_back(grant, tokens=0, micros=0)
                await self._store.forget(grant.window_entries)
            raise

    def price(self, grant: Grant, *, prompt: int, cached: int, completion: int) -> Cost:
        return price_usage(
            grant.price,
            prompt_tokens=prompt,
            cached_tokens=cached,
            completion_tokens=completion,
            batch=grant.batch,
        )

    async def settle(self, grant: Grant, event: UsageEvent) -> None:
        """Settle the counters to the actual usage, and queue the priced usage record that
        replaces the reservation (the ledger writes it off the response's path)."""
        if grant.settled:
            return
        grant.settled = True
        with anyio.CancelScope(shield=True):
            await self._give_back(
                grant,
                tokens=event.prompt_tokens + event.completion_tokens,
                micros=-(-event.cost_nanos // _MICRO),
            )
        if not grant.batch:  # a batch line's record is written with the line (see ``Ask``)
            self._ledger.settle(event)

    async def record(self, event: UsageEvent) -> None:
        """Record usage that went through no admission (an internal caller)."""
        self._ledger.settle(event)

    async def release(self, grant: Grant) -> None:
        """Give everything back: the request never reached a model."""
        if grant.settled:
            return
        grant.settled = True
        with anyio.CancelScope(shield=True):
            await self._give_back(grant, tokens=0, micros=0)
            if grant.window_entries:
                await self._store.forget(grant.window_entries)
        if not grant.batch:
            self._ledger.release(grant.request_id)

    async def _give_back(self, grant: Grant, *, tokens: int, micros: int) -> None:
        deltas = [(k, tokens - grant.tokens) for k in grant.token_keys]
        deltas += [(k, micros - grant.micros) for k in grant.spend_keys]
        await self._store.adjust([(k, d) for k, d in deltas if d])

    async def _acquire(
        self,
        rates: list[RateCheck],
        counters: list[CounterCheck],
        ask: Ask,
        now: datetime,
        windows: Sequence[WindowCheck] = (),
    ) -> Verdict:
        for _ in range(3):
            try:
                verdict = await self._store.acquire(rates, counters, windows)
                if not verdict.missing:
                    return verdict
                for key in verdict.missing:
                    await self._seed(key, ask, now)
            except LevanteError:
                raise
            except Exception as exc:
                raise store_unavailable(exc) from exc
        raise OverloadedError("the limits store keeps losing counters; retry shortly")

    async def _seed(self, key: str, ask: Ask, now: datetime) -> None:
        if key.split(":")[2] == "msgs":
            seconds = int(key.rsplit(":", 1)[1])
            entries = await anyio.to_thread.run_sync(self._seed_log, ask, now, seconds)
            await self._store.seed_window(key, entries, seconds + 60)
        else:
            value = await anyio.to_thread.run_sync(self._seed_value, key, ask, now)
            await self._store.seed(key, value, MONTH_TTL)

    def _seed_log(self, ask: Ask, now: datetime, seconds: int) -> list[tuple[str, float]]:
        """A window's log from the ledger: the caller's requests to the endpoint recorded or
        held in the window, by request id and when each was admitted."""
        since = now - timedelta(seconds=seconds)
        caller = ask.caller
        with self._database.session() as session:
            entries = []
            for table in (UsageRecord, Reservation):
                rows = session.execute(
                    select(table.request_id, table.started_at).where(
                        table.organization_id == caller.organization_id,
                        table.user_id == caller.user_id,
                        table.product == Product.CHAT,
                        table.endpoint == ask.endpoint,
                        table.started_at > since,
                    )
                ).all()
                entries += [(request_id, at.timestamp() * 1000) for request_id, at in rows]
        return entries

    def _seed_value(self, key: str, ask: Ask, now: datetime) -> int:
        """A month counter's value from the ledger: recorded usage plus open reservations."""
        org = ask.caller.organization_id
        # lv:{org}:tokens:<model>:<month> | lv:{org}:spend[:<ws>]:<month>
        # | lv:{org}:wallet:<currency>:<since>
        parts = key.split(":")
        if parts[2] == "wallet":
            return self._seed_wallet(org, parts[3], datetime.fromtimestamp(int(parts[4]), UTC))
        records = [
            UsageRecord.organization_id == org,
            UsageRecord.usage_date >= month_start(now).date(),
        ]
        holds = [Reservation.organization_id == org]
        with self._database.session() as session:
            if parts[2] == "tokens":
                records.append(UsageRecord.model == ask.model)
                holds.append(Reservation.model == ask.model)
                used = UsageRecord.prompt_tokens + UsageRecord.completion_tokens
                held = Reservation.prompt_tokens + Reservation.max_completion_tokens
                return _sum(session, used, records) + _sum(session, held, holds)
            if len(parts) == 5:
                records.append(UsageRecord.workspace_id == parts[3])
                holds.append(Reservation.workspace_id == parts[3])
            nanos = _sum(session, UsageRecord.cost_nanos, records)
            nanos += _sum(session, Reservation.reserved_nanos, holds)
            return -(-nanos // _MICRO)

    def _seed_wallet(self, org: str, currency: str, since: datetime) -> int:
        """A prepaid wallet's counter: usage since its first credit plus open reservations."""
        with self._database.session() as session:
            used = _sum(
                session,
                UsageRecord.cost_nanos,
                [
                    UsageRecord.organization_id == org,
                    UsageRecord.currency == currency,
                    UsageRecord.started_at >= since,
                ],
            )
            held = _sum(session, Reservation.reserved_nanos, [Reservation.organization_id == org])
        return -(-(used + held) // _MICRO)


def _sum(session: Session, column: Any, where: list[Any]) -> int:
    return int(session.scalar(select(func.coalesce(func.sum(column), 0)).where(*where)) or 0)


def _message_refusal(
    verdict: Verdict, windows: Sequence[MessageWindow], now: datetime
) -> MessageLimitReachedError:
    window = windows[verdict.denied or 0]
    resets = now + timedelta(milliseconds=max(1000.0, verdict.retry_after_ms))
    span = describe_window(window.seconds)
    return MessageLimitReachedError(
        f"you have sent the {window.limit} messages your plan allows per {span}; the next one "
        f"can be sent at {resets:%H:%M} UTC",
        resets_at=resets,
        limit=window.limit,
        window=span,
    )


def describe_window(seconds: int) -> str:
    """A window's length in words: "5 hours", "week", "day"."""
    if seconds == 7 * 86400:
        return "week"
    if seconds == 86400:
        return "day"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    minutes = max(1, seconds // 60)
    return "minute" if minutes == 1 else f"{minutes} minutes"


def _cap_micros(cap_nanos: int | None) -> int | None:
    return None if cap_nanos is None else cap_nanos // _MICRO


def _refusal(
    verdict: Verdict,
    rates: Sequence[RateCheck],
    counters: Sequence[CounterCheck],
    now: datetime,
    tokens: int,
) -> LevanteError:
    index = verdict.denied or 0
    if index < len(rates):
        wait = max(1, math.ceil(verdict.retry_after_ms / 1000))
        return RateLimitedError(
            f"requests per second limit of {rates[index].per_second:g} reached; retry in {wait} s",
            code="requests_rate_limited",
            headers={"Retry-After": str(wait)},
        )
    counter = counters[index - len(rates)]
    kind = counter.key.split(":")[2]
    if kind == "tpm":
        wait = max(1, 60 - now.second)
        return RateLimitedError(
            f"tokens per minute limit of {counter.limit} reached (this request may use "
            f"{tokens}); retry in {wait} s",
            code="tokens_rate_limited",
            headers={"Retry-After": str(wait), "x-ratelimit-tokens-query-cost": str(tokens)},
        )
    if kind == "wallet":
        return PaymentRequiredError(
            "the organisation's prepaid credits do not cover this request (a worst case of "
            f"{tokens} tokens); top up the wallet or lower max_tokens",
            code="insufficient_credits",
        )
    wait = seconds_to_next_month(now)
    if kind == "tokens":
        return RateLimitedError(
            f"tokens per month limit of {counter.limit} reached (this request may use {tokens})",
            code="monthly_tokens_limited",
            headers={"Retry-After": str(wait), "x-ratelimit-tokens-query-cost": str(tokens)},
        )
    scope = "workspace" if len(counter.key.split(":")) == 5 else "organisation"
    cap = format_amount((counter.limit or 0) * _MICRO)
    return SpendLimitReachedError(
        f"the {scope}'s monthly spending limit of {cap} would be exceeded by this request; "
        "raise the limit or lower max_tokens",
        headers={"Retry-After": str(wait)},
    )


def _headers(
    rates: Sequence[RateCheck],
    verdict: Verdict,
    counters: Sequence[CounterCheck],
    tokens: int,
) -> dict[str, str]:
    headers = {"x-ratelimit-tokens-query-cost": str(tokens)}
    if rates:
        headers["x-ratelimit-limit-req-second"] = f"{rates[0].per_second:g}"
        headers["x-ratelimit-remaining-req-second"] = str(max(0, verdict.rate_remaining[0]))
    tpm, month = counters[0], counters[1]
    if tpm.limit is not None:
        headers["x-ratelimit-limit-tokens-minute"] = str(tpm.limit)
        headers["x-ratelimit-remaining-tokens-minute"] = str(max(0, tpm.limit - verdict.values[0]))
    if month.limit is not None:
        headers["x-ratelimit-limit-tokens-month"] = str(month.limit)
        headers["x-ratelimit-remaining-tokens-month"] = str(max(0, month.limit - verdict.values[1]))
    return headers
