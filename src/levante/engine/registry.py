"""The models Levante serves: names (ids and aliases) resolved to loaded engines."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from levante.engine.base import Engine
from levante.errors import EngineError, ModelNotFoundError
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


class ModelNames:
    """The configured models' ids and aliases, each resolved to its model's id: what keys,
    prices and licences store, so that a model is one name however it was spelt."""

    def __init__(self, models: Iterable[ModelSettings]) -> None:
        self._names: dict[str, str] = {}
        for model in models:
            for name in (model.id, *model.aliases):
                self._names[name] = model.id

    def canonical_id(self, name: str) -> str:
        try:
            return self._names[name]
        except KeyError:
            raise ModelNotFoundError(
                f"model '{name}' does not exist; GET /v1/models lists the models served here",
                param="model",
            ) from None

    def canonical_ids(self, names: Iterable[str]) -> list[str]:
        return [self.canonical_id(name) for name in names]

    def as_mapping(self) -> dict[str, str]:
        return dict(self._names)


class ModelRegistry:
    """Every configured model, by id and alias. Unknown names are an error, never a fallback.

    Models with ``preload`` load at start (:meth:`load_all`); the others load on first use.
    A model with ``keep_alive_seconds`` is unloaded once it has been idle that long, and
    loads again on the next request.
    """

    def __init__(self, models: Iterable[ModelSettings], factory: EngineFactory = load_engine):
        self._configured = {model.id: model for model in models}
        self._factory = factory
        self._served: dict[str, ServedModel] = {}
        self._last_used: dict[str, float] = {}
        self._errors: dict[str, str] = {}
        self.names = ModelNames(self._configured.values())
        self._lock = threading.Lock()
        self._loading = {model_id: threading.Lock() for model_id in self._configured}
        self._ready = threading.Event()
        self._stopping = threading.Event()
        if any(m.keep_alive_seconds is not None for m in self._configured.values()):
            threading.Thread(target=self._reap_loop, name="model-reaper", daemon=True).start()

    @property
    def ready(self) -> bool:
        """True once every preloaded model is loaded."""
        return self._ready.is_set()

    def load_all(self) -> None:
        """Load the preloaded models (blocking; call it off the event loop)."""
        for model in self._configured.values():
            if model.preload:
                self._load(model.id)
        self._ready.set()

    def configured(self) -> list[ModelSettings]:
        return list(self._configured.values())

    def canonical_id(self, name: str) -> str:
        return self.names.canonical_id(name)

    def get(self, name: str) -> ServedModel:
        """The loaded model, loading it first if need be (blocking; call it off the loop)."""
        model_id = self.canonical_id(name)
        with self._lock:
            served = self._served.get(model_id)
            self._last_used[model_id] = time.monotonic()
        return served if served is not None else self._load(model_id)

    def get_loaded(self, model_id: str) -> ServedModel | None:
        """The model if it is loaded (never blocks: safe on the event loop)."""
        with self._lock:
            served = self._served.get(model_id)
            if served is not None:
                self._last_used[model_id] = time.monotonic()
        return served

    def loaded(self) -> list[ServedModel]:
        with self._lock:
            return list(self._served.values())

    def reap(self, now: float | None = None) -> list[str]:
        """Unload the models idle for longer than their keep-alive; returns their ids."""
        now = time.monotonic() if now is None else now
        unloaded = []
        for model_id, model in self._configured.items():
            keep = model.keep_alive_seconds
            with self._lock:
                served = self._served.get(model_id)
                idle_for = now - self._last_used.get(model_id, now)
                if served is None or keep is None or idle_for < keep or not served.engine.idle:
                    continue
                del self._served[model_id]
            log.info("unloading model %s after %.0f s idle", model_id, idle_for)
            served.engine.close()
            unloaded.append(model_id)
        return unloaded

    def close(self) -> None:
        self._stopping.set()
        with self._lock:
            served, self._served = list(self._served.values()), {}
        for model in served:
            model.engine.close()
        self._ready.clear()

    def _load(self, model_id: str) -> ServedModel:
        with self._loading[model_id]:  # one load per model; others wait for it
            with self._lock:
                served = self._served.get(model_id)
            if served is not None:
                return served
            model = self._configured[model_id]
            log.info("loading model %s", model_id)
            try:
                engine = self._factory(model)
            except Exception as exc:
                self._errors[model_id] = f"model '{model_id}' failed to load: {exc}"
                log.exception("loading model %s failed", model_id)
                raise EngineError(self._errors[model_id], code="model_unavailable") from exc
            served = ServedModel(model, engine)
            with self._lock:
                self._served[model_id] = served
                self._last_used[model_id] = time.monotonic()
                self._errors.pop(model_id, None)
            return served

    def _reap_loop(self) -> None:
        while not self._stopping.wait(1.0):
            try:
                self.reap()
            except Exception:
                log.exception("unloading idle models failed")
