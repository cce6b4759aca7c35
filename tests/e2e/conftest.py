"""A live uvicorn server on loopback, in front of the shared model and a test database."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings
from levante.storage import Database


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def live_url(
    settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[str]:
    """Base URL (without /v1) of a real HTTP server, stopped after the test."""
    app = create_app(settings, models=model_registry, database=database)
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=30)
