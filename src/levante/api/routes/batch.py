"""Batch jobs over HTTP, with any API key of the organisation: Mistral's ``/v1/batch/jobs``
and OpenAI's ``/v1/batches``, two views of the same jobs. Another organisation's job is a
404 on every route, like one that does not exist."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query

from levante import batch
from levante.api.schemas.batch import (
    BatchList,
    BatchView,
    CreateBatch,
    CreateJob,
    JobList,
    JobView,
)
from levante.api.state import Caller, State

router = APIRouter()


@router.post("/v1/batch/jobs")
def create_job(body: CreateJob, state: State, caller: Caller) -> JobView:
    """A job from ``input_files`` (JSONL, one request per line) or inline ``requests``."""
    with state.database.session() as session:
        job = batch.create_job(
            session, state.files, caller, endpoint=body.endpoint,
            input_files=body.input_files or [],
            requests=[r.model_dump() for r in body.requests] if body.requests else None,
            model=body.model, metadata=body.metadata,
            timeout_hours=body.timeout_hours or state.settings.batch.default_timeout_hours,
            max_requests=state.settings.batch.max_requests, now=state.clock(),
        )  # fmt: skip
        return JobView.of(job)


@router.get("/v1/batch/jobs")
def list_jobs(
    state: State,
    caller: Caller,
    page: Annotated[int, Query(ge=0, le=1_000_000)] = 0,  # the offset stays a 64-bit integer
    page_size: Annotated[int, Query(ge=1, le=1000)] = 100,
    model: Annotated[str | None, Query(max_length=200)] = None,
    created_after: Annotated[datetime | None, Query()] = None,
    created_by_me: Annotated[bool, Query()] = False,
    status: Annotated[list[str] | None, Query(max_length=7)] = None,
) -> JobList:
    """The organisation's jobs, newest first (``created_by_me``: this key's)."""
    with state.database.session() as session:
        found = batch.list_jobs(
            session, caller.organization_id, status=status, model=model,
            created_after=created_after,
            api_key_id=caller.api_key_id if created_by_me else None,
            offset=page * page_size, limit=page_size,
        )  # fmt: skip
        return JobList.of(found)


@router.get("/v1/batch/jobs/{job_id}")
def get_job(job_id: str, state: State, caller: Caller) -> JobView:
    with state.database.session() as session:
        return JobView.of(batch.find_job(session, caller.organization_id, job_id))


@router.post("/v1/batch/jobs/{job_id}/cancel")
def cancel_job(job_id: str, state: State, caller: Caller) -> JobView:
    with state.database.session() as session:
        return JobView.of(batch.cancel_job(session, caller, job_id, now=state.clock()))


@router.post("/v1/batches")
def create_batch(body: CreateBatch, state: State, caller: Caller) -> BatchView:
    """OpenAI's batch: one input file; ``completion_window`` 24h."""
    with state.database.session() as session:
        job = batch.create_job(
            session, state.files, caller, endpoint=body.endpoint,
            input_files=[body.input_file_id], metadata=body.metadata, timeout_hours=24,
            max_requests=state.settings.batch.max_requests, now=state.clock(),
        )  # fmt: skip
        return BatchView.of(job)


@router.get("/v1/batches")
def list_batches(
    state: State,
    caller: Caller,
    after: Annotated[str | None, Query(max_length=64)] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
) -> BatchList:
    with state.database.session() as session:
        found = batch.list_jobs(session, caller.organization_id, after=after, limit=limit)
        return BatchList.of(found)


@router.get("/v1/batches/{batch_id}")
def get_batch(batch_id: str, state: State, caller: Caller) -> BatchView:
    with state.database.session() as session:
        return BatchView.of(batch.find_job(session, caller.organization_id, batch_id))


@router.post("/v1/batches/{batch_id}/cancel")
def cancel_batch(batch_id: str, state: State, caller: Caller) -> BatchView:
    with state.database.session() as session:
        return BatchView.of(batch.cancel_job(session, caller, batch_id, now=state.clock()))
