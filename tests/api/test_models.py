"""``GET /v1/models`` and ``GET /v1/models/{id}``: Mistral's model cards."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import MODEL, Tenant


def test_list_models_has_mistral_card_fields(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/models", headers=tenant.headers())
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "list"
    [card] = body["data"]
    assert card["id"] == MODEL
    assert card["object"] == "model"
    assert card["owned_by"] == "HuggingFaceTB"
    assert card["max_context_length"] == 2048
    assert card["aliases"] == ["smollm2", "smollm2-135m"]
    assert card["capabilities"]["completion_chat"] is True
    assert card["capabilities"]["completion_fim"] is False
    assert isinstance(card["created"], int)


def test_get_model_by_id_or_alias(client: TestClient, tenant: Tenant) -> None:
    for name in (MODEL, "smollm2"):
        response = client.get(f"/v1/models/{name}", headers=tenant.headers())
        assert response.status_code == 200
        assert response.json()["id"] == MODEL


def test_unknown_model_is_404(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/models/mistral-large-latest", headers=tenant.headers())
    assert response.status_code == 404
    assert response.json()["param"] == "model"


def test_models_need_a_key(client: TestClient) -> None:
    assert client.get("/v1/models").status_code == 401
