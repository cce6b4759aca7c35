"""``/v1/admin``: usage, keys, limits, caps, audit log and prices, scoped to the caller's
organisation."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante import tenancy
from levante.errors import NotFoundError
from levante.storage import Database, utcnow
from levante.storage.models import OutboundMail, User
from levante.tenancy import create_workspace
from tests.helpers import MODEL, Tenant, chat_body, make_operator


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
    later = f"{utcnow().year + 5}-01-01T12:00:00"
    for naive in ("2001-01-01T00:00:00", later):  # no zone: read as UTC
        response = client.post(
            "/v1/admin/api-keys", json={"name": "x", "expires_at": naive}, headers=admin
        )
        assert response.status_code == (400 if naive.startswith("2001") else 201), response.text
    assert response.json()["expires_at"].startswith(later)
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


def test_every_admin_endpoint_is_scoped_to_the_callers_organisation(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    """The first tenant creates keys, caps and usage; the second's admin key, on every admin
    endpoint, sees none of it and can change none of it."""
    mine = tenant.headers(True)
    with database.session() as session:
        hidden = create_workspace(session, tenant.organization_id, "hidden-team")
    client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    created = client.post("/v1/admin/api-keys", json={"name": "ci"}, headers=mine).json()
    assert client.delete(f"/v1/admin/api-keys/{created['id']}", headers=mine).status_code == 200
    limit = {"monthly_limit": "12.50", "workspace": "hidden-team"}
    assert client.put("/v1/admin/spend-limit", json=limit, headers=mine).status_code == 200
    member = client.post("/v1/admin/members", json={"email": "hidden@acme.test"}, headers=mine)
    assert member.status_code == 201, member.text

    theirs = other_tenant.headers(True)
    secrets = {
        tenant.organization_id, tenant.key_id, created["id"], hidden.id, "hidden-team",
        member.json()["user_id"], "hidden@acme.test",
    }  # fmt: skip
    reads = [
        "/v1/admin/usage",
        "/v1/admin/usage?group_by=workspace&group_by=key&group_by=month",
        "/v1/admin/api-keys?include_revoked=true",
        "/v1/admin/rate-limit",
        "/v1/admin/spend-limit",
        "/v1/admin/audit-logs",
        "/v1/admin/prices",
        "/v1/admin/members",
    ]
    for path in reads:
        response = client.get(path, headers=theirs)
        assert response.status_code == 200, (path, response.text)
        text = json.dumps(response.json())
        assert not any(secret in text for secret in secrets), path
        assert "12.50" not in text
    writes = [
        ("DELETE", f"/v1/admin/api-keys/{tenant.key_id}", None, 404),
        ("GET", "/v1/admin/usage?workspace=hidden-team", None, 404),
        ("PUT", "/v1/admin/spend-limit", {"monthly_limit": "1", "workspace": hidden.id}, 404),
        ("PUT", "/v1/admin/spend-limit", {"monthly_limit": "1", "workspace": "hidden-team"}, 404),
        ("POST", "/v1/admin/prices", {"model": MODEL, "input": "1", "output": "1"}, 403),
        ("DELETE", f"/v1/admin/members/{member.json()['user_id']}", None, 404),
    ]
    for method, path, body, status in writes:
        response = client.request(method, path, json=body, headers=theirs)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["object"] == "error"
    # Non-admin keys reach no admin endpoint at all.
    for path in reads:
        assert client.get(path, headers=other_tenant.headers()).status_code == 403
    # What the first tenant set is untouched.
    caps = client.get("/v1/admin/spend-limit", headers=mine).json()["data"]
    assert [c["monthly_limit"] for c in caps if c["workspace"] == "hidden-team"] == ["12.50"]
    assert client.get("/v1/models", headers=tenant.headers()).status_code == 200


def test_spend_limits_are_set_read_and_audited(client: TestClient, tenant: Tenant) -> None:
    admin = tenant.headers(True)
    client.post("/v1/chat/completions", json=chat_body(), headers=tenant.headers())
    response = client.put("/v1/admin/spend-limit", json={"monthly_limit": "100"}, headers=admin)
    assert response.status_code == 200, response.text
    org_line, *workspaces = response.json()["data"]
    assert (org_line["workspace"], org_line["monthly_limit"]) == (None, "100.00")
    assert org_line["spent_this_month"] == "0.00"  # the model has no price: it is free
    assert [w["workspace"] for w in workspaces] == ["default"]
    client.put("/v1/admin/spend-limit", json={"monthly_limit": None}, headers=admin)
    for bad in ({"monthly_limit": "-1"}, {"monthly_limit": "abc"}, {"monthly_limit": "1e-12"}):
        response = client.put("/v1/admin/spend-limit", json=bad, headers=admin)
        assert response.status_code == 400, (bad, response.text)
    created = client.post("/v1/admin/api-keys", json={"name": "ci"}, headers=admin).json()
    client.delete(f"/v1/admin/api-keys/{created['id']}", headers=admin)

    log = client.get("/v1/admin/audit-logs", headers=admin).json()
    actions = [(e["action"], e["details"].get("after")) for e in log["data"]]
    assert actions[:2] == [("api_key.revoked", None), ("api_key.created", None)]
    assert ("spend_limit.updated", None) in actions
    assert ("spend_limit.updated", "100.00") in actions
    assert {e["actor"] for e in log["data"]} == {f"api_key:{_admin_key_id(client, tenant)}"}
    page = client.get("/v1/admin/audit-logs?limit=1", headers=admin).json()
    assert page["has_more"] is True
    older = client.get(f"/v1/admin/audit-logs?before={page['data'][0]['id']}", headers=admin)
    assert older.json()["data"][0]["action"] == "api_key.created"


def _someone_else(database: Database) -> str:
    with database.session() as session:
        session.add(User(id="user_mallory", email="mallory@example.com", name=""))
    return "user_mallory"


def _admin_key_id(client: TestClient, tenant: Tenant) -> str:
    keys = client.get("/v1/admin/api-keys", headers=tenant.headers(True)).json()["data"]
    [admin] = [k for k in keys if k["admin"]]
    key_id: str = admin["id"]
    return key_id


def test_only_the_operator_sets_prices_and_never_backdated(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    body = {"model": "smollm2", "input": "0.1", "output": "0.3"}
    assert (
        client.post("/v1/admin/prices", json=body, headers=tenant.headers(True)).status_code == 403
    )
    make_operator(database, tenant)
    response = client.post("/v1/admin/prices", json=body, headers=tenant.headers(True))
    assert response.status_code == 201, response.text
    price = response.json()
    assert (price["model"], price["input"], price["cached_input"], price["output"]) == (
        MODEL, "0.10", "0.01", "0.30",
    )  # fmt: skip
    assert price["batch_discount_percent"] == 50
    early = body | {"effective_from": (utcnow() - timedelta(hours=1)).isoformat()}
    response = client.post("/v1/admin/prices", json=early, headers=tenant.headers(True))
    assert response.status_code == 400
    assert response.json()["param"] == "effective_from"
    listed = client.get("/v1/admin/prices", headers=tenant.headers(True)).json()["data"]
    assert [p["id"] for p in listed] == [price["id"]]
    log = client.get("/v1/admin/audit-logs", headers=tenant.headers(True)).json()["data"]
    assert log[0]["action"] == "price.created"
    assert log[0]["details"]["input"] == "0.10"


def test_bad_admin_input_gets_the_error_body_never_a_500(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    make_operator(database, tenant)
    price = {"model": MODEL, "input": "1", "output": "1"}
    cases = [
        ("PUT", "/v1/admin/spend-limit", {"monthly_limit": "1e30"}, 400),
        ("PUT", "/v1/admin/spend-limit", {"monthly_limit": "99999999999999"}, 400),
        ("PUT", "/v1/admin/spend-limit", {"monthly_limit": 5}, 422),
        ("PUT", "/v1/admin/spend-limit", {"monthly_limit": "1", "workspace": ""}, 422),
        ("PUT", "/v1/admin/spend-limit", [1, 2], 422),
        ("POST", "/v1/admin/prices", price | {"input": "1e30"}, 400),
        ("POST", "/v1/admin/prices", price | {"output": "-1"}, 400),
        ("POST", "/v1/admin/prices", price | {"batch_discount_percent": 200}, 422),
        ("POST", "/v1/admin/prices", price | {"effective_from": "tomorrow"}, 422),
        ("GET", "/v1/admin/audit-logs?before=99999999999999999999999", None, 422),
        ("GET", "/v1/admin/audit-logs?limit=0", None, 422),
    ]
    for method, path, body, status in cases:
        response = client.request(method, path, json=body, headers=tenant.headers(True))
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["object"] == "error"
    # A time without a zone is UTC.
    later = price | {"effective_from": "2030-01-01T00:00:00"}
    response = client.post("/v1/admin/prices", json=later, headers=tenant.headers(True))
    assert response.status_code == 201, response.text
    assert response.json()["effective_from"].startswith("2030-01-01T00:00:00")


def test_an_existing_user_is_invited_not_enrolled(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    mine, theirs = tenant.headers(True), other_tenant.headers(True)
    body = {"email": "Ana@Acme.test", "name": "Ana Lima", "role": "admin"}
    added = client.post("/v1/admin/members", json=body, headers=mine).json()
    assert (added["status"], added["name"]) == ("member", "Ana Lima")

    # Another organisation adds the same address: it learns nothing of her, and she is not in.
    invited = client.post("/v1/admin/members", json={"email": "ana@acme.test"}, headers=theirs)
    assert invited.status_code == 201
    view = invited.json()
    assert (view["status"], view["user_id"], view["name"]) == ("invited", None, None)
    assert added["user_id"] not in invited.text
    assert "Ana Lima" not in invited.text
    listed = client.get("/v1/admin/members", headers=theirs).json()["data"]
    assert [(m["status"], m["user_id"], m["name"]) for m in listed] == [("invited", None, None)]
    with database.session() as session:
        _claim, mail = session.scalars(select(OutboundMail).order_by(OutboundMail.id)).all()
    assert mail.to == "ana@acme.test"
    token = re.search(r"/invitations/(\S+) and sign in as ana@acme.test", mail.body)
    assert token, mail.body

    # The secret alone accepts nothing (an inviter may have seen it): no route takes it
    # without a session, and signed in as anyone else it is not found. Ana, signed in, joins.
    assert client.post("/v1/invitations/accept", json={"token": token.group(1)}).status_code in (
        404, 405,
    )  # fmt: skip
    with database.session() as session, pytest.raises(NotFoundError):
        tenancy.accept_invitation(session, _someone_else(database), token.group(1))
    with database.session() as session:
        tenancy.accept_invitation(session, added["user_id"], token.group(1))
    listed = client.get("/v1/admin/members", headers=theirs).json()["data"]
    assert [(m["status"], m["user_id"]) for m in listed] == [("member", added["user_id"])]
    with database.session() as session, pytest.raises(NotFoundError):  # single use
        tenancy.accept_invitation(session, added["user_id"], token.group(1))
    mine_now = client.get("/v1/admin/members", headers=mine).json()["data"]
    assert [(m["email"], m["role"]) for m in mine_now] == [("ana@acme.test", "admin")]


def test_an_admin_key_cannot_leave_the_organisation_without_an_owner(
    client: TestClient, tenant: Tenant, database: Database
) -> None:
    """Finding 10: an admin key could remove or demote the only owner. Making or unmaking an
    owner is an owner's (an admin key acts as an admin); the last owner stays one anyway."""
    from levante import tenancy
    from levante.audit import Actor

    with database.session() as session:
        owner = tenancy.add_member(
            session, Actor.command_line(), tenant.organization_id, email="owner@acme.test",
            role=tenancy.Role.OWNER, public_url="http://testserver",
        ).user  # fmt: skip
        assert owner is not None
        user_id = owner.id
    admin = tenant.headers(True)
    for body in ({"email": "owner@acme.test", "role": "member"},
                 {"email": "someone@acme.test", "role": "owner"}):  # fmt: skip
        refused = client.post("/v1/admin/members", json=body, headers=admin)
        assert refused.status_code == 403, refused.text
        assert "only the organisation's owners" in refused.json()["message"]
    assert client.delete(f"/v1/admin/members/{user_id}", headers=admin).status_code == 403
    added = client.post(
        "/v1/admin/members", json={"email": "new@acme.test", "role": "admin"}, headers=admin
    )
    assert added.status_code == 201
    # The new user's claim link went to the address, never into the admin's answer.
    assert "password/reset" not in added.text
    with database.session() as session:
        mails = session.scalars(
            select(OutboundMail.body).where(OutboundMail.to == "new@acme.test")
        ).all()
    assert any("/password/reset/pwr-" in body for body in mails)


def test_an_admin_key_cannot_flood_a_mailbox(client: TestClient, tenant: Tenant) -> None:
    """Review: 25 posts to /v1/admin/members sent 25 claim mails to one address."""
    admin = tenant.headers(True)
    statuses = []
    for n in range(6):
        body = {"email": "target@victim.test", "role": "member" if n % 2 else "billing"}
        client.delete("/v1/admin/members/none", headers=admin)
        statuses.append(client.post("/v1/admin/members", json=body, headers=admin).status_code)
    assert statuses[0] == 201
    assert 429 in statuses
