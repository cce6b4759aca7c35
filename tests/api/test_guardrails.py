"""Guardrails on chat requests: the organisation's policy (``/v1/admin/guardrails``) and a
request's own ``guardrails`` field block a request before it reaches the model, or flag it;
both are audited, counted, and never applied to another organisation."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from fastapi.testclient import TestClient

from levante.guardrails import Moderation
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


class _NamesPoirot:
    """A classifier that finds violence wherever Hercule Poirot is named: a stand-in that the
    embedded model's greedy answer below is known to trip."""

    name = "stub-moderation"

    async def classify(self, texts: Sequence[str]) -> list[Moderation]:
        return [Moderation({"violence_and_threats": 0.9 if "Poirot" in t else 0.0}) for t in texts]


def test_an_answer_a_guardrail_finds_harmful_is_cut_before_it_reaches_the_client(
    client: TestClient, tenant: Tenant
) -> None:
    state = client.app.state.levante  # type: ignore[attr-defined]
    state.moderator.classifier = _NamesPoirot()
    client.put("/v1/admin/guardrails", json={"rules": {"violence_and_threats": "block"}},
               headers=tenant.headers(admin=True))  # fmt: skip
    question = "Tell me the plot of a famous detective story by Agatha Christie."
    cut = _chat(client, tenant, question, max_tokens=120)
    assert cut.status_code == 200, cut.text
    [choice] = cut.json()["choices"]
    assert choice["finish_reason"] == "content_filter"
    assert "Poirot" not in choice["message"]["content"]
    with client.stream(
        "POST", "/v1/chat/completions", headers=tenant.headers(),
        json={"model": MODEL, "max_tokens": 120, "temperature": 0, "stream": True,
              "messages": [{"role": "user", "content": question}]},
    ) as streamed:  # fmt: skip
        chunks = [
            json.loads(line[6:]) for line in streamed.iter_lines() if line.startswith("data: {")
        ]
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks if c["choices"])
    assert "Poirot" not in text
    assert [c["choices"][0]["finish_reason"] for c in chunks if c["choices"]][
        -1
    ] == "content_filter"
    audit = client.get("/v1/admin/audit-logs", headers=tenant.headers(admin=True)).json()["data"]
    assert [e["action"] for e in audit].count("guardrails.cut") == 2
