"""Lines shared by several gateway processes through the database, on both databases: each
line claimed by one process at a time, a stopped process's lines taken over, a line settled
(and billed) only by the process that holds it, and jobs closed once: done, cancelled or out
of time."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from levante import batch
from levante.files import FileService, LocalStore
from levante.metering import UsageEvent, UsageStatus
from levante.storage import Database, utcnow
from levante.storage.models import BatchJob, GatewayInstance, UsageRecord
from levante.tenancy import key_principal
from tests.helpers import MODEL, Tenant

HEARTBEAT = timedelta(seconds=5)


@pytest.fixture
def files(tmp_path: Path) -> FileService:
    return FileService(LocalStore(tmp_path / "files"), spool_dir=tmp_path / "spool",
                       max_file_bytes=1 << 20, organization_max_bytes=1 << 24)  # fmt: skip


def _job(database: Database, files: FileService, tenant: Tenant, lines: int) -> str:
    with database.session() as session:
        job = batch.create_job(
            session, files, key_principal(session, tenant.key_id),
            endpoint="/v1/chat/completions", input_files=[],
            requests=[{"custom_id": f"c{i}", "body": {"messages": []}} for i in range(lines)],
            model=MODEL, timeout_hours=1, max_requests=1000, now=utcnow(),
        )  # fmt: skip
        return job.id


def _instance(database: Database, name: str, *, beat_ago: float = 0) -> str:
    with database.session() as session:
        seen = utcnow() - timedelta(seconds=beat_ago)
        session.add(GatewayInstance(id=name, hostname="h", pid=1, started_at=seen, last_seen=seen))
    return name


def _live_since() -> datetime:
    return utcnow() - 3 * HEARTBEAT


def _claim(database: Database, instance: str, limit: int) -> list[batch.Claimed]:
    with database.session() as session:
        return batch.claim(session, instance, live_since=_live_since(), limit=limit, now=utcnow())


def _usage(line: batch.Claimed, tenant: Tenant) -> UsageEvent:
    now = utcnow()
    return UsageEvent(
        request_id=line.request_id, organization_id=tenant.organization_id, workspace_id=None,
        api_key_id=tenant.key_id, product="api", endpoint="chat.completions", model=MODEL,
        prompt_tokens=5, completion_tokens=2, cached_tokens=0, status=UsageStatus.COMPLETED,
        finish_reason="stop", stream=False, time_to_first_token_ms=1, duration_ms=2,
        started_at=now, finished_at=now, batch_job_id=line.job_id,
    )  # fmt: skip


def _settle(
    database: Database, line: batch.Claimed, instance: str, tenant: Tenant, status: int = 200
) -> bool:
    with database.session() as session:
        return batch.settle(
            session, line, instance, status_code=status, response={"ok": True},
            error_code=None if status == 200 else "invalid", usage=[_usage(line, tenant)],
            now=utcnow(),
        )  # fmt: skip


def test_claimers_side_by_side_never_take_the_same_line(
    database: Database, files: FileService, tenant: Tenant
) -> None:
    _job(database, files, tenant, 60)
    names = [_instance(database, f"gw_{i}") for i in range(4)]
    taken: dict[str, list[int]] = {n: [] for n in names}

    def work(name: str) -> None:
        while claimed := _claim(database, name, 3):
            taken[name] += [c.id for c in claimed]

    threads = [threading.Thread(target=work, args=(n,)) for n in names]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    every = [i for ids in taken.values() for i in ids]
    assert len(every) == 60
    assert len(set(every)) == 60


def test_a_stopped_process_leaves_its_lines_and_loses_the_right_to_settle_them(
    database: Database, files: FileService, tenant: Tenant
) -> None:
    job_id = _job(database, files, tenant, 2)
    dead = _instance(database, "gw_dead")
    first = _claim(database, dead, 10)
    assert len(first) == 2
    with database.session() as session:
        assert session.get(BatchJob, job_id).status == "RUNNING"  # type: ignore[union-attr]
    live = _instance(database, "gw_live")
    assert _claim(database, live, 10) == [], "the holder's heartbeat is fresh"
    with database.session() as session:  # the holder stops beating
        session.get(GatewayInstance, dead).last_seen = utcnow() - timedelta(minutes=1)  # type: ignore[union-attr]
    second = _claim(database, live, 10)
    assert [c.id for c in second] == [c.id for c in first]
    assert not _settle(database, first[0], dead, tenant), "the old holder's answer is dropped"
    assert _settle(database, second[0], live, tenant)
    assert not _settle(database, second[0], live, tenant), "a settled line stays settled"
    with database.session() as session:
        records = session.scalars(
            select(UsageRecord).where(UsageRecord.batch_job_id == job_id)
        ).all()
        assert [r.request_id for r in records] == [second[0].request_id]
        job = session.get(BatchJob, job_id)
        assert job is not None
        assert (job.succeeded_requests, job.failed_requests) == (1, 0)


def test_a_finished_job_is_closed_once_with_its_files(
    database: Database, files: FileService, tenant: Tenant
) -> None:
    job_id = _job(database, files, tenant, 3)
    me = _instance(database, "gw_me")
    lines = _claim(database, me, 10)
    for line, status in zip(lines, [200, 422, 200], strict=True):
        assert _settle(database, line, me, tenant, status)
    with database.session() as session:
        assert batch.jobs_to_close(session, live_since=_live_since(), now=utcnow()) == [job_id]
    assert batch.close_job(database, files, job_id, live_since=_live_since(), now=utcnow())
    assert not batch.close_job(database, files, job_id, live_since=_live_since(), now=utcnow())
    with database.session() as session:
        job = session.get(BatchJob, job_id)
        assert job is not None
        assert job.status == "SUCCESS"
        assert job.errors == [{"message": "invalid", "count": 1}]
        out = [
            json.loads(x)
            for x in files.lines(files.find(session, tenant.organization_id, job.output_file or ""))
        ]
        err = [
            json.loads(x)
            for x in files.lines(files.find(session, tenant.organization_id, job.error_file or ""))
        ]
    assert [o["custom_id"] for o in out] == ["c0", "c2"]
    assert [e["custom_id"] for e in err] == ["c1"]
    assert err[0]["response"]["status_code"] == 422


def test_a_cancelled_job_waits_for_its_running_lines_then_lists_the_rest_as_cancelled(
    database: Database, files: FileService, tenant: Tenant
) -> None:
    job_id = _job(database, files, tenant, 4)
    me = _instance(database, "gw_me")
    [running] = _claim(database, me, 1)
    with database.session() as session:
        asked = batch.cancel_job(
            session, key_principal(session, tenant.key_id), job_id, now=utcnow()
        )
        assert asked.status == "CANCELLATION_REQUESTED"
    assert _claim(database, me, 10) == [], "no line starts once cancellation is asked"
    with database.session() as session:
        assert batch.jobs_to_close(session, live_since=_live_since(), now=utcnow()) == []
    assert _settle(database, running, me, tenant)
    assert batch.close_job(database, files, job_id, live_since=_live_since(), now=utcnow())
    with database.session() as session:
        job = session.get(BatchJob, job_id)
        assert job is not None
        assert job.status == "CANCELLED"
        assert (job.succeeded_requests, job.failed_requests) == (1, 0)
        assert job.errors == [{"message": "batch_cancelled", "count": 3}]
        assert (
            batch.cancel_job(
                session, key_principal(session, tenant.key_id), job_id, now=utcnow()
            ).status
            == "CANCELLED"
        ), "a closed job stays closed"
        err = [
            json.loads(x)
            for x in files.lines(files.find(session, tenant.organization_id, job.error_file or ""))
        ]
    assert [(e["custom_id"], e["error"]["code"]) for e in err] == [
        ("c1", "batch_cancelled"),
        ("c2", "batch_cancelled"),
        ("c3", "batch_cancelled"),
    ]


def test_a_job_out_of_time_ends_with_what_it_has(
    database: Database, files: FileService, tenant: Tenant
) -> None:
    job_id = _job(database, files, tenant, 2)
    later = utcnow() + timedelta(hours=2)
    with database.session() as session:
        assert batch.claim(session, "gw_x", live_since=_live_since(), limit=5, now=later) == []
    assert batch.close_job(database, files, job_id, live_since=_live_since(), now=later)
    with database.session() as session:
        job = session.get(BatchJob, job_id)
        assert job is not None
        assert job.status == "TIMEOUT_EXCEEDED"
        assert job.output_file is None
        assert job.errors == [{"message": "batch_expired", "count": 2}]


def test_a_line_still_held_when_its_job_closes_can_no_longer_be_settled(
    database: Database, files: FileService, tenant: Tenant
) -> None:
    job_id = _job(database, files, tenant, 2)
    lapsed = _instance(database, "gw_lapsed")
    [held, _] = _claim(database, lapsed, 2)
    with database.session() as session:
        batch.cancel_job(session, key_principal(session, tenant.key_id), job_id, now=utcnow())
        session.get(GatewayInstance, lapsed).last_seen = utcnow() - timedelta(minutes=1)  # type: ignore[union-attr]
    assert batch.close_job(database, files, job_id, live_since=_live_since(), now=utcnow())
    assert not _settle(database, held, lapsed, tenant), "too late: the line ended with its job"
    with database.session() as session:
        assert (
            session.scalars(select(UsageRecord).where(UsageRecord.batch_job_id == job_id)).all()
            == []
        )
