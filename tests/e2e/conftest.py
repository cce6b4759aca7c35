"""A live uvicorn server on loopback, in front of the shared model and a test database."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings
from levante.storage import Database
from tests.helpers import live_server


@pytest.fixture
def live_url(
    settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[str]:
    """Base URL (without /v1) of a real HTTP server, stopped after the test."""
    app = create_app(settings, models=model_registry, database=database)
    with live_server(app) as url:
        yield url
