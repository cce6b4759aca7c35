"""Function calling through real clients against a live Levante: the ``openai`` and
``mistralai`` SDKs (a two-step weather exchange, streamed and not) and LangChain's chat
models (``bind_tools``, ``with_structured_output``), unchanged but for the base URL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import openai
import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_mistralai import ChatMistralAI
from langchain_openai import ChatOpenAI
from mistralai.client import Mistral
from mistralai.client.models import AssistantMessage, Function, Tool, ToolCall, UserMessage
from mistralai.client.models import ToolMessage as MistralToolMessage
from openai.types.chat import ChatCompletionFunctionToolParam, ChatCompletionMessageParam
from pydantic import BaseModel, Field, SecretStr

from tests.helpers import MODEL, Tenant

PARAMETERS: dict[str, Any] = {
    "type": "object",
    "properties": {
        "city": {"type": "string", "description": "the city's name"},
        "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
    },
    "required": ["city"],
}
WEATHER: ChatCompletionFunctionToolParam = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city",
        "parameters": PARAMETERS,
    },
}
MISTRAL_WEATHER = Tool(
    function=Function(
        name="get_weather", description="The current weather in a city", parameters=PARAMETERS
    )
)
QUESTION = "What is the weather in Paris?"
RESULT = json.dumps({"city": "Paris", "temperature": 21, "sky": "sunny"})


def _arguments(raw: str | dict[str, Any]) -> dict[str, Any]:
    arguments: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else raw
    jsonschema.validate(arguments, PARAMETERS)
    return arguments


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """SQLite only: the clients exercise the API's shapes, which no database changes (the
    tool requests' metering runs on both in tests/api/test_tools.py)."""
    return f"sqlite:///{tmp_path / 'levante.db'}"


@pytest.fixture
def client(live_url: str, tenant: Tenant) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key=tenant.key)


@pytest.fixture
def mistral(live_url: str, tenant: Tenant) -> Mistral:
    return Mistral(api_key=tenant.key, server_url=live_url)


def test_openai_two_step_exchange(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        tools=[WEATHER],
        tool_choice="required",
        temperature=0,
        max_tokens=100,
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "get_weather"
    assert _arguments(call.function.arguments)["city"] == "Paris"

    history: list[ChatCompletionMessageParam] = [
        {"role": "user", "content": QUESTION},
        {
            "role": "assistant",
            "content": choice.message.content,
            "tool_calls": [
                {
                    "id": call.id,
                    "type": "function",
                    "function": {"name": call.function.name, "arguments": call.function.arguments},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call.id, "content": RESULT},
    ]
    second = client.chat.completions.create(
        model=MODEL,
        messages=history,
        tools=[WEATHER],
        temperature=0,
        max_tokens=60,
    )
    answer = second.choices[0]
    assert answer.finish_reason in ("stop", "length", "tool_calls")
    assert second.usage is not None
    assert first.usage is not None
    assert second.usage.prompt_tokens > first.usage.prompt_tokens


def test_openai_streamed_calls(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": QUESTION}],
        tools=[WEATHER],
        tool_choice={"type": "function", "function": {"name": "get_weather"}},
        parallel_tool_calls=False,
        temperature=0,
        max_tokens=100,
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    finish = None
    usage = None
    for chunk in stream:
        if chunk.usage is not None:
            usage = chunk.usage
        for choice in chunk.choices:
            for delta in choice.delta.tool_calls or ():
                call = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                call["id"] += delta.id or ""
                assert delta.function is not None
                call["name"] += delta.function.name or ""
                call["arguments"] += delta.function.arguments or ""
            finish = choice.finish_reason or finish
    [call] = calls.values()
    assert call["name"] == "get_weather"
    assert call["id"]
    assert _arguments(call["arguments"])["city"] == "Paris"
    assert finish == "tool_calls"
    assert usage is not None
    assert usage.completion_tokens > 0


def test_mistral_two_step_exchange(mistral: Mistral) -> None:
    first = mistral.chat.complete(
        model=MODEL,
        messages=[UserMessage(content=QUESTION)],
        tools=[MISTRAL_WEATHER],
        tool_choice="any",
        temperature=0,
        max_tokens=100,
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    message = choice.message
    assert message is not None
    assert message.tool_calls
    call = message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert _arguments(call.function.arguments)["city"] == "Paris"

    history: list[UserMessage | AssistantMessage | MistralToolMessage] = [
        UserMessage(content=QUESTION),
        AssistantMessage(content=message.content, tool_calls=message.tool_calls),
        MistralToolMessage(name="get_weather", content=RESULT, tool_call_id=call.id),
    ]
    second = mistral.chat.complete(
        model=MODEL,
        messages=history,
        tools=[MISTRAL_WEATHER],
        temperature=0,
        max_tokens=60,
    )
    assert second.choices[0].finish_reason in ("stop", "length", "tool_calls")
    assert (second.usage.prompt_tokens or 0) > (first.usage.prompt_tokens or 0)


def test_mistral_streamed_calls(mistral: Mistral) -> None:
    calls: list[ToolCall] = []
    finish = None
    for event in mistral.chat.stream(
        model=MODEL,
        messages=[UserMessage(content=QUESTION)],
        tools=[MISTRAL_WEATHER],
        tool_choice="any",
        temperature=0,
        max_tokens=100,
    ):
        for choice in event.data.choices:
            calls += choice.delta.tool_calls or []
            finish = choice.finish_reason or finish
    assert calls
    assert finish == "tool_calls"
    for call in calls:
        assert call.function.name == "get_weather"
        _arguments(call.function.arguments)


class Weather(BaseModel):
    """The weather a user asks about."""

    city: str = Field(description="the city's name")
    unit: str = Field(default="celsius", description="celsius or fahrenheit")


def _langchain_exchange(model: Any) -> None:
    bound = model.bind_tools([Weather], tool_choice="any")
    first = bound.invoke([HumanMessage(QUESTION)])
    assert isinstance(first, AIMessage)
    assert first.tool_calls
    call = first.tool_calls[0]
    assert call["name"] == "Weather"
    assert call["args"]["city"] == "Paris"
    second = model.bind_tools([Weather]).invoke(
        [HumanMessage(QUESTION), first, ToolMessage(RESULT, tool_call_id=call["id"])]
    )
    assert isinstance(second, AIMessage)


def _langchain_structured(model: Any, method: str) -> None:
    structured = model.with_structured_output(Weather, method=method)
    weather = structured.invoke("What is the weather in Paris, in celsius?")
    assert isinstance(weather, Weather)
    assert weather.city


def test_langchain_chat_openai(live_url: str, tenant: Tenant) -> None:
    model = ChatOpenAI(
        model=MODEL,
        base_url=f"{live_url}/v1",
        api_key=SecretStr(tenant.key),
        temperature=0,
        max_completion_tokens=100,
    )
    _langchain_exchange(model)
    for method in ("function_calling", "json_schema"):
        _langchain_structured(model, method)


def test_langchain_chat_mistralai(live_url: str, tenant: Tenant) -> None:
    model = ChatMistralAI(
        model_name=MODEL,
        endpoint=f"{live_url}/v1",
        api_key=SecretStr(tenant.key),
        temperature=0,
        max_tokens=100,
    )
    _langchain_exchange(model)
    _langchain_structured(model, "function_calling")
