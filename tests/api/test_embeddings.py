"""``POST /v1/embeddings`` on the embedded model in embedding mode."""

from __future__ import annotations

import base64
import math
import struct
from typing import Any

from fastapi.testclient import TestClient

from levante.storage import Database
from tests.helpers import MODEL, Tenant, usage_records


def _embed(client: TestClient, tenant: Tenant, **body: object) -> dict[str, Any]:
    response = client.post("/v1/embeddings", json={"model": MODEL} | body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def test_openai_input_and_mistral_inputs(client: TestClient, tenant: Tenant) -> None:
    single = _embed(client, tenant, input="A cat sleeps on the sofa.")
    batch = _embed(client, tenant, inputs=["A cat sleeps on the sofa.", "Stock prices fell."])
    [one] = single["data"]
    first, second = batch["data"]
    assert one["embedding"] == first["embedding"]  # deterministic
    assert len(one["embedding"]) == 576  # SmolLM2-135M's hidden size
    assert math.isclose(sum(v * v for v in one["embedding"]), 1.0, rel_tol=1e-4)
    assert first["embedding"] != second["embedding"]
    assert batch["usage"]["prompt_tokens"] > single["usage"]["prompt_tokens"]


def test_base64_encoding_is_little_endian_float32(client: TestClient, tenant: Tenant) -> None:
    plain = _embed(client, tenant, input="hello")["data"][0]["embedding"]
    encoded = _embed(client, tenant, input="hello", encoding_format="base64")
    raw = base64.b64decode(encoded["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert all(
        math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7) for a, b in zip(decoded, plain, strict=True)
    )


def test_embeddings_are_metered(client: TestClient, tenant: Tenant, database: Database) -> None:
    result = _embed(client, tenant, input=["one", "two"])
    [row] = usage_records(client, database)
    assert row.endpoint == "embeddings"
    assert row.prompt_tokens == result["usage"]["prompt_tokens"]
    assert row.completion_tokens == 0


def test_bad_embedding_requests(client: TestClient, tenant: Tenant) -> None:
    cases: list[tuple[dict[str, object], int]] = [
        ({}, 422),
        ({"input": "a", "inputs": "b"}, 422),
        ({"input": []}, 422),
        ({"input": [""]}, 422),
        ({"input": ""}, 400),
        ({"input": [1, 2]}, 422),
        ({"input": "a", "encoding_format": "int8"}, 422),
        ({"input": "word " * 5000}, 400),
    ]
    for body, status in cases:
        response = client.post(
            "/v1/embeddings", json={"model": MODEL} | body, headers=tenant.headers()
        )
        assert response.status_code == status, (body, response.text)
        assert response.json()["object"] == "error"
    unknown = client.post(
        "/v1/embeddings", json={"model": "nope", "input": "a"}, headers=tenant.headers()
    )
    assert unknown.status_code == 404
