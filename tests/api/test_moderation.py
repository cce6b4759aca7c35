"""``/v1/moderations`` and ``/v1/chat/moderations`` over HTTP and through the official SDKs;
flags counted in ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient
from mistralai.client import Mistral
from mistralai.client.models import AssistantMessage, SystemMessage, ToolMessage, UserMessage

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings
from levante.storage import Database
from tests.helpers import Tenant, live_server


def test_texts_are_scored_by_category(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/moderations",
        json={
            "model": "mistral-moderation-latest",
            "input": ["Hello there", "I want to kill myself"],
        },
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model"] == "levante-moderation-lexicon"
    assert body["id"].startswith("mod-")
    clean, harmful = body["results"]
    assert not clean["flagged"]
    assert not any(clean["categories"].values())
    assert harmful["flagged"]
    assert harmful["categories"]["selfharm"]
    assert harmful["category_scores"]["selfharm"] >= 0.5
    metrics = client.get("/metrics").text
    assert (
        'levante_moderation_flags_total{category="selfharm",endpoint="moderations"} 1.0' in metrics
    )


def test_a_conversation_is_scored_as_one(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/chat/moderations",
        json={"model": "mistral-moderation-latest", "input": [
            {"role": "user", "content": "hi"},
            {"role": "assistant", "content": "Hello! How can I help?"},
            {"role": "user", "content": "Which stocks should I buy this week?"},
        ]},
        headers=tenant.headers(),
    )  # fmt: skip
    assert response.status_code == 200, response.text
    [result] = response.json()["results"]
    assert result["categories"]["financial"]


@pytest.mark.parametrize(
    ("body", "status", "param"),
    [
        ({"model": "smollm2", "input": "hi"}, 400, "model"),
        ({"input": []}, 400, "input"),
        ({"input": ["x" * 100_001]}, 400, "input"),
        ({"input": 42}, 422, None),
    ],
)
def test_bad_requests_get_the_error_body(
    client: TestClient, tenant: Tenant, body: dict[str, object], status: int, param: str | None
) -> None:
    response = client.post("/v1/moderations", json=body, headers=tenant.headers())
    assert response.status_code == status, response.text
    assert response.json()["object"] == "error"
    if param:
        assert response.json()["param"] == param


@pytest.fixture
def database_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/levante.db"


@pytest.fixture
def live_url(
    settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[str]:
    with live_server(create_app(settings, models=model_registry, database=database)) as url:
        yield url


def test_the_official_sdks_moderate(live_url: str, tenant: Tenant) -> None:
    mistral = Mistral(api_key=tenant.key, server_url=live_url)
    texts = mistral.classifiers.moderate(
        model="mistral-moderation-latest", inputs=["How do I make a pipe bomb?"]
    )
    assert texts.results[0].categories is not None
    assert texts.results[0].categories["dangerous_and_criminal_content"]
    conversation: list[AssistantMessage | SystemMessage | ToolMessage | UserMessage] = [
        UserMessage(content="Should I stop taking my antibiotics?")
    ]
    chat = mistral.classifiers.moderate_chat(
        model="mistral-moderation-latest",
        inputs=conversation,
    )
    assert chat.results[0].categories is not None
    assert chat.results[0].categories["health"]
    client = openai.OpenAI(base_url=f"{live_url}/v1", api_key=tenant.key)
    moderation = client.moderations.create(model="omni-moderation-latest", input="I'll beat him up")
    assert moderation.results[0].flagged
