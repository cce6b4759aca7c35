"""Embeddings: ``POST /v1/embeddings`` (OpenAI's ``input`` and Mistral's ``inputs``)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, model_validator

from levante.protocol.common import WireModel

Texts = (
    str | Annotated[list[Annotated[str, Field(min_length=1)]], Field(min_length=1, max_length=512)]
)


class EmbeddingRequest(WireModel):
    model: str = Field(min_length=1, max_length=256)
    input: Texts | None = None
    inputs: Texts | None = None
    encoding_format: Literal["float", "base64"] = "float"
    user: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _one_of_input_or_inputs(self) -> EmbeddingRequest:
        if (self.input is None) == (self.inputs is None):
            raise ValueError("give exactly one of 'input' and 'inputs'")
        return self

    def texts(self) -> list[str]:
        given = self.input if self.input is not None else self.inputs
        assert given is not None  # checked above
        texts = [given] if isinstance(given, str) else list(given)
        return texts


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class EmbeddingList(BaseModel):
    id: str
    object: Literal["list"] = "list"
    model: str
    data: list[Embedding]
    usage: EmbeddingUsage
