"""Where moderation scores come from: the built-in lexicon, or an upstream moderation model
(Mistral's ``/v1/moderations`` or any server that answers in its shape)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import httpx

from levante.errors import UpstreamError
from levante.guardrails.categories import CATEGORIES, Moderation
from levante.guardrails.lexicon import LexiconClassifier


class Classifier(Protocol):
    name: str

    async def classify(self, texts: Sequence[str]) -> list[Moderation]: ...


class BuiltinClassifier:
    """The lexicon, offline (see ``levante.guardrails.lexicon``)."""

    def __init__(self, threshold: float) -> None:
        self._lexicon = LexiconClassifier()
        self._threshold = threshold
        self.name = self._lexicon.name

    async def classify(self, texts: Sequence[str]) -> list[Moderation]:
        return [Moderation(m.scores, self._threshold) for m in self._lexicon.classify(texts)]


class UpstreamClassifier:
    """An upstream moderation model: ``POST {url}/moderations`` with ``{"model", "input"}``,
    its ``results[].category_scores`` read by Mistral's category names."""

    def __init__(
        self, url: str, *, model: str, api_key: str = "", threshold: float, timeout: float = 30
    ) -> None:
        self.name = model
        self._url = url.rstrip("/") + "/moderations"
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._threshold = threshold
        self._timeout = timeout

    async def classify(self, texts: Sequence[str]) -> list[Moderation]:
        body = {"model": self.name, "input": list(texts)}
        try:
            async with httpx.AsyncClient(timeout=self._timeout) as client:
                response = await client.post(self._url, json=body, headers=self._headers)
            response.raise_for_status()
            results = response.json()["results"]
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise UpstreamError(f"the moderation model did not answer: {exc}") from exc
        if len(results) != len(texts):
            raise UpstreamError("the moderation model answered for a different number of texts")
        return [
            Moderation(
                {
                    name: float((r.get("category_scores") or {}).get(name, 0.0))
                    for name in CATEGORIES
                },
                self._threshold,
            )
            for r in results
        ]
