"""The inference service: chat and text completions, metered, for an authenticated caller."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator, Callable, Sequence
from dataclasses import replace
from typing import Any, Protocol, TypeVar

import anyio

from levante.engine import (
    ChatTurn,
    Engine,
    GenerationRequest,
    ModelRegistry,
    Prompt,
    ServedModel,
    ToolCall,
    ToolSpec,
    ToolUse,
)
from levante.errors import InvalidRequestError, PermissionDeniedError
from levante.metering import UsageStatus
from levante.protocol import (
    ChatCompletionRequest,
    ChatMessage,
    CompletionRequest,
    EmbeddingRequest,
    FimCompletionRequest,
    NamedToolChoice,
    SamplingFields,
)
from levante.quota import Admission, Ask, Caller
from levante.serving.metered import MeteredRequest, RequestContext
from levante.serving.observer import NullObserver, Observer
from levante.serving.params import (
    check_choices,
    output_constraint,
    sampling_params,
    token_budget,
)
from levante.serving.plan import (
    Choice,
    Generation,
    ServingPlan,
    StreamItem,
    collect_plan,
    stream_plan,
)

T = TypeVar("T")


class ChatGuard(Protocol):
    """Guardrails on chat requests (levante.guardrails.ChatGuard): ``check`` reads the newest
    turns (the categories flagged; raises when one blocks), ``answer_blocked`` an answer so
    far, ``watches`` says whether any guardrail applies."""

    async def check(
        self, organization_id: str, request_id: str, texts: Sequence[str], guardrails: Any
    ) -> list[str]: ...

    async def answer_blocked(
        self, organization_id: str, request_id: str, text: str, guardrails: Any
    ) -> bool: ...

    async def watches(self, organization_id: str, guardrails: Any) -> bool: ...


# Mistral's documented guardrail prompt, prepended when a request sets ``safe_prompt``.
SAFE_PROMPT = (
    "Always assist with care, respect, and truth. Respond with utmost utility yet securely. "
    "Avoid harmful, unethical, prejudiced, or negative content. Ensure replies promote "
    "fairness and positivity."
)


class InferenceService:
    """Prepares requests (model, prompt, limits), then runs them collected or streamed."""

    def __init__(
        self,
        registry: ModelRegistry,
        admission: Admission,
        *,
        max_choices: int,
        default_max_tokens: int | None = None,
        observer: Observer | None = None,
        model_gate: Callable[[str], None] | None = None,
        guard: ChatGuard | None = None,
    ) -> None:
        self.registry = registry
        self._admission = admission
        self._max_choices = max_choices
        self._default_max_tokens = default_max_tokens
        self._observer = observer or NullObserver()
        self._model_gate = model_gate
        self._guard = guard

    async def resolve_model(self, context: RequestContext, name: str) -> ServedModel:
        """The served model for a name, if the caller's key (and the deployment's licence) may
        use it; loaded if need be."""
        if self._model_gate is not None:
            self._model_gate(name)
        model_id = self.registry.canonical_id(name)
        if not context.principal.may_use(model_id):
            raise PermissionDeniedError(
                f"this API key may not use model '{model_id}'",
                param="model",
                code="model_not_allowed",
            )
        served = self.registry.get_loaded(model_id)
        if served is None:  # loading reads a file of gigabytes: off the event loop
            served = await anyio.to_thread.run_sync(self.registry.get, model_id)
        return served

    async def prepare_chat(
        self, context: RequestContext, body: ChatCompletionRequest
    ) -> ServingPlan:
        model = await self.resolve_model(context, body.model)
        guard = self._guard
        organization = context.principal.organization_id
        if guard is not None:
            flagged = await guard.check(
                organization, context.request_id, newest_turns(body.messages), body.guardrails
            )
            if flagged:
                context.response_headers["x-levante-guardrails-flagged"] = ",".join(flagged)
        tools = tool_use(body)
        engine = model.engine
        if tools is not None:
            if body.response_format is not None and body.response_format.type != "text":
                raise InvalidRequestError(
                    "response_format and tools cannot be combined here: with tool_choice "
                    "'any' the answer is the tools' arguments, held to their schemas",
                    param="response_format",
                )
            engine.check_tools(tools)
        turns = chat_turns(body.messages, safe_prompt=body.safe_prompt)
        continue_last = body.messages[-1].role == "assistant"

        def prepare() -> Prompt:
            return engine.prepare_chat(turns, continue_last=continue_last, tools=tools)

        prompt = await _off_loop(engine, prepare)
        plan = await self._admit(self._plan(context, body, model, [prompt]))
        if guard is not None and await guard.watches(organization, body.guardrails):

            async def cut(text: str) -> bool:
                return await guard.answer_blocked(
                    organization, context.request_id, text, body.guardrails
                )

            plan = replace(plan, answer_check=cut)
        return plan

    async def prepare_completion(
        self, context: RequestContext, body: CompletionRequest
    ) -> ServingPlan:
        model = await self.resolve_model(context, body.model)
        if any(not text for text in body.prompts()):
            raise InvalidRequestError("a prompt must not be empty", param="prompt")
        engine = model.engine

        def prepare() -> list[Prompt]:
            return [engine.prepare_text(text) for text in body.prompts()]

        prompts = await _off_loop(engine, prepare)
        return await self._admit(self._plan(context, body, model, prompts))

    async def prepare_fim(self, context: RequestContext, body: FimCompletionRequest) -> ServingPlan:
        model = await self.resolve_model(context, body.model)
        engine = model.engine

        def prepare() -> Prompt:
            return engine.prepare_fim(body.prompt, body.suffix)

        prompt = await _off_loop(engine, prepare)
        return await self._admit(
            self._plan(context, body, model, [prompt], min_tokens=body.min_tokens)
        )

    async def embed(
        self, context: RequestContext, body: EmbeddingRequest
    ) -> tuple[str, list[list[float]], int]:
        """Embed the request's texts and meter them: (model id, vectors, prompt tokens)."""
        model = await self.resolve_model(context, body.model)
        if any(not text for text in body.texts()):
            raise InvalidRequestError("an input must not be empty", param="input")
        meter = MeteredRequest(
            self._admission,
            context,
            model=model.id,
            stream=False,
            end_user=body.user,
            metadata=None,
            observer=self._observer,
        )
        texts = body.texts()
        estimate = sum(_upper_bound_tokens(text) for text in texts)
        meter.grant = await self._admission.admit(
            _ask(context, model.id, stream=False, prompt=estimate, completion=0)
        )
        context.response_headers.update(meter.grant.headers)
        try:
            vectors, tokens = await anyio.to_thread.run_sync(model.engine.embed, texts)
        except BaseException:
            await meter.finish(UsageStatus.FAILED)
            raise
        meter.reached_model = True
        meter.prompt_tokens = tokens
        await meter.finish(UsageStatus.COMPLETED)
        return model.id, vectors, tokens

    async def collect(self, plan: ServingPlan) -> list[Choice]:
        return await collect_plan(plan)

    def stream(self, plan: ServingPlan) -> AsyncGenerator[StreamItem, None]:
        return stream_plan(plan)

    def _plan(
        self,
        context: RequestContext,
        body: SamplingFields,
        model: ServedModel,
        prompts: Sequence[Prompt],
        *,
        min_tokens: int = 0,
    ) -> ServingPlan:
        check_choices(body, self._max_choices)
        info = model.engine.info
        constraint = output_constraint(body)
        if constraint is not None:
            model.engine.check_constraint(constraint)
        generations = []
        for p, prompt in enumerate(prompts):
            budget = token_budget(
                body,
                model=model.id,
                prompt_tokens=prompt.token_count,
                info=info,
                default_max_tokens=context.default_max_tokens or self._default_max_tokens,
                max_context_tokens=context.max_context_tokens,
            )
            for choice in range(body.n):
                request = GenerationRequest(
                    prompt=prompt,
                    max_tokens=budget,
                    sampling=sampling_params(body, choice),
                    stop=body.stop_list(),
                    constraint=constraint,
                    min_tokens=min(min_tokens, budget),
                    background=context.batch is not None,
                )
                generations.append(Generation(p * body.n + choice, request, choice == 0))
        meter = MeteredRequest(
            self._admission,
            context,
            model=model.id,
            stream=body.stream,
            end_user=body.user,
            metadata=dict(body.metadata) if body.metadata else None,
            observer=self._observer,
        )
        return ServingPlan(model, tuple(generations), meter, context)

    async def _admit(self, plan: ServingPlan) -> ServingPlan:
        """Reserve the plan's worst case (every prompt, every choice at ``max_tokens``)."""
        prompt = sum(_prompt_bound(g.request.prompt) for g in plan.generations if g.counts_prompt)
        completion = sum(g.request.max_tokens for g in plan.generations)
        plan.meter.grant = await self._admission.admit(
            _ask(
                plan.context,
                plan.model.id,
                stream=plan.meter.stream,
                prompt=prompt,
                completion=completion,
            )
        )
        plan.context.response_headers.update(plan.meter.grant.headers)
        return plan


