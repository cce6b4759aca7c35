"""The llama.cpp engine on the real SmolLM2 model, greedy."""

from __future__ import annotations

import time

import anyio
import pytest

from levante.engine import (
    ChatTurn,
    Finished,
    GenerationEvent,
    GenerationRequest,
    ModelRegistry,
    Prompt,
    SamplingParams,
    Started,
    TextDelta,
)
from levante.engine.llamacpp import LlamaCppEngine
from levante.errors import InvalidRequestError, ModelNotFoundError

GREEDY = SamplingParams(temperature=0, seed=1)


def _prompt(registry: ModelRegistry, question: str) -> Prompt:
    return registry.get("smollm2").engine.prepare_chat([ChatTurn("user", question)])


async def _collect(registry: ModelRegistry, request: GenerationRequest) -> list[GenerationEvent]:
    events = []
    async for event in registry.get("smollm2").engine.generate(request):
        events.append(event)
    return events


def test_chat_template_comes_from_the_gguf(model_registry: ModelRegistry) -> None:
    engine = model_registry.get("smollm2").engine
    assert isinstance(engine, LlamaCppEngine)
    text = engine.render_chat([ChatTurn("user", "Hi")])
    assert text.endswith("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")


def test_events_and_counts(model_registry: ModelRegistry) -> None:
    request = GenerationRequest(
        _prompt(model_registry, "What is the capital of France? Answer in one word."), 12, GREEDY
    )
    events = anyio.run(_collect, model_registry, request)
    assert isinstance(events[0], Started)
    finished = events[-1]
    assert isinstance(finished, Finished)
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert deltas
    assert finished.completion_tokens == deltas[-1].completion_tokens <= 12
    assert finished.prompt_tokens == request.prompt.token_count
    assert "Paris" in "".join(d.text for d in deltas)


def test_same_prompt_again_is_served_from_cache(model_registry: ModelRegistry) -> None:
    request = GenerationRequest(_prompt(model_registry, "Name a colour."), 4, GREEDY)
    anyio.run(_collect, model_registry, request)
    events = anyio.run(_collect, model_registry, request)
    finished = events[-1]
    assert isinstance(finished, Finished)
    assert finished.cached_tokens == len(request.prompt.tokens) - 1


def test_closing_the_stream_stops_generation(model_registry: ModelRegistry) -> None:
    """A client that goes away after three tokens of a 500-token answer frees its slot: the
    decode loop samples a handful more at most, not the 497 it was asked for."""
    engine = model_registry.get("smollm2").engine
    request = GenerationRequest(_prompt(model_registry, "Tell a long story."), 500, GREEDY)
    sampled_before = engine.stats.sampled

    async def take_three() -> None:
        stream = engine.generate(request)
        seen = 0
        async for event in stream:
            seen += isinstance(event, TextDelta)
            if seen == 3:
                break
        await stream.aclose()

    anyio.run(take_three)
    deadline = time.monotonic() + 30
    while not engine.idle and time.monotonic() < deadline:
        time.sleep(0.01)
    assert engine.idle, "the sequence is still running after its stream was closed"
    sampled = engine.stats.sampled - sampled_before
    assert sampled < 20, f"{sampled} tokens sampled for a stream closed after 3"
    time.sleep(0.2)
    assert engine.stats.sampled - sampled_before == sampled  # and nothing after
    # The worker is free again: a new request completes.
    events = anyio.run(
        _collect, model_registry, GenerationRequest(_prompt(model_registry, "Hi"), 2, GREEDY)
    )
    assert isinstance(events[-1], Finished)


def test_unknown_names_are_errors(model_registry: ModelRegistry) -> None:
    with pytest.raises(ModelNotFoundError):
        model_registry.get("gpt-4o")


def test_a_schema_that_cannot_be_compiled_is_rejected(model_registry: ModelRegistry) -> None:
    from levante.engine import OutputConstraint

    bad = OutputConstraint("json_schema", {"type": "object", "properties": {"a": {"$ref": "#/x"}}})
    request = GenerationRequest(_prompt(model_registry, "Hi"), 2, GREEDY, constraint=bad)
    with pytest.raises(InvalidRequestError):
        anyio.run(_collect, model_registry, request)


def test_min_tokens_holds_back_the_end_of_generation(model_registry: ModelRegistry) -> None:
    prompt = _prompt(model_registry, "What is the capital of France? Answer in one word.")
    free = anyio.run(_collect, model_registry, GenerationRequest(prompt, 40, GREEDY))
    assert isinstance(free[-1], Finished)
    assert free[-1].finish_reason == "stop"
    short = free[-1].completion_tokens
    held = anyio.run(
        _collect, model_registry, GenerationRequest(prompt, 40, GREEDY, min_tokens=short + 5)
    )
    assert isinstance(held[-1], Finished)
    assert held[-1].completion_tokens >= short + 5
