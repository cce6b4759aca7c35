"""The models Levante serves: names (ids and aliases) resolved to loaded engines."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from levante.engine.base import Engine
from levante.errors import EngineError, ModelNotFoundError, OverloadedError
from levante.settings import ModelSettings

log = logging.getLogger(__name__)

EngineFactory = Callable[[ModelSettings], Engine]


@dataclass(frozen=True, slots=True)
class ServedModel:
    settings: ModelSettings
    engine: Engine

    @property
    def id(self) -> str:
        return self.settings.id


def load_engine(settings: ModelSettings) -> Engine:
    """The engine a model's settings call for: upstream replicas, or a local GGUF file."""
    if settings.upstreams:
        from levante.engine.upstream import UpstreamEngine

        return UpstreamEngine(settings)
    from levante.engine.llamacpp import LlamaCppEngine

    return LlamaCppEngine(
        settings.gguf_path(),
        context_length=settings.context_length,
        n_threads=settings.n_threads,
        n_batch=settings.n_batch,
        parallel=settings.parallel,
        prefix_cache=settings.prefix_cache,
        max_pending=settings.max_pending,
    )


class ModelRegistry:
    """Every configured model, by id and alias. Unknown names are an error, never a fallback."""

    def __init__(self, models: Iterable[ModelSettings], factory: EngineFactory = load_engine):
        self._configured = list(models)
        self._factory = factory
        self._served: dict[str, ServedModel] = {}
        self._names: dict[str, str] = {}
        for model in self._configured:
            for name in (model.id, *model.aliases):
                self._names[name] = model.id
        self._lock = threading.Lock()
        self._ready = threading.Event()
        self.load_error: str | None = None

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def load_all(self) -> None:
        """Load every configured model (blocking; call it off the event loop)."""
        for model in self._configured:
            with self._lock:
                if model.id in self._served:
                    continue
            log.info("loading model %s", model.id)
            try:
                engine = self._factory(model)
            except Exception as exc:
                self.load_error = f"model '{model.id}' failed to load: {exc}"
                raise
            with self._lock:
                self._served[model.id] = ServedModel(model, engine)
        self._ready.set()

    def configured(self) -> list[ModelSettings]:
        return list(self._configured)

    def canonical_id(self, name: str) -> str:
        try:
            return self._names[name]
        except KeyError:
            raise ModelNotFoundError(
                f"model '{name}' does not exist; GET /v1/models lists the models served here",
                param="model",
            ) from None

    def get(self, name: str) -> ServedModel:
        model_id = self.canonical_id(name)
        with self._lock:
            served = self._served.get(model_id)
        if served is None and self.load_error is not None:
            raise EngineError(self.load_error, code="model_unavailable")
        if served is None:
            raise OverloadedError(
                f"model '{model_id}' is still loading; retry shortly",
                code="model_loading",
                headers={"Retry-After": "2"},
            )
        return served

    def loaded(self) -> list[ServedModel]:
        with self._lock:
            return list(self._served.values())

    def close(self) -> None:
        with self._lock:
            served, self._served = list(self._served.values()), {}
        for model in served:
            model.engine.close()
        self._ready.clear()
