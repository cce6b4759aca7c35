"""Running a prepared request: its generations, collected or streamed, metered once.

Chat and text completions differ only in how prompts are built and how results are shaped;
both become a :class:`ServingPlan` of generations whose outcome is a sequence of
:class:`StreamItem`.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

import anyio

from levante.engine import (
    Finished,
    GenerationRequest,
    ServedModel,
    TextDelta,
    ToolCall,
    ToolCalled,
)
from levante.metering import UsageStatus
from levante.protocol import Usage
from levante.serving.metered import MeteredRequest, RequestContext


@dataclass(frozen=True, slots=True)
class Generation:
    """One choice: its index in the response, and whether its prompt is counted in usage
    (the ``n`` choices of one prompt share the prompt's tokens)."""

    index: int
    request: GenerationRequest
    counts_prompt: bool


# How much new answer text a guardrail reads at a time (with as much of what came before, for
# context): a watched answer is held back until read, so a cut answer never reaches the client.
CHECK_EVERY = 200


@dataclass(frozen=True, slots=True)
class ServingPlan:
    model: ServedModel
    generations: tuple[Generation, ...]
    meter: MeteredRequest
    context: RequestContext
    # Guardrails on the answer: True when the answer so far must be cut.
    answer_check: Callable[[str], Awaitable[bool]] | None = None


@dataclass(frozen=True, slots=True)
class ChoiceText:
    index: int
    text: str


@dataclass(frozen=True, slots=True)
class ChoiceEnd:
    index: int
    finish_reason: str


@dataclass(frozen=True, slots=True)
class ChoiceStart:
    index: int


@dataclass(frozen=True, slots=True)
class ChoiceToolCall:
    """A whole call the choice made; ``position`` is its place among the choice's calls."""

    index: int
    position: int
    call: ToolCall


StreamItem = ChoiceStart | ChoiceText | ChoiceToolCall | ChoiceEnd


@dataclass(frozen=True, slots=True)
class Choice:
    index: int
    text: str
    finish_reason: str
    tool_calls: tuple[ToolCall, ...] = field(default=())


def usage_of(meter: MeteredRequest) -> Usage:
    return Usage.of(meter.prompt_tokens, meter.completion_tokens, meter.cached_tokens)


async def stream_plan(plan: ServingPlan) -> AsyncGenerator[StreamItem, None]:
    """Yield every choice's start, text and end, in order; records usage however it ends.

    ``ChoiceStart`` comes once the model has taken the generation, so a caller that awaits the
    first item learns of a full queue before it has sent anything to its client.
    """
    status = UsageStatus.FAILED
    try:
        for generation in plan.generations:
            finish = "error"
            events = plan.meter.run(
                plan.model.engine, generation.request, count_prompt=generation.counts_prompt
            )
            async with aclosing(events):
                await anext(events)  # Started: the model has taken the generation
                yield ChoiceStart(generation.index)
                calls = 0
                said, held = "", ""  # the answer read so far; what waits to be read
                async for event in events:
                    if isinstance(event, TextDelta):
                        if plan.answer_check is None:
                            yield ChoiceText(generation.index, event.text)
                            continue
                        held += event.text
                        if len(held) < CHECK_EVERY:
                            continue
                        if await plan.answer_check(said[-CHECK_EVERY:] + held):
                            finish = "content_filter"
                            break
                        yield ChoiceText(generation.index, held)
                        said, held = said + held, ""
                    elif isinstance(event, ToolCalled):
                        yield ChoiceToolCall(generation.index, calls, event.call)
                        calls += 1
                    elif isinstance(event, Finished):
                        finish = event.finish_reason or "error"
                if held and finish != "content_filter":
                    if plan.answer_check is not None and await plan.answer_check(
                        said[-CHECK_EVERY:] + held
                    ):
                        finish = "content_filter"
                    else:
                        yield ChoiceText(generation.index, held)
            yield ChoiceEnd(generation.index, finish)
        status = UsageStatus.COMPLETED
    except anyio.get_cancelled_exc_class():
        status = UsageStatus.CANCELLED
        raise
    except GeneratorExit:
        status = UsageStatus.CANCELLED
        raise
    finally:
        await plan.meter.finish(status)


async def collect_plan(plan: ServingPlan) -> list[Choice]:
    """Run every generation to its end and return the choices."""
    texts: dict[int, list[str]] = {}
    calls: dict[int, list[ToolCall]] = {}
    finishes: dict[int, str] = {}
    items = stream_plan(plan)
    async with aclosing(items):
        async for item in items:
            if isinstance(item, ChoiceStart):
                texts[item.index] = []
                calls[item.index] = []
            elif isinstance(item, ChoiceText):
                texts[item.index].append(item.text)
            elif isinstance(item, ChoiceToolCall):
                calls[item.index].append(item.call)
            else:
                finishes[item.index] = item.finish_reason
    return [Choice(i, "".join(parts), finishes[i], tuple(calls[i])) for i, parts in texts.items()]
