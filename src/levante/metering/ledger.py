"""The usage ledger: append-only, one priced record per request id, and crash-safe.

Before a request is dispatched, its reservation (the worst case it may cost) is committed;
when it ends, one transaction replaces the reservation with its usage record. A process that
dies leaves reservations behind; live processes sweep those of dead ones into the ledger, so a
dispatched request is billed even if its gateway is killed mid-stream.

Writes go through one thread that commits in groups: a burst of requests costs a handful of
transactions, and the request path never waits on the database except to make its
reservation durable.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import queue
import socket
import threading
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.metering.events import UsageEvent, UsageStatus
from levante.pricing import PriceVersion, price_usage
from levante.storage import Database, alive_since, new_id, utcnow
from levante.storage.models import GatewayInstance, Price, Reservation, UsageRecord
from levante.vocabulary import Permission

log = logging.getLogger(__name__)

_BATCH = 256
_SLOW_WRITE = 0.25  # seconds; a group commit slower than this is logged


@dataclass(frozen=True, slots=True)
class Hold:
    """A reservation: what a dispatched request may cost at most."""

    request_id: str
    organization_id: str
    workspace_id: str | None
    api_key_id: str | None
    product: str
    endpoint: str
    model: str
    stream: bool
    prompt_tokens: int
    max_completion_tokens: int
    price_id: str | None
    reserved_nanos: int
    started_at: datetime
    user_id: str | None = None  # the person behind a chat message


@dataclass(slots=True)
class _HoldOp:
    hold: Hold
    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _SettleOp:
    event: UsageEvent


@dataclass(frozen=True, slots=True)
class _ReleaseOp:
    request_id: str


@dataclass(slots=True)
class _BarrierOp:
    """Resolved once every operation queued before it is written."""

    loop: asyncio.AbstractEventLoop
    done: asyncio.Future[None]


@dataclass(frozen=True, slots=True)
class _BlockingBarrierOp:
    """Set once every operation queued before it is written, for a caller with no loop."""

    written: threading.Event


_Op = _HoldOp | _SettleOp | _ReleaseOp | _BarrierOp | _BlockingBarrierOp | None  # None: stop
_Waited = _HoldOp | _BarrierOp | _BlockingBarrierOp


class Ledger:
    """Writes reservations and usage records for one gateway process (``instance_id``)."""

    def __init__(
        self,
        database: Database,
        *,
        heartbeat_seconds: float = 5.0,
        max_request_seconds: float = 3600.0,
    ) -> None:
        self._database = database
        self.instance_id = new_id("gw", 20)
        self.heartbeat_seconds = heartbeat_seconds
        self.max_request_seconds = max_request_seconds
        self._queue: queue.Queue[_Op] = queue.Queue()
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        with self._database.session() as session:
            session.add(
                GatewayInstance(
                    id=self.instance_id, hostname=socket.gethostname()[:200], pid=os.getpid()
                )
            )
        self.sweep()
        self._thread = threading.Thread(target=self._run, name="ledger", daemon=True)
        self._thread.start()

    def close(self) -> None:
        """Write what is queued, then leave: this instance's row goes, its reservations (none,
        after a clean drain) would be swept by the next process."""
        if self._thread is None:
            return
        self._queue.put(None)
        self._thread.join(timeout=60)
        self._thread = None
        with self._database.session() as session:
            session.execute(delete(GatewayInstance).where(GatewayInstance.id == self.instance_id))

    # -- the request path -----------------------------------------------------------------------

    async def hold(self, hold: Hold) -> None:
        """Commit a reservation; returns once it is durable."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_HoldOp(hold, loop, done))
        await done

    def settle(self, event: UsageEvent) -> None:
        """Queue the usage record that replaces the request's reservation. It is written in the
        writer's next group, milliseconds later, off the response's path: the reservation,
        already durable, bills the request if this process dies before. :meth:`flush` waits
        for it (readers of usage do, so a client that has its answer finds it there)."""
        self._queue.put(_SettleOp(event))

    async def flush(self) -> None:
        """Return once every operation queued so far by this process is written."""
        if self._thread is None or not self._thread.is_alive():
            return
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._queue.put(_BarrierOp(loop, done))
        await done

    def wait_written(self, timeout: float = 600.0) -> None:
        """Block until every operation queued so far by this process is written: the flush of
        a caller without an event loop (a command that settles usage itself)."""
        if self._thread is None or not self._thread.is_alive():
            return
        written = threading.Event()
        self._queue.put(_BlockingBarrierOp(written))
        written.wait(timeout)

    def release(self, request_id: str) -> None:
        """Queue the removal of a reservation whose request never reached a model."""
        self._queue.put(_ReleaseOp(request_id))

    # -- synchronous API (writer thread, CLI, tests) --------------------------------------------

    def record(self, event: UsageEvent) -> bool:
        """Write one usage record now; False when the request id was already recorded."""
        with self._database.session() as session:
            return _record(session, event)

    def live_hosts(self) -> set[str]:
        """The hosts with a live gateway process (this one's included)."""
        dead_before = alive_since(utcnow(), timedelta(seconds=self.heartbeat_seconds))
        with self._database.session() as session:
            return set(
                session.scalars(
                    select(GatewayInstance.hostname).where(GatewayInstance.last_seen >= dead_before)
                )
            ) | {socket.gethostname()[:200]}

    def sweep(self, *, everything_stale: bool = False) -> int:
        """Turn the reservations of dead gateway processes into usage records; returns how
        many. A process is dead when its heartbeat is older than three periods; a reservation
        older than ``max_request_seconds`` is an orphan whatever its process."""
        now = utcnow()
        dead_before = alive_since(now, timedelta(seconds=self.heartbeat_seconds))
        with self._database.session() as session:
            live = set(
                session.scalars(
                    select(GatewayInstance.id).where(GatewayInstance.last_seen >= dead_before)
                )
            )
            live.add(self.instance_id)
            too_old = now - timedelta(seconds=self.max_request_seconds)
            orphans = [
                r
                for r in session.scalars(select(Reservation))
                if r.instance_id not in live or r.started_at < too_old or everything_stale
            ]
            session.execute(delete(GatewayInstance).where(GatewayInstance.last_seen < dead_before))
        swept = 0
        for reservation in orphans:
            with self._database.session() as session:
                swept += _sweep_one(session, reservation)
        if swept:
            log.warning("swept %d reservation(s) left by stopped gateway processes", swept)
        return swept

    # -- the writer thread ----------------------------------------------------------------------

    def _run(self) -> None:
        next_beat = 0.0
        clock = time.monotonic
        while True:
            wait = max(0.0, next_beat - clock())
            try:
                first = self._queue.get(timeout=wait) if wait > 0 else self._queue.get_nowait()
            except queue.Empty:
                first = _NOTHING
            ops: list[_Op] = [] if first is _NOTHING else [first]
            while len(ops) < _BATCH:
                try:
                    ops.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = None in ops
            work = [op for op in ops if op is not None]
            if work:
                began = clock()
                self._write(work)
                took = clock() - began
                if took > _SLOW_WRITE:
                    log.warning("ledger: writing %d operations took %.0f ms", len(work), took * 1e3)
            if clock() >= next_beat:
                next_beat = clock() + self.heartbeat_seconds
                try:
                    self._beat()
                except Exception:
                    log.exception("ledger heartbeat failed")
            if stop:
                return

    def _write(self, ops: list[Any]) -> None:
        try:
            with self._database.session() as session:
                _apply_batch(session, ops, self.instance_id)
        except Exception:
            # One bad write must not take the others with it: retry them one by one.
            for op in ops:
                try:
                    with self._database.session() as session:
                        _apply(session, op, self.instance_id)
                except Exception as exc:
                    log.exception("ledger write failed")
                    if isinstance(op, _HoldOp):
                        _resolve(op, exc)
                    continue
                if isinstance(op, _Waited):
                    _resolve(op, None)
            return
        for op in ops:
            if isinstance(op, _Waited):
                _resolve(op, None)

    def _beat(self) -> None:
        with self._database.session() as session:
            beat = session.execute(
                update(GatewayInstance)
                .where(GatewayInstance.id == self.instance_id)
                .values(last_seen=utcnow())
            )
            if not getattr(beat, "rowcount", 1):
                # A stall long enough for another process to sweep this one's row away: come
                # back, so what this process holds (batch lines) counts as held again.
                log.warning("ledger: this gateway's heartbeat lapsed; registering again")
                session.add(
                    GatewayInstance(
                        id=self.instance_id, hostname=socket.gethostname()[:200], pid=os.getpid()
                    )
                )
        self.sweep()


