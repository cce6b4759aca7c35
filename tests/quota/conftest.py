"""A gateway in front of a stub upstream model with a price, for tests of limits and caps."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import timedelta
from typing import Any

import pytest
from fastapi import FastAPI

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.pricing import parse_amount
from levante.settings import ModelSettings, Settings, TierSettings
from levante.storage import Database, utcnow
from levante.storage.models import Price
from tests.engine.upstream_stub import StubUpstream

STUB_MODEL = "stub-model"
# Per token: 0.001 in, 0.002 out. The stub reports 11 prompt tokens and one per word; the
# gateway cannot count an upstream prompt, so it reserves one token per byte plus 16 for "hi".
INPUT_PER_TOKEN = parse_amount("0.001")
OUTPUT_PER_TOKEN = parse_amount("0.002")


def add_price(database: Database, model: str = STUB_MODEL) -> None:
    with database.session() as session:
        session.add(
            Price(
                id=f"price_{model}",
                model=model,
                currency="USD",
                input_nanos=INPUT_PER_TOKEN * 1_000_000,
                cached_input_nanos=INPUT_PER_TOKEN * 100_000,
                output_nanos=OUTPUT_PER_TOKEN * 1_000_000,
                batch_discount_percent=50,
                effective_from=utcnow() - timedelta(days=1),
            )
        )


def stub_body(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {
        "model": STUB_MODEL,
        "messages": [{"role": "user", "content": "hi"}],
        "max_tokens": 4,
    }
    return body | extra


GatewayFactory = Callable[..., AbstractContextManager[FastAPI]]


@pytest.fixture
def gateway(settings: Settings, database: Database, stubs: list[StubUpstream]) -> GatewayFactory:
    """Build an app serving the stub model (priced), with settings overridden as given."""
    add_price(database)

    @contextmanager
    def build(**overrides: Any) -> Iterator[FastAPI]:
        model = ModelSettings.model_validate(
            {"id": STUB_MODEL, "context_length": 4096, "upstreams": [{"url": stubs[0].url}]}
        )
        tiers = overrides.pop("tiers", [TierSettings(name="unlimited")])
        config = settings.model_copy(update={"models": [model], "tiers": tiers, **overrides})
        registry = ModelRegistry([model])
        registry.load_all()
        try:
            yield create_app(config, models=registry, database=database)
        finally:
            registry.close()

    return build
