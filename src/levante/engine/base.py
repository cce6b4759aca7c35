"""The engine interface: what the serving layer may ask of a model, and nothing more.

An engine turns prompt tokens into a stream of text with exact token counts. It knows nothing
of HTTP, tenants or money.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FinishReason = Literal["stop", "length", "model_length", "error", "tool_calls"]


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """How to pick each next token; ``temperature == 0`` means greedy."""

    temperature: float = 0.7
    top_p: float = 1.0
    top_k: int = 0
    min_p: float = 0.0
    presence_penalty: float = 0.0
    frequency_penalty: float = 0.0
    repetition_penalty: float = 1.0
    seed: int | None = None


@dataclass(frozen=True, slots=True)
class OutputConstraint:
    """Restrict the output to JSON: any object, or one that matches ``schema``."""

    kind: Literal["json_object", "json_schema"]
    schema: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A function the model may call: its name, what it does, and a JSON schema of its
    arguments (an object schema)."""

    name: str
    description: str = ""
    parameters: dict[str, Any] = field(default_factory=lambda: {"type": "object"})


@dataclass(frozen=True, slots=True)
class ToolUse:
    """The tools of a request and how the model must use them: ``auto`` (text or calls, the
    model's choice), ``required`` (at least one call) or ``function`` (a call of that one
    function); ``parallel`` lets one answer hold several calls."""

    tools: tuple[ToolSpec, ...]
    choice: Literal["auto", "required"] = "auto"
    function: str | None = None
    parallel: bool = True

    @property
    def forced(self) -> bool:
        return self.choice == "required" or self.function is not None

    def callable(self) -> tuple[ToolSpec, ...]:
        """The tools a call may name."""
        if self.function is None:
            return self.tools
        return tuple(t for t in self.tools if t.name == self.function)


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model made: ``arguments`` is the JSON text of the arguments object."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class ChatTurn:
    """A message of the conversation. An assistant turn may carry the calls it made; a
    ``tool`` turn is a call's result, ``tool_call_id`` naming the call."""

    role: str
    content: str
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None


@dataclass(frozen=True, slots=True)
class Prompt:
    """A prompt as the engine that runs it prepared it: token ids for a local model, the
    conversation or text itself for an upstream server. ``token_count`` is None where the
    engine cannot count tokens before running (it reports them in ``Finished``)."""

    token_count: int | None
    tokens: tuple[int, ...] = ()
    turns: tuple[ChatTurn, ...] = ()
    text: str | None = None
    continue_last: bool = False
    tools: ToolUse | None = None  # the tools the model was shown, and how it must use them


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt: Prompt
    max_tokens: int
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop: tuple[str, ...] = ()
    constraint: OutputConstraint | None = None
    min_tokens: int = 0  # end-of-generation is not sampled before this many tokens
    # Work nobody waits on (a batch job's line): run on capacity interactive requests leave.
    background: bool = False


@dataclass(frozen=True, slots=True)
class Started:
    """The request reached the model; ``cached_tokens`` of its prompt are reused from the KV
    cache rather than computed."""

    cached_tokens: int


@dataclass(frozen=True, slots=True)
class TextDelta:
    """New text, and how many completion tokens have been produced so far."""

    text: str
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class Finished:
    """The last event of every stream, also of a cancelled one (``finish_reason`` None).
    Its counts are the engine's own and final."""

    finish_reason: FinishReason | None
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int


@dataclass(frozen=True, slots=True)
class ToolCalled:
    """The model made a whole call (arguments complete); ``completion_tokens`` so far."""

    call: ToolCall
    completion_tokens: int


GenerationEvent = Started | TextDelta | ToolCalled | Finished


@dataclass
class DecodeStats:
    """Running totals of an engine's decode loop, for metrics."""

    steps: int = 0
    tokens: int = 0  # tokens decoded: prompt and generated
    sampled: int = 0  # tokens sampled (one per sequence and step that produced logits)
    seconds: float = 0.0  # time inside the model's decode call
    active: int = 0  # sequences running now


@dataclass(frozen=True, slots=True)
class EngineInfo:
    """What an engine can do, read from the model file where possible."""

    context_length: int
    chat_template: bool
    fill_in_the_middle: bool = False
    # Preparing a prompt tokenizes it here (CPU work worth a thread) rather than passing text on.
    tokenizes_locally: bool = True


class Engine(Protocol):
    """One loaded model."""

    @property
    def info(self) -> EngineInfo: ...

    @property
    def queue_depth(self) -> int:
        """Requests admitted but not yet running."""
        ...

    @property
    def idle(self) -> bool:
        """Nothing running or waiting: the engine may be unloaded."""
        ...

    @property
    def stats(self) -> DecodeStats: ...

    def prepare_chat(
        self,
        turns: Sequence[ChatTurn],
        *,
        continue_last: bool = False,
        tools: ToolUse | None = None,
    ) -> Prompt:
        """The prompt for a conversation (the model's own chat template applies); with
        ``continue_last`` the final assistant message is continued, not answered. With
        ``tools`` the model is shown them, and its generation is made to use them as
        ``tools.choice`` says: calls come as :class:`ToolCalled` events."""
        ...

    def prepare_text(self, text: str) -> Prompt:
        """The prompt for a plain text completion."""
        ...

    def prepare_fim(self, prefix: str, suffix: str) -> Prompt:
        """The prompt for filling in between ``prefix`` and ``suffix``; InvalidRequestError if
        the model has no fill-in-the-middle tokens."""
        ...

    def check_constraint(self, constraint: OutputConstraint) -> None:
        """Raise ``InvalidRequestError`` if the engine cannot enforce the constraint."""
        ...

    def check_tools(self, tools: ToolUse) -> None:
        """Raise ``InvalidRequestError`` if the engine cannot hold calls to these tools."""
        ...

    def generate(self, request: GenerationRequest) -> AsyncGenerator[GenerationEvent, None]:
        """Stream the completion; closing the iterator early cancels the generation.

        The stream always ends with one :class:`Finished` unless it is closed first; raises
        ``OverloadedError`` at once when the engine's queue is full.
        """
        ...

    def embed(self, texts: Sequence[str]) -> tuple[list[list[float]], int]:
        """Normalised embedding vectors for ``texts`` and the tokens they took (blocking)."""
        ...

    def close(self) -> None: ...
