"""The wire protocol: request and response models of the OpenAI- and Mistral-compatible API."""

from levante.protocol.chat import (
    AssistantMessage,
    ChatChoice,
    ChatChunkChoice,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    ChatDelta,
    ChatMessage,
    FunctionCallOut,
    NamedToolChoice,
    ToolCallOut,
)
from levante.protocol.common import Usage
from levante.protocol.completions import Completion, CompletionChoice, CompletionRequest
from levante.protocol.embeddings import Embedding, EmbeddingList, EmbeddingRequest, EmbeddingUsage
from levante.protocol.fim import FimCompletionRequest
from levante.protocol.models import ModelCapabilities, ModelCard, ModelList
from levante.protocol.sampling_fields import SamplingFields

__all__ = [
    "AssistantMessage",
    "ChatChoice",
    "ChatChunkChoice",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatDelta",
    "ChatMessage",
    "Completion",
    "CompletionChoice",
    "CompletionRequest",
    "Embedding",
    "EmbeddingList",
    "EmbeddingRequest",
    "EmbeddingUsage",
    "FimCompletionRequest",
    "FunctionCallOut",
    "ModelCapabilities",
    "ModelCard",
    "ModelList",
    "NamedToolChoice",
    "SamplingFields",
    "ToolCallOut",
    "Usage",
]