async def _off_loop(engine: Engine, prepare: Callable[[], T]) -> T:
    """Run a prompt's preparation in the thread pool where it tokenizes (a long prompt takes
    milliseconds); an engine that only arranges text does it in place."""
    if engine.info.tokenizes_locally:
        return await anyio.to_thread.run_sync(prepare)
    return prepare()


def _upper_bound_tokens(text: str) -> int:
    """At most one token per byte, plus room for special tokens: a safe worst case where the
    engine cannot count before running (upstream servers)."""
    return len(text.encode("utf-8")) + 8


def _prompt_bound(prompt: Prompt) -> int:
    """The prompt's tokens, or at most as many as it has bytes where the engine cannot count:
    the messages, the calls they carry and the tools' definitions."""
    if prompt.token_count is not None:
        return prompt.token_count
    if prompt.text is not None:
        return _upper_bound_tokens(prompt.text)
    parts = [t.content for t in prompt.turns]
    parts += [c.name + c.arguments for t in prompt.turns for c in t.tool_calls]
    if prompt.tools is not None:
        parts += [json.dumps([t.name, t.description, t.parameters]) for t in prompt.tools.tools]
    return _upper_bound_tokens("".join(parts)) + 8 * len(prompt.turns)


def _ask(context: RequestContext, model: str, *, stream: bool, prompt: int, completion: int) -> Ask:
    principal = context.principal
    return Ask(
        request_id=context.request_id,
        caller=Caller(
            principal.organization_id,
            principal.workspace_id,
            principal.api_key_id,
            principal.user_id,
        ),
        model=model,
        product=context.product,
        endpoint=context.endpoint,
        stream=stream,
        prompt_tokens=prompt,
        max_completion_tokens=completion,
        windows=context.windows,
        batch=context.batch is not None,
    )


