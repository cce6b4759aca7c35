"""``/v1/files`` over HTTP: upload, list, retrieve, download, delete; the limits; and
another organisation's file a 404 on every route."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from levante.settings import FilesSettings, Settings
from tests.helpers import Tenant

LINES = b'{"custom_id": "a", "body": {"messages": []}}\n'


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={"files": FilesSettings(max_file_bytes=4096, organization_max_bytes=6000)}
    )


def _upload(
    client: TestClient, tenant: Tenant, data: bytes = LINES, **form: str
) -> dict[str, object]:
    response = client.post(
        "/v1/files",
        files={"file": ("requests.jsonl", data, "application/octet-stream")},
        data=form or {"purpose": "batch"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_a_file_goes_up_is_listed_read_and_deleted(client: TestClient, tenant: Tenant) -> None:
    made = _upload(client, tenant)
    assert made["object"] == "file"
    assert (made["bytes"], made["num_lines"], made["purpose"]) == (len(LINES), 1, "batch")
    assert (made["sample_type"], made["source"], made["filename"]) == (
        "batch_request",
        "upload",
        "requests.jsonl",
    )
    file_id = made["id"]
    listed = client.get("/v1/files", headers=tenant.headers()).json()
    assert [f["id"] for f in listed["data"]] == [file_id]
    assert (listed["object"], listed["total"], listed["has_more"]) == ("list", 1, False)
    assert client.get(f"/v1/files/{file_id}", headers=tenant.headers()).json() == made
    content = client.get(f"/v1/files/{file_id}/content", headers=tenant.headers())
    assert content.status_code == 200
    assert content.content == LINES
    assert content.headers["content-type"] == "application/octet-stream"
    assert 'filename="requests.jsonl"' in content.headers["content-disposition"]
    gone = client.delete(f"/v1/files/{file_id}", headers=tenant.headers())
    assert gone.json() == {"id": file_id, "object": "file", "deleted": True}
    assert client.get(f"/v1/files/{file_id}", headers=tenant.headers()).status_code == 404


def test_a_name_loses_its_invisible_format_characters(client: TestClient, tenant: Tenant) -> None:
    response = client.post(
        "/v1/files",
        files={"file": ("requests\u202elnosj.jsonl", LINES)},
        data={"purpose": "batch"},
        headers=tenant.headers(),
    )
    assert response.status_code == 200, response.text
    assert response.json()["filename"] == "requestslnosj.jsonl"


def test_without_a_purpose_a_file_is_for_fine_tuning(client: TestClient, tenant: Tenant) -> None:
    assert _upload(client, tenant, purpose="")["purpose"] == "fine-tune"
    response = client.post(
        "/v1/files",
        files={"file": ("a.jsonl", LINES)},
        data={"purpose": "assistants"},
        headers=tenant.headers(),
    )
    assert response.status_code == 400
    assert response.json()["param"] == "purpose"
    assert "batch, fine-tune, ocr" in response.json()["message"]


def test_another_organisations_file_is_not_found_anywhere(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    file_id = _upload(client, tenant)["id"]
    theirs = other_tenant.headers()
    for method, path in [
        ("GET", f"/v1/files/{file_id}"),
        ("GET", f"/v1/files/{file_id}/content"),
        ("DELETE", f"/v1/files/{file_id}"),
    ]:
        response = client.request(method, path, headers=theirs)
        assert response.status_code == 404, (method, path)
        assert response.json()["object"] == "error"
        assert response.json()["code"] == "file_not_found"
    assert client.get("/v1/files", headers=theirs).json()["data"] == []
    assert client.get(f"/v1/files?after={file_id}", headers=theirs).status_code == 404
    assert client.get(f"/v1/files/{file_id}", headers=tenant.headers()).status_code == 200


def test_limits_answer_413_with_the_error_body(client: TestClient, tenant: Tenant) -> None:
    too_big = client.post(
        "/v1/files",
        files={"file": ("big.jsonl", b"x" * 5000)},
        data={"purpose": "batch"},
        headers=tenant.headers(),
    )
    assert too_big.status_code == 413
    assert too_big.json()["code"] == "payload_too_large"
    _upload(client, tenant, b"x" * 4000)
    full = client.post(
        "/v1/files",
        files={"file": ("more.jsonl", b"x" * 3000)},
        data={"purpose": "batch"},
        headers=tenant.headers(),
    )
    assert full.status_code == 413
    assert full.json()["code"] == "storage_limit_reached"
    way_too_big = client.post(
        "/v1/files",
        files={"file": ("huge.jsonl", b"x" * 200_000)},
        data={"purpose": "batch"},
        headers=tenant.headers(),
    )
    assert way_too_big.status_code == 413, "the body limit stops it before the route reads it"


def test_a_file_needs_a_key(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/v1/files", files={"file": ("a.jsonl", LINES)})
    assert response.status_code == 401


def test_an_upload_without_a_file_or_with_a_path_for_a_name_is_refused(
    client: TestClient, tenant: Tenant
) -> None:
    missing = client.post("/v1/files", data={"purpose": "batch"}, headers=tenant.headers())
    assert missing.status_code == 422
    assert missing.json()["object"] == "error"
    pathed = client.post(
        "/v1/files", files={"file": ("../x.jsonl", LINES)}, data={"purpose": "batch"},
        headers=tenant.headers(),
    )  # fmt: skip
    assert pathed.status_code == 400
    assert pathed.json()["param"] == "file"
