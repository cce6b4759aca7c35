"""``POST /v1/chat/completions``."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request

from levante.api.disconnect import started, unless_disconnected
from levante.api.sse import EventStreamResponse
from levante.api.state import Caller, State, request_context
from levante.engine import ToolCall
from levante.protocol import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    FimCompletionRequest,
    FunctionCallOut,
    SamplingFields,
    ToolCallOut,
)
from levante.serving import (
    ChoiceEnd,
    ChoiceStart,
    ChoiceText,
    ChoiceToolCall,
    ServingPlan,
    StreamItem,
    usage_of,
)

router = APIRouter()


@router.post("/v1/chat/completions", response_model=None)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, state: State, caller: Caller
) -> ChatCompletion | EventStreamResponse:
    context = request_context(request, caller, "chat.completions")
    plan = await state.service.prepare_chat(context, body)
    return await respond(
        request, state, plan, body, "chatcmpl-" + context.request_id.removeprefix("req_")
    )


@router.post("/v1/fim/completions", response_model=None)
async def fim_completions(
    body: FimCompletionRequest, request: Request, state: State, caller: Caller
) -> ChatCompletion | EventStreamResponse:
    """Fill in the middle; answered as a chat completion, as Mistral's API does."""
    context = request_context(request, caller, "fim.completions")
    plan = await state.service.prepare_fim(context, body)
    return await respond(
        request, state, plan, body, "cmpl-" + context.request_id.removeprefix("req_")
    )


async def respond(
    request: Request, state: State, plan: ServingPlan, body: SamplingFields, completion_id: str
) -> ChatCompletion | EventStreamResponse:
    """Run a plan as a chat completion, streamed or whole."""
    created = int(time.time())
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        items = await started(request, state.service.stream(plan))
        return EventStreamResponse(_chunks(items, plan, completion_id, created, include_usage))
    choices = await unless_disconnected(request, state.service.collect(plan))
    return ChatCompletion(
        id=completion_id,
        created=created,
        model=plan.model.id,
        choices=[
            ChatChoice(
                index=c.index,
                message=AssistantMessage(
                    content=c.text,
                    tool_calls=[_call(call) for call in c.tool_calls] or None,
                ),
                finish_reason=c.finish_reason,
            )
            for c in choices
        ],
        usage=usage_of(plan.meter),
    )


async def _chunks(
    items: AsyncIterator[StreamItem],
    plan: ServingPlan,
    completion_id: str,
    created: int,
    include_usage: bool,
) -> AsyncIterator[dict[str, Any]]:
    def chunk(choice: ChatChunkChoice | None, **extra: Any) -> dict[str, Any]:
        return ChatCompletionChunk(
            id=completion_id,
            created=created,
            model=plan.model.id,
            choices=[choice] if choice is not None else [],
            **extra,
        ).model_dump(exclude_none=False)

    # Text deltas are the hot path: built as plain dicts of the same shape as the model dump.
    head = {
        "id": completion_id,
        "object": "chat.completion.chunk",
        "created": created,
        "model": plan.model.id,
    }
    last = plan.generations[-1].index
    async for item in items:
        if isinstance(item, ChoiceText):
            delta = {"role": None, "content": item.text}
            choice = {"index": item.index, "delta": delta, "finish_reason": None, "logprobs": None}
            yield head | {"choices": [choice], "usage": None}
        elif isinstance(item, ChoiceToolCall):
            # One delta per whole call, as Mistral's API streams them; OpenAI's clients put
            # together the same call from it.
            call = _call(item.call, index=item.position)
            yield chunk(ChatChunkChoice(index=item.index, delta=ChatDelta(tool_calls=[call])))
        elif isinstance(item, ChoiceStart):
            yield chunk(
                ChatChunkChoice(index=item.index, delta=ChatDelta(role="assistant", content=""))
            )
        elif isinstance(item, ChoiceEnd):
            end = ChatChunkChoice(
                index=item.index,
                delta=ChatDelta(),
                finish_reason=item.finish_reason,
            )
            # Mistral's API puts usage on the final chunk; OpenAI's clients ask for a separate
            # usage chunk with stream_options.include_usage.
            if item.index == last and not include_usage:
                yield chunk(end, usage=usage_of(plan.meter))
            else:
                yield chunk(end)
    if include_usage:
        yield chunk(None, usage=usage_of(plan.meter))


def _call(call: ToolCall, *, index: int | None = None) -> ToolCallOut:
    return ToolCallOut(
        id=call.id,
        function=FunctionCallOut(name=call.name, arguments=call.arguments),
        index=index,
    )