def tool_use(body: ChatCompletionRequest) -> ToolUse | None:
    """The request's tools and how they must be used; None when the model is not to call
    any (no tools, or ``tool_choice: "none"``). Mistral's ``any`` and OpenAI's ``required``
    are one choice."""
    names = [t.function.name for t in body.tools or ()]
    choice = body.tool_choice
    if len(set(names)) != len(names):
        raise InvalidRequestError("two tools have the same name", param="tools")
    if isinstance(choice, NamedToolChoice) and choice.function.name not in names:
        raise InvalidRequestError(
            f"tool_choice names the function '{choice.function.name}', which is not among "
            "the request's tools",
            param="tool_choice",
        )
    if choice in ("any", "required") and not names:
        raise InvalidRequestError(f"tool_choice '{choice}' needs 'tools'", param="tool_choice")
    if not names or choice == "none":
        return None
    specs = tuple(
        ToolSpec(t.function.name, t.function.description, t.function.parameters)
        for t in body.tools or ()
    )
    return ToolUse(
        specs,
        choice="required" if choice in ("any", "required") else "auto",
        function=choice.function.name if isinstance(choice, NamedToolChoice) else None,
        parallel=body.parallel_tool_calls,
    )


def newest_turns(messages: Sequence[ChatMessage]) -> list[str]:
    """What a guardrail reads of a conversation: the turns since the last answer (earlier
    ones were read when they were new)."""
    since = max((i for i, m in enumerate(messages) if m.role == "assistant"), default=-1)
    return [m.text() for m in messages[since + 1 :] if m.text()]


def chat_turns(messages: Sequence[ChatMessage], *, safe_prompt: bool) -> list[ChatTurn]:
    """The conversation as the template sees it; OpenAI's ``developer`` role is a system turn."""
    turns = [
        ChatTurn(
            "system" if m.role == "developer" else m.role,
            m.text(),
            tool_calls=tuple(
                ToolCall(c.id, c.function.name, c.function.arguments_text())
                for c in m.tool_calls or ()
            ),
            tool_call_id=m.tool_call_id,
            name=m.name if m.role == "tool" else None,
        )
        for m in messages
    ]
    if safe_prompt:
        if turns and turns[0].role == "system":
            turns[0] = ChatTurn("system", f"{SAFE_PROMPT}\n\n{turns[0].content}")
        else:
            turns.insert(0, ChatTurn("system", SAFE_PROMPT))
    return turns
