"""Health, readiness and metrics; none of them waits for a busy model."""

from __future__ import annotations

import re
import threading
import time

import pytest
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings
from levante.storage import Database
from tests.helpers import Tenant, chat_body


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": True, "models": True}
    assert client.get("/healthz").headers["x-request-id"].startswith("req_")


def test_metrics_count_requests_tokens_and_first_tokens(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    text = client.get("/metrics").text
    assert (
        'levante_http_requests_total{method="POST",route="/v1/chat/completions",status="200"} 1.0'
        in text
    )
    assert 'levante_tokens_total{kind="completion",model="smollm2-135m-instruct"}' in text
    assert "levante_time_to_first_token_seconds_count" in text
    assert 'levante_queue_depth{model="smollm2-135m-instruct"} 0.0' in text
    assert 'levante_active_sequences{model="smollm2-135m-instruct"} 0.0' in text
    steps = re.search(r'levante_decode_steps_total\{model="smollm2-135m-instruct"\} (\S+)', text)
    assert steps is not None
    assert float(steps.group(1)) > 0
    assert "levante_decode_seconds_total" in text


def test_a_long_generation_blocks_neither_health_nor_metrics(
    client: TestClient, tenant: Tenant
) -> None:
    body = chat_body("Write a very long story about the sea.", max_tokens=400, temperature=0.8)
    done = threading.Event()

    def generate() -> None:
        client.post("/v1/chat/completions", json=body, headers=tenant.headers())
        done.set()

    worker = threading.Thread(target=generate)
    worker.start()
    time.sleep(0.3)  # let the generation start
    answered_while_busy = 0
    while not done.is_set() and answered_while_busy < 5:
        assert client.get("/healthz").status_code == 200
        assert client.get("/metrics").status_code == 200
        assert client.get("/v1/models", headers=tenant.headers()).status_code == 200
        answered_while_busy += not done.is_set()
    worker.join()
    assert answered_while_busy > 0


def test_with_a_token_metrics_need_it(
    settings: Settings, database: Database, model_registry: ModelRegistry
) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-secret-1234"})
    app = create_app(guarded, models=model_registry, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": "Bearer scrape-secret-123"},
            {"Authorization": "Basic c2NyYXBlLXNlY3JldC0xMjM0"},
        ):
            refused = client.get("/metrics", headers=headers)
            assert refused.status_code == 401, headers
            assert refused.json()["object"] == "error"
            assert refused.json()["type"] == "authentication_error"
            assert refused.headers["www-authenticate"] == "Bearer"
        scraped = client.get("/metrics", headers={"Authorization": "Bearer scrape-secret-1234"})
        assert scraped.status_code == 200
        assert "levante_http_requests_total" in scraped.text
        assert client.get("/healthz").status_code == 200  # health stays open


def test_without_a_token_metrics_stay_open(client: TestClient) -> None:
    assert client.get("/metrics").status_code == 200


def test_a_served_model_without_a_price_is_flagged_at_start(
    settings: Settings, database: Database, model_registry: ModelRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    """Issue 29: a fresh deployment metered API usage at 0.00 without a word."""
    with (
        caplog.at_level("WARNING"),
        TestClient(create_app(settings, models=model_registry, database=database)),
    ):
        pass
    flagged = [r.getMessage() for r in caplog.records if "no price" in r.getMessage()]
    assert flagged
    assert settings.models[0].id in flagged[0]
    assert "metered at 0.00" in flagged[0]
