"""Batch jobs over HTTP on the embedded model: Mistral's and OpenAI's shapes, answers in the
output file in the order the requests came, failures in the error file, each line billed
once at the batch price, and another organisation's job a 404 everywhere."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from levante.audit import Actor
from levante.pricing import PriceVersion, create_price, price_usage
from levante.settings import BatchSettings, Settings
from levante.storage import Database
from tests.helpers import MODEL, Tenant, usage_records


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"batch": BatchSettings(poll_seconds=0.1), "price_refresh_seconds": 0.1}
    )


def _lines(*questions: str, **extra: Any) -> bytes:
    return b"".join(
        json.dumps({"custom_id": f"q{i}", "body": {
            "messages": [{"role": "user", "content": q}], "max_tokens": 6, "temperature": 0,
            **extra,
        }}).encode() + b"\n"
        for i, q in enumerate(questions)
    )  # fmt: skip


def _upload(client: TestClient, tenant: Tenant, data: bytes) -> str:
    response = client.post(
        "/v1/files", files={"file": ("in.jsonl", data)}, data={"purpose": "batch"},
        headers=tenant.headers(),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    file_id: str = response.json()["id"]
    return file_id


def _wait(client: TestClient, tenant: Tenant, path: str, done: set[str]) -> dict[str, Any]:
    deadline = time.monotonic() + 120
    while True:
        job: dict[str, Any] = client.get(path, headers=tenant.headers()).json()
        if job["status"] in done:
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.1)


def _content(client: TestClient, tenant: Tenant, file_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/files/{file_id}/content", headers=tenant.headers())
    assert response.status_code == 200
    return [json.loads(line) for line in response.text.splitlines()]


def test_a_mistral_job_runs_every_line_and_bills_each_once_at_the_batch_price(
    client: TestClient, database: Database, tenant: Tenant
) -> None:
    with database.session() as session:
        price = create_price(
            session, model=MODEL, currency="USD", input_nanos=200_000, output_nanos=600_000,
            batch_discount_percent=50, actor=Actor("test"),
        )  # fmt: skip
        version = PriceVersion.of(price)
    file_id = _upload(client, tenant, _lines("Hello", "Name a colour", "Count to three"))
    made = client.post(
        "/v1/batch/jobs",
        json={"input_files": [file_id], "endpoint": "/v1/chat/completions", "model": MODEL,
              "metadata": {"team": "data"}},
        headers=tenant.headers(),
    )  # fmt: skip
    assert made.status_code == 200, made.text
    job = made.json()
    assert (job["object"], job["status"], job["total_requests"]) == ("batch", "QUEUED", 3)
    assert job["metadata"] == {"team": "data"}
    done = _wait(client, tenant, f"/v1/batch/jobs/{job['id']}", {"SUCCESS", "FAILED"})
    assert done["status"] == "SUCCESS", done
    assert (done["completed_requests"], done["succeeded_requests"], done["failed_requests"]) == (
        3,
        3,
        0,
    )
    assert done["error_file"] is None
    assert done["started_at"]
    assert done["completed_at"]
    out = _content(client, tenant, done["output_file"])
    assert [o["custom_id"] for o in out] == ["q0", "q1", "q2"]
    for entry in out:
        assert entry["error"] is None
        assert entry["response"]["status_code"] == 200
        body = entry["response"]["body"]
        assert body["object"] == "chat.completion"
        assert body["choices"][0]["message"]["content"]
    described = client.get(f"/v1/files/{done['output_file']}", headers=tenant.headers()).json()
    assert (described["purpose"], described["sample_type"], described["source"]) == (
        "batch",
        "batch_result",
        "mistral",
    )
    records = [r for r in usage_records(client, database) if r.batch_job_id == job["id"]]
    assert sorted(r.request_id for r in records) == [f"{job['id']}_{i}" for i in range(3)]
    for r in records:
        full = price_usage(version, prompt_tokens=r.prompt_tokens, cached_tokens=r.cached_tokens,
                           completion_tokens=r.completion_tokens)  # fmt: skip
        half = price_usage(version, prompt_tokens=r.prompt_tokens, cached_tokens=r.cached_tokens,
                           completion_tokens=r.completion_tokens, batch=True)  # fmt: skip
        assert r.cost_nanos == half.total_nanos < full.total_nanos
        assert (r.product, r.endpoint, r.status) == ("api", "chat.completions", "completed")
    by_id = {r.request_id: r for r in records}
    for entry in out:
        usage = entry["response"]["body"]["usage"]
        assert by_id[entry["id"]].completion_tokens == usage["completion_tokens"]


def test_an_openai_batch_puts_failures_in_the_error_file(
    client: TestClient, tenant: Tenant
) -> None:
    good = json.dumps(
        {
            "custom_id": "ok",
            "method": "POST",
            "url": "/v1/chat/completions",
            "body": {
                "model": MODEL,
                "max_tokens": 4,
                "messages": [{"role": "user", "content": "Hi"}],
            },
        }
    )
    bad = json.dumps({"custom_id": "bad", "method": "POST", "url": "/v1/chat/completions",
                      "body": {"model": MODEL, "max_tokens": -1, "messages": []}})  # fmt: skip
    file_id = _upload(client, tenant, f"{good}\n{bad}\n".encode())
    made = client.post(
        "/v1/batches",
        json={"input_file_id": file_id, "endpoint": "/v1/chat/completions",
              "completion_window": "24h"},
        headers=tenant.headers(),
    )  # fmt: skip
    assert made.status_code == 200, made.text
    batch = made.json()
    assert batch["status"] == "validating"
    assert batch["request_counts"]["total"] == 2
    done = _wait(client, tenant, f"/v1/batches/{batch['id']}", {"completed", "failed"})
    assert done["status"] == "completed"
    assert done["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
    [ok] = _content(client, tenant, done["output_file_id"])
    [failed] = _content(client, tenant, done["error_file_id"])
    assert ok["custom_id"] == "ok"
    assert ok["response"]["status_code"] == 200
    assert failed["custom_id"] == "bad"
    assert failed["response"]["status_code"] == 422
    assert failed["response"]["body"]["object"] == "error"
    assert failed["error"]["message"]
    listed = client.get("/v1/batches", headers=tenant.headers()).json()
    assert [b["id"] for b in listed["data"]] == [batch["id"]]
    mistral = client.get(f"/v1/batch/jobs/{batch['id']}", headers=tenant.headers()).json()
    assert mistral["status"] == "SUCCESS"
    assert mistral["errors"]


def test_inline_requests_make_a_job(client: TestClient, tenant: Tenant) -> None:
    made = client.post(
        "/v1/batch/jobs",
        json={"endpoint": "/v1/chat/completions", "model": MODEL, "requests": [
            {"custom_id": "a", "body": {"max_tokens": 3, "messages": [{"role": "user", "content": "Hi"}]}},
        ]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert made.status_code == 200, made.text
    done = _wait(client, tenant, f"/v1/batch/jobs/{made.json()['id']}", {"SUCCESS", "FAILED"})
    assert done["status"] == "SUCCESS"
    assert done["input_files"] == []


@pytest.mark.parametrize(
    ("payload", "param", "words"),
    [
        ({"endpoint": "/v1/audio/transcriptions"}, "endpoint", "cannot be batched"),
        ({"endpoint": "/v1/chat/completions"}, "input_files", "input_files or requests"),
        (
            {"endpoint": "/v1/chat/completions", "timeout_hours": 500, "requests": [{"body": {}}]},
            "timeout_hours",
            "between 1 and 168",
        ),
        (
            {"endpoint": "/v1/chat/completions", "requests": [{"body": {"messages": []}}]},
            "input_files",
            "names no model",
        ),
    ],
)
def test_a_job_that_cannot_run_is_refused_at_once(
    client: TestClient, tenant: Tenant, payload: dict[str, Any], param: str, words: str
) -> None:
    response = client.post("/v1/batch/jobs", json=payload, headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert response.json()["param"] == param
    assert words in response.json()["message"]


def test_a_bad_line_is_named_with_its_file_and_number(client: TestClient, tenant: Tenant) -> None:
    file_id = _upload(
        client,
        tenant,
        _lines("fine")
        + b"not json\n"
        + b'{"body": {"stream": true}}\n'
        + b"\xff\xfe\n"
        + b"[1, 2]\n",
    )
    response = client.post(
        "/v1/batch/jobs",
        json={"input_files": [file_id], "endpoint": "/v1/chat/completions", "model": MODEL},
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    message = response.json()["message"]
    assert f"{file_id} line 2: not JSON" in message
    assert f"{file_id} line 3: a batched request is not streamed" in message
    assert f"{file_id} line 4: not JSON" in message
    assert f"{file_id} line 5: a line is a JSON object" in message


def test_another_organisations_job_and_files_are_not_found(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    file_id = _upload(client, tenant, _lines("Hi"))
    theirs = other_tenant.headers()
    stolen = client.post(
        "/v1/batch/jobs",
        json={"input_files": [file_id], "endpoint": "/v1/chat/completions", "model": MODEL},
        headers=theirs,
    )
    assert stolen.status_code == 404
    job = client.post(
        "/v1/batch/jobs",
        json={"input_files": [file_id], "endpoint": "/v1/chat/completions", "model": MODEL},
        headers=tenant.headers(),
    ).json()
    for method, path in [
        ("GET", f"/v1/batch/jobs/{job['id']}"),
        ("POST", f"/v1/batch/jobs/{job['id']}/cancel"),
        ("GET", f"/v1/batches/{job['id']}"),
        ("POST", f"/v1/batches/{job['id']}/cancel"),
    ]:
        response = client.request(method, path, headers=theirs)
        assert response.status_code == 404, (method, path)
        assert response.json()["code"] == "batch_not_found"
    assert client.get("/v1/batch/jobs", headers=theirs).json() == {
        "object": "list",
        "data": [],
        "total": 0,
    }
    assert client.get("/v1/batches", headers=theirs).json()["data"] == []
    done = _wait(client, tenant, f"/v1/batch/jobs/{job['id']}", {"SUCCESS"})
    for output in (done["output_file"],):
        assert client.get(f"/v1/files/{output}/content", headers=theirs).status_code == 404
        assert client.get(f"/v1/files/{output}", headers=theirs).status_code == 404


@pytest.mark.parametrize(
    ("method", "path", "payload"),
    [
        ("POST", "/v1/batch/jobs", {"endpoint": 5}),
        ("POST", "/v1/batch/jobs", {"endpoint": "/v1/chat/completions", "input_files": "x"}),
        ("POST", "/v1/batch/jobs", {"endpoint": "/v1/chat/completions", "agent_id": "a"}),
        ("POST", "/v1/batch/jobs", {"endpoint": "/v1/chat/completions", "requests": [{"body": 1}]}),
        (
            "POST",
            "/v1/batch/jobs",
            {"endpoint": "/v1/chat/completions", "input_files": ["file_nope"]},
        ),
        ("POST", "/v1/batches", {"input_file_id": "file_nope", "endpoint": "/v1/chat/completions"}),
        (
            "POST",
            "/v1/batches",
            {"input_file_id": "f", "endpoint": "/v1/chat/completions", "completion_window": "48h"},
        ),
        ("GET", "/v1/batch/jobs?created_after=yesterday", None),
        ("GET", "/v1/batch/jobs?page=-1", None),
        ("GET", "/v1/batch/jobs?page=242160179334783680", None),  # past any 64-bit offset
        ("GET", "/v1/batch/jobs?created_after=9999-12-31T23:59:59-05:00", None),  # past UTC's
        ("GET", "/v1/batch/jobs?model=a%00b", None),  # a NUL
        ("POST", "/v1/batch/jobs", {"endpoint": "/v1/chat/completions", "model": "a\u0000"}),
        ("GET", "/v1/batches?after=batch_nope", None),
        ("GET", "/v1/batches?limit=0", None),
        ("GET", "/v1/batch/jobs/batch_nope", None),
        ("POST", "/v1/batches/batch_nope/cancel", None),
        ("GET", "/v1/files?page_size=0", None),
        ("GET", "/v1/files?page=242160179334783680&page_size=10000", None),
        ("GET", "/v1/files?search=a%00b", None),
        ("GET", "/v1/files?after=file_nope", None),
        ("GET", "/v1/files/file_nope/content", None),
        ("POST", "/v1/moderations", {"input": {"a": 1}}),
        ("POST", "/v1/chat/moderations", {"input": []}),
        ("POST", "/v1/chat/moderations", {"input": [{"role": "wizard", "content": "x"}]}),
        (
            "POST",
            "/v1/chat/completions",
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "guardrails": [
                    {"moderation_llm_v1": {"custom_category_thresholds": {"selfharm": "high"}}}
                ],
            },
        ),
        (
            "POST",
            "/v1/chat/completions",
            {
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "guardrails": [{"other": {}}],
            },
        ),
    ],
)
def test_malformed_input_gets_the_error_body(
    client: TestClient, tenant: Tenant, method: str, path: str, payload: dict[str, Any] | None
) -> None:
    response = client.request(method, path, json=payload, headers=tenant.headers())
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.json()["object"] == "error"


def test_malformed_guardrail_policies_get_the_error_body(
    client: TestClient, tenant: Tenant
) -> None:
    admin = tenant.headers(admin=True)
    for policy in [{"rules": {"pii": "erase"}}, {"rules": {}, "thresholds": {"pii": 5}},
                   {"rules": {}, "thresholds": {"spam": 0.5}}, {"rules": "block"}]:  # fmt: skip
        response = client.put("/v1/admin/guardrails", json=policy, headers=admin)
        assert 400 <= response.status_code < 500, (policy, response.text)
        assert response.json()["object"] == "error"
