"""Text completions: ``POST /v1/completions``."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field

from levante.protocol.common import FinishReason, Usage
from levante.protocol.sampling_fields import SamplingFields


class CompletionRequest(SamplingFields):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=16)]
    echo: bool = False
    logprobs: None = Field(default=None, description="not supported; must be absent or null")
    suffix: None = Field(default=None, description="use /v1/fim/completions instead")

    def prompts(self) -> list[str]:
        return [self.prompt] if isinstance(self.prompt, str) else list(self.prompt)


class CompletionChoice(BaseModel):
    index: int
    text: str
    finish_reason: FinishReason | None
    logprobs: None = None


class Completion(BaseModel):
    id: str
    object: Literal["text_completion"] = "text_completion"
    created: int
    model: str
    choices: list[CompletionChoice]
    usage: Usage | None = None
