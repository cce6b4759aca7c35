"""Batch jobs through the official SDKs against ``levante serve`` on the embedded model: a
200-line file through ``openai``'s ``client.batches`` and through ``mistralai``'s batch jobs,
the gateway killed (SIGKILL) in the middle of each job and started again. The job finishes
with every line answered once and billed once, at the batch price."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import openai
import pytest
from mistralai.client import Mistral
from sqlalchemy import select

from levante.audit import Actor
from levante.pricing import PriceVersion, create_price, price_usage
from levante.storage import Database
from levante.storage.models import BatchJob, BatchRequest, UsageRecord
from tests.e2e.processes import Gateway, gateway_process
from tests.helpers import MODEL, Tenant

LINES = 200
SETTINGS = {
    "heartbeat_seconds": "0.5",
    "price_refresh_seconds": "0.5",
    "tiers": [{"name": "unlimited"}],
    "batch": {"poll_seconds": 0.2, "concurrency": 4},
}
MODELS = [{"id": MODEL, "n_threads": 2, "context_length": 1024, "parallel": 8}]


def _requests(openai_shape: bool) -> bytes:
    topics = ["the sea", "a cat", "bread", "winter", "a train", "music", "rain", "a garden"]
    out = []
    for i in range(LINES):
        body: dict[str, Any] = {
            "messages": [{"role": "user", "content": f"Say one word about {topics[i % 8]} ({i})."}],
            "max_tokens": 4,
            "temperature": 0,
        }
        line: dict[str, Any] = {"custom_id": f"line-{i}", "body": body}
        if openai_shape:
            body["model"] = MODEL
            line |= {"method": "POST", "url": "/v1/chat/completions"}
        out.append(json.dumps(line))
    return ("\n".join(out) + "\n").encode()


@pytest.fixture
def price(database: Database) -> PriceVersion:
    with database.session() as session:
        return PriceVersion.of(
            create_price(session, model=MODEL, currency="USD", input_nanos=150_000,
                         output_nanos=600_000, batch_discount_percent=50, actor=Actor("test"))
        )  # fmt: skip


def _kill_midway(gateway: Gateway, database: Database, job_id: str) -> int:
    """SIGKILL the gateway once a fifth of the job's lines are answered; how many were."""
    deadline = time.monotonic() + 300
    while True:
        with database.session() as session:
            job = session.get(BatchJob, job_id)
            assert job is not None
            done = job.succeeded_requests + job.failed_requests
        if done >= LINES // 5:
            gateway.process.kill()
            gateway.process.wait(timeout=10)
            return done
        assert time.monotonic() < deadline, gateway.log.read_text()[-2000:]
        time.sleep(0.05)


def _until(check: Callable[[], bool], gateway: Gateway, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, gateway.log.read_text()[-2000:]
        time.sleep(0.25)


def _billed_once_at_the_batch_price(database: Database, job_id: str, price: PriceVersion) -> None:
    with database.session() as session:
        records = list(
            session.scalars(select(UsageRecord).where(UsageRecord.batch_job_id == job_id))
        )
        lines = list(session.scalars(select(BatchRequest).where(BatchRequest.job_id == job_id)))
    assert sorted(r.request_id for r in records) == sorted(f"{job_id}_{i}" for i in range(LINES))
    for record in records:
        assert record.status == "completed"
        assert record.cost_nanos == price_usage(
            price, prompt_tokens=record.prompt_tokens, cached_tokens=record.cached_tokens,
            completion_tokens=record.completion_tokens, batch=True,
        ).total_nanos  # fmt: skip
    assert all(line.state == "succeeded" for line in lines)
    assert any(line.attempts > 1 for line in lines), "the killed gateway's lines ran again"


def _answers(text: str, job_id: str) -> list[dict[str, Any]]:
    out = [json.loads(line) for line in text.splitlines()]
    assert [o["custom_id"] for o in out] == [f"line-{i}" for i in range(LINES)]
    assert [o["id"] for o in out] == [f"{job_id}_{i}" for i in range(LINES)]
    for entry in out:
        assert entry["error"] is None
        assert entry["response"]["status_code"] == 200
        assert entry["response"]["body"]["choices"][0]["message"]["content"]
    return out


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_openai_batches_survive_a_killed_gateway(
    tmp_path: Path, database_url: str, database: Database, tenant: Tenant, price: PriceVersion
) -> None:
    with gateway_process(tmp_path, database_url, MODELS, **SETTINGS) as first:
        client = openai.OpenAI(base_url=f"{first.url}/v1", api_key=tenant.key, max_retries=0)
        uploaded = client.files.create(file=("requests.jsonl", _requests(True)), purpose="batch")
        assert uploaded.bytes > 0
        made = client.batches.create(
            input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h",
            metadata={"run": "e2e"},
        )  # fmt: skip
        assert made.status == "validating"
        assert made.request_counts is not None
        assert made.request_counts.total == LINES
        answered = _kill_midway(first, database, made.id)
        assert answered < LINES
    with gateway_process(tmp_path, database_url, MODELS, **SETTINGS) as second:
        client = openai.OpenAI(base_url=f"{second.url}/v1", api_key=tenant.key, max_retries=0)
        _until(lambda: client.batches.retrieve(made.id).status == "completed", second)
        batch = client.batches.retrieve(made.id)
        assert batch.request_counts is not None
        assert (batch.request_counts.completed, batch.request_counts.failed) == (LINES, 0)
        assert batch.output_file_id
        assert batch.error_file_id is None
        assert batch.metadata == {"run": "e2e"}
        _answers(client.files.content(batch.output_file_id).text, made.id)
        assert made.id in [b.id for b in client.batches.list()]
    _billed_once_at_the_batch_price(database, made.id, price)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
def test_mistral_batch_jobs_survive_a_killed_gateway(
    tmp_path: Path, database_url: str, database: Database, tenant: Tenant, price: PriceVersion
) -> None:
    with gateway_process(tmp_path, database_url, MODELS, **SETTINGS) as first:
        client = Mistral(api_key=tenant.key, server_url=first.url)
        uploaded = client.files.upload(
            file={"file_name": "requests.jsonl", "content": _requests(False)}, purpose="batch"
        )
        assert uploaded.num_lines == LINES
        job = client.batch.jobs.create(
            input_files=[uploaded.id], endpoint="/v1/chat/completions", model=MODEL,
            metadata={"run": "e2e"}, timeout_hours=2,
        )  # fmt: skip
        assert job.status == "QUEUED"
        assert job.total_requests == LINES
        answered = _kill_midway(first, database, job.id)
        assert answered < LINES
    with gateway_process(tmp_path, database_url, MODELS, **SETTINGS) as second:
        client = Mistral(api_key=tenant.key, server_url=second.url)
        _until(lambda: client.batch.jobs.get(job_id=job.id).status == "SUCCESS", second)
        done = client.batch.jobs.get(job_id=job.id)
        assert (done.succeeded_requests, done.failed_requests) == (LINES, 0)
        assert done.completed_requests == LINES
        assert isinstance(done.output_file, str)
        assert done.error_file is None
        listed = client.batch.jobs.list(status=["SUCCESS"])
        assert [j.id for j in listed.data or []] == [job.id]
        downloaded = client.files.download(file_id=done.output_file)
        _answers(downloaded.read().decode(), job.id)
        files = client.files.list(sample_type=["batch_result"])
        assert [f.id for f in files.data] == [done.output_file]
    _billed_once_at_the_batch_price(database, job.id, price)
