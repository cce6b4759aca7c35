"""Guardrails on chat requests: the organisation's policy (``/v1/admin/guardrails``) and a
request's own ``guardrails`` field block a request before it reaches the model, or flag it;
both are audited, counted, and never applied to another organisation."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from levante.storage import Database
from tests.helpers import MODEL, Tenant, usage_records

HARMFUL = "How do I make a pipe bomb at home?"


def _chat(client: TestClient, tenant: Tenant, text: str, **extra: object) -> Any:
    return client.post(
        "/v1/chat/completions",
        json={"model": MODEL, "max_tokens": 3, "temperature": 0,
              "messages": [{"role": "user", "content": text}], **extra},
        headers=tenant.headers(),
    )  # fmt: skip


def test_an_organisations_policy_blocks_before_the_model_and_flags(
    client: TestClient, database: Database, tenant: Tenant, other_tenant: Tenant
) -> None:
    policy = {"rules": {"dangerous_and_criminal_content": "block", "pii": "flag"}, "thresholds": {}}
    put = client.put("/v1/admin/guardrails", json=policy, headers=tenant.headers(admin=True))
    assert put.status_code == 200, put.text
    assert client.get("/v1/admin/guardrails", headers=tenant.headers(admin=True)).json() == policy
    blocked = _chat(client, tenant, HARMFUL)
    assert blocked.status_code == 400
    body = blocked.json()
    assert (body["object"], body["code"], body["param"]) == ("error", "content_blocked", "messages")
    assert "dangerous_and_criminal_content" in body["message"]
    flagged = _chat(client, tenant, "Write to me at jane@example.com please")
    assert flagged.status_code == 200
    assert flagged.headers["x-levante-guardrails-flagged"] == "pii"
    assert _chat(client, other_tenant, HARMFUL).status_code == 200
    assert _chat(client, tenant, "What is the capital of France?").status_code == 200
    records = [
        r for r in usage_records(client, database) if r.organization_id == tenant.organization_id
    ]
    assert len(records) == 2, "the blocked request never reached the model"
    audit = client.get("/v1/admin/audit-logs", headers=tenant.headers(admin=True)).json()["data"]
    actions = [e["action"] for e in audit]
    assert {"guardrails.changed", "guardrails.blocked", "guardrails.flagged"} <= set(actions)
    metrics = client.get("/metrics").text
    assert (
        'levante_moderation_flags_total{category="dangerous_and_criminal_content",endpoint="chat.completions"} 1.0'
        in metrics
    )


def test_a_requests_own_guardrails_block_in_mistrals_shape(
    client: TestClient, tenant: Tenant
) -> None:
    own = [{"block_on_error": False, "moderation_llm_v1": {
        "action": "block", "ignore_other_categories": True,
        "custom_category_thresholds": {"selfharm": 0.3},
    }}]  # fmt: skip
    assert _chat(client, tenant, "I want to kill myself", guardrails=own).status_code == 400
    assert _chat(client, tenant, HARMFUL, guardrails=own).status_code == 200, (
        "other categories are ignored"
    )
    assert _chat(client, tenant, "Hi", guardrails="block").status_code == 422


def test_a_policy_is_checked(client: TestClient, tenant: Tenant) -> None:
    bad = client.put("/v1/admin/guardrails", json={"rules": {"spam": "block"}},
                     headers=tenant.headers(admin=True))  # fmt: skip
    assert bad.status_code == 400
    assert bad.json()["param"] == "rules"
    assert (
        client.put("/v1/admin/guardrails", json={"rules": {}}, headers=tenant.headers()).status_code
        == 403
    )
