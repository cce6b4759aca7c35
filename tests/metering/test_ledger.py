"""The ledger: one record per request id, durable holds, sweeping, reconciliation, reports."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import delete, func, select

from levante.metering import (
    GroupBy,
    Hold,
    Ledger,
    UsageEvent,
    UsageStatus,
    reconcile,
    usage_report,
)
from levante.storage import Database, utcnow
from levante.storage.models import GatewayInstance, Price, Reservation, UsageRecord
from tests.helpers import make_tenant


def _event(request_id: str, org: str, day: int, model: str = "m", tokens: int = 10) -> UsageEvent:
    at = datetime(2026, 11, day, 12, tzinfo=UTC)
    return UsageEvent(
        request_id=request_id,
        organization_id=org,
        workspace_id=None,
        api_key_id=None,
        product="api",
        endpoint="chat.completions",
        model=model,
        prompt_tokens=tokens,
        completion_tokens=2 * tokens,
        cached_tokens=1,
        status=UsageStatus.COMPLETED,
        finish_reason="stop",
        stream=False,
        time_to_first_token_ms=5,
        duration_ms=20,
        started_at=at,
        finished_at=at,
    )


def test_same_request_id_is_recorded_once(database: Database) -> None:
    tenant = make_tenant(database, "Acme")
    recorder = Ledger(database)
    assert recorder.record(_event("req_1", tenant.organization_id, 1)) is True
    assert recorder.record(_event("req_1", tenant.organization_id, 1, tokens=99)) is False
    with database.session() as session:
        [row] = usage_report(session, tenant.organization_id, group_by=[])
    assert (row.requests, row.prompt_tokens) == (1, 10)


def test_a_caller_without_a_loop_waits_for_its_settled_records(database: Database) -> None:
    tenant = make_tenant(database, "Acme")
    ledger = Ledger(database)
    ledger.start()
    try:
        for n in range(300):  # more than one writer batch
            ledger.settle(_event(f"req_{n}", tenant.organization_id, 1 + n % 28))
        ledger.wait_written()
        with database.session() as session:
            count = session.scalar(select(func.count()).select_from(UsageRecord))
        assert count == 300
    finally:
        ledger.close()


def test_report_groups_and_filters_by_day(database: Database) -> None:
    acme = make_tenant(database, "Acme")
    globex = make_tenant(database, "Globex")
    recorder = Ledger(database)
    recorder.record(_event("a", acme.organization_id, 1, "m1"))
    recorder.record(_event("b", acme.organization_id, 1, "m2"))
    recorder.record(_event("c", acme.organization_id, 2, "m1"))
    recorder.record(_event("d", globex.organization_id, 2, "m1", tokens=1000))
    with database.session() as session:
        by_day = usage_report(session, acme.organization_id, group_by=[GroupBy.DAY])
        by_model = usage_report(
            session, acme.organization_id, group_by=[GroupBy.MODEL], start=date(2026, 11, 2)
        )
    assert [(r.group["day"], r.requests, r.total_tokens) for r in by_day] == [
        ("2026-11-01", 2, 60),
        ("2026-11-02", 1, 30),
    ]
    assert [(r.group["model"], r.requests) for r in by_model] == [("m1", 1)]


def _hold(request_id: str, org: str, price_id: str | None = None) -> Hold:
    return Hold(
        request_id=request_id,
        organization_id=org,
        workspace_id=None,
        api_key_id=None,
        product="api",
        endpoint="chat.completions",
        model="m",
        stream=True,
        prompt_tokens=100,
        max_completion_tokens=50,
        price_id=price_id,
        reserved_nanos=12_345,
        started_at=utcnow(),
    )


def test_by_month_and_with_cost(database: Database) -> None:
    acme = make_tenant(database, "Acme")
    ledger = Ledger(database)
    ledger.record(_event("a", acme.organization_id, 1))
    ledger.record(replace(_event("b", acme.organization_id, 2), output_cost_nanos=7))
    with database.session() as session:
        [row] = usage_report(session, acme.organization_id, group_by=[GroupBy.MONTH])
    assert (row.group["month"], row.requests, row.cost_nanos) == ("2026-11", 2, 7)


def test_holds_are_durable_and_replaced_by_their_record(database: Database) -> None:
    acme = make_tenant(database, "Acme")
    ledger = Ledger(database, heartbeat_seconds=0.2)
    ledger.start()

    async def run() -> None:
        await ledger.hold(_hold("req_a", acme.organization_id))
        with database.session() as session:
            assert session.get(Reservation, "req_a") is not None
        ledger.settle(_event("req_a", acme.organization_id, 3))
        await ledger.flush()
        with database.session() as session:
            assert session.get(Reservation, "req_a") is None
            assert session.scalar(select(UsageRecord.request_id)) == "req_a"
        await ledger.hold(_hold("req_b", acme.organization_id))
        ledger.release("req_b")

    try:
        asyncio.run(run())
    finally:
        ledger.close()
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(Reservation)) == 0
        [record] = session.scalars(select(UsageRecord))
    assert record.request_id == "req_a"


def test_a_dead_process_reservations_are_swept_once(database: Database) -> None:
    acme = make_tenant(database, "Acme")
    dead = Ledger(database, heartbeat_seconds=0.1)
    dead.start()
    asyncio.run(dead.hold(_hold("req_orphan", acme.organization_id, price_id="price_p")))
    with database.session() as session:
        session.add(
            Price(
                id="price_p", model="m", currency="USD", input_nanos=2_000_000,
                cached_input_nanos=0, output_nanos=0, batch_discount_percent=0,
                effective_from=utcnow() - timedelta(days=1),
            )
        )  # fmt: skip
    # The process dies: its writer stops beating, nothing is cleaned up.
    dead._queue.put(None)
    assert dead._thread is not None
    dead._thread.join(timeout=10)

    survivor = Ledger(database, heartbeat_seconds=0.1)
    report = reconcile(database, survivor, repair=False)
    assert report.orphaned == []  # its heartbeat is still fresh
    time.sleep(0.35)
    report = reconcile(database, survivor, repair=True)
    assert (report.orphaned, report.swept) == (["req_orphan"], 1)
    assert survivor.sweep() == 0  # already in the ledger
    with database.session() as session:
        [record] = session.scalars(select(UsageRecord))
    assert record.status == UsageStatus.INTERRUPTED
    assert (record.prompt_tokens, record.completion_tokens) == (100, 0)
    assert record.cost_nanos == 200  # 100 prompt tokens at 2 nanos each
    assert reconcile(database, survivor, repair=False).clean


def test_reconcile_reports_a_record_whose_cost_is_wrong(database: Database) -> None:
    acme = make_tenant(database, "Acme")
    ledger = Ledger(database)
    ledger.record(replace(_event("fine", acme.organization_id, 1)))
    ledger.record(replace(_event("odd", acme.organization_id, 1), input_cost_nanos=5))
    report = reconcile(database, ledger, repair=True)
    assert report.mispriced == ["odd"]
    assert report.records == 2


def test_a_gateway_whose_row_was_swept_registers_again(database: Database) -> None:
    ledger = Ledger(database, heartbeat_seconds=60)
    ledger.start()
    try:
        with database.session() as session:
            session.execute(delete(GatewayInstance).where(GatewayInstance.id == ledger.instance_id))
        ledger._beat()
        with database.session() as session:
            assert session.get(GatewayInstance, ledger.instance_id) is not None
    finally:
        ledger.close()
