"""Running a job's lines, shared by every gateway process through the database.

A process claims lines by writing its instance id on them, in one UPDATE whose subquery picks
lines nobody holds (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so claimers pass each other by;
SQLite has one writer at a time, which makes the statement a claim on its own). A claim stands
while its process's heartbeat is fresh; a process that stops beating leaves its lines to the
next claimer. A line is settled in one transaction with its usage record, and only by the
process that still holds it: no line is answered, or billed, twice.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from levante.files import FileService
from levante.metering import UsageEvent, record_usage
from levante.storage import Database
from levante.storage.models import BatchJob, BatchRequest, GatewayInstance, StoredFile
from levante.vocabulary import BatchStatus, FilePurpose, LineState, SampleType

_RUNNABLE = (BatchStatus.QUEUED.value, BatchStatus.RUNNING.value)
_STOPPING = (*_RUNNABLE, BatchStatus.CANCELLATION_REQUESTED.value)


@dataclass(frozen=True, slots=True)
class Claimed:
    """A line this process holds, and what running it needs."""

    id: int
    job_id: str
    line: int
    custom_id: str
    body: dict[str, Any]
    endpoint: str
    organization_id: str
    api_key_id: str | None
    attempts: int = 1  # this one included

    @property
    def request_id(self) -> str:
        """The line's request id: the same on every attempt, so the ledger, which keeps one
        record per request id, can never bill it twice."""
        return f"{self.job_id}_{self.line}"


def _live(live_since: datetime) -> Any:
    return select(GatewayInstance.id).where(GatewayInstance.last_seen >= live_since)


def _free(live_since: datetime) -> Any:
    return BatchRequest.claimed_by.is_(None) | BatchRequest.claimed_by.not_in(_live(live_since))


def claim(
    session: Session, instance_id: str, *, live_since: datetime, limit: int, now: datetime
) -> list[Claimed]:
    """Take up to ``limit`` waiting lines for this process, the oldest job's first."""
    if limit <= 0:
        return []
    pick = (
        select(BatchRequest.id)
        .join(BatchJob, BatchJob.id == BatchRequest.job_id)
        .where(
            BatchRequest.state == LineState.PENDING.value,
            BatchJob.status.in_(_RUNNABLE),
            BatchJob.expires_at > now,
            _free(live_since),
        )
        .order_by(BatchJob.created_at, BatchRequest.job_id, BatchRequest.line)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        pick = pick.with_for_update(of=BatchRequest, skip_locked=True)
    ids = list(
        session.scalars(
            update(BatchRequest)
            .where(BatchRequest.id.in_(pick.scalar_subquery()))
            .values(claimed_by=instance_id, claimed_at=now, attempts=BatchRequest.attempts + 1)
            .returning(BatchRequest.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not ids:
        return []
    rows = session.execute(
        select(BatchRequest, BatchJob)
        .join(BatchJob, BatchJob.id == BatchRequest.job_id)
        .where(BatchRequest.id.in_(ids))
        .order_by(BatchRequest.job_id, BatchRequest.line)
    ).all()
    started = {job.id for _, job in rows if job.status == BatchStatus.QUEUED.value}
    if started:
        session.execute(
            update(BatchJob)
            .where(BatchJob.id.in_(started), BatchJob.status == BatchStatus.QUEUED.value)
            .values(status=BatchStatus.RUNNING.value, started_at=now)
            .execution_options(synchronize_session=False)
        )
    return [
        Claimed(line.id, job.id, line.line, line.custom_id, dict(line.body), job.endpoint,
                job.organization_id, job.api_key_id, line.attempts)
        for line, job in rows
    ]  # fmt: skip


def settle(
    session: Session,
    claimed: Claimed,
    instance_id: str,
    *,
    status_code: int,
    response: dict[str, Any],
    error_code: str | None,
    usage: list[UsageEvent],
    now: datetime,
) -> bool:
    """Write a line's answer, its usage and the job's counts in the caller's transaction;
    False (and nothing written) when this process no longer holds the line."""
    succeeded = 200 <= status_code < 300
    moved = session.execute(
        update(BatchRequest)
        .where(
            BatchRequest.id == claimed.id,
            BatchRequest.claimed_by == instance_id,
            BatchRequest.state == LineState.PENDING.value,
        )
        .values(
            state=(LineState.SUCCEEDED if succeeded else LineState.FAILED).value,
            status_code=status_code,
            response=response,
            error_code=error_code,
            finished_at=now,
            claimed_by=None,
        )
        .execution_options(synchronize_session=False)
    )
    if not getattr(moved, "rowcount", 0):
        return False
    for event in usage:
        record_usage(session, event)
    counter = BatchJob.succeeded_requests if succeeded else BatchJob.failed_requests
    session.execute(
        update(BatchJob)
        .where(BatchJob.id == claimed.job_id)
        .values({counter: counter + 1})
        .execution_options(synchronize_session=False)
    )
    return True


def release(session: Session, claimed: Claimed, instance_id: str) -> None:
    """Give a line back unanswered (the engine was full, the process is stopping)."""
    session.execute(
        update(BatchRequest)
        .where(BatchRequest.id == claimed.id, BatchRequest.claimed_by == instance_id)
        .values(claimed_by=None, claimed_at=None)
        .execution_options(synchronize_session=False)
    )


def jobs_to_close(session: Session, *, live_since: datetime, now: datetime) -> list[str]:
    """The jobs that have nothing left to run and no line held by a live process: every line
    answered, or cancellation asked, or the timeout passed."""
    held = (
        select(BatchRequest.id)
        .where(
            BatchRequest.job_id == BatchJob.id,
            BatchRequest.state == LineState.PENDING.value,
            BatchRequest.claimed_by.in_(_live(live_since)),
        )
        .exists()
    )
    waiting = (
        select(BatchRequest.id)
        .where(BatchRequest.job_id == BatchJob.id, BatchRequest.state == LineState.PENDING.value)
        .exists()
    )
    stop = (BatchJob.status == BatchStatus.CANCELLATION_REQUESTED.value) | (
        BatchJob.expires_at <= now
    )
    return list(
        session.scalars(
            select(BatchJob.id).where(BatchJob.status.in_(_STOPPING), ~held, stop | ~waiting)
        )
    )


@dataclass(frozen=True, slots=True)
class _Staged:
    """A job's result files, already in the store, and what they were written from."""

    output: StoredFile | None
    errors: StoredFile | None
    succeeded: int
    failed: int
    left: int
    unrun: str


def close_job(
    database: Database, files: FileService, job_id: str, *, live_since: datetime, now: datetime
) -> bool:
    """End a job: write its output file (the answered lines) and error file (the failed ones,
    and those never run), set its final status. False when another process got there first, a
    live process holds one of its lines again, or a line settled meanwhile (the next round
    closes it). The files are written before the job's row is taken, so no lock is held
    while a large file goes to the store."""
    with database.session() as session:
        staged = _stage(session, files, job_id, live_since=live_since, now=now)
    if staged is None:
        return False
    closed = False
    try:
        with database.session() as session:
            closed = _close(session, job_id, staged, live_since=live_since, now=now)
    finally:
        if not closed:
            for row in (staged.output, staged.errors):
                if row is not None:
                    files.discard(row)
    return closed


def _stage(
    session: Session, files: FileService, job_id: str, *, live_since: datetime, now: datetime
) -> _Staged | None:
    if job_id not in jobs_to_close(session, live_since=live_since, now=now):
        return None
    job = session.get(BatchJob, job_id)
    assert job is not None
    unrun = (
        "batch_cancelled" if job.status == BatchStatus.CANCELLATION_REQUESTED.value
        else "batch_expired"
    )  # fmt: skip
    left = int(session.scalar(
        select(func.count()).where(
            BatchRequest.job_id == job_id, BatchRequest.state == LineState.PENDING.value
        )
    ) or 0)  # fmt: skip
    output = errors = None
    if job.succeeded_requests:
        output = files.stage(
            organization_id=job.organization_id, filename=f"{job.id}_output.jsonl",
            pieces=_results(session, job_id, succeeded=True, unrun=unrun),
            purpose=FilePurpose.BATCH, sample_type=SampleType.BATCH_RESULT, now=now,
        )  # fmt: skip
    if job.failed_requests or left:
        errors = files.stage(
            organization_id=job.organization_id, filename=f"{job.id}_error.jsonl",
            pieces=_results(session, job_id, succeeded=False, unrun=unrun),
            purpose=FilePurpose.BATCH, sample_type=SampleType.BATCH_ERROR, now=now,
        )  # fmt: skip
    return _Staged(output, errors, job.succeeded_requests, job.failed_requests, left, unrun)


def _close(
    session: Session, job_id: str, staged: _Staged, *, live_since: datetime, now: datetime
) -> bool:
    if job_id not in jobs_to_close(session, live_since=live_since, now=now):
        return False
    # The conditional update takes the job's row (PostgreSQL) or the database (SQLite) for the
    # transaction: a second closer waits, then finds the job closed and writes nothing.
    taken = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job_id, BatchJob.status.in_(_STOPPING))
        .values(completed_at=now)
        .execution_options(synchronize_session=False)
    )
    if not getattr(taken, "rowcount", 0):
        return False
    job = session.get(BatchJob, job_id, populate_existing=True)
    assert job is not None
    if (job.succeeded_requests, job.failed_requests) != (staged.succeeded, staged.failed):
        return False  # a line settled since the files were written: written again next round
    cancelled = job.status == BatchStatus.CANCELLATION_REQUESTED.value
    expired = not cancelled and job.expires_at <= now
    # The lines never run end here: a process that still holds one (a claim made as the job
    # stopped, a heartbeat that lapsed) can no longer settle, or bill, it.
    session.execute(
        update(BatchRequest)
        .where(BatchRequest.job_id == job_id, BatchRequest.state == LineState.PENDING.value)
        .values(
            state=LineState.FAILED.value, error_code=staged.unrun, claimed_by=None,
            finished_at=now,
        )
        .execution_options(synchronize_session=False)
    )  # fmt: skip
    for row in (staged.output, staged.errors):
        if row is not None:
            session.add(row)
    job.output_file = staged.output.id if staged.output else None
    job.error_file = staged.errors.id if staged.errors else None
    job.errors = _summary(session, job_id, left=staged.left, unrun=staged.unrun)
    if cancelled:
        job.status = BatchStatus.CANCELLED.value
    elif expired:
        job.status = BatchStatus.TIMEOUT_EXCEEDED.value
    elif job.succeeded_requests == 0:
        job.status = BatchStatus.FAILED.value
    else:
        job.status = BatchStatus.SUCCESS.value
    session.flush()
    return True


def _results(session: Session, job_id: str, *, succeeded: bool, unrun: str) -> Iterator[bytes]:
    """The job's output (or error) file, a JSON line per request in the order they came; in
    the error file, the lines that never ran carry ``unrun``."""
    states = (
        [LineState.SUCCEEDED.value] if succeeded
        else [LineState.FAILED.value, LineState.PENDING.value]
    )  # fmt: skip
    rows = session.execute(
        select(
            BatchRequest.line, BatchRequest.custom_id,
            BatchRequest.status_code, BatchRequest.response, BatchRequest.error_code,
        )
        .where(BatchRequest.job_id == job_id, BatchRequest.state.in_(states))
        .order_by(BatchRequest.line)
        .execution_options(yield_per=500)
    )  # fmt: skip
    for line, custom_id, status_code, response, error_code in rows:
        request_id = f"{job_id}_{line}"
        entry: dict[str, Any] = {"id": request_id, "custom_id": custom_id}
        if status_code is None:  # never ran: the job stopped first
            code = error_code or unrun
            entry["response"] = None
            entry["error"] = {
                "code": code,
                "message": "the job was cancelled before this request ran"
                if code == "batch_cancelled"
                else "the job's timeout passed before this request ran",
            }
        else:
            entry["response"] = {
                "status_code": status_code, "request_id": request_id, "body": response,
            }  # fmt: skip
            entry["error"] = (
                None if succeeded else {"code": error_code, "message": _message(response)}
            )
        yield json.dumps(entry, ensure_ascii=False).encode() + b"\n"


def _message(response: dict[str, Any] | None) -> str:
    if isinstance(response, dict) and isinstance(response.get("message"), str):
        return str(response["message"])
    return "the request failed"


def _summary(session: Session, job_id: str, *, left: int, unrun: str) -> list[dict[str, Any]]:
    """Mistral's ``errors``: each kind of failure and how many lines had it."""
    rows = session.execute(
        select(BatchRequest.error_code, func.count())
        .where(
            BatchRequest.job_id == job_id,
            BatchRequest.state == LineState.FAILED.value,
            BatchRequest.status_code.is_not(None),
        )
        .group_by(BatchRequest.error_code)
    ).all()
    summary = [{"message": code or "error", "count": int(count)} for code, count in rows]
    if left:
        summary.append({"message": unrun, "count": left})
    return summary
