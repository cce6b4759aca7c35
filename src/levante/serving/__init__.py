"""Serving: turns protocol requests into metered engine generations. No HTTP here."""

from levante.serving.metered import BatchLine, MeteredRequest, RequestContext
from levante.serving.observer import NullObserver, Observer
from levante.serving.plan import (
    Choice,
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
    "Choice",
    "ChoiceEnd",
    "ChoiceStart",
    "ChoiceText",
    "ChoiceToolCall",
    "InferenceService",
    "MeteredRequest",
    "NullObserver",
    "Observer",
    "RequestContext",
    "ServingPlan",
    "StreamItem",
    "usage_of",
]
