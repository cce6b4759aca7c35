"""What the batch routes take and answer: a job in Mistral's shape (``/v1/batch/jobs``) and
in OpenAI's (``/v1/batches``), both views of one job."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from levante.batch import BatchJob, JobPage
from levante.vocabulary import BatchStatus

Metadata = dict[str, Any]


def _ts(when: datetime | None) -> int | None:
    return None if when is None else int(when.timestamp())


# -- Mistral ------------------------------------------------------------------------------------


class InlineRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    custom_id: str | None = Field(default=None, max_length=200)
    body: dict[str, Any]


class CreateJob(BaseModel):
    """Mistral's ``POST /v1/batch/jobs``."""

    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(max_length=64)
    input_files: list[str] | None = Field(default=None, max_length=100)
    requests: list[InlineRequest] | None = Field(default=None, max_length=10_000)
    model: str | None = Field(default=None, max_length=200)
    agent_id: None = Field(default=None, description="not supported (agents)")
    metadata: Metadata | None = Field(default=None, max_length=16)
    timeout_hours: int | None = Field(default=None, ge=1)


class JobError(BaseModel):
    message: str
    count: int = 1


class JobView(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    input_files: list[str]
    metadata: Metadata | None
    endpoint: str
    model: str | None
    agent_id: None = None
    output_file: str | None
    error_file: str | None
    errors: list[JobError]
    outputs: None = None
    status: BatchStatus
    created_at: int
    total_requests: int
    completed_requests: int
    succeeded_requests: int
    failed_requests: int
    started_at: int | None
    completed_at: int | None

    @classmethod
    def of(cls, job: BatchJob) -> JobView:
        return cls(
            id=job.id,
            input_files=list(job.input_files),
            metadata=job.job_metadata,
            endpoint=job.endpoint,
            model=job.model,
            output_file=job.output_file,
            error_file=job.error_file,
            errors=[JobError(**e) for e in job.errors],
            status=BatchStatus(job.status),
            created_at=int(job.created_at.timestamp()),
            total_requests=job.total_requests,
            completed_requests=job.succeeded_requests + job.failed_requests,
            succeeded_requests=job.succeeded_requests,
            failed_requests=job.failed_requests,
            started_at=_ts(job.started_at),
            completed_at=_ts(job.completed_at),
        )


class JobList(BaseModel):
    object: Literal["list"] = "list"
    data: list[JobView]
    total: int

    @classmethod
    def of(cls, page: JobPage) -> JobList:
        return cls(data=[JobView.of(j) for j in page.jobs], total=page.total)


# -- OpenAI -------------------------------------------------------------------------------------

_OPENAI_STATUS = {
    BatchStatus.QUEUED: "validating",
    BatchStatus.RUNNING: "in_progress",
    BatchStatus.SUCCESS: "completed",
    BatchStatus.FAILED: "failed",
    BatchStatus.TIMEOUT_EXCEEDED: "expired",
    BatchStatus.CANCELLATION_REQUESTED: "cancelling",
    BatchStatus.CANCELLED: "cancelled",
}


class CreateBatch(BaseModel):
    """OpenAI's ``POST /v1/batches``."""

    model_config = ConfigDict(extra="forbid")

    input_file_id: str = Field(max_length=64)
    endpoint: str = Field(max_length=64)
    completion_window: Literal["24h"] = "24h"
    metadata: dict[str, str] | None = Field(default=None, max_length=16)


class RequestCounts(BaseModel):
    total: int
    completed: int
    failed: int


class BatchErrorItem(BaseModel):
    code: str
    message: str
    param: str | None = None
    line: int | None = None


class BatchErrors(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchErrorItem]


def _errors(job: BatchJob) -> BatchErrors | None:
    if not job.errors:
        return None
    items = [
        BatchErrorItem(code=e["message"], message=f"{e['count']} request(s)") for e in job.errors
    ]
    return BatchErrors(data=items)


class BatchView(BaseModel):
    id: str
    object: Literal["batch"] = "batch"
    endpoint: str
    errors: BatchErrors | None
    input_file_id: str
    completion_window: str = "24h"
    status: str
    output_file_id: str | None
    error_file_id: str | None
    created_at: int
    in_progress_at: int | None
    expires_at: int
    finalizing_at: int | None = None
    completed_at: int | None
    failed_at: int | None
    expired_at: int | None
    cancelling_at: int | None
    cancelled_at: int | None
    request_counts: RequestCounts
    metadata: Metadata | None

    @classmethod
    def of(cls, job: BatchJob) -> BatchView:
        status = BatchStatus(job.status)
        ended = _ts(job.completed_at)
        return cls(
            id=job.id,
            endpoint=job.endpoint,
            errors=_errors(job),
            input_file_id=job.input_files[0] if job.input_files else "",
            status=_OPENAI_STATUS[status],
            output_file_id=job.output_file,
            error_file_id=job.error_file,
            created_at=int(job.created_at.timestamp()),
            in_progress_at=_ts(job.started_at),
            expires_at=int(job.expires_at.timestamp()),
            completed_at=ended if status is BatchStatus.SUCCESS else None,
            failed_at=ended if status is BatchStatus.FAILED else None,
            expired_at=ended if status is BatchStatus.TIMEOUT_EXCEEDED else None,
            cancelling_at=_ts(job.cancel_requested_at),
            cancelled_at=ended if status is BatchStatus.CANCELLED else None,
            request_counts=RequestCounts(
                total=job.total_requests,
                completed=job.succeeded_requests,
                failed=job.failed_requests,
            ),
            metadata=job.job_metadata,
        )


class BatchList(BaseModel):
    object: Literal["list"] = "list"
    data: list[BatchView]
    has_more: bool
    first_id: str | None
    last_id: str | None

    @classmethod
    def of(cls, page: JobPage) -> BatchList:
        data = [BatchView.of(j) for j in page.jobs]
        return cls(
            data=data,
            has_more=page.has_more,
            first_id=data[0].id if data else None,
            last_id=data[-1].id if data else None,
        )
