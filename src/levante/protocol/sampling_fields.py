"""Sampling fields common to chat and text completions, with the ranges both APIs document."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from levante.protocol.common import Metadata, ResponseFormat, StreamOptions, WireModel

StopList = Annotated[list[Annotated[str, Field(min_length=1)]], Field(max_length=8)]


class SamplingFields(WireModel):
    model: str = Field(min_length=1, max_length=256)
    temperature: float | None = Field(default=None, ge=0.0, le=2.0)
    top_p: float = Field(default=1.0, gt=0.0, le=1.0)
    # Extensions that vLLM and llama.cpp's server accept too.
    top_k: int = Field(default=0, ge=0, description="0: off")
    min_p: float = Field(default=0.0, ge=0.0, le=1.0)
    repetition_penalty: float = Field(default=1.0, gt=0.0, le=2.0)
    max_tokens: int | None = Field(default=None, ge=1)
    # OpenAI's newer name for max_tokens (its SDKs and LangChain send it); max_tokens wins.
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    stop: Annotated[str, Field(min_length=1)] | StopList | None = None
    random_seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    seed: int | None = Field(default=None, ge=0, le=2**32 - 1)
    presence_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    frequency_penalty: float = Field(default=0.0, ge=-2.0, le=2.0)
    n: int = Field(default=1, ge=1)
    response_format: ResponseFormat | None = None
    user: str | None = Field(default=None, max_length=256)
    metadata: Metadata | None = Field(default=None, max_length=16)

    @model_validator(mode="after")
    def _one_token_limit(self) -> SamplingFields:
        if self.max_tokens is None and self.max_completion_tokens is not None:
            self.max_tokens = self.max_completion_tokens
        return self

    def stop_list(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        if isinstance(self.stop, str):
            return (self.stop,)
        return tuple(self.stop)

    def effective_seed(self) -> int | None:
        return self.random_seed if self.random_seed is not None else self.seed
