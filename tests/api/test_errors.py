"""The bad-input table: each input gets the right status and Mistral's error body, never a 500."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import ModelSettings, Settings
from levante.storage import Database, utcnow
from levante.tenancy import create_api_key
from levante.tenancy.records import revoke_api_key
from tests.helpers import MODEL, Tenant, chat_body

ERROR_KEYS = {"object", "message", "type", "param", "code"}


def assert_error(response: Any, status: int, error_type: str, param: str | None = None) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert body["object"] == "error"
    assert body["type"] == error_type
    assert body["message"]
    if param is not None:
        assert body["param"] == param, body
    assert response.headers["x-request-id"].startswith("req_")


def _messages(*messages: Any) -> dict[str, Any]:
    return chat_body() | {"messages": list(messages)}


# (case, body, status, type, param)
BAD_BODIES: list[tuple[str, dict[str, Any], int, str, str | None]] = [
    ("unknown model", chat_body(model="gpt-17"), 404, "invalid_request_error", "model"),
    (
        "missing model",
        {"messages": [{"role": "user", "content": "hi"}]},
        422,
        "invalid_request_error",
        "model",
    ),
    ("empty messages", _messages(), 422, "invalid_request_error", "messages"),
    (
        "messages not a list",
        chat_body() | {"messages": "hi"},
        422,
        "invalid_request_error",
        "messages",
    ),
    (
        "message without role",
        _messages({"content": "hi"}),
        422,
        "invalid_request_error",
        "messages.0.role",
    ),
    (
        "bad role",
        _messages({"role": "wizard", "content": "hi"}),
        422,
        "invalid_request_error",
        "messages.0.role",
    ),
    (
        "user without content",
        _messages({"role": "user"}),
        422,
        "invalid_request_error",
        "messages.0",
    ),
    (
        "content wrong type",
        _messages({"role": "user", "content": 5}),
        422,
        "invalid_request_error",
        None,
    ),
    (
        "last message from assistant",
        _messages({"role": "assistant", "content": "hi"}),
        422,
        "invalid_request_error",
        "messages",
    ),
    ("temperature too high", chat_body(temperature=5), 422, "invalid_request_error", "temperature"),
    (
        "negative temperature",
        chat_body(temperature=-1),
        422,
        "invalid_request_error",
        "temperature",
    ),
    ("top_p zero", chat_body(top_p=0), 422, "invalid_request_error", "top_p"),
    ("max_tokens zero", chat_body(max_tokens=0), 422, "invalid_request_error", "max_tokens"),
    (
        "max_tokens a string",
        chat_body(max_tokens="many"),
        422,
        "invalid_request_error",
        "max_tokens",
    ),
    ("n zero", chat_body(n=0), 422, "invalid_request_error", "n"),
    ("n above the limit", chat_body(n=1000), 422, "invalid_request_error", "n"),
    (
        "presence penalty out of range",
        chat_body(presence_penalty=3),
        422,
        "invalid_request_error",
        "presence_penalty",
    ),
    ("negative seed", chat_body(random_seed=-1), 422, "invalid_request_error", "random_seed"),
    ("negative top_k", chat_body(top_k=-1), 422, "invalid_request_error", "top_k"),
    ("min_p above one", chat_body(min_p=1.5), 422, "invalid_request_error", "min_p"),
    ("stop list too long", chat_body(stop=["a"] * 9), 422, "invalid_request_error", "stop"),
    (
        "bad response format",
        chat_body(response_format={"type": "xml"}),
        422,
        "invalid_request_error",
        "response_format.type",
    ),
    (
        "json_schema without schema",
        chat_body(response_format={"type": "json_schema"}),
        422,
        "invalid_request_error",
        "response_format",
    ),
    (
        "unusable json schema",
        chat_body(
            response_format={
                "type": "json_schema",
                "json_schema": {
                    "name": "x",
                    "schema": {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}},
                },
            }
        ),
        400,
        "invalid_request_error",
        None,
    ),
    (
        "max_tokens beyond context",
        chat_body(max_tokens=100_000),
        400,
        "invalid_request_error",
        "max_tokens",
    ),
    ("context overflow", chat_body("word " * 3000), 400, "invalid_request_error", "messages"),
    (
        "tool_choice naming no tool",
        chat_body(
            tools=[{"type": "function", "function": {"name": "f"}}],
            tool_choice={"type": "function", "function": {"name": "g"}},
        ),
        400,
        "invalid_request_error",
        "tool_choice",
    ),
    ("body is a list", [], 422, "invalid_request_error", None),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("body", "status", "error_type", "param"),
    [case[1:] for case in BAD_BODIES],
    ids=[case[0] for case in BAD_BODIES],
)
def test_bad_chat_bodies(
    client: TestClient,
    tenant: Tenant,
    body: dict[str, Any],
    status: int,
    error_type: str,
    param: str | None,
) -> None:
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert_error(response, status, error_type, param)


def test_context_overflow_names_the_limit(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat_body("word " * 3000), headers=tenant.headers()
    )
    assert "2048" in response.json()["message"]
    assert response.json()["code"] == "context_length_exceeded"


def test_validation_errors_carry_details_for_sdks(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions", json=chat_body(temperature=9), headers=tenant.headers()
    )
    body = response.json()
    assert "temperature" in body["message"]
    assert body["detail"][0]["loc"] == ["body", "temperature"]


def test_non_json_body(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers=tenant.headers() | {"content-type": "application/json"},
    )
    assert_error(response, 400, "invalid_request_error")
    assert response.json()["code"] == "invalid_json"


def test_oversized_body(client: TestClient, tenant: Tenant) -> None:
    body = chat_body("x" * 1_100_000)
    response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert_error(response, 413, "invalid_request_error")


def test_oversized_chunked_body(client: TestClient, tenant: Tenant) -> None:
    def chunks() -> Any:
        for _ in range(300):
            yield b"x" * 4096

    response = client.post(
        "/v1/chat/completions",
        content=chunks(),
        headers=tenant.headers() | {"content-type": "application/json"},
    )
    assert_error(response, 413, "invalid_request_error")


@pytest.mark.parametrize("method", ["DELETE", "GET", "PUT", "PATCH", "OPTIONS"])
def test_oversized_chunked_body_for_every_method(client: TestClient, method: str) -> None:
    """Unauthenticated, on a route that parses its body: refused before it is read whole."""

    def chunks() -> Any:
        for _ in range(300):
            yield b"x" * 4096

    response = client.request(
        method,
        "/v1/licensing/activations/act_x",
        content=chunks(),
        headers={"content-type": "application/json"},
    )
    assert_error(response, 413, "invalid_request_error")


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({}, "missing_api_key"),
        ({"Authorization": "Bearer lv-not-a-real-key-at-all-123456"}, "invalid_api_key"),
        ({"Authorization": "Bearer sk-foreign"}, "invalid_api_key"),
        ({"Authorization": "Basic dXNlcjpwYXNz"}, "missing_api_key"),
        ({"Authorization": "Bearer"}, "missing_api_key"),
    ],
    ids=["no key", "unknown key", "malformed key", "basic auth", "empty bearer"],
)
def test_bad_keys(client: TestClient, headers: dict[str, str], code: str) -> None:
    response = client.post("/v1/chat/completions", json=chat_body(), headers=headers)
    assert_error(response, 401, "authentication_error")
    assert response.json()["code"] == code


def test_revoked_key(client: TestClient, tenant: Tenant, database: Database) -> None:
    with database.session() as session:
        revoke_api_key(session, tenant.organization_id, tenant.key_id)
    response = client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    assert_error(response, 401, "authentication_error")


def test_expired_key(client: TestClient, tenant: Tenant, database: Database) -> None:
    with database.session() as session:
        issued = create_api_key(
            session, tenant.organization_id, "short", expires_at=utcnow() + timedelta(seconds=1)
        )
        issued.key.expires_at = utcnow() - timedelta(seconds=1)
    response = client.post(
        "/v1/chat/completions",
        json=chat_body(),
        headers={"Authorization": f"Bearer {issued.secret}"},
    )
    assert_error(response, 401, "authentication_error")
    assert response.json()["code"] == "expired_api_key"


def test_model_outside_the_allow_list(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    with database.session() as session:
        issued = create_api_key(session, tenant.organization_id, "narrow", allowed_models=["other"])
    headers = {"Authorization": f"Bearer {issued.secret}"}
    response = client.post("/v1/chat/completions", json=chat_body(), headers=headers)
    assert_error(response, 403, "authentication_error", "model")
    models = client.get("/v1/models", headers=headers).json()["data"]
    assert models == []


def test_admin_endpoint_with_an_ordinary_key(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/admin/usage", headers=tenant.headers())
    assert_error(response, 403, "authentication_error")


def test_unknown_route_and_method(client: TestClient, tenant: Tenant) -> None:
    assert_error(client.get("/v1/nothing", headers=tenant.headers()), 404, "invalid_request_error")
    assert_error(
        client.get("/v1/chat/completions", headers=tenant.headers()), 405, "invalid_request_error"
    )


def test_completions_bad_inputs(client: TestClient, tenant: Tenant) -> None:
    cases: list[tuple[dict[str, Any], int, str | None]] = [
        ({"model": MODEL}, 422, "prompt"),
        ({"model": MODEL, "prompt": ""}, 400, "prompt"),
        ({"model": MODEL, "prompt": []}, 422, "prompt"),
        ({"model": MODEL, "prompt": "hi", "logprobs": 3}, 422, "logprobs"),
        ({"model": "nope", "prompt": "hi"}, 404, "model"),
    ]
    for body, status, param in cases:
        response = client.post("/v1/completions", json=body, headers=tenant.headers())
        assert_error(response, status, "invalid_request_error", param)


def test_a_full_queue_is_a_503_with_retry_after(
    settings: Settings, database: Database, tenant: Tenant
) -> None:
    """One sequence, one waiting place: a third concurrent request is refused at once,
    streamed or not, before any byte of a stream is sent."""
    tiny = ModelSettings(id=MODEL, context_length=512, n_threads=2, parallel=1, max_pending=1)
    registry = ModelRegistry([tiny])
    registry.load_all()
    app = create_app(settings, models=registry, database=database)
    long_body = chat_body("Tell a very long story.", max_tokens=150, stream=True)
    try:
        with TestClient(app) as client:

            def occupy() -> None:
                client.post("/v1/chat/completions", json=long_body, headers=tenant.headers())

            engine = registry.get(MODEL).engine
            busy = [threading.Thread(target=occupy) for _ in range(2)]
            for expected_pending in (0, 1):  # the first takes the sequence, the second waits
                busy[expected_pending].start()
                deadline = time.monotonic() + 30
                while engine.queue_depth + engine.stats.active <= expected_pending:
                    assert time.monotonic() < deadline
                    time.sleep(0.01)
            for body in (chat_body(), chat_body(stream=True)):
                response = client.post("/v1/chat/completions", json=body, headers=tenant.headers())
                assert_error(response, 503, "server_error")
                assert response.headers["retry-after"] == "1"
            for thread in busy:
                thread.join()
    finally:
        registry.close()
