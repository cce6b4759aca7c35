"""Guardrails: moderation of texts and conversations by category (Mistral's categories), by
a built-in offline classifier or an upstream moderation model."""

from levante.guardrails.categories import CATEGORIES, DEFAULT_THRESHOLD, Moderation
from levante.guardrails.classifiers import BuiltinClassifier
from levante.guardrails.lexicon import LexiconClassifier
from levante.guardrails.policies import ChatGuard, Rules, policy_of, set_policy
from levante.guardrails.services import Moderator, Turn, open_moderator

__all__ = [
    "CATEGORIES",
    "DEFAULT_THRESHOLD",
    "BuiltinClassifier",
    "ChatGuard",
    "LexiconClassifier",
    "Moderation",
    "Moderator",
    "Rules",
    "Turn",
    "open_moderator",
    "policy_of",
    "set_policy",
]
