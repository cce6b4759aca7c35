"""Batch jobs as their owners see them: made from JSONL files (or inline requests), checked
line by line before anything runs, listed, read and cancelled; another organisation's job is
not found, like one that does not exist."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from levante.audit import record
from levante.errors import InvalidRequestError, NotFoundError
from levante.files import FileService
from levante.storage import as_utc, new_id
from levante.storage.models import BatchJob, BatchRequest
from levante.tenancy import Principal
from levante.vocabulary import BatchStatus, FilePurpose

# The endpoints a line may call, and whether their bodies name a model.
ENDPOINTS = (
    "/v1/chat/completions",
    "/v1/fim/completions",
    "/v1/embeddings",
    "/v1/completions",
)
MAX_TIMEOUT_HOURS = 7 * 24
MAX_CUSTOM_ID = 200
_MAX_ERRORS = 20  # the problems a refused file's message lists
_ACTIVE = (BatchStatus.QUEUED.value, BatchStatus.RUNNING.value)


@dataclass(frozen=True, slots=True)
class JobPage:
    jobs: list[BatchJob]
    total: int
    has_more: bool


def create_job(
    session: Session,
    files: FileService,
    caller: Principal,
    *,
    endpoint: str,
    input_files: list[str],
    requests: list[dict[str, Any]] | None = None,
    model: str | None = None,
    metadata: dict[str, Any] | None = None,
    timeout_hours: int,
    max_requests: int,
    now: datetime,
) -> BatchJob:
    """A job, queued, holding one row per request. Every line is checked first: a file with a
    bad line makes no job (400, naming the file and line)."""
    if endpoint not in ENDPOINTS:
        raise InvalidRequestError(
            f"endpoint '{endpoint}' cannot be batched here; use one of {', '.join(ENDPOINTS)}",
            param="endpoint",
        )
    if not 1 <= timeout_hours <= MAX_TIMEOUT_HOURS:
        raise InvalidRequestError(
            f"timeout_hours is between 1 and {MAX_TIMEOUT_HOURS}", param="timeout_hours"
        )
    if not input_files and not requests:
        raise InvalidRequestError("a job needs input_files or requests", param="input_files")
    lines: list[tuple[str, dict[str, Any]]] = []
    problems: list[str] = []
    for file_id in input_files:
        row = files.find(session, caller.organization_id, file_id)
        if row.purpose != FilePurpose.BATCH:
            raise InvalidRequestError(
                f"file '{file_id}' was uploaded for '{row.purpose}', not 'batch'",
                param="input_files",
            )
        for number, raw in enumerate(files.lines(row), start=1):
            if not raw.strip():
                continue
            try:
                lines.append(_line(json.loads(raw), endpoint, model))
            except (ValueError, InvalidRequestError) as exc:
                problems.append(f"{file_id} line {number}: {_reason(exc)}")
            if len(lines) > max_requests:
                break
    for number, item in enumerate(requests or (), start=1):
        try:
            lines.append(_line(item, endpoint, model))
        except InvalidRequestError as exc:
            problems.append(f"requests[{number - 1}]: {exc.message}")
    if problems:
        shown = "; ".join(problems[:_MAX_ERRORS])
        more = f" (and {len(problems) - _MAX_ERRORS} more)" if len(problems) > _MAX_ERRORS else ""
        raise InvalidRequestError(f"the requests are not valid: {shown}{more}", param="input_files")
    if not lines:
        raise InvalidRequestError("the input files hold no requests", param="input_files")
    if len(lines) > max_requests:
        raise InvalidRequestError(
            f"a job holds at most {max_requests:,} requests", param="input_files"
        )
    named = [custom_id for custom_id, _ in lines if custom_id]
    if len(set(named)) != len(named):
        raise InvalidRequestError("two requests have the same custom_id", param="input_files")
    job = BatchJob(
        id=new_id("batch", 24), organization_id=caller.organization_id,
        workspace_id=caller.workspace_id, api_key_id=caller.api_key_id, endpoint=endpoint,
        model=model, job_metadata=metadata or None, input_files=list(input_files),
        status=BatchStatus.QUEUED.value, total_requests=len(lines), succeeded_requests=0,
        failed_requests=0, errors=[], created_at=now,
        expires_at=now + timedelta(hours=timeout_hours),
    )  # fmt: skip
    session.add(job)
    session.flush()
    session.execute(
        insert(BatchRequest),
        [
            {"job_id": job.id, "line": i, "custom_id": custom_id or str(i), "body": body,
             "state": "pending", "attempts": 0}
            for i, (custom_id, body) in enumerate(lines)
        ],
    )  # fmt: skip
    record(session, organization_id=caller.organization_id, actor=caller.actor,
           action="batch.created", target=job.id,
           details={"endpoint": endpoint, "requests": len(lines)})  # fmt: skip
    return job


def _line(item: Any, endpoint: str, model: str | None) -> tuple[str, dict[str, Any]]:
    """A request line as Mistral writes it (``custom_id``, ``body``) or OpenAI does (with
    ``method`` and ``url`` too): its custom id and the body to send."""
    if not isinstance(item, dict):
        raise InvalidRequestError("a line is a JSON object")
    body = item.get("body")
    if not isinstance(body, dict):
        raise InvalidRequestError("'body' is a JSON object (the request)")
    custom_id = item.get("custom_id")
    if custom_id is not None and not isinstance(custom_id, str | int):
        raise InvalidRequestError("'custom_id' is a string")
    custom = "" if custom_id is None else str(custom_id)
    if len(custom) > MAX_CUSTOM_ID:
        raise InvalidRequestError(f"'custom_id' is at most {MAX_CUSTOM_ID} characters")
    if "\x00" in custom:  # rows of lines are inserted at once, past the flush's own check
        raise InvalidRequestError("'custom_id' may not contain NUL characters")
    method = item.get("method", "POST")
    if method != "POST":
        raise InvalidRequestError("'method' is POST")
    url = item.get("url", endpoint)
    if url != endpoint:
        raise InvalidRequestError(f"'url' is '{url}', but the job's endpoint is '{endpoint}'")
    if body.get("stream"):
        raise InvalidRequestError("a batched request is not streamed ('stream': false)")
    body = dict(body)
    if model:
        body["model"] = model
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequestError("the request names no model, and the job names none")
    return custom, body


def _reason(exc: Exception) -> str:
    if isinstance(exc, InvalidRequestError):
        return exc.message
    return "not JSON"


def find_job(session: Session, organization_id: str, job_id: str) -> BatchJob:
    job = session.get(BatchJob, job_id)
    if job is None or job.organization_id != organization_id:
        raise NotFoundError(f"no batch job '{job_id}'", param="job_id", code="batch_not_found")
    return job


def list_jobs(
    session: Session,
    organization_id: str,
    *,
    status: list[str] | None = None,
    model: str | None = None,
    created_after: datetime | None = None,
    api_key_id: str | None = None,
    after: str | None = None,
    offset: int = 0,
    limit: int = 100,
) -> JobPage:
    """The organisation's jobs, newest first: by page (Mistral) or after a job (OpenAI)."""
    conditions = [BatchJob.organization_id == organization_id]
    if status:
        conditions.append(BatchJob.status.in_(status))
    if model:
        conditions.append(BatchJob.model == model)
    if created_after:
        conditions.append(BatchJob.created_at > as_utc(created_after, param="created_after"))
    if api_key_id:
        conditions.append(BatchJob.api_key_id == api_key_id)
    total = session.scalar(select(func.count()).select_from(BatchJob).where(*conditions))
    if after:
        mark = find_job(session, organization_id, after)
        conditions.append(
            (BatchJob.created_at < mark.created_at)
            | ((BatchJob.created_at == mark.created_at) & (BatchJob.id < mark.id))
        )
    rows = list(
        session.scalars(
            select(BatchJob)
            .where(*conditions)
            .order_by(BatchJob.created_at.desc(), BatchJob.id.desc())
            .offset(offset)
            .limit(limit + 1)
        )
    )
    return JobPage(rows[:limit], int(total or 0), len(rows) > limit)


def cancel_job(session: Session, caller: Principal, job_id: str, *, now: datetime) -> BatchJob:
    """Ask a job to stop: no new line starts; those running finish (and are billed), then
    the job is CANCELLED with the results it has. A job already ended is left as it is."""
    job = find_job(session, caller.organization_id, job_id)
    # Conditional: a job a worker closes meanwhile keeps its end (and is not closed twice).
    asked = session.execute(
        update(BatchJob)
        .where(BatchJob.id == job.id, BatchJob.status.in_(_ACTIVE))
        .values(status=BatchStatus.CANCELLATION_REQUESTED.value, cancel_requested_at=now)
        .execution_options(synchronize_session=False)
    )
    if getattr(asked, "rowcount", 0):
        record(session, organization_id=caller.organization_id, actor=caller.actor,
               action="batch.cancelled", target=job.id)  # fmt: skip
    session.refresh(job)
    return job
