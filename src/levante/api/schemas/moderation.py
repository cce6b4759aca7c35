"""What the moderation routes take and answer (Mistral's shapes; ``flagged`` added, as
OpenAI's results carry it)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from levante.guardrails import Moderation, Rules
from levante.protocol import ChatMessage


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="mistral-moderation-latest", max_length=200)
    input: str | list[str]
    metadata: dict[str, str] | None = None

    def texts(self) -> list[str]:
        return [self.input] if isinstance(self.input, str) else list(self.input)


class ChatModerationRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str = Field(default="mistral-moderation-latest", max_length=200)
    input: list[ChatMessage] | list[list[ChatMessage]] = Field(min_length=1)

    def conversations(self) -> list[list[ChatMessage]]:
        if all(isinstance(m, ChatMessage) for m in self.input):
            return [list(self.input)]  # type: ignore[arg-type]
        return [list(c) for c in self.input]  # type: ignore[arg-type]


class ModerationResult(BaseModel):
    categories: dict[str, bool]
    category_scores: dict[str, float]
    flagged: bool

    @classmethod
    def of(cls, result: Moderation) -> ModerationResult:
        return cls(
            categories=result.categories,
            category_scores=result.scores,
            flagged=bool(result.flagged),
        )


class ModerationResponse(BaseModel):
    id: str
    model: str
    results: list[ModerationResult]


class GuardrailPolicyView(BaseModel):
    """An organisation's guardrails on chat requests: per category, ``block`` or ``flag``,
    and scores other than the default threshold."""

    model_config = ConfigDict(extra="forbid")

    rules: dict[str, Literal["block", "flag"]] = Field(default_factory=dict, max_length=9)
    thresholds: dict[str, float] = Field(default_factory=dict, max_length=9)

    @classmethod
    def of(cls, rules: Rules) -> GuardrailPolicyView:
        return cls(rules=dict(rules.actions), thresholds=dict(rules.thresholds))
