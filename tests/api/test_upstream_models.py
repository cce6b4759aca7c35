"""A model served by upstream replicas, through the whole HTTP path and the metering."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import ModelSettings, Settings
from levante.storage import Database
from tests.engine.upstream_stub import StubUpstream
from tests.helpers import Tenant, usage_records


@pytest.fixture
def upstream_client(
    settings: Settings, database: Database, stubs: list[StubUpstream]
) -> Iterator[TestClient]:
    model = ModelSettings.model_validate(
        {
            "id": "vllm-large",
            "context_length": 32768,
            "upstreams": [{"url": s.url} for s in stubs],
            "connect_timeout_seconds": 1,
        }
    )
    registry = ModelRegistry([model])
    registry.load_all()
    app = create_app(settings, models=registry, database=database)
    with TestClient(app) as client:
        yield client
    registry.close()


def _chat(**extra: object) -> dict[str, object]:
    return {"model": "vllm-large", "messages": [{"role": "user", "content": "hi"}]} | extra


def test_chat_through_an_upstream_is_metered_with_its_usage(
    upstream_client: TestClient, tenant: Tenant, database: Database
) -> None:
    response = upstream_client.post("/v1/chat/completions", json=_chat(), headers=tenant.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["choices"][0]["message"]["content"] == "hello from the upstream"
    assert body["usage"]["prompt_tokens"] == 11
    assert body["usage"]["completion_tokens"] == 4
    [row] = usage_records(upstream_client, database)
    assert (row.model, row.prompt_tokens, row.completion_tokens) == ("vllm-large", 11, 4)


def test_streams_pass_through(upstream_client: TestClient, tenant: Tenant) -> None:
    with upstream_client.stream(
        "POST", "/v1/chat/completions", json=_chat(stream=True), headers=tenant.headers()
    ) as response:
        blocks = response.read().decode().strip().split("\n\n")
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == "hello from the upstream"
    assert chunks[-1]["usage"]["completion_tokens"] == 4


def test_requests_succeed_when_a_replica_dies(
    upstream_client: TestClient, tenant: Tenant, stubs: list[StubUpstream]
) -> None:
    first = upstream_client.post("/v1/chat/completions", json=_chat(), headers=tenant.headers())
    assert first.status_code == 200
    stubs[0].stop()
    for _ in range(4):
        response = upstream_client.post(
            "/v1/chat/completions", json=_chat(), headers=tenant.headers()
        )
        assert response.status_code == 200, response.text


def test_all_replicas_down_is_a_502(
    upstream_client: TestClient, tenant: Tenant, stubs: list[StubUpstream]
) -> None:
    for stub in stubs:
        stub.fail_with = 503
    response = upstream_client.post("/v1/chat/completions", json=_chat(), headers=tenant.headers())
    assert response.status_code == 502
    assert response.json()["type"] == "server_error"


def test_the_model_card_lists_the_upstream_model(
    upstream_client: TestClient, tenant: Tenant
) -> None:
    [card] = upstream_client.get("/v1/models", headers=tenant.headers()).json()["data"]
    assert (card["id"], card["max_context_length"]) == ("vllm-large", 32768)
