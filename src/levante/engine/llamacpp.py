"""The llama.cpp engine: a GGUF model run by llama-cpp-python on a worker thread of its own.

Requests queue in front of the model and run one at a time, off the event loop; the KV cache
of the previous request is kept, so a request that starts with the same tokens (a shared system
prompt, the earlier turns of a conversation) skips recomputing them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import random
import threading
import time
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import llama_cpp
from jinja2.sandbox import ImmutableSandboxedEnvironment
from llama_cpp.llama_grammar import JSON_GBNF, LlamaGrammar

from levante.engine.base import (
    ChatTurn,
    EngineInfo,
    Finished,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    OutputConstraint,
    Prefilled,
    TextDelta,
)
from levante.engine.text import StopMatcher, Utf8Assembler
from levante.errors import (
    ConfigurationError,
    EngineError,
    InvalidRequestError,
    OverloadedError,
)

log = logging.getLogger(__name__)


@dataclass
class _Job:
    request: GenerationRequest
    grammar: LlamaGrammar | None
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[GenerationEvent | BaseException]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def emit(self, event: GenerationEvent | BaseException) -> None:
        try:
            self.loop.call_soon_threadsafe(self.events.put_nowait, event)
        except RuntimeError:  # the loop is closed: nobody is listening any more
            self.cancelled.set()


class LlamaCppEngine:
    """A GGUF model served through llama-cpp-python."""

    def __init__(
        self,
        path: Path,
        *,
        context_length: int,
        n_threads: int,
        n_batch: int = 512,
        max_pending: int = 64,
    ) -> None:
        if not path.is_file():
            raise ConfigurationError(f"model file '{path}' does not exist")
        self._llama = llama_cpp.Llama(
            model_path=str(path),
            n_ctx=context_length,
            n_threads=n_threads,
            n_threads_batch=n_threads,
            n_batch=n_batch,
            verbose=False,
        )
        train_ctx = int(self._llama._model.n_ctx_train())
        self._n_ctx = min(int(self._llama.n_ctx()), train_ctx) if train_ctx > 0 else context_length
        metadata: dict[str, str] = self._llama.metadata
        self._template_source = metadata.get("tokenizer.chat_template")
        self._template = _compile_template(self._template_source) if self._template_source else None
        self._add_bos = metadata.get("tokenizer.ggml.add_bos_token", "false") == "true"
        self._bos_text = self._token_text(self._llama.token_bos())
        self._eos_text = self._token_text(self._llama.token_eos())
        self._vocab = self._llama._model.vocab
        self._max_pending = max_pending
        self._jobs: queue.Queue[_Job | None] = queue.Queue()
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._worker = threading.Thread(target=self._run, name=f"llama:{path.name}", daemon=True)
        self._worker.start()

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(context_length=self._n_ctx, chat_template=self._template is not None)

    @property
    def queue_depth(self) -> int:
        return self._pending

    def render_chat(self, turns: Sequence[ChatTurn], *, continue_last: bool = False) -> str:
        if self._template is None:
            raise InvalidRequestError("this model has no chat template; use /v1/completions")
        messages = [{"role": t.role, "content": t.content} for t in turns]
        try:
            rendered: str = self._template.render(
                messages=messages,
                add_generation_prompt=not continue_last,
                bos_token=self._bos_text,
                eos_token=self._eos_text,
            )
        except _TemplateRejected as exc:
            raise InvalidRequestError(
                f"the model's chat template rejects these messages: {exc}", param="messages"
            ) from exc
        if continue_last:
            # Continue the final assistant message instead of closing it: drop everything the
            # template appended after its content.
            cut = rendered.rfind(turns[-1].content)
            if cut >= 0:
                rendered = rendered[: cut + len(turns[-1].content)]
        return rendered

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        tokens: list[int] = self._llama.tokenize(
            text.encode("utf-8"), add_bos=self._add_bos, special=special
        )
        return tokens

    def check_constraint(self, constraint: OutputConstraint) -> None:
        _grammar_for(constraint)

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        job = self._admit(request)
        try:
            while True:
                item = await job.events.get()
                if isinstance(item, BaseException):
                    raise item
                yield item
                if isinstance(item, Finished):
                    return
        finally:
            job.cancelled.set()

    def close(self) -> None:
        self._jobs.put(None)
        self._worker.join(timeout=30)
        self._llama.close()

    # -- worker side ---------------------------------------------------------------------------

    def _admit(self, request: GenerationRequest) -> _Job:
        grammar = _grammar_for(request.constraint)
        with self._pending_lock:
            if self._pending >= self._max_pending:
                raise OverloadedError(
                    "the model's queue is full; retry shortly", headers={"Retry-After": "1"}
                )
            self._pending += 1
        job = _Job(request, grammar, asyncio.get_running_loop(), asyncio.Queue())
        self._jobs.put(job)
        return job

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            with self._pending_lock:
                self._pending -= 1
            if job.cancelled.is_set():
                continue
            try:
                self._generate(job)
            except Exception as exc:  # a failing model must not kill the worker
                log.exception("generation failed")
                self._llama.reset()  # type: ignore[no-untyped-call]
                job.emit(EngineError(f"the model failed: {exc}"))

    def _generate(self, job: _Job) -> None:
        request, llama = job.request, self._llama
        prompt = list(request.prompt_tokens)
        if job.grammar is not None:
            # llama-cpp-python 0.3.x breaks grammar constraints when the prompt is resumed from
            # the KV cache (seen with SmolLM2: raw newlines inside JSON strings), so a
            # constrained request recomputes its whole prompt.
            llama.reset()  # type: ignore[no-untyped-call]
        cached = self._reusable_prefix(prompt)
        sampling = request.sampling
        llama.set_seed(sampling.seed if sampling.seed is not None else random.getrandbits(31))
        text = Utf8Assembler()
        stops = StopMatcher(request.stop)
        produced = 0
        finish: FinishReason | None = None
        previous: list[int] = []
        tokens = llama.generate(
            prompt,
            top_k=sampling.top_k,
            top_p=sampling.top_p,
            min_p=sampling.min_p,
            temp=sampling.temperature,
            repeat_penalty=sampling.repetition_penalty,
            frequency_penalty=sampling.frequency_penalty,
            presence_penalty=sampling.presence_penalty,
            grammar=job.grammar,
        )
        prefilled = False
        for token in tokens:
            if not prefilled:
                prefilled = True
                job.emit(Prefilled(cached_tokens=cached))
            if job.cancelled.is_set():
                break
            if llama_cpp.llama_vocab_is_eog(self._vocab, token):
                finish = "stop"
                break
            produced += 1
            piece = text.feed(llama.detokenize([token], prev_tokens=previous))
            previous.append(token)
            visible = stops.feed(piece)
            if visible:
                job.emit(TextDelta(visible, produced))
            if stops.stopped:
                finish = "stop"
                break
            if len(prompt) + produced >= self._n_ctx:
                finish = "model_length"
                break
            if produced >= request.max_tokens:
                finish = "length"
                break
        if job.cancelled.is_set():
            finish = None
        elif not stops.stopped:
            tail = stops.feed(text.flush())
            if stops.stopped:
                finish = "stop"
            else:
                tail += stops.flush()
            if tail:
                job.emit(TextDelta(tail, produced))
        job.emit(Finished(finish, len(prompt), produced, cached))

    def _reusable_prefix(self, prompt: list[int]) -> int:
        """How many leading prompt tokens the KV cache already holds (llama.generate reuses
        them); at least one token is always recomputed to get fresh logits."""
        llama = self._llama
        if llama.n_tokens == 0:
            return 0
        common = 0
        for a, b in zip(llama._input_ids, prompt, strict=False):
            if a != b:
                break
            common += 1
        return min(common, len(prompt) - 1)

    def _token_text(self, token: int) -> str:
        if token < 0:
            return ""
        data: bytes = self._llama.detokenize([token], special=True)
        return data.decode("utf-8", errors="replace")


class _TemplateRejected(Exception):
    pass


def _raise_exception(message: str) -> None:
    raise _TemplateRejected(message)


def _compile_template(source: str) -> Any:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: time.strftime(fmt)
    return env.from_string(source)


def _grammar_for(constraint: OutputConstraint | None) -> LlamaGrammar | None:
    if constraint is None:
        return None
    try:
        if constraint.kind == "json_object" or constraint.schema is None:
            return LlamaGrammar.from_string(JSON_GBNF, verbose=False)
        return LlamaGrammar.from_json_schema(json.dumps(constraint.schema), verbose=False)
    except Exception as exc:
        raise InvalidRequestError(
            f"the JSON schema cannot be turned into a grammar: {exc}",
            param="response_format.json_schema.schema",
        ) from exc
