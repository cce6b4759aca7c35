"""Batch jobs: many requests from a JSONL file, run on the capacity interactive traffic leaves
idle, billed per line at the batch price, shared by every gateway process through the
database, and resumed after a restart without running or billing a finished line again."""

from levante.batch.jobs import (
    JobPage,
    cancel_job,
    create_job,
    find_job,
    list_jobs,
)
from levante.batch.lines import Claimed, claim, close_job, jobs_to_close, settle
from levante.batch.worker import BatchWorker, LineOutcome
from levante.storage.models import BatchJob

__all__ = [
    "BatchJob",
    "BatchWorker",
    "Claimed",
    "JobPage",
    "LineOutcome",
    "cancel_job",
    "claim",
    "close_job",
    "create_job",
    "find_job",
    "jobs_to_close",
    "list_jobs",
    "settle",
]
