"""``POST /v1/completions``: plain text completion."""

from __future__ import annotations

import json

from fastapi.testclient import TestClient

from tests.helpers import MODEL, Tenant


def _body(**extra: object) -> dict[str, object]:
    return {
        "model": MODEL,
        "prompt": "The capital of France is",
        "max_tokens": 6,
        "temperature": 0,
    } | extra


def test_completion(client: TestClient, tenant: Tenant) -> None:
    response = client.post("/v1/completions", json=_body(), headers=tenant.headers())
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["object"] == "text_completion"
    assert body["choices"][0]["text"]
    assert body["choices"][0]["finish_reason"] in ("stop", "length")
    assert body["usage"]["completion_tokens"] <= 6


def test_echo_and_several_prompts(client: TestClient, tenant: Tenant) -> None:
    body = _body(prompt=["One, two,", "A, B,"], n=2, echo=True)
    response = client.post("/v1/completions", json=body, headers=tenant.headers())
    choices = response.json()["choices"]
    assert [c["index"] for c in choices] == [0, 1, 2, 3]
    assert choices[0]["text"].startswith("One, two,")
    assert choices[3]["text"].startswith("A, B,")


def test_streamed_completion_matches_the_plain_one(client: TestClient, tenant: Tenant) -> None:
    plain = client.post("/v1/completions", json=_body(), headers=tenant.headers()).json()
    with client.stream(
        "POST", "/v1/completions", json=_body(stream=True), headers=tenant.headers()
    ) as response:
        blocks = response.read().decode().strip().split("\n\n")
    assert blocks[-1] == "data: [DONE]"
    chunks = [json.loads(b.removeprefix("data: ")) for b in blocks[:-1]]
    assert "".join(c["choices"][0]["text"] for c in chunks) == plain["choices"][0]["text"]
    counts = ("prompt_tokens", "completion_tokens", "total_tokens")
    assert [chunks[-1]["usage"][k] for k in counts] == [plain["usage"][k] for k in counts]
