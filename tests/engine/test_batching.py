"""Continuous batching: concurrent requests share decode steps and give the same answers."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import replace

import llama_cpp
import pytest

from levante.engine import (
    ChatTurn,
    Finished,
    GenerationRequest,
    ModelRegistry,
    SamplingParams,
    Started,
    TextDelta,
    llamacpp,
)
from levante.engine.llamacpp import LlamaCppEngine, choose_slot
from levante.engine.sampling import plain_greedy
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


def test_batched_greedy_outputs_equal_one_at_a_time() -> None:
    # An engine of its own: what the shared one's slots hold from earlier tests decides how
    # much of each prompt is prefilled in one batch, and a batch's size can change rounding.
    engine = LlamaCppEngine(embedded_model_path(), context_length=2048, n_threads=2, parallel=8)
    try:
        _compare_batched_with_alone(engine)
    finally:
        engine.close()


def _compare_batched_with_alone(engine: LlamaCppEngine) -> None:
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


def _record_steps(monkeypatch: pytest.MonkeyPatch) -> list[list[int]]:
    """The sequence id of each row of every decode step from now on."""
    steps: list[list[int]] = []
    decode = llama_cpp.llama_decode

    def recording(context: object, batch: llama_cpp.llama_batch) -> int:
        steps.append([batch.seq_id[i][0] for i in range(batch.n_tokens)])
        return int(decode(context, batch))

    monkeypatch.setattr(llama_cpp, "llama_decode", recording)
    return steps


def test_each_step_lists_its_sequences_in_id_order(monkeypatch: pytest.MonkeyPatch) -> None:
    """llama.cpp decodes a step over several sequences in one pass only if their ids come in
    increasing order; here the later request gets the lower id, and still goes second."""
    engine = LlamaCppEngine(embedded_model_path(), context_length=512, n_threads=2, parallel=2)
    steps = _record_steps(monkeypatch)

    async def run() -> None:
        short = asyncio.create_task(_text(engine, _request(engine, "Say hi.", max_tokens=2)))
        long = asyncio.create_task(_text(engine, _request(engine, QUESTIONS[2], max_tokens=40)))
        await short  # slot 0 is free again; the next request takes it while slot 1 runs
        await asyncio.gather(long, _text(engine, _request(engine, QUESTIONS[4], max_tokens=8)))

    try:
        asyncio.run(run())
    finally:
        engine.close()
    # The short request shares at most its first three steps; the third one shares the rest.
    assert sum(len(set(step)) == 2 for step in steps) > 4
    assert all(step == sorted(step) for step in steps)


def test_background_work_takes_half_the_slots_and_sits_out_interactive_prefill(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A batch job's lines run in at most half the slots (the top ones), and not beside
    interactive work that takes a quarter of them: an interactive request waits on them for
    the step in flight at most."""
    engine = LlamaCppEngine(embedded_model_path(), context_length=1024, n_threads=2, parallel=4)
    steps = _record_steps(monkeypatch)
    background = [
        replace(_request(engine, q, max_tokens=48), background=True) for q in QUESTIONS[:4]
    ]
    seen: dict[str, int] = {}

    async def run() -> None:
        started = asyncio.Event()

        async def follow(request: GenerationRequest) -> None:
            async for event in engine.generate(request):
                if isinstance(event, TextDelta):
                    started.set()

        batch = [asyncio.create_task(follow(r)) for r in background]
        await started.wait()
        seen["waiting"] = engine.background_depth
        long = "Summarise this: " + "the quick brown fox jumps over the lazy dog. " * 30
        before = len(steps)
        text, _ = await _text(engine, _request(engine, long, max_tokens=4))
        seen["from"], seen["to"] = before, len(steps)
        assert text
        await asyncio.gather(*batch)

    try:
        asyncio.run(asyncio.wait_for(run(), timeout=120))
    finally:
        engine.close()
    assert seen["waiting"] == 2, "two lines run, two wait"
    # Background work has the top slots (2 and 3), interactive work the others; with the
    # interactive sequence taking a quarter of the slots, no step carried both.
    during = steps[seen["from"] : seen["to"]]
    assert any(set(step) <= {0, 1} for step in during)
    assert all(set(step) <= {0, 1} or set(step) <= {2, 3} for step in during)
    assert engine.background_depth == 0


def test_an_interactive_request_that_finds_every_slot_taken_preempts_background_work() -> None:
    engine = LlamaCppEngine(embedded_model_path(), context_length=1024, n_threads=2, parallel=2)

    async def run() -> None:
        line = replace(_request(engine, QUESTIONS[2], max_tokens=200), background=True)
        stream = engine.generate(line)
        assert isinstance(await anext(stream), Started)
        busy = asyncio.create_task(_text(engine, _request(engine, QUESTIONS[4], max_tokens=60)))
        await asyncio.sleep(0.2)  # both slots taken: the line's and the first interactive one
        text, finished = await _text(engine, _request(engine, QUESTIONS[0], max_tokens=8))
        assert text
        assert finished.finish_reason in ("stop", "length")
        with pytest.raises(OverloadedError) as gave_way:
            async for _ in stream:
                pass
        assert gave_way.value.headers["Retry-After"] == "1"
        await busy

    try:
        asyncio.run(asyncio.wait_for(run(), timeout=120))
    finally:
        engine.close()


def test_a_slot_next_to_the_running_ones_wins_unless_a_cache_saves_much_more() -> None:
    template = list(range(20))  # the chat template's head: in every slot's cache
    prompt = [*template, 500, 501, 502, 503]
    near = {0: [*template, 500, 501, 502, 503, 9], 2: [*template, 7], 3: []}
    # Slot 0 holds the whole prompt (all but the last token is reused), slot 2 only the
    # template's head. With slot 1 running, either keeps one block: the longer cache wins.
    assert choose_slot(near, {1}, prompt, prefix_cache=True) == (0, 23)
    # With slots 1 and 3 running, slot 2 makes one block of 1-3; slot 0 would leave two.
    assert choose_slot(near, {1, 3}, prompt, prefix_cache=True) == (2, 20)
    # A cache that saves far more prompt than the others is worth the extra pass.
    history = [*template, *range(1000, 1200)]
    far = {0: history, 2: [*template, 7]}
    assert choose_slot(far, {1, 3}, [*history, 5], prefix_cache=True) == (0, 220)
    # Without the prefix cache only the blocks count.
    assert choose_slot(near, {1, 3}, prompt, prefix_cache=False) == (2, 0)


def test_greedy_without_the_sampler_chain_picks_the_same_tokens(
    engine: LlamaCppEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Plain greedy requests take the argmax of the logits; the sampler chain agrees."""
    requests = [_request(engine, q, max_tokens=32) for q in QUESTIONS[:3]]

    async def texts() -> list[str]:
        results = await asyncio.gather(*(_text(engine, r) for r in requests))
        return [text for text, _ in results]

    assert plain_greedy(GREEDY)
    by_argmax = asyncio.run(texts())
    monkeypatch.setattr(llamacpp, "plain_greedy", lambda *_: False)
    assert asyncio.run(texts()) == by_argmax
