"""The llama.cpp engine: continuous batching over llama.cpp's batch API.

One decode loop per model runs on a thread of its own. Every step builds one ``llama_batch``
holding the next token of every decoding sequence plus a chunk of the prompts still being
read (chunked prefill), calls ``llama_decode`` once, and samples each sequence's next token
from its own sampler chain (or, for plain greedy requests, takes the argmax of its logits).
Requests join and leave between steps.

Background requests (a batch job's lines) take only what interactive requests leave: at most
half the slots (the top ones), none while an interactive request waits, and one gives its
slot up (its caller gets a 503 to run it again) when an interactive request finds every slot
taken; they sit out every step that reads an interactive prompt or that carries interactive
sequences in a quarter of the slots or more. An interactive request's first token waits on
them for at most the step in flight, and under steady interactive load not at all.

Each of the ``parallel`` sequence slots keeps the KV cache of the last request it served; a
new request goes to a free slot whose cache shares the longest prefix with its prompt (or
nearly, if another keeps the running sequences in one block: see ``choose_slot``), and only
the rest of the prompt is computed (``Started.cached_tokens``).
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import queue
import threading
import time
from collections import deque
from collections.abc import AsyncGenerator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from pathlib import Path

import llama_cpp
import numpy
from llama_cpp._internals import LlamaContext, LlamaModel, LlamaSampler
from llama_cpp.llama_grammar import LlamaGrammar

from levante.engine.base import (
    ChatTurn,
    DecodeStats,
    EngineInfo,
    Finished,
    FinishReason,
    GenerationEvent,
    GenerationRequest,
    OutputConstraint,
    Prompt,
    Started,
    TextDelta,
    ToolCall,
    ToolCalled,
    ToolUse,
)
from levante.engine.embedding import Embedder
from levante.engine.sampling import (
    GrammarSampler,
    build_sampler,
    compile_grammar,
    plain_greedy,
    tool_grammar,
    unban,
)
from levante.engine.template import ChatTemplate
from levante.engine.text import StopMatcher, Utf8Assembler
from levante.engine.tools import CallParser, plain_turns
from levante.engine.vocab import Vocabulary
from levante.errors import ConfigurationError, EngineError, InvalidRequestError, OverloadedError

log = logging.getLogger(__name__)

# Prompt tokens a slot's cache must save over another free slot's to be chosen even though
# it splits the running sequences into more blocks (see ``choose_slot``).
_SLOT_REUSE_TOLERANCE = 64
# The prompt tokens a background request reads per step while interactive ones decode: its
# prefill is spread thin rather than stretching their steps.
_BACKGROUND_CHUNK = 8


@llama_cpp.llama_log_callback  # type: ignore[untyped-decorator]
def _llama_log(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    """llama.cpp's log lines, into Python logging. Its levels are ggml's current ones (1 debug,
    2 info, 3 warning, 4 error, 5 continuation); llama-cpp-python's own callback still maps an
    older enum and prints every info line as a warning."""
    if level in (3, 4):
        message = text.decode("utf-8", errors="replace").rstrip()
        if message:
            log.log(logging.WARNING if level == 3 else logging.ERROR, "llama.cpp: %s", message)


llama_cpp.llama_log_set(_llama_log, ctypes.c_void_p(0))


@dataclass
class _Job:
    """A request on its way through the engine, and the channel back to its caller."""

    request: GenerationRequest
    grammar: LlamaGrammar | None
    loop: asyncio.AbstractEventLoop
    events: asyncio.Queue[GenerationEvent | BaseException]
    cancelled: threading.Event = field(default_factory=threading.Event)
    triggers: tuple[str, ...] = ()  # the grammar is lazy: it starts where one matches


_Item = tuple[_Job, GenerationEvent | BaseException]


class _Outbox:
    """Events of one decode step, handed to the event loops in one call per loop: waking a
    loop once per step rather than once per token keeps the HTTP side cheap under load."""

    def __init__(self) -> None:
        self._items: list[_Item] = []

    def put(self, job: _Job, event: GenerationEvent | BaseException) -> None:
        self._items.append((job, event))

    def flush(self) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[_Item]] = {}
        for job, event in self._items:
            by_loop.setdefault(job.loop, []).append((job, event))
        self._items.clear()
        for loop, items in by_loop.items():
            try:
                loop.call_soon_threadsafe(_deliver, items)
            except RuntimeError:  # the caller's loop is closed: nobody is listening any more
                for job, _ in items:
                    job.cancelled.set()


def _deliver(items: list[_Item]) -> None:
    for job, event in items:
        job.events.put_nowait(event)


@dataclass
class _Slot:
    """A KV-cache sequence. ``tokens`` are the tokens whose keys and values it holds."""

    seq_id: int
    tokens: list[int] = field(default_factory=list)


@dataclass
class _Sequence:
    """A request running in a slot."""

    job: _Job
    slot: _Slot
    sampler: LlamaSampler
    grammar: GrammarSampler | None  # the output's grammar, checked beside the sampler
    prompt_tokens: int
    cached_tokens: int
    pending: deque[int]  # prompt tokens not yet decoded
    argmax: bool  # the sampler chain only takes the likeliest token (see ``plain_greedy``)
    next_token: int | None = None  # sampled, to be fed back in the next step
    produced: int = 0
    text: Utf8Assembler = field(default_factory=Utf8Assembler)
    stops: StopMatcher = field(default_factory=lambda: StopMatcher(()))
    calls: CallParser | None = None  # reads the calls out of the text, when there are tools


class LlamaCppEngine:
    """A GGUF model served with continuous batching."""

    def __init__(
        self,
        path: Path,
        *,
        context_length: int,
        n_threads: int,
        n_batch: int = 512,
        parallel: int = 8,
        max_pending: int = 64,
        prefix_cache: bool = True,
    ) -> None:
        if not path.is_file():
            raise ConfigurationError(f"model file '{path}' does not exist")
        params = llama_cpp.llama_model_default_params()
        self._model = LlamaModel(path_model=str(path), params=params, verbose=False)
        train_ctx = self._model.n_ctx_train()
        self._n_ctx = min(context_length, train_ctx) if train_ctx > 0 else context_length
        self._context = LlamaContext(
            model=self._model,
            params=_context_params(self._n_ctx, parallel, n_batch, n_threads),
            verbose=False,
        )
        self._memory = self._context.memory
        self._n_batch = n_batch
        self._batch = llama_cpp.llama_batch_init(n_batch, 0, 1)
        self._vocab = Vocabulary(self._model)
        self._n_vocab = self._model.n_vocab()
        metadata = self._model.metadata()
        template = metadata.get("tokenizer.chat_template")
        self._template = (
            ChatTemplate(
                template,
                bos_token=self._vocab.text(self._vocab.bos),
                eos_token=self._vocab.text(self._vocab.eos),
            )
            if template
            else None
        )
        self._add_bos = self._model.add_bos_token()
        self._embedder = Embedder(self._model, context_length=self._n_ctx, n_threads=n_threads)
        self._slots = [_Slot(seq_id=i) for i in range(parallel)]
        self._max_pending = max_pending
        self._prefix_cache = prefix_cache
        self._waiting: queue.Queue[_Job] = queue.Queue()
        self._background: queue.Queue[_Job] = queue.Queue()
        self._background_slots = max(1, parallel // 2)
        # The slots background work may take: the top ``_background_slots``.
        self._background_region = frozenset(range(parallel - self._background_slots, parallel))
        self._wake = threading.Event()
        self._pending = 0  # interactive requests waiting for a slot
        self._pending_background = 0
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._outbox = _Outbox()
        self.stats = DecodeStats()
        self._worker = threading.Thread(target=self._run, name=f"llama:{path.name}", daemon=True)
        self._worker.start()

    # -- the Engine interface ------------------------------------------------------------------

    @property
    def info(self) -> EngineInfo:
        return EngineInfo(
            context_length=self._n_ctx,
            chat_template=self._template is not None,
            fill_in_the_middle=self._vocab.fim is not None,
        )

    @property
    def queue_depth(self) -> int:
        return self._pending

    @property
    def background_depth(self) -> int:
        """Background requests waiting for a slot."""
        return self._pending_background

    @property
    def idle(self) -> bool:
        return self._pending == 0 and self._pending_background == 0 and self.stats.active == 0

    def render_chat(
        self,
        turns: Sequence[ChatTurn],
        *,
        continue_last: bool = False,
        tools: ToolUse | None = None,
    ) -> str:
        template = self._template
        if template is None:
            raise InvalidRequestError("this model has no chat template; use /v1/completions")
        if template.renders_tools:
            return template.render(turns, continue_last=continue_last, tools=tools)
        return template.render(plain_turns(turns, tools), continue_last=continue_last)

    def prepare_chat(
        self,
        turns: Sequence[ChatTurn],
        *,
        continue_last: bool = False,
        tools: ToolUse | None = None,
    ) -> Prompt:
        text = self.render_chat(turns, continue_last=continue_last, tools=tools)
        tokens = self.tokenize(text)
        return Prompt(token_count=len(tokens), tokens=tuple(tokens), tools=tools)

    def prepare_text(self, text: str) -> Prompt:
        tokens = self.tokenize(text, special=False)
        return Prompt(token_count=len(tokens), tokens=tuple(tokens))

    def prepare_fim(self, prefix: str, suffix: str) -> Prompt:
        if self._vocab.fim is None:
            raise InvalidRequestError(
                "this model has no fill-in-the-middle tokens; use /v1/chat/completions",
                param="model",
                code="fim_not_supported",
            )
        pre, suf, mid = self._vocab.fim
        head = [self._vocab.bos] if self._add_bos else []
        encode = self._model.tokenize
        tokens = [
            *head,
            pre,
            *encode(prefix.encode("utf-8"), False, False),
            suf,
            *encode(suffix.encode("utf-8"), False, False),
            mid,
        ]
        return Prompt(token_count=len(tokens), tokens=tuple(tokens))

    def tokenize(self, text: str, *, special: bool = True) -> list[int]:
        tokens: list[int] = self._model.tokenize(
            text.encode("utf-8"), add_bos=self._add_bos, special=special
        )
        return tokens

    def check_constraint(self, constraint: OutputConstraint) -> None:
        compile_grammar(constraint)

    def check_tools(self, tools: ToolUse) -> None:
        tool_grammar(tools)

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        token_lists = [self.tokenize(text, special=False) for text in texts]
        vectors = self._embedder.embed(token_lists)
        return vectors, sum(len(t) for t in token_lists)

    async def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        if not request.prompt.tokens:
            raise InvalidRequestError("the prompt is empty", param="prompt")
        tools = request.prompt.tools
        if tools is not None:
            grammar, triggers = tool_grammar(tools)
            job = _Job(
                request, grammar, asyncio.get_running_loop(), asyncio.Queue(), triggers=triggers
            )
        else:
            job = _Job(
                request,
                compile_grammar(request.constraint),
                asyncio.get_running_loop(),
                asyncio.Queue(),
            )
        background = request.background
        with self._lock:
            if background:
                self._pending_background += 1
            elif self._pending >= self._max_pending:
                raise OverloadedError(
                    "the model's queue is full; retry shortly", headers={"Retry-After": "1"}
                )
            else:
                self._pending += 1
        (self._background if background else self._waiting).put(job)
        self._wake.set()
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
        self._stopping.set()
        self._worker.join(timeout=30)
        llama_cpp.llama_batch_free(self._batch)
        self._embedder.close()
        self._context.close()
        self._model.close()

    # -- the decode loop (worker thread) -------------------------------------------------------

    def _run(self) -> None:
        running: list[_Sequence] = []
        while not self._stopping.is_set():
            self._admit(running, block=not running)
            running = [s for s in running if not self._drop_if_cancelled(s)]
            self.stats.active = len(running)
            self._outbox.flush()
            if not running:
                continue
            try:
                self._step(running)
            except Exception as exc:  # a failing step must not kill the loop
                log.exception("decode step failed")
                for sequence in running:
                    # The slot's cache no longer matches its token list: empty both.
                    llama_cpp.llama_memory_seq_rm(self._memory, sequence.slot.seq_id, 0, -1)
                    sequence.slot.tokens.clear()
                    self._release(sequence)
                    self._outbox.put(sequence.job, EngineError(f"the model failed: {exc}"))
                running = []
                continue
            running = [s for s in running if not self._finished(s)]
            self.stats.active = len(running)
            self._outbox.flush()

    def _admit(self, running: list[_Sequence], *, block: bool) -> None:
        """Move waiting jobs into free slots: interactive ones first; background ones while
        none waits and at most ``_background_slots`` of them run."""
        if block:
            self._wake.wait(0.1)
            self._wake.clear()
        while len(running) < len(self._slots) or self._preempt(running):
            job = self._next_job(running)
            if job is None:
                return
            if job.cancelled.is_set():
                continue
            running.append(self._start(job, running))

    def _preempt(self, running: list[_Sequence]) -> bool:
        """Make room for a waiting interactive request when every slot is taken: the
        background sequence that has produced least gives way (its caller gets a 503 and runs
        it again later; its slot keeps the prompt's cache)."""
        if self._waiting.empty():
            return False
        background = [s for s in running if s.job.request.background]
        if not background:
            return False
        victim = min(background, key=lambda s: s.produced)
        running.remove(victim)
        self._release(victim)
        self._outbox.put(
            victim.job,
            OverloadedError(
                "the request gave way to interactive work; run it again",
                headers={"Retry-After": "1"},
            ),
        )
        return True

    def _next_job(self, running: list[_Sequence]) -> _Job | None:
        try:
            job = self._waiting.get_nowait()
        except queue.Empty:
            pass
        else:
            with self._lock:
                self._pending -= 1
            return job
        if sum(1 for s in running if s.job.request.background) >= self._background_slots:
            return None
        taken = {s.slot.seq_id for s in running}
        if all(seq_id in taken for seq_id in self._background_region):
            return None
        try:
            job = self._background.get_nowait()
        except queue.Empty:
            return None
        with self._lock:
            self._pending_background -= 1
        return job

    def _start(self, job: _Job, running: list[_Sequence]) -> _Sequence:
        prompt = list(job.request.prompt.tokens)
        taken = {s.slot.seq_id for s in running}
        # Background work lives in the top slots and interactive work below it, so a step
        # that leaves background sequences out still runs over consecutive ids (one pass).
        region = self._background_region
        background = job.request.background
        free = {
            slot.seq_id: slot.tokens
            for slot in self._slots
            if slot.seq_id not in taken and (not background or slot.seq_id in region)
        }
        busy = {s.slot.seq_id for s in running if s.job.request.background == background}
        seq_id, reuse = choose_slot(
            free, busy, prompt, prefix_cache=self._prefix_cache,
            avoid=frozenset() if background else region,
        )  # fmt: skip
        slot = self._slots[seq_id]
        llama_cpp.llama_memory_seq_rm(self._memory, slot.seq_id, reuse, -1)
        del slot.tokens[reuse:]
        sequence = _Sequence(
            job=job,
            slot=slot,
            sampler=build_sampler(
                self._model,
                job.request.sampling,
                banned=self._vocab.end_of_generation if job.request.min_tokens > 0 else (),
            ),
            grammar=(
                GrammarSampler(self._model, job.grammar, job.triggers)
                if job.grammar is not None
                else None
            ),
            prompt_tokens=len(prompt),
            cached_tokens=reuse,
            pending=deque(prompt[reuse:]),
            argmax=job.grammar is None and plain_greedy(job.request.sampling),
            stops=StopMatcher(job.request.stop),
            calls=CallParser() if job.request.prompt.tools is not None else None,
        )
        self._outbox.put(job, Started(cached_tokens=reuse))
        return sequence

    def _step(self, running: list[_Sequence]) -> None:
        """One llama_decode over every running sequence; then sample where logits came out."""
        interactive = [s for s in running if not s.job.request.background]
        if len(interactive) < len(running):
            running = interactive + self._background_share(running, interactive)
        # Decoding sequences get one token each, so a long prompt never stalls them; prompts
        # share what room is left, first come first served (``running`` is in arrival order).
        room = self._n_batch - sum(1 for s in running if s.next_token is not None)
        chunk: dict[int, int] = {}
        for sequence in running:
            take = min(len(sequence.pending), room)
            if sequence.job.request.background and interactive:
                take = min(take, _BACKGROUND_CHUNK)
            chunk[sequence.slot.seq_id] = take
            room -= take
        # Rows go in by sequence id. llama.cpp decodes a batch spanning several KV streams in
        # one pass only when its sequences come in increasing, consecutive ids; in any other
        # order it splits the step into several passes over the weights.
        batch = self._batch
        batch.n_tokens = 0
        sampled: list[tuple[_Sequence, int]] = []
        for sequence in sorted(running, key=_by_seq_id):
            if sequence.next_token is not None:
                row = self._add(sequence.slot, sequence.next_token, logits=True)
                sequence.next_token = None
                sampled.append((sequence, row))
            for _ in range(chunk[sequence.slot.seq_id]):
                token = sequence.pending.popleft()
                row = self._add(sequence.slot, token, logits=not sequence.pending)
                if not sequence.pending:
                    sampled.append((sequence, row))
        started = time.perf_counter()
        status = llama_cpp.llama_decode(self._context.ctx, batch)
        self.stats.seconds += time.perf_counter() - started
        self.stats.steps += 1
        self.stats.tokens += batch.n_tokens
        self.stats.sampled += len(sampled)
        if status != 0:
            raise EngineError(f"llama_decode failed with status {status}")
        for sequence, row in sampled:
            if sequence.argmax and sequence.produced >= sequence.job.request.min_tokens:
                # The chain would copy the whole vocabulary into a candidate list to find the
                # same token: a sixth of a millisecond per sequence and step.
                logits = llama_cpp.llama_get_logits_ith(self._context.ctx, row)
                token = int(numpy.ctypeslib.as_array(logits, shape=(self._n_vocab,)).argmax())
            elif sequence.grammar is not None:
                logits = llama_cpp.llama_get_logits_ith(self._context.ctx, row)
                token = sequence.grammar.sample(sequence.sampler, logits)
            else:
                token = sequence.sampler.sample(self._context, row)
            self._accept(sequence, token)

    def _background_share(
        self, running: list[_Sequence], interactive: list[_Sequence]
    ) -> list[_Sequence]:
        """The background sequences that join this step: none while an interactive prompt is
        being read, or while interactive sequences take a quarter of the slots or more (a step
        with them in would be slower, and with the ids they add, may take a second pass over
        the weights: an interactive request arriving meanwhile would wait longer); otherwise
        as many as fill the step to half the slots."""
        if any(s.pending for s in interactive):
            return []
        if len(interactive) >= max(1, self._background_slots // 2):
            return []
        room = self._background_slots - len(interactive)
        return [s for s in running if s.job.request.background][:room]

    def _add(self, slot: _Slot, token: int, *, logits: bool) -> int:
        batch, row = self._batch, self._batch.n_tokens
        batch.token[row] = token
        batch.pos[row] = len(slot.tokens)
        batch.n_seq_id[row] = 1
        batch.seq_id[row][0] = slot.seq_id
        batch.logits[row] = logits
        batch.n_tokens = row + 1
        slot.tokens.append(token)
        return row

    def _accept(self, sequence: _Sequence, token: int) -> None:
        """Handle a sampled token: end of generation, text, stop strings, limits."""
        request = sequence.job.request
        if self._vocab.ends_generation(token):
            self._finish(sequence, "stop")
            return
        sequence.produced += 1
        if sequence.produced == request.min_tokens:
            unban(sequence.sampler)
        piece = sequence.text.feed(self._vocab.piece(token))
        visible = sequence.stops.feed(piece)
        if visible:
            self._emit(sequence, visible)
        if sequence.stops.stopped or (sequence.calls is not None and sequence.calls.repeated):
            self._finish(sequence, "stop")
        elif sequence.prompt_tokens + sequence.produced >= self._n_ctx:
            self._finish(sequence, "model_length")
        elif sequence.produced >= request.max_tokens:
            self._finish(sequence, "length")
        else:
            sequence.next_token = token

    def _emit(self, sequence: _Sequence, text: str) -> None:
        """Visible text to the caller: as it is, or as text and calls when there are tools."""
        if sequence.calls is None:
            self._outbox.put(sequence.job, TextDelta(text, sequence.produced))
            return
        for piece in sequence.calls.feed(text):
            self._put_piece(sequence, piece)

    def _put_piece(self, sequence: _Sequence, piece: str | ToolCall) -> None:
        if isinstance(piece, str):
            self._outbox.put(sequence.job, TextDelta(piece, sequence.produced))
        else:
            self._outbox.put(sequence.job, ToolCalled(piece, sequence.produced))

    def _finish(self, sequence: _Sequence, reason: FinishReason) -> None:
        if not sequence.stops.stopped:
            tail = sequence.stops.feed(sequence.text.flush())
            if sequence.stops.stopped:
                reason = "stop"
            else:
                tail += sequence.stops.flush()
            if tail:
                self._emit(sequence, tail)
        if sequence.calls is not None:
            for piece in sequence.calls.flush():
                self._put_piece(sequence, piece)
            if sequence.calls.calls and reason == "stop":
                reason = "tool_calls"
        self._outbox.put(
            sequence.job,
            Finished(reason, sequence.prompt_tokens, sequence.produced, sequence.cached_tokens),
        )
        sequence.stops.stopped = True
        self._release(sequence)

    def _finished(self, sequence: _Sequence) -> bool:
        return sequence.next_token is None and not sequence.pending

    def _drop_if_cancelled(self, sequence: _Sequence) -> bool:
        if not sequence.job.cancelled.is_set():
            return False
        self._outbox.put(
            sequence.job,
            Finished(None, sequence.prompt_tokens, sequence.produced, sequence.cached_tokens),
        )
        self._release(sequence)
        return True

    def _release(self, sequence: _Sequence) -> None:
        sequence.sampler.close()
        if sequence.grammar is not None:
            sequence.grammar.close()


def _context_params(
    n_ctx: int, parallel: int, n_batch: int, n_threads: int
) -> llama_cpp.llama_context_params:
    params = llama_cpp.llama_context_default_params()
    # Each sequence gets a context window of its own. A unified cache would let sequences
    # share cells, but then attention spans other sequences' (masked) cells, which changes
    # the floating-point sums: greedy answers would depend on what else is running.
    params.n_ctx = n_ctx * parallel
    params.n_seq_max = parallel
    params.kv_unified = False
    params.n_batch = n_batch
    params.n_ubatch = n_batch
    params.n_threads = n_threads
    params.n_threads_batch = n_threads
    params.no_perf = True
    return params


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    size = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        size += 1
    return size


def choose_slot(
    free: Mapping[int, Sequence[int]],
    busy: AbstractSet[int],
    prompt: Sequence[int],
    *,
    prefix_cache: bool,
    avoid: AbstractSet[int] = frozenset(),
) -> tuple[int, int]:
    """Which free slot a prompt goes to, and how many of its tokens that slot's cache holds.

    ``free`` maps each free slot's sequence id to the tokens its cache holds; ``busy`` are the
    ids of the running sequences. The slot whose cache holds the longest prefix of the prompt
    saves the most prefill. But a step over sequences whose ids are not consecutive runs as
    several passes over the weights (see ``LlamaCppEngine._step``), every step until one of
    them ends; so among the slots that save nearly as much, the one that keeps the running
    sequences in the fewest blocks of consecutive ids wins, and one not in ``avoid`` (the
    slots kept for background work, for an interactive prompt) before one that is.
    """
    # At least the last prompt token is decoded again, for logits to sample from.
    reuse = {
        seq_id: min(_common_prefix(tokens, prompt), len(prompt) - 1) if prefix_cache else 0
        for seq_id, tokens in free.items()
    }
    best = max(reuse.values())
    chosen = min(
        (seq_id for seq_id, saved in reuse.items() if saved >= best - _SLOT_REUSE_TOLERANCE),
        key=lambda seq_id: (seq_id in avoid, _blocks({*busy, seq_id}), -reuse[seq_id], seq_id),
    )
    return chosen, reuse[chosen]


def _blocks(seq_ids: AbstractSet[int]) -> int:
    """How many runs of consecutive ids the set holds: the passes a step over them takes."""
    return sum(1 for i in seq_ids if i - 1 not in seq_ids)


def _by_seq_id(sequence: _Sequence) -> int:
    return sequence.slot.seq_id
