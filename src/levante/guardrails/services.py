"""Moderation as a service: texts and conversations scored by the configured classifier,
and every flag counted (``on_flag``, the metrics)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from levante.errors import ConfigurationError, InvalidRequestError
from levante.guardrails.categories import Moderation
from levante.guardrails.classifiers import BuiltinClassifier, Classifier, UpstreamClassifier
from levante.settings import Settings

MAX_INPUTS = 128
MAX_CHARS = 100_000
MAX_TOTAL_CHARS = 1_000_000


@dataclass(frozen=True, slots=True)
class Turn:
    role: str
    content: str


class Moderator:
    def __init__(
        self, classifier: Classifier, *, on_flag: Callable[[str, str], None] | None = None
    ) -> None:
        self.classifier = classifier
        self._on_flag = on_flag or (lambda _category, _endpoint: None)

    def check_model(self, name: str) -> str:
        """The model a moderation request names: the classifier's own name, or any name of a
        moderation model (Mistral's and OpenAI's), which this classifier answers for."""
        if name != self.classifier.name and "moderation" not in name:
            raise InvalidRequestError(
                f"'{name}' is not a moderation model; use '{self.classifier.name}'",
                param="model",
            )
        return self.classifier.name

    async def moderate(
        self, texts: Sequence[str], *, endpoint: str, count: bool = True
    ) -> list[Moderation]:
        """Score ``texts``; with ``count``, each category found is counted (``on_flag``)."""
        if not texts:
            raise InvalidRequestError("input needs at least one text", param="input")
        if len(texts) > MAX_INPUTS:
            raise InvalidRequestError(f"at most {MAX_INPUTS} inputs at once", param="input")
        if any(len(t) > MAX_CHARS for t in texts):
            raise InvalidRequestError(
                f"an input is at most {MAX_CHARS:,} characters", param="input"
            )
        if sum(len(t) for t in texts) > MAX_TOTAL_CHARS:
            raise InvalidRequestError(
                f"the inputs are at most {MAX_TOTAL_CHARS:,} characters in all", param="input"
            )
        results = await self.classifier.classify(texts)
        if count:
            for result in results:
                for category in result.flagged:
                    self._on_flag(category, endpoint)
        return results

    async def moderate_chats(
        self, conversations: Sequence[Sequence[Turn]], *, endpoint: str
    ) -> list[Moderation]:
        """Each conversation scored as one text: its turns' contents, in order."""
        return await self.moderate(
            ["\n".join(t.content for t in turns if t.content) or " " for turns in conversations],
            endpoint=endpoint,
        )


def open_moderator(
    settings: Settings, *, on_flag: Callable[[str, str], None] | None = None
) -> Moderator:
    config = settings.guardrails
    classifier: Classifier
    if config.classifier == "upstream":
        if not config.upstream_url:
            raise ConfigurationError("guardrails.classifier = 'upstream' needs upstream_url")
        classifier = UpstreamClassifier(
            config.upstream_url, model=config.upstream_model, api_key=config.upstream_api_key,
            threshold=config.threshold,
        )  # fmt: skip
    else:
        classifier = BuiltinClassifier(config.threshold)
    return Moderator(classifier, on_flag=on_flag)
