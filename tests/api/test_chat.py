"""``POST /v1/chat/completions`` through the HTTP app, on the real model."""

from __future__ import annotations

import json
from typing import Any

from fastapi.testclient import TestClient

from levante.engine import ChatTurn, ModelRegistry
from levante.storage import Database
from tests.conftest import TEST_CONTEXT
from tests.helpers import MODEL, Tenant, chat_body, usage_records


def _sse(text: str) -> list[Any]:
    events = []
    for block in text.strip().split("\n\n"):
        assert block.startswith("data: "), block
        payload = block.removeprefix("data: ")
        events.append(payload if payload == "[DONE]" else json.loads(payload))
    return events


def test_chat_completion_answers_and_meters(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["model"] == MODEL
    choice = body["choices"][0]
    assert choice["message"]["role"] == "assistant"
    assert "Paris" in choice["message"]["content"]
    assert choice["finish_reason"] in ("stop", "length")
    usage = body["usage"]
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert response.headers["x-request-id"].startswith("req_")

    [row] = usage_records(client, database)
    assert row.request_id == response.headers["x-request-id"]
    assert row.organization_id == tenant.organization_id
    assert row.api_key_id == tenant.key_id
    assert (row.prompt_tokens, row.completion_tokens, row.cached_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
        usage["prompt_tokens_details"]["cached_tokens"],
    )
    assert row.status == "completed"
    assert row.model == MODEL
    assert row.time_to_first_token_ms is not None
    assert row.duration_ms >= row.time_to_first_token_ms


def test_greedy_decoding_is_deterministic(client: TestClient, tenant: Tenant) -> None:
    first = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    second = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    texts = [r.json()["choices"][0]["message"]["content"] for r in (first, second)]
    assert texts[0] == texts[1]


def test_alias_resolves_to_the_model(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat_body(model="smollm2"), headers=tenant.headers()
    )
    assert response.status_code == 200
    assert response.json()["model"] == MODEL


def test_max_tokens_gives_finish_reason_length(client: TestClient, tenant: Tenant) -> None:
    body = chat_body("Write a long story about a dragon.", max_tokens=3)
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "length"
    assert response.json()["usage"]["completion_tokens"] == 3


def test_stop_string_ends_the_answer_before_it(client: TestClient, tenant: Tenant) -> None:
    base = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    text = base.json()["choices"][0]["message"]["content"]
    word = text.split()[2]
    response = client.post(
        "/v1/chat/completions", json=chat_body(stop=[word]), headers=tenant.headers()
    )
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert word not in choice["message"]["content"]
    assert text.startswith(choice["message"]["content"])


def test_model_length_when_the_context_fills(
    client: TestClient, tenant: Tenant, model_registry: ModelRegistry
) -> None:
    engine = model_registry.get(MODEL).engine

    def prompt_tokens(repeats: int) -> int:
        count = engine.prepare_chat([ChatTurn("user", "Repeat: " + "la " * repeats)]).token_count
        assert count is not None
        return count

    # Leave room for exactly four completion tokens in the 2,048-token context.
    repeats = 1900
    while prompt_tokens(repeats) < TEST_CONTEXT - 4:
        repeats += 1
    while prompt_tokens(repeats) > TEST_CONTEXT - 4:
        repeats -= 1
    body = chat_body("Repeat: " + "la " * repeats)
    del body["max_tokens"]
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["choices"][0]["finish_reason"] == "model_length"
    assert data["usage"]["total_tokens"] == TEST_CONTEXT


def test_n_choices_share_the_prompt(client: TestClient, tenant: Tenant) -> None:
    body = chat_body(n=3, temperature=0.9, max_tokens=8)
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    data = response.json()
    assert [c["index"] for c in data["choices"]] == [0, 1, 2]
    single = client.post(
        "/v1/chat/completions", json=chat_body(max_tokens=8), headers=tenant.headers()
    )
    assert data["usage"]["prompt_tokens"] == single.json()["usage"]["prompt_tokens"]
    assert data["usage"]["completion_tokens"] <= 24


def test_json_object_mode_returns_json(client: TestClient, tenant: Tenant) -> None:
    body = chat_body(
        "Give me a JSON object describing a cat with a name and an age.",
        response_format={"type": "json_object"},
        max_tokens=120,
    )
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    content = response.json()["choices"][0]["message"]["content"]
    assert isinstance(json.loads(content), dict)


def test_json_schema_mode_follows_the_schema(client: TestClient, tenant: Tenant) -> None:
    schema = {
        "type": "object",
        "properties": {
            "city": {"type": "string", "maxLength": 20},
            "population": {"type": "integer"},
        },
        "required": ["city", "population"],
        "additionalProperties": False,
    }
    body = chat_body(
        "What is the largest city in France?",
        response_format={"type": "json_schema", "json_schema": {"name": "city", "schema": schema}},
        max_tokens=60,
    )
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    data = json.loads(response.json()["choices"][0]["message"]["content"])
    assert set(data) == {"city", "population"}
    assert isinstance(data["city"], str)
    assert isinstance(data["population"], int)


def test_safe_prompt_adds_the_guardrail_to_the_prompt(client: TestClient, tenant: Tenant) -> None:
    plain = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    safe = client.post(
        "/v1/chat/completions", json=chat_body(safe_prompt=True), headers=tenant.headers()
    )
    assert safe.json()["usage"]["prompt_tokens"] > plain.json()["usage"]["prompt_tokens"]


def test_user_and_metadata_are_kept_with_the_usage(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    body = chat_body(user="end-user-42", metadata={"feature": "search"})
    assert (
        client.post("/v1/chat/completions", json=body, headers=tenant.headers()).status_code == 200
    )
    [row] = usage_records(client, database)
    assert row.end_user == "end-user-42"
    assert row.request_metadata == {"feature": "search"}


def test_second_turn_reuses_the_cached_prefix(client: TestClient, tenant: Tenant) -> None:
    system = {"role": "system", "content": "You are a terse geography tutor. " * 20}
    first = chat_body()
    first["messages"] = [system, {"role": "user", "content": "Capital of France?"}]
    r1 = client.post("/v1/chat/completions", json=first, headers=tenant.headers())
    answer = r1.json()["choices"][0]["message"]["content"]
    second = chat_body()
    second["messages"] = [
        system,
        {"role": "user", "content": "Capital of France?"},
        {"role": "assistant", "content": answer},
        {"role": "user", "content": "And of Spain?"},
    ]
    r2 = client.post("/v1/chat/completions", json=second, headers=tenant.headers())
    cached = r2.json()["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached >= r1.json()["usage"]["prompt_tokens"] - 1


def test_assistant_prefix_continues_the_message(client: TestClient, tenant: Tenant) -> None:
    body = chat_body()
    body["messages"] = [
        {"role": "user", "content": "What is the capital of France? Answer in one word."},
        {"role": "assistant", "content": "The capital of France is", "prefix": True},
    ]
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    assert "Paris" in response.json()["choices"][0]["message"]["content"]


def test_streaming_sends_deltas_usage_and_done(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    plain = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    body = chat_body(stream=True)
    with client.stream("POST", "/v1/chat/completions", json=body, headers=tenant.headers()) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = _sse(r.read().decode())
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks)
    assert text == plain.json()["choices"][0]["message"]["content"]
    last = chunks[-1]
    assert last["choices"][0]["finish_reason"] in ("stop", "length")
    assert last["usage"] == plain.json()["usage"] | {
        "prompt_tokens_details": last["usage"]["prompt_tokens_details"]
    }
    row = usage_records(client, database)[-1]
    assert row.stream is True
    assert row.completion_tokens == last["usage"]["completion_tokens"]
    assert row.prompt_tokens == last["usage"]["prompt_tokens"]


def test_stream_include_usage_sends_a_usage_chunk(client: TestClient, tenant: Tenant) -> None:
    body = chat_body(stream=True, stream_options={"include_usage": True})
    with client.stream("POST", "/v1/chat/completions", json=body, headers=tenant.headers()) as r:
        events = _sse(r.read().decode())
    usage_chunk = events[-2]
    assert usage_chunk["choices"] == []
    assert usage_chunk["usage"]["completion_tokens"] > 0
    assert all(e["usage"] is None for e in events[:-2])


def test_max_completion_tokens_is_openais_name_for_max_tokens(
    client: TestClient, tenant: Tenant
) -> None:
    body = chat_body("Write a long story about a dragon.", max_completion_tokens=3)
    del body["max_tokens"]
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    assert response.json()["usage"]["completion_tokens"] == 3
    assert response.json()["choices"][0]["finish_reason"] == "length"