_NOTHING: Any = object()


@dataclass(frozen=True, slots=True)
class Gateway:
    """A gateway process that writes to this database, and whether its heartbeat is fresh."""

    id: str
    hostname: str
    pid: int
    started_at: datetime
    last_seen: datetime
    alive: bool


def gateways(
    session: Session, actor: Actor, *, heartbeat_seconds: float, now: datetime
) -> list[Gateway]:
    """Every gateway process registered, the live ones first (the operator's to see)."""
    tenancy.require(session, actor, Permission.OPERATE)
    dead_before = alive_since(now, timedelta(seconds=heartbeat_seconds))
    rows = session.scalars(select(GatewayInstance).order_by(GatewayInstance.last_seen.desc()))
    return [
        Gateway(g.id, g.hostname, g.pid, g.started_at, g.last_seen, g.last_seen >= dead_before)
        for g in rows
    ]


def _resolve(op: _Waited, error: BaseException | None) -> None:
    if isinstance(op, _BlockingBarrierOp):
        op.written.set()
        return
    with contextlib.suppress(RuntimeError):  # a closed loop: nobody waits any more
        op.loop.call_soon_threadsafe(_set, op.done, error)


def _set(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _apply_batch(session: Session, ops: list[Any], instance_id: str) -> None:
    """A group of operations in three statements, whatever its size: insert the new holds,
    delete the holds that end, insert the records (ignoring request ids already recorded)."""
    holds = [
        asdict(op.hold) | {"instance_id": instance_id} for op in ops if isinstance(op, _HoldOp)
    ]
    if holds:
        session.execute(insert(Reservation), holds)
    ending = [
        op.event.request_id if isinstance(op, _SettleOp) else op.request_id
        for op in ops
        if isinstance(op, _SettleOp | _ReleaseOp)
    ]
    if ending:
        session.execute(delete(Reservation).where(Reservation.request_id.in_(ending)))
    records = [_record_fields(op.event) for op in ops if isinstance(op, _SettleOp)]
    if records:
        session.execute(_insert_records(session), records)


def _record_fields(event: UsageEvent) -> dict[str, Any]:
    fields = asdict(event)
    fields["status"] = event.status.value
    fields["request_metadata"] = fields.pop("metadata")
    fields["cost_nanos"] = event.cost_nanos
    fields["usage_date"] = event.started_at.date()
    return fields


def _insert_records(session: Session) -> Any:
    """INSERT of usage records that skips a request id already recorded."""
    dialect = session.get_bind().dialect.name
    insert_for = postgresql_insert if dialect == "postgresql" else sqlite_insert
    return insert_for(UsageRecord).on_conflict_do_nothing(index_elements=["request_id"])


def _apply(session: Session, op: Any, instance_id: str) -> None:
    if isinstance(op, _HoldOp):
        session.add(Reservation(**asdict(op.hold), instance_id=instance_id))
        session.flush()
    elif isinstance(op, _SettleOp):
        _record(session, op.event)
    elif isinstance(op, _ReleaseOp):
        session.execute(delete(Reservation).where(Reservation.request_id == op.request_id))


def record_usage(session: Session, event: UsageEvent) -> bool:
    """Write one usage record in the caller's transaction, so it commits with what it bills
    (a batch job's line writes its answer and its record together); False when the request
    id was already recorded."""
    return _record(session, event)


def _record(session: Session, event: UsageEvent) -> bool:
    """Insert the record and drop the reservation, in the caller's transaction; idempotent."""
    session.execute(delete(Reservation).where(Reservation.request_id == event.request_id))
    exists = session.scalar(
        select(UsageRecord.id).where(UsageRecord.request_id == event.request_id)
    )
    if exists is not None:
        log.warning("usage for request %s was already recorded", event.request_id)
        return False
    result = session.execute(_insert_records(session), [_record_fields(event)])
    # Zero rows: another process recorded the same request meanwhile.
    return bool(getattr(result, "rowcount", 1))


def _sweep_one(session: Session, reservation: Reservation) -> int:
    row = session.get(Reservation, reservation.request_id)
    if row is None:  # settled meanwhile
        return 0
    price = session.get(Price, row.price_id) if row.price_id else None
    cost = price_usage(
        PriceVersion.of(price) if price is not None else None,
        prompt_tokens=row.prompt_tokens,
        cached_tokens=0,
        completion_tokens=0,
    )
    now = utcnow()
    event = UsageEvent(
        request_id=row.request_id,
        organization_id=row.organization_id,
        workspace_id=row.workspace_id,
        api_key_id=row.api_key_id,
        user_id=row.user_id,
        product=row.product,
        endpoint=row.endpoint,
        model=row.model,
        prompt_tokens=row.prompt_tokens,
        completion_tokens=0,
        cached_tokens=0,
        status=UsageStatus.INTERRUPTED,
        finish_reason=None,
        stream=row.stream,
        time_to_first_token_ms=None,
        duration_ms=max(0, int((now - row.started_at).total_seconds() * 1000)),
        started_at=row.started_at,
        finished_at=now,
        price_id=cost.price_id,
        currency=cost.currency,
        input_cost_nanos=cost.input_nanos,
    )
    return 1 if _record(session, event) else 0
