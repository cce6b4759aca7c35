"""Bad input on the API, on SQLite and PostgreSQL alike: a NUL character anywhere (a JSON
body, the query, the path, a header) is a 400 naming where it was, on every route; far dates,
huge page numbers and over-long text are a 4xx with the error body, never a 500."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from levante import licensing
from levante.settings import Settings
from levante.storage import Database, utcnow
from tests.helpers import MODEL, Tenant, api_routes, chat_body, make_operator

FAR = ("9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+05:00")  # not a time in UTC


def _route_paths(methods: set[str]) -> list[tuple[str, str]]:
    return sorted(
        (method, re.sub(r"\{[^}]+\}", "x", route.path))
        for route in api_routes()
        for method in (route.methods or set()) & methods
    )


def _refused_for_nul(response: Any, where: str) -> None:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["object"] == "error"
    assert (body["code"], body["param"]) == ("nul_character", where)
    assert body["message"] == f"{where}: text may not contain NUL characters"


@pytest.fixture
def ops(database: Database, tenant: Tenant) -> Tenant:
    return make_operator(database, tenant)


def test_a_nul_in_any_json_body_is_refused_before_the_route(
    client: TestClient, ops: Tenant
) -> None:
    routes = _route_paths({"POST", "PUT", "PATCH"})
    assert len(routes) >= 40
    for method, path in routes:
        body = {"name": "ok", "messages": [{"role": "user", "content": "a\u0000b"}]}
        response = client.request(method, path, json=body, headers=ops.headers(admin=True))
        _refused_for_nul(response, "messages.0.content")


def test_a_nul_in_any_query_is_refused(client: TestClient, ops: Tenant) -> None:
    for method, path in _route_paths({"GET", "DELETE"}):
        response = client.request(
            method, path, params={"search": "a\x00"}, headers=ops.headers(admin=True)
        )
        _refused_for_nul(response, "search")


@pytest.mark.parametrize(
    ("path", "body", "where"),
    [
        ("/v1/admin/api-keys", {"name": "a\u0000b"}, "name"),
        ("/v1/admin/members", {"email": "a\u0000@b.example", "role": "member"}, "email"),
        ("/v1/chat/completions", chat_body("\u0000"), "messages.0.content"),
        ("/v1/chat/completions", chat_body(user="a\u0000"), "user"),
        ("/v1/chat/completions", chat_body(metadata={"a\u0000": "b"}), "metadata.a\\0"),
        ("/v1/embeddings", {"model": MODEL, "input": ["ok", "\u0000"]}, "input.1"),
        ("/v1/support/tickets", {"subject": "\u0000", "description": "d"}, "subject"),
    ],
)
def test_a_nul_names_where_it_was(
    client: TestClient, ops: Tenant, path: str, body: dict[str, Any], where: str
) -> None:
    _refused_for_nul(client.post(path, json=body, headers=ops.headers(admin=True)), where)


def test_a_nul_in_the_path_or_a_header_is_refused(client: TestClient, ops: Tenant) -> None:
    admin = ops.headers(admin=True)
    _refused_for_nul(client.get("/v1/support/tickets/a%00b", headers=admin), "path")
    with_agent = {**admin, "User-Agent": "bot\x00"}
    _refused_for_nul(client.get("/v1/models", headers=with_agent), "user-agent")
    escaped = client.post(  # "\\u0000" is the six characters \u0000: text like any other
        "/v1/admin/api-keys", content=json.dumps({"name": "\\u0000"}),
        headers={**admin, "Content-Type": "application/json"},
    )  # fmt: skip
    assert escaped.status_code == 201, escaped.text
    assert escaped.json()["name"] == "\\u0000"


def test_a_nul_in_an_uploaded_file_name_or_field_is_refused(
    client: TestClient, ops: Tenant
) -> None:
    headers = ops.headers()
    field = client.post("/v1/files", files={"file": ("in.jsonl", b"{}\n")},
                        data={"purpose": "ba\x00tch"}, headers=headers)  # fmt: skip
    _refused_for_nul(field, "purpose")
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="in\x00.jsonl"\r\n'
        b"Content-Type: application/jsonl\r\n\r\n{}\n\r\n--b--\r\n"
    )
    named = client.post("/v1/files", content=body, headers={
        **headers, "Content-Type": "multipart/form-data; boundary=b",
    })  # fmt: skip
    _refused_for_nul(named, "file")
    binary = client.post("/v1/files", files={"file": ("blob.bin", b"\x00\x01")},
                         data={"purpose": "fine-tune"}, headers=headers)  # fmt: skip
    assert binary.status_code == 200, binary.text  # a file's own bytes may hold anything
    long_type = client.post(
        "/v1/files", files={"file": ("a.txt", b"x", "text/" + "x" * 200)},
        data={"purpose": "fine-tune"}, headers=headers,
    )  # fmt: skip
    assert long_type.status_code == 200, long_type.text
    assert long_type.json()["mimetype"] == "text/plain"


def test_a_nul_in_a_batch_file_is_refused_by_line(client: TestClient, ops: Tenant) -> None:
    line = {"custom_id": "a\u0000b", "body": {"model": MODEL, "messages": [
        {"role": "user", "content": "hi"}]}}  # fmt: skip
    uploaded = client.post(
        "/v1/files", files={"file": ("in.jsonl", json.dumps(line).encode() + b"\n")},
        data={"purpose": "batch"}, headers=ops.headers(),
    )  # fmt: skip
    assert uploaded.status_code == 200, uploaded.text
    job = client.post("/v1/batch/jobs", headers=ops.headers(), json={
        "input_files": [uploaded.json()["id"]], "endpoint": "/v1/chat/completions",
    })  # fmt: skip
    assert job.status_code == 400, job.text
    assert "line 1: 'custom_id' may not contain NUL characters" in job.json()["message"]


@pytest.mark.parametrize(
    "path",
    [
        "/v1/batch/jobs?page=242160179334783680",
        "/v1/files?page=242160179334783680",
        "/v1/files?page=9223372036854775807&page_size=10000",
        "/v1/admin/audit-logs?before=99999999999999999999",
    ],
)
def test_a_huge_page_is_a_422(client: TestClient, ops: Tenant, path: str) -> None:
    response = client.get(path, headers=ops.headers(admin=True))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "validation_error"


@pytest.mark.parametrize("when", FAR)
def test_a_time_outside_utc_is_a_400(client: TestClient, ops: Tenant, when: str) -> None:
    admin = ops.headers(admin=True)
    for method, path, body, params in [
        ("POST", "/v1/admin/api-keys", {"name": "k", "expires_at": when}, None),
        ("POST", "/v1/admin/prices",
         {"model": MODEL, "input": "1", "output": "1", "effective_from": when}, None),
        ("GET", "/v1/batch/jobs", None, {"created_after": when}),
    ]:  # fmt: skip
        response = client.request(method, path, json=body, params=params, headers=admin)
        assert response.status_code == 400, (path, response.text)
        message = response.json()["message"]
        assert "is out of range: in UTC it is not between the years 1 and 9999" in message


def test_a_key_expiring_more_than_ten_years_ahead_is_refused(
    client: TestClient, ops: Tenant
) -> None:
    admin = ops.headers(admin=True)
    for when in ("9999-12-31T23:59:59Z", (utcnow() + timedelta(days=3660)).isoformat()):
        response = client.post(
            "/v1/admin/api-keys", json={"name": "k", "expires_at": when}, headers=admin
        )
        assert response.status_code == 400, response.text
        assert response.json()["message"] == "expiry must lie within 10 years from now"
    inside = (utcnow() + timedelta(days=3640)).isoformat()
    made = client.post("/v1/admin/api-keys", json={"name": "k", "expires_at": inside},
                       headers=admin)  # fmt: skip
    assert made.status_code == 201, made.text


def test_a_licence_for_longer_than_ten_years_or_outside_utc_is_refused(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database,
    settings: Settings,
) -> None:  # fmt: skip
    licensing.Keyring(settings.license_keys_dir).generate()
    admin = make_operator(database, other_tenant).headers(admin=True)
    org = tenant.organization_id
    issued = client.post("/v1/admin/licenses", headers=admin,
                         json={"organization": org, "expires_at": "2030-01-01T00:00:00Z"})  # fmt: skip
    assert issued.status_code == 201, issued.text
    renew = f"/v1/admin/licenses/{issued.json()['id']}/renew"
    for when in (*FAR, "9999-12-31T00:00:00Z", "2200-01-01T00:00:00Z"):
        for path, body in [
            ("/v1/admin/licenses", {"organization": org, "expires_at": when}),
            ("/v1/admin/licenses", {"organization": org, "starts_at": when,
                                    "expires_at": "2030-01-01T00:00:00Z"}),
            (renew, {"expires_at": when}),
        ]:  # fmt: skip
            response = client.post(path, json=body, headers=admin)
            assert response.status_code == 400, (path, body, response.text)
            assert response.json()["object"] == "error"


def test_over_long_names_are_refused_alike(client: TestClient, ops: Tenant) -> None:
    admin = ops.headers(admin=True)
    long_name = client.post("/v1/admin/api-keys", json={"name": "k" * 201}, headers=admin)
    assert long_name.status_code == 422
    assert long_name.json()["param"] == "name"
    member = client.post(
        "/v1/admin/members", json={"email": "a@b.example", "role": "member", "name": "n" * 201},
        headers=admin,
    )  # fmt: skip
    assert 400 <= member.status_code < 500, member.text
    assert member.json()["param"] == "name"
