"""The upstream engine against OpenAI-protocol servers started on loopback."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from levante.engine import (
    ChatTurn,
    Finished,
    GenerationRequest,
    SamplingParams,
    Started,
    TextDelta,
    ToolCall,
    ToolCalled,
    ToolSpec,
    ToolUse,
)
from levante.engine.upstream import UpstreamEngine
from levante.errors import UpstreamError
from levante.settings import ModelSettings, UpstreamSettings
from tests.engine.upstream_stub import StubUpstream


def _engine(stubs: list[StubUpstream], **extra: object) -> UpstreamEngine:
    settings = ModelSettings.model_validate(
        {
            "id": "big-model",
            "upstreams": [{"url": s.url, "model": f"served-{s.name}"} for s in stubs],
            "health_interval_seconds": 60,
            "connect_timeout_seconds": 1,
        }
        | extra
    )
    return UpstreamEngine(settings)


async def _ask(engine: UpstreamEngine, max_tokens: int = 50) -> tuple[str, Finished]:
    prompt = engine.prepare_chat([ChatTurn("user", "hi")])
    request = GenerationRequest(prompt, max_tokens, SamplingParams(temperature=0, seed=3))
    parts: list[str] = []
    events = [event async for event in engine.generate(request)]
    assert isinstance(events[0], Started)
    for event in events:
        if isinstance(event, TextDelta):
            parts.append(event.text)
    finished = events[-1]
    assert isinstance(finished, Finished)
    return "".join(parts), finished


def test_streams_text_and_takes_usage_from_the_upstream(stubs: list[StubUpstream]) -> None:
    engine = _engine(stubs[:1])
    try:
        text, finished = asyncio.run(_ask(engine))
    finally:
        engine.close()
    assert text == "hello from the upstream"
    assert (finished.prompt_tokens, finished.completion_tokens) == (11, 4)
    assert finished.finish_reason == "stop"
    sent = stubs[0].requests[0]
    assert sent["model"] == "served-a"
    assert sent["messages"] == [{"role": "user", "content": "hi"}]
    assert sent["stream"] is True
    assert sent["seed"] == 3


def test_counts_locally_when_the_upstream_sends_no_usage(stubs: list[StubUpstream]) -> None:
    stubs[0].send_usage = False
    engine = _engine(stubs[:1])
    try:
        _, finished = asyncio.run(_ask(engine))
    finally:
        engine.close()
    assert finished.completion_tokens == 4
    assert finished.prompt_tokens >= 1


def test_least_outstanding_requests_spread_the_load(stubs: list[StubUpstream]) -> None:
    for stub in stubs:
        stub.word_delay = 0.02
    engine = _engine(stubs)

    async def many() -> None:
        await asyncio.gather(*(_ask(engine) for _ in range(6)))

    try:
        asyncio.run(many())
    finally:
        engine.close()
    assert len(stubs[0].requests) == len(stubs[1].requests) == 3


def test_a_failing_replica_is_skipped_and_comes_back(stubs: list[StubUpstream]) -> None:
    stubs[0].fail_with = 503
    engine = _engine(stubs)
    try:
        for _ in range(4):
            text, _ = asyncio.run(_ask(engine))
            assert text == "hello from the upstream"
        # Tried once, then out of rotation while the others serve.
        assert len(stubs[0].requests) == 1
        assert len(stubs[1].requests) == 4
        stubs[0].fail_with = None
        with httpx.Client() as client:
            engine.probe(client)
        for _ in range(4):
            asyncio.run(_ask(engine))
        assert len(stubs[0].requests) > 1
    finally:
        engine.close()


def test_a_dead_replica_fails_over_before_the_first_byte(stubs: list[StubUpstream]) -> None:
    engine = _engine(stubs)
    try:
        stubs[0].stop()
        for _ in range(3):
            text, _ = asyncio.run(_ask(engine))
            assert text == "hello from the upstream"
    finally:
        engine.close()


def test_no_replica_left_is_an_upstream_error(stubs: list[StubUpstream]) -> None:
    for stub in stubs:
        stub.fail_with = 500
    engine = _engine(stubs)
    try:
        with pytest.raises(UpstreamError):
            asyncio.run(_ask(engine))
    finally:
        engine.close()


def test_upstream_settings_need_an_http_url() -> None:
    with pytest.raises(ValueError, match="url"):
        UpstreamSettings(url="ftp://x")


def test_a_hanging_replica_times_out_and_the_next_answers(stubs: list[StubUpstream]) -> None:
    stubs[0].answer_delay = 5
    engine = _engine(stubs, timeout_seconds=0.5)
    try:
        text, _ = asyncio.run(_ask(engine))
    finally:
        engine.close()
    assert text == "hello from the upstream"
    assert [len(s.requests) for s in stubs] in ([1, 1], [0, 1])


def test_a_stream_that_stalls_midway_is_an_upstream_error(stubs: list[StubUpstream]) -> None:
    stubs[0].word_delay = 2
    engine = _engine(stubs[:1], timeout_seconds=0.5)
    try:
        with pytest.raises(UpstreamError, match="mid-stream"):
            asyncio.run(_ask(engine))
    finally:
        engine.close()


def test_tools_pass_through_and_streamed_calls_come_back_whole(
    stubs: list[StubUpstream],
) -> None:
    stubs[0].calls = [
        {"name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"name": "get_weather", "arguments": '{"city": "Oslo"}'},
    ]
    engine = _engine(stubs[:1])
    earlier = ToolCall("abcdefghi", "get_weather", '{"city": "Rome"}')
    tool = ToolSpec("get_weather", "weather", {"type": "object", "properties": {}})
    prompt = engine.prepare_chat(
        [
            ChatTurn("user", "Rome, then Paris and Oslo?"),
            ChatTurn("assistant", "", tool_calls=(earlier,)),
            ChatTurn("tool", "sunny", tool_call_id=earlier.id, name="get_weather"),
        ],
        tools=ToolUse((tool,), choice="required", parallel=False),
    )

    async def run() -> list[object]:
        request = GenerationRequest(prompt, 50, SamplingParams(temperature=0))
        return [event async for event in engine.generate(request)]

    try:
        events = asyncio.run(run())
    finally:
        engine.close()
    calls = [e.call for e in events if isinstance(e, ToolCalled)]
    assert [(c.id, c.arguments) for c in calls] == [
        ("call_0", '{"city": "Paris"}'),
        ("call_1", '{"city": "Oslo"}'),
    ]
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.finish_reason == "tool_calls"
    sent = stubs[0].requests[0]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "weather",
                "parameters": {"type": "object", "properties": {}},
            },
        }
    ]
    assert (sent["tool_choice"], sent["parallel_tool_calls"]) == ("required", False)
    assert sent["messages"][1]["tool_calls"] == [
        {
            "id": "abcdefghi",
            "type": "function",
            "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
        }
    ]
    assert sent["messages"][2] == {
        "role": "tool",
        "content": "sunny",
        "tool_call_id": "abcdefghi",
        "name": "get_weather",
    }
