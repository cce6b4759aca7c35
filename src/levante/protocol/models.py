"""Model cards: ``GET /v1/models`` in the shape Mistral's API returns."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel


class ModelCapabilities(BaseModel):
    completion_chat: bool = True
    completion_fim: bool = False
    function_calling: bool = False
    fine_tuning: bool = False
    vision: bool = False
    classification: bool = False


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    name: str
    description: str
    max_context_length: int
    aliases: list[str]
    capabilities: ModelCapabilities
    deprecation: str | None = None
    default_model_temperature: float | None = None
    type: Literal["base"] = "base"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
