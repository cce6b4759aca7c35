"""Metering one request: whatever happens to it, exactly one usage event is written."""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from levante.engine import Engine, Finished, GenerationEvent, GenerationRequest, Started
from levante.metering import UsageEvent, UsageStatus
from levante.quota import Admission, Grant, MessageWindow
from levante.serving.observer import Observer
from levante.storage import utcnow
from levante.tenancy import Principal


@dataclass(slots=True)
class BatchLine:
    """A request that is one line of a batch job: it runs at low priority and is billed at
    the batch price, and its usage event is handed back here (``usage``) for the job to record
    with the line's answer, in one transaction, rather than queued for the ledger."""

    job_id: str
    usage: list[UsageEvent] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class RequestContext:
    """Who asked, under which request id, on which endpoint."""

    principal: Principal
    request_id: str
    endpoint: str
    product: str = "api"
    # Headers the response should carry (the rate limits admission applied), filled in here.
    response_headers: dict[str, str] = field(default_factory=dict)
    # What a chat plan adds: its message windows, the longest context it allows (below the
    # model's own), and how long an answer may be when the request does not say.
    windows: tuple[MessageWindow, ...] = ()
    max_context_tokens: int | None = None
    default_max_tokens: int | None = None
    batch: BatchLine | None = None


class MeteredRequest:
    """Counts the tokens of every generation of one request and records them once.

    A request may run several generations (``n`` choices, several prompts); counts add up.
    :meth:`finish` settles the request's admission grant with its priced usage; it is shielded
    from cancellation, so a client that disconnects mid-stream is still billed for the tokens
    the model produced, and a request that never reached a model gives its grant back.
    """

    def __init__(
        self,
        admission: Admission,
        context: RequestContext,
        *,
        model: str,
        stream: bool,
        end_user: str | None,
        metadata: dict[str, Any] | None,
        observer: Observer,
    ) -> None:
        self._admission = admission
        self.grant: Grant | None = None
        self._context = context
        self._model = model
        self.stream = stream
        self._end_user = end_user
        self._metadata = metadata
        self._observer = observer
        self._started_at = utcnow()
        self._t0 = time.perf_counter()
        self._first_token_s: float | None = None
        self._recorded = False
        self.prompt_tokens = 0
        self.completion_tokens = 0
        self.cached_tokens = 0
        self.last_finish_reason: str | None = None
        self.reached_model = False

    @property
    def first_token_ms(self) -> int | None:
        """How long the first token took, from admission (None: none came)."""
        return None if self._first_token_s is None else round(self._first_token_s * 1000)

    async def run(
        self, engine: Engine, request: GenerationRequest, *, count_prompt: bool = True
    ) -> AsyncGenerator[GenerationEvent, None]:
        """Run one generation, counting as it goes; re-yields the engine's events.

        The prompt counts once it reached the model (``Started``); a request that waited in
        the queue and was cancelled there costs nothing.
        """
        base = self.completion_tokens
        counted_prompt = request.prompt.token_count or 0
        counted_cached = 0
        events = engine.generate(request)
        async with aclosing(events):
            async for event in events:
                if isinstance(event, Started):
                    self.reached_model = True
                    if count_prompt:
                        counted_cached = event.cached_tokens
                        self.prompt_tokens += counted_prompt
                        self.cached_tokens += counted_cached
                else:
                    self.completion_tokens = base + event.completion_tokens
                    if isinstance(event, Finished):
                        self.last_finish_reason = event.finish_reason
                        if count_prompt:  # the engine's own counts are final
                            self.prompt_tokens += event.prompt_tokens - counted_prompt
                            self.cached_tokens += event.cached_tokens - counted_cached
                    elif self._first_token_s is None:
                        self._first_token_s = time.perf_counter() - self._t0
                        self._observer.first_token(self._model, self._first_token_s)
                yield event

    async def finish(self, status: UsageStatus) -> None:
        """Record the usage event (once; later calls do nothing)."""
        if self._recorded:
            return
        self._recorded = True
        grant = self.grant
        if not self.reached_model:
            if grant is not None:
                await self._admission.release(grant)
            return
        cost = (
            self._admission.price(
                grant,
                prompt=self.prompt_tokens,
                cached=self.cached_tokens,
                completion=self.completion_tokens,
            )
            if grant is not None
            else None
        )
        event = UsageEvent(
            request_id=self._context.request_id,
            organization_id=self._context.principal.organization_id,
            workspace_id=self._context.principal.workspace_id,
            api_key_id=self._context.principal.api_key_id,
            user_id=self._context.principal.user_id,
            product=self._context.product,
            endpoint=self._context.endpoint,
            model=self._model,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cached_tokens=self.cached_tokens,
            status=status,
            finish_reason=self.last_finish_reason if status is UsageStatus.COMPLETED else None,
            stream=self.stream,
            time_to_first_token_ms=(
                round(self._first_token_s * 1000) if self._first_token_s is not None else None
            ),
            duration_ms=round((time.perf_counter() - self._t0) * 1000),
            started_at=grant.started_at if grant is not None else self._started_at,
            finished_at=utcnow(),
            end_user=self._end_user,
            metadata=self._metadata,
            price_id=cost.price_id if cost else None,
            currency=cost.currency if cost else None,
            input_cost_nanos=cost.input_nanos if cost else 0,
            cached_cost_nanos=cost.cached_nanos if cost else 0,
            output_cost_nanos=cost.output_nanos if cost else 0,
            batch_job_id=self._context.batch.job_id if self._context.batch else None,
        )
        self._observer.finished(
            model=self._model,
            endpoint=self._context.endpoint,
            status=status.value,
            prompt_tokens=self.prompt_tokens,
            completion_tokens=self.completion_tokens,
            cached_tokens=self.cached_tokens,
            seconds=time.perf_counter() - self._t0,
        )
        if grant is not None:
            await self._admission.settle(grant, event)
        elif self._context.batch is None:
            await self._admission.record(event)
        if self._context.batch is not None:
            self._context.batch.usage.append(event)
