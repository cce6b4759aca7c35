"""Model engines: the narrow interface the API uses, the llama.cpp engine and the registry."""

from levante.engine.base import (
    ChatTurn,
    Engine,
    EngineInfo,
    Finished,
    GenerationEvent,
    GenerationRequest,
    OutputConstraint,
    Prompt,
    SamplingParams,
    Started,
    TextDelta,
    ToolCall,
    ToolCalled,
    ToolSpec,
    ToolUse,
)
from levante.engine.registry import ModelNames, ModelRegistry, ServedModel

__all__ = [
    "ChatTurn",
    "Engine",
    "EngineInfo",
    "Finished",
    "GenerationEvent",
    "GenerationRequest",
    "ModelNames",
    "ModelRegistry",
    "OutputConstraint",
    "Prompt",
    "SamplingParams",
    "ServedModel",
    "Started",
    "TextDelta",
    "ToolCall",
    "ToolCalled",
    "ToolSpec",
    "ToolUse",
]
