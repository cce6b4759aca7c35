"""The moderation categories, as Mistral's moderation API names them."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = (
    "sexual",
    "hate_and_discrimination",
    "violence_and_threats",
    "dangerous_and_criminal_content",
    "selfharm",
    "health",
    "financial",
    "law",
    "pii",
)
DEFAULT_THRESHOLD = 0.5


@dataclass(frozen=True, slots=True)
class Moderation:
    """One text's scores (0 to 1) by category, and the categories at or over the threshold."""

    scores: dict[str, float]
    threshold: float = DEFAULT_THRESHOLD

    @property
    def categories(self) -> dict[str, bool]:
        return {name: self.scores.get(name, 0.0) >= self.threshold for name in CATEGORIES}

    @property
    def flagged(self) -> list[str]:
        return [name for name, hit in self.categories.items() if hit]
