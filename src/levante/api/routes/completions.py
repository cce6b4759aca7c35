"""``POST /v1/completions``: plain text completion."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request

from levante.api.disconnect import started, unless_disconnected
from levante.api.sse import EventStreamResponse
from levante.api.state import Caller, State, request_context
from levante.protocol import Completion, CompletionChoice, CompletionRequest
from levante.serving import ChoiceEnd, ChoiceText, ServingPlan, StreamItem, usage_of

router = APIRouter()


@router.post("/v1/completions", response_model=None)
async def completions(
    body: CompletionRequest, request: Request, state: State, caller: Caller
) -> Completion | EventStreamResponse:
    context = request_context(request, caller, "completions")
    plan = await state.service.prepare_completion(context, body)
    completion_id = "cmpl-" + context.request_id.removeprefix("req_")
    created = int(time.time())
    prompts = body.prompts()
    n = body.n

    def echoed(index: int) -> str:
        return prompts[index // n] if body.echo else ""

    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        items = await started(request, state.service.stream(plan))
        return EventStreamResponse(
            _chunks(items, plan, completion_id, created, include_usage, echoed)
        )
    choices = await unless_disconnected(request, state.service.collect(plan))
    return Completion(
        id=completion_id,
        created=created,
        model=plan.model.id,
        choices=[
            CompletionChoice(
                index=c.index,
                text=echoed(c.index) + c.text,
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
    echoed: Any,
) -> AsyncIterator[dict[str, Any]]:
    def chunk(choices: list[CompletionChoice], **extra: Any) -> dict[str, Any]:
        return Completion(
            id=completion_id, created=created, model=plan.model.id, choices=choices, **extra
        ).model_dump()

    last = plan.generations[-1].index
    async for item in items:
        if isinstance(item, ChoiceText):
            yield chunk([CompletionChoice(index=item.index, text=item.text, finish_reason=None)])
        elif isinstance(item, ChoiceEnd):
            end = CompletionChoice(index=item.index, text="", finish_reason=item.finish_reason)
            if item.index == last and not include_usage:
                yield chunk([end], usage=usage_of(plan.meter))
            else:
                yield chunk([end])
        elif echoed(item.index):
            yield chunk(
                [CompletionChoice(index=item.index, text=echoed(item.index), finish_reason=None)]
            )
    if include_usage:
        yield chunk([], usage=usage_of(plan.meter))
