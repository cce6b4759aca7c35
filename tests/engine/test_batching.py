"""Continuous batching: concurrent requests share decode steps and give the same answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from levante.engine import (
    ChatTurn,
    Finished,
    GenerationRequest,
    ModelRegistry,
    SamplingParams,
    Started,
    TextDelta,
)
from levante.engine.llamacpp import LlamaCppEngine
from levante.errors import OverloadedError
from levante.settings import embedded_model_path

GREEDY = SamplingParams(temperature=0)
QUESTIONS = [
    "What is the capital of France? Answer in one word.",
    "Name three colours.",
    "Write a haiku about the sea.",
    "What is 2 + 2?",
    "Describe a cat in one sentence.",
]


def _request(engine: LlamaCppEngine, question: str, max_tokens: int = 24) -> GenerationRequest:
    return GenerationRequest(engine.prepare_chat([ChatTurn("user", question)]), max_tokens, GREEDY)


async def _text(engine: LlamaCppEngine, request: GenerationRequest) -> tuple[str, Finished]:
    parts: list[str] = []
    async for event in engine.generate(request):
        if isinstance(event, TextDelta):
            parts.append(event.text)
        elif isinstance(event, Finished):
            return "".join(parts), event
    raise AssertionError("the stream ended without Finished")


@pytest.fixture
def engine(model_registry: ModelRegistry) -> LlamaCppEngine:
    served = model_registry.get("smollm2").engine
    assert isinstance(served, LlamaCppEngine)
    return served


def test_batched_greedy_outputs_equal_one_at_a_time(engine: LlamaCppEngine) -> None:
    requests = [_request(engine, q) for q in QUESTIONS]

    async def one_at_a_time() -> list[str]:
        return [(await _text(engine, r))[0] for r in requests]

    async def all_together() -> list[str]:
        results = await asyncio.gather(*(_text(engine, r) for r in requests))
        return [text for text, _ in results]

    alone = asyncio.run(one_at_a_time())
    together = asyncio.run(all_together())
    assert together == alone
    assert all(alone)


def test_a_long_prompt_does_not_stall_a_running_stream(engine: LlamaCppEngine) -> None:
    short = _request(engine, "Count from one to twenty in words.", max_tokens=40)
    long_prompt = "Summarise this: " + "the quick brown fox jumps over the lazy dog. " * 120
    long = _request(engine, long_prompt, max_tokens=4)

    async def run() -> list[str]:
        order: list[str] = []
        short_started = asyncio.Event()

        async def follow(name: str, request: GenerationRequest) -> None:
            async for event in engine.generate(request):
                if isinstance(event, TextDelta):
                    order.append(name)
                    short_started.set()

        task = asyncio.create_task(follow("short", short))
        await short_started.wait()
        await asyncio.gather(task, follow("long", long))
        return order

    order = asyncio.run(run())
    # The short stream kept producing while the long prompt was read in chunks.
    first_long = order.index("long")
    assert order[:first_long].count("short") >= 2


@pytest.fixture
def tiny_engine() -> Iterator[LlamaCppEngine]:
    """One sequence and room for one waiting request."""
    engine = LlamaCppEngine(
        embedded_model_path(), context_length=512, n_threads=2, parallel=1, max_pending=1
    )
    yield engine
    engine.close()


def test_a_full_queue_is_refused_at_once(tiny_engine: LlamaCppEngine) -> None:
    request = _request(tiny_engine, "Tell a long story.", max_tokens=200)

    async def run() -> None:
        first = tiny_engine.generate(request)
        assert isinstance(await anext(first), Started)
        second = tiny_engine.generate(request)
        waiting = asyncio.create_task(anext(second))
        await asyncio.sleep(0.05)
        assert tiny_engine.queue_depth == 1
        with pytest.raises(OverloadedError) as refused:
            await anext(tiny_engine.generate(request))
        assert refused.value.headers["Retry-After"] == "1"
        await first.aclose()
        assert isinstance(await waiting, Started)
        await second.aclose()

    asyncio.run(run())


def test_cancelled_requests_free_their_slot(tiny_engine: LlamaCppEngine) -> None:
    request = _request(tiny_engine, "Tell a long story.", max_tokens=400)

    async def run() -> None:
        for _ in range(3):
            stream = tiny_engine.generate(request)
            async for event in stream:
                if isinstance(event, TextDelta):
                    break
            await stream.aclose()
        _, finished = await _text(tiny_engine, _request(tiny_engine, "Hi", max_tokens=3))
        assert finished.finish_reason in ("stop", "length")

    asyncio.run(asyncio.wait_for(run(), timeout=60))


def test_prefix_cache_can_be_switched_off() -> None:
    engine = LlamaCppEngine(
        embedded_model_path(), context_length=512, n_threads=2, parallel=1, prefix_cache=False
    )
    try:
        request = _request(engine, "Name a colour.", max_tokens=2)
        for _ in range(2):
            _, finished = asyncio.run(_text(engine, request))
            assert finished.cached_tokens == 0
    finally:
        engine.close()
