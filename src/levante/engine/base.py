"""The engine interface: what the serving layer may ask of a model, and nothing more.

An engine turns prompt tokens into a stream of text with exact token counts. It knows nothing
of HTTP, tenants or money.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

FinishReason = Literal["stop", "length", "model_length", "error"]


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
class ChatTurn:
    role: str
    content: str


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


@dataclass(frozen=True, slots=True)
class GenerationRequest:
    prompt: Prompt
    max_tokens: int
    sampling: SamplingParams = field(default_factory=SamplingParams)
    stop: tuple[str, ...] = ()
    constraint: OutputConstraint | None = None
    min_tokens: int = 0  # end-of-generation is not sampled before this many tokens


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


GenerationEvent = Started | TextDelta | Finished


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

    def prepare_chat(self, turns: Sequence[ChatTurn], *, continue_last: bool = False) -> Prompt:
        """The prompt for a conversation (the model's own chat template applies); with
        ``continue_last`` the final assistant message is continued, not answered."""
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
