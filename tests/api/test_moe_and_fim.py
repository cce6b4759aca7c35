"""A tiny random-weight Mixtral (mixture of experts) GGUF through the whole HTTP path, and
fill-in-the-middle on a model whose vocabulary has the FIM tokens."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import ModelSettings, Settings
from levante.storage import Database
from tests.fixtures.tiny_mixtral import EXPERTS, write_tiny_mixtral
from tests.helpers import MODEL, Tenant, chat_body

TINY = "tiny-mixtral"


@pytest.fixture(scope="module")
def tiny_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelRegistry]:
    path = write_tiny_mixtral(tmp_path_factory.mktemp("gguf") / "tiny-mixtral.gguf")
    model = ModelSettings(id=TINY, path=path, context_length=256, n_threads=2, parallel=2)
    registry = ModelRegistry([model])
    registry.load_all()
    yield registry
    registry.close()


@pytest.fixture
def tiny_client(
    settings: Settings, database: Database, tiny_registry: ModelRegistry
) -> Iterator[TestClient]:
    with TestClient(create_app(settings, models=tiny_registry, database=database)) as client:
        yield client


def test_the_file_is_a_mixture_of_experts(tmp_path: Path) -> None:
    import gguf

    reader = gguf.GGUFReader(write_tiny_mixtral(tmp_path / "m.gguf"))
    assert reader.fields["llama.expert_count"].contents() == EXPERTS
    names = {t.name for t in reader.tensors}
    assert "blk.0.ffn_gate_exps.weight" in names
    assert "blk.0.ffn_gate_inp.weight" in names


def test_mixtral_serves_chat_through_the_api(tiny_client: TestClient, tenant: Tenant) -> None:
    body = chat_body("hello world", model=TINY, max_tokens=12)
    response = tiny_client.post("/v1/chat/completions", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["model"] == TINY
    assert data["usage"]["completion_tokens"] > 0
    with tiny_client.stream(
        "POST", "/v1/chat/completions", json=body | {"stream": True}, headers=tenant.headers()
    ) as streamed:
        assert streamed.status_code == 200
        assert streamed.read().decode().strip().endswith("data: [DONE]")


def test_fim_fills_the_gap_and_honours_min_tokens(tiny_client: TestClient, tenant: Tenant) -> None:
    body = {
        "model": TINY,
        "prompt": "def hello(",
        "suffix": "return world",
        "max_tokens": 16,
        "min_tokens": 10,
        "temperature": 0,
    }
    response = tiny_client.post("/v1/fim/completions", json=body, headers=tenant.headers())
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["object"] == "chat.completion"
    assert data["usage"]["completion_tokens"] >= 10
    card = tiny_client.get(f"/v1/models/{TINY}", headers=tenant.headers()).json()
    assert card["capabilities"]["completion_fim"] is True


def test_fim_bad_inputs(tiny_client: TestClient, tenant: Tenant) -> None:
    for body in (
        {"model": TINY},
        {"model": TINY, "prompt": ""},
        {"model": TINY, "prompt": "x", "min_tokens": -1},
        {"model": TINY, "prompt": "x", "min_tokens": 5, "max_tokens": 2},
    ):
        response = tiny_client.post("/v1/fim/completions", json=body, headers=tenant.headers())
        assert response.status_code == 422, (body, response.text)


def test_fim_on_a_model_without_fim_tokens(client: TestClient, tenant: Tenant) -> None:
    body = {"model": MODEL, "prompt": "def f(", "suffix": ")"}
    response = client.post("/v1/fim/completions", json=body, headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["code"] == "fim_not_supported"
