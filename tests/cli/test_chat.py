"""``levante chat …`` and ``levante usage --product chat``, and their admin API twins."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from levante.audit import Actor
from levante.chat import chat_standing
from levante.identity import create_account, personal_organization
from levante.metering import Ledger, UsageEvent, UsageStatus
from levante.storage import Database, utcnow
from levante.storage.models import ChatProfile
from tests.cli.runner import fails, ok
from tests.helpers import Tenant, make_operator


@pytest.fixture(autouse=True)
def _use_test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")


def _chat_user(database: Database, email: str, messages: int = 1) -> tuple[str, str]:
    """A signed-up chat user who sent ``messages``; their id and organisation."""
    now = utcnow()
    with database.session() as session:
        user = create_account(
            session, Actor.command_line(), email, "correct horse battery", currency="USD"
        )
        personal = personal_organization(session, user, currency="USD")
        session.add(
            ChatProfile(
                user_id=user.id,
                personal_organization_id=personal.id,
                organization_id=personal.id,
                instructions="",
                created_at=now,
            )
        )
        user_id, org_id = user.id, personal.id
    ledger = Ledger(database)
    for n in range(messages):
        ledger.record(
            UsageEvent(
                request_id=f"req_{email}_{n}", organization_id=org_id, workspace_id=None,
                api_key_id=None, product="chat", endpoint="chat.message",
                model="smollm2-135m-instruct", prompt_tokens=40, completion_tokens=10,
                cached_tokens=30, status=UsageStatus.COMPLETED, finish_reason="stop",
                stream=True, time_to_first_token_ms=5, duration_ms=50, started_at=now,
                finished_at=now, user_id=user_id,
            )
        )  # fmt: skip
    return user_id, org_id


def test_chat_users_and_setting_a_plan(database: Database) -> None:
    ok("db", "upgrade")
    _chat_user(database, "ana@example.com", messages=3)
    [row] = json.loads(ok("chat", "users", "--json"))
    assert (row["email"], row["plan"], row["messages_this_week"]) == (
        "ana@example.com", "Chat Free", "3",
    )  # fmt: skip
    out = ok("chat", "plan", "--user", "ana@example.com", "chat-pro-monthly")
    assert "Chat Pro" in out
    [row] = json.loads(ok("chat", "users", "--json"))
    assert row["plan"] == "Chat Pro"  # set by the operator: applies at once
    ok("chat", "plan", "--user", "ana@example.com", "chat-free")
    [row] = json.loads(ok("chat", "users", "--json"))
    assert row["plan"] == "Chat Free"
    fails("chat", "plan", "--user", "nobody@example.com", "chat-pro-monthly",
          message="no chat user")  # fmt: skip
    fails("chat", "plan", "--user", "ana@example.com", "support-standard",
          message="is not a chat plan")  # fmt: skip


def test_usage_of_the_chat_across_the_deployment(database: Database) -> None:
    ok("db", "upgrade")
    _chat_user(database, "ana@example.com", messages=2)
    _chat_user(database, "ben@example.com", messages=1)
    rows = json.loads(ok("usage", "--product", "chat", "--json"))
    assert rows == [
        {"product": "chat", "model": "smollm2-135m-instruct", "requests": "3", "prompt": "120",
         "cached": "90", "completion": "30", "total": "150", "cost": "0.00"},
    ]  # fmt: skip
    assert json.loads(ok("usage", "--product", "api", "--json")) == []
    fails("usage", "--product", "games", message="product must be one of")


def test_the_admin_api_lists_chat_users_and_sets_plans(
    client: TestClient, database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    _, org_id = _chat_user(database, "ana@example.com")
    refused = client.get("/v1/admin/chat/users", headers=tenant.headers(admin=True))
    assert refused.status_code == 403
    operator = make_operator(database, other_tenant)
    listed = client.get("/v1/admin/chat/users", headers=operator.headers(admin=True))
    assert listed.status_code == 200
    assert [u["email"] for u in listed.json()["data"]] == ["ana@example.com"]
    changed = client.post(
        "/v1/admin/chat/users/ana@example.com/plan",
        json={"plan": "chat-pro-annual"},
        headers=operator.headers(admin=True),
    )
    assert changed.status_code == 200, changed.text
    with database.session() as session:
        assert chat_standing(session, org_id).plan.code == "chat-pro-annual"
    unknown = client.post(
        "/v1/admin/chat/users/nobody@example.com/plan",
        json={"plan": "chat-pro-annual"},
        headers=operator.headers(admin=True),
    )
    assert unknown.status_code == 404
    chat_usage = client.get(
        "/v1/admin/usage", params={"product": "chat"}, headers=tenant.headers(admin=True)
    )
    assert chat_usage.status_code == 200
