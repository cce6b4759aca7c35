"""Function calling on ``POST /v1/chat/completions``, on the real model (greedy)."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from levante.storage import Database
from tests.api.test_chat import _sse
from tests.fixtures.tool_prompts import TOOLS
from tests.helpers import MODEL, Tenant, usage_records

WEATHER = TOOLS[0]
TIME: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_time",
        "description": "The current time in a time zone",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}
SCHEMAS = {t["function"]["name"]: t["function"]["parameters"] for t in (WEATHER, TIME)}


def _body(question: str = "What is the weather in Paris?", **extra: Any) -> dict[str, Any]:
    return {
        "model": MODEL,
        "messages": [{"role": "user", "content": question}],
        "tools": [WEATHER, TIME],
        "tool_choice": "any",
        "temperature": 0,
        "max_tokens": 120,
    } | extra


def _valid(call: dict[str, Any]) -> dict[str, Any]:
    assert call["type"] == "function"
    assert len(call["id"]) == 9
    assert call["id"].isalnum()
    arguments: dict[str, Any] = json.loads(call["function"]["arguments"])
    jsonschema.validate(arguments, SCHEMAS[call["function"]["name"]])
    return arguments


@pytest.mark.parametrize("choice", ["any", "required"])
def test_a_forced_choice_calls_a_tool_with_valid_arguments(
    client: TestClient, tenant: Tenant, database: Database, choice: str
) -> None:
    response = client.post(
        "/v1/chat/completions", json=_body(tool_choice=choice), headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    [answer] = response.json()["choices"]
    assert answer["finish_reason"] == "tool_calls"
    calls = answer["message"]["tool_calls"]
    assert calls
    assert calls[0]["function"]["name"] == "get_weather"
    assert _valid(calls[0])["city"] == "Paris"
    assert answer["message"]["content"] == ""

    [row] = usage_records(client, database)
    usage = response.json()["usage"]
    assert (row.prompt_tokens, row.completion_tokens) == (
        usage["prompt_tokens"],
        usage["completion_tokens"],
    )


def test_tool_definitions_count_towards_prompt_tokens(client: TestClient, tenant: Tenant) -> None:
    plain = client.post(
        "/v1/chat/completions",
        json=_body(tools=None, tool_choice=None, max_tokens=1),
        headers=tenant.headers(),
    )
    with_tools = client.post(
        "/v1/chat/completions",
        json=_body(tool_choice="auto", max_tokens=1),
        headers=tenant.headers(),
    )
    tool_text = len(json.dumps([WEATHER, TIME])) // 8  # far fewer tokens than characters
    assert (
        with_tools.json()["usage"]["prompt_tokens"]
        > plain.json()["usage"]["prompt_tokens"] + tool_text
    )


def test_a_named_function_is_the_one_called(client: TestClient, tenant: Tenant) -> None:
    named = {"type": "function", "function": {"name": "get_time"}}
    response = client.post(
        "/v1/chat/completions", json=_body(tool_choice=named), headers=tenant.headers()
    )
    calls = response.json()["choices"][0]["message"]["tool_calls"]
    assert {c["function"]["name"] for c in calls} == {"get_time"}
    for call in calls:
        _valid(call)


def test_without_parallel_calls_an_answer_holds_one_call(
    client: TestClient, tenant: Tenant
) -> None:
    response = client.post(
        "/v1/chat/completions",
        json=_body("Weather in Berlin and in Madrid?", parallel_tool_calls=False),
        headers=tenant.headers(),
    )
    [call] = response.json()["choices"][0]["message"]["tool_calls"]
    _valid(call)


def test_none_answers_in_text(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions", json=_body(tool_choice="none"), headers=tenant.headers()
    )
    [answer] = response.json()["choices"]
    assert answer["message"]["tool_calls"] is None
    assert answer["message"]["content"]
    assert answer["finish_reason"] in ("stop", "length")


def test_auto_lets_the_model_answer_in_text(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions",
        json=_body("Say hello to me.", tool_choice="auto"),
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    [answer] = response.json()["choices"]
    if answer["message"]["tool_calls"]:  # the model's choice: either is a valid answer
        assert answer["finish_reason"] == "tool_calls"
        for call in answer["message"]["tool_calls"]:
            _valid(call)
    else:
        assert answer["message"]["content"]


def test_a_two_step_exchange_answers_from_the_result(client: TestClient, tenant: Tenant) -> None:
    first = client.post("/v1/chat/completions", json=_body(), headers=tenant.headers()).json()
    call = first["choices"][0]["message"]["tool_calls"][0]
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {
            "role": "tool",
            "name": "get_weather",
            "tool_call_id": call["id"],
            "content": json.dumps({"city": "Paris", "temperature": 21, "sky": "sunny"}),
        },
    ]
    second = client.post(
        "/v1/chat/completions",
        json=_body(messages=messages, tool_choice="auto"),
        headers=tenant.headers(),
    )
    assert second.status_code == 200, second.text
    answer = second.json()["choices"][0]
    assert answer["finish_reason"] in ("stop", "length", "tool_calls")
    # The result is in the prompt: the second request's prompt is the longer by it.
    assert second.json()["usage"]["prompt_tokens"] > first["usage"]["prompt_tokens"]


def test_streamed_calls_come_whole_with_their_index(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/completions", json=_body(stream=True), headers=tenant.headers()
    )
    assert response.status_code == 200, response.text
    events = _sse(response.text)
    assert events[-1] == "[DONE]"
    chunks = events[:-1]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    calls = [call for d in deltas for call in d.get("tool_calls") or ()]
    assert calls
    assert [c["index"] for c in calls] == list(range(len(calls)))
    for call in calls:
        _valid(call)
    assert not "".join(d.get("content") or "" for d in deltas)
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"]["completion_tokens"] > 0


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
        ({"tools": None, "tool_choice": "any"}, "tool_choice"),
        ({"tools": [WEATHER, WEATHER]}, "tools"),
        ({"response_format": {"type": "json_object"}}, "response_format"),
    ],
)
def test_inconsistent_tool_requests_are_refused(
    client: TestClient, tenant: Tenant, change: dict[str, Any], param: str
) -> None:
    response = client.post("/v1/chat/completions", json=_body(**change), headers=tenant.headers())
    assert response.status_code == 400, response.text
    assert response.json()["param"] == param


@pytest.mark.parametrize(
    "tools",
    [
        [{"type": "function", "function": {"name": "bad name!"}}],
        [{"type": "function", "function": {"name": "f", "parameters": {"type": "string"}}}],
        [{"type": "retrieval"}],
    ],
)
def test_malformed_tools_are_a_validation_error(
    client: TestClient, tenant: Tenant, tools: list[Any]
) -> None:
    response = client.post(
        "/v1/chat/completions", json=_body(tools=tools), headers=tenant.headers()
    )
    assert response.status_code == 422, response.text
    assert response.json()["param"].startswith("tools")


def test_the_model_card_says_it_calls_functions(client: TestClient, tenant: Tenant) -> None:
    card = client.get(f"/v1/models/{MODEL}", headers=tenant.headers()).json()
    assert card["capabilities"]["function_calling"] is True
