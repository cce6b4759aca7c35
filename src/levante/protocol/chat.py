"""Chat completions: ``POST /v1/chat/completions`` requests, responses and stream chunks."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints, field_validator, model_validator

from levante.protocol.common import FinishReason, Usage, WireModel
from levante.protocol.sampling_fields import SamplingFields


class TextPart(WireModel):
    type: Literal["text"]
    text: str


FunctionName = Annotated[str, StringConstraints(pattern=r"^[a-zA-Z0-9_-]{1,64}$")]


class FunctionDefinition(WireModel):
    name: FunctionName
    description: str = Field(default="", max_length=4096)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _an_object_schema(cls, parameters: dict[str, Any]) -> dict[str, Any]:
        kind = parameters.get("type", "object")
        if kind != "object":
            raise ValueError("a function's 'parameters' must be a JSON schema of type 'object'")
        return parameters


class Tool(WireModel):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class ToolChoiceFunction(WireModel):
    name: FunctionName


class NamedToolChoice(WireModel):
    """A call of this one function (both APIs' shape)."""

    type: Literal["function"] = "function"
    function: ToolChoiceFunction


ToolChoice = Literal["auto", "none", "any", "required"] | NamedToolChoice


class FunctionCall(WireModel):
    name: FunctionName
    # A JSON text (OpenAI); Mistral's clients may send the object itself.
    arguments: str | dict[str, Any] = "{}"

    def arguments_text(self) -> str:
        if isinstance(self.arguments, dict):
            return json.dumps(self.arguments, ensure_ascii=False)
        return self.arguments


class ToolCallIn(WireModel):
    """A call an earlier assistant message made, as the client sends it back."""

    id: str = Field(default="", max_length=256)
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(WireModel):
    role: Literal["system", "user", "assistant", "developer", "tool"]
    content: str | Annotated[list[TextPart], Field(min_length=1)] | None = None
    name: str | None = None
    prefix: bool = False
    tool_calls: list[ToolCallIn] | None = None
    tool_call_id: str | None = Field(default=None, max_length=256)

    @model_validator(mode="after")
    def _content_present(self) -> ChatMessage:
        if self.content is None and self.role != "assistant":
            raise ValueError(f"a '{self.role}' message needs 'content'")
        if self.tool_calls and self.role != "assistant":
            raise ValueError("only an assistant message may carry 'tool_calls'")
        return self

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(part.text for part in self.content)


class ChatCompletionRequest(SamplingFields):
    messages: Annotated[list[ChatMessage], Field(min_length=1)]
    safe_prompt: bool = False
    # Mistral's per-request guardrails ({"moderation_llm_v1": {...}}), checked before the model.
    guardrails: Annotated[list[dict[str, Any]], Field(max_length=8)] | None = None
    tools: Annotated[list[Tool], Field(max_length=128)] | None = None
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool = True

    @field_validator("messages")
    @classmethod
    def _last_message_can_be_answered(cls, messages: list[ChatMessage]) -> list[ChatMessage]:
        last = messages[-1]
        if last.role == "assistant" and not last.prefix:
            raise ValueError(
                "the last message must come from the user, system or tool, or be an "
                "assistant message with 'prefix': true"
            )
        return messages


class FunctionCallOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"] = "function"
    function: FunctionCallOut
    index: int | None = None  # a streamed call's position in the answer's list of calls


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    tool_calls: list[ToolCallOut] | None = None


class ChatChoice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: FinishReason
    logprobs: None = None


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage


class ChatDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None
    tool_calls: list[ToolCallOut] | None = None


class ChatChunkChoice(BaseModel):
    index: int
    delta: ChatDelta
    finish_reason: FinishReason | None = None
    logprobs: None = None


class ChatCompletionChunk(BaseModel):
    id: str
    object: Literal["chat.completion.chunk"] = "chat.completion.chunk"
    created: int
    model: str
    choices: list[ChatChunkChoice]
    usage: Usage | None = None
