"""Serving: turns protocol requests into metered engine generations. No HTTP here."""

from levante.serving.metered import BatchLine, RequestContext
from levante.serving.plan import (
    ChoiceEnd,
    ChoiceStart,
    ChoiceText,
    ChoiceToolCall,
    ServingPlan,
    StreamItem,
    usage_of,
)
from levante.serving.services import SAFE_PROMPT, InferenceService

__all__ = [
    "SAFE_PROMPT",
    "BatchLine",
    "ChoiceEnd",
    "ChoiceStart",
    "ChoiceText",
    "ChoiceToolCall",
    "InferenceService",
    "RequestContext",
    "ServingPlan",
    "StreamItem",
    "usage_of",
]
