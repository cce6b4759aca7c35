"""The model registry: names, lazy loading and unloading idle models."""

from __future__ import annotations

import time

import pytest

from levante.engine import ModelRegistry
from levante.errors import EngineError, ModelNotFoundError
from levante.settings import ModelSettings
from tests.helpers import MODEL


def _settings(**extra: object) -> ModelSettings:
    return ModelSettings.model_validate(
        {"id": MODEL, "aliases": ["small"], "context_length": 256, "n_threads": 2, "parallel": 1}
        | extra
    )


def test_lazy_models_load_on_first_use_and_unload_when_idle() -> None:
    registry = ModelRegistry([_settings(preload=False, keep_alive_seconds=30)])
    try:
        registry.load_all()
        assert registry.ready
        assert registry.loaded() == []
        served = registry.get("small")
        assert served.id == MODEL
        assert registry.loaded() == [served]
        assert registry.reap(now=time.monotonic() + 10) == []  # not idle long enough
        assert registry.reap(now=time.monotonic() + 31) == [MODEL]
        assert registry.loaded() == []
        assert registry.get(MODEL).engine.info.context_length == 256  # loads again
    finally:
        registry.close()


def test_models_without_keep_alive_stay() -> None:
    registry = ModelRegistry([_settings()])
    try:
        registry.load_all()
        assert registry.reap(now=time.monotonic() + 10**6) == []
    finally:
        registry.close()


def test_unknown_names_and_failed_loads() -> None:
    registry = ModelRegistry([_settings(path="/nonexistent.gguf", preload=False)])
    with pytest.raises(ModelNotFoundError):
        registry.get("gpt-4o")
    with pytest.raises(EngineError, match="failed to load"):
        registry.get(MODEL)
    registry.close()
