"""Hooks through which the serving layer reports what it measures (to Prometheus, say)."""

from __future__ import annotations

from typing import Protocol


class Observer(Protocol):
    def first_token(self, model: str, seconds: float) -> None: ...

    def finished(
        self,
        *,
        model: str,
        endpoint: str,
        status: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int,
        seconds: float,
    ) -> None: ...


class NullObserver:
    def first_token(self, model: str, seconds: float) -> None:
        pass

    def finished(
        self,
        *,
        model: str,
        endpoint: str,
        status: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int,
        seconds: float,
    ) -> None:
        pass
