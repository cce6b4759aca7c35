"""``/v1/admin``: keys and usage, scoped to the caller's organisation."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.helpers import MODEL, Tenant, chat_body


def test_usage_is_grouped_and_totalled(client: TestClient, tenant: Tenant) -> None:
    for _ in range(2):
        client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    response = client.get(
        "/v1/admin/usage", params={"group_by": ["model", "key"]}, headers=tenant.headers(True)
    )
    assert response.status_code == 200, response.text
    report = response.json()
    [line] = report["data"]
    assert line["model"] == MODEL
    assert line["key"] == tenant.key_id
    assert line["requests"] == 2
    assert report["total"]["total_tokens"] == line["total_tokens"] > 0


def test_usage_by_day_is_the_default(client: TestClient, tenant: Tenant) -> None:
    client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    report = client.get("/v1/admin/usage", headers=tenant.headers(True)).json()
    assert report["group_by"] == ["day", "model", "key"]
    assert report["data"][0]["day"]


def test_bad_usage_query(client: TestClient, tenant: Tenant) -> None:
    for params in ({"start_date": "yesterday"}, {"group_by": "colour"}):
        response = client.get("/v1/admin/usage", params=params, headers=tenant.headers(True))
        assert response.status_code == 422
        assert response.json()["object"] == "error"


def test_key_lifecycle(client: TestClient, tenant: Tenant) -> None:
    admin = tenant.headers(True)
    created = client.post(
        "/v1/admin/api-keys", json={"name": "ci", "allowed_models": ["smollm2"]}, headers=admin
    )
    assert created.status_code == 201, created.text
    key = created.json()
    assert key["key"].startswith("lv-")
    assert key["allowed_models"] == [MODEL]
    listed = client.get("/v1/admin/api-keys", headers=admin).json()["data"]
    assert key["id"] in [k["id"] for k in listed]
    assert all("key" not in k for k in listed)

    headers = {"Authorization": f"Bearer {key['key']}"}
    assert client.get("/v1/models", headers=headers).status_code == 200
    revoked = client.delete(f"/v1/admin/api-keys/{key['id']}", headers=admin)
    assert revoked.json()["revoked_at"] is not None
    assert client.get("/v1/models", headers=headers).status_code == 401


def test_bad_key_requests(client: TestClient, tenant: Tenant) -> None:
    admin = tenant.headers(True)
    for body in (
        {},
        {"name": ""},
        {"name": "x", "allowed_models": []},
        {"name": "x", "expires_at": "soon"},
    ):
        assert client.post("/v1/admin/api-keys", json=body, headers=admin).status_code == 422
    past = client.post(
        "/v1/admin/api-keys",
        json={"name": "x", "expires_at": "2001-01-01T00:00:00Z"},
        headers=admin,
    )
    assert past.status_code == 400
    unknown_model = client.post(
        "/v1/admin/api-keys", json={"name": "x", "allowed_models": ["nope"]}, headers=admin
    )
    assert unknown_model.status_code == 404
    unknown_ws = client.post(
        "/v1/admin/api-keys", json={"name": "x", "workspace": "nope"}, headers=admin
    )
    assert unknown_ws.status_code == 404


def test_tenants_cannot_see_or_touch_each_other(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())

    theirs = other_tenant.headers(True)
    assert client.get("/v1/admin/usage", headers=theirs).json()["data"] == []
    listed = client.get("/v1/admin/api-keys", headers=theirs).json()["data"]
    assert tenant.key_id not in [k["id"] for k in listed]
    response = client.delete(f"/v1/admin/api-keys/{tenant.key_id}", headers=theirs)
    assert response.status_code == 404
    # The first tenant's key still works, and its usage is its own.
    assert client.get("/v1/models", headers=tenant.headers()).status_code == 200
    mine = client.get("/v1/admin/usage", headers=tenant.headers(True)).json()
    assert mine["total"]["requests"] == 1
