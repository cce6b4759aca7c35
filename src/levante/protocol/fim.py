"""Fill-in-the-middle: ``POST /v1/fim/completions`` (Mistral's Codestral API)."""

from __future__ import annotations

from pydantic import Field, model_validator

from levante.protocol.sampling_fields import SamplingFields


class FimCompletionRequest(SamplingFields):
    """The code before the gap (``prompt``) and after it (``suffix``); answered in the shape
    of a chat completion, as Mistral's API does."""

    prompt: str = Field(min_length=1)
    suffix: str = ""
    min_tokens: int = Field(default=0, ge=0)

    @model_validator(mode="after")
    def _min_within_max(self) -> FimCompletionRequest:
        if self.max_tokens is not None and self.min_tokens > self.max_tokens:
            raise ValueError("min_tokens must not exceed max_tokens")
        return self
