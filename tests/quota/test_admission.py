"""Admission through the HTTP API: rate limits, token limits, spending caps, and the ledger."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from levante.audit import Actor
from levante.billing import add_paid_spend
from levante.pricing import format_amount
from levante.settings import Limits, TierSettings
from levante.storage import Database
from levante.storage.models import Reservation, UsageRecord
from tests.helpers import Tenant, live_server, make_tenant
from tests.quota.conftest import (
    INPUT_PER_TOKEN,
    OUTPUT_PER_TOKEN,
    STUB_MODEL,
    GatewayFactory,
    stub_body,
)

WORST_PROMPT = len(b"hi") + 8 + 8  # the gateway's bound for an upstream prompt of one turn
WORST_COST = WORST_PROMPT * INPUT_PER_TOKEN + 4 * OUTPUT_PER_TOKEN


def _ledger(database: Database) -> list[UsageRecord]:
    with database.session() as session:
        return list(session.scalars(select(UsageRecord)))


def _reservations(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(Reservation)) or 0)


def test_a_request_is_priced_and_carries_its_limits(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    tier = TierSettings(
        name="metered", requests_per_second=50, tokens_per_minute=10_000, tokens_per_month=10**6
    )
    with gateway(tiers=[tier]) as app, TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
        assert response.status_code == 200, response.text
        usage = response.json()["usage"]
        cost_tokens = WORST_PROMPT + 4
        assert response.headers["x-ratelimit-tokens-query-cost"] == str(cost_tokens)
        assert response.headers["x-ratelimit-limit-tokens-minute"] == "10000"
        assert response.headers["x-ratelimit-remaining-tokens-minute"] == str(10_000 - cost_tokens)
        assert response.headers["x-ratelimit-limit-tokens-month"] == "1000000"
        assert response.headers["x-ratelimit-limit-req-second"] == "50"
    [row] = _ledger(database)
    assert (row.prompt_tokens, row.completion_tokens) == (usage["prompt_tokens"], 4)
    assert row.price_id == f"price_{STUB_MODEL}"
    assert row.currency == "USD"
    assert row.input_cost_nanos == 11 * INPUT_PER_TOKEN
    assert row.output_cost_nanos == 4 * OUTPUT_PER_TOKEN
    assert row.cost_nanos == row.input_cost_nanos + row.output_cost_nanos
    assert _reservations(database) == 0


def test_requests_per_second_are_limited_with_retry_after(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    tier = TierSettings(name="slow", requests_per_second=0.2)
    with gateway(tiers=[tier]) as app, TestClient(app) as client:
        ok = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
        assert ok.status_code == 200
        refused = client.post(
            "/v1/chat/completions", json=stub_body(stream=True), headers=tenant.headers()
        )
    assert refused.status_code == 429
    assert refused.json() == {
        "object": "error",
        "message": refused.json()["message"],
        "type": "rate_limit_error",
        "param": None,
        "code": "requests_rate_limited",
    }
    assert 1 <= int(refused.headers["retry-after"]) <= 5
    assert len(_ledger(database)) == 1  # the refused request costs nothing
    assert _reservations(database) == 0


def test_tokens_per_minute_and_per_month_count_the_worst_case(
    gateway: GatewayFactory, database: Database
) -> None:
    per_request = WORST_PROMPT + 4
    for limits, code in (
        ({"tokens_per_minute": 35}, "tokens_rate_limited"),
        ({"tokens_per_month": 35}, "monthly_tokens_limited"),
    ):
        tier = TierSettings(name="t", **limits)
        tenant = make_tenant(database, code)  # the month's tokens are the ledger's
        with gateway(tiers=[tier]) as app, TestClient(app) as client:
            first = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
            assert first.status_code == 200
            # The first reserved its worst case (22) and settled at 15 actual tokens: 20 are
            # left, too few for another worst case of 22, enough for one asking for 1 (19).
            second = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
            assert second.status_code == 429
            assert second.json()["code"] == code
            assert second.headers["x-ratelimit-tokens-query-cost"] == str(per_request)
            smaller = client.post(
                "/v1/chat/completions", json=stub_body(max_tokens=1), headers=tenant.headers()
            )
            assert smaller.status_code == 200, (code, smaller.text)


def test_per_model_limits_override_the_tier(gateway: GatewayFactory, tenant: Tenant) -> None:
    tier = TierSettings(
        name="t", requests_per_second=0.1, models={STUB_MODEL: Limits(requests_per_second=100)}
    )
    with gateway(tiers=[tier]) as app, TestClient(app) as client:
        for _ in range(5):
            response = client.post(
                "/v1/chat/completions", json=stub_body(), headers=tenant.headers()
            )
            assert response.status_code == 200
        assert response.headers["x-ratelimit-limit-req-second"] == "100"


def test_the_tier_rises_with_paid_spend(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    tiers = [
        TierSettings(name="free", requests_per_second=0.1),
        TierSettings(name="paid", paid_spend=Decimal(20), requests_per_second=100),
        TierSettings(name="more", paid_spend=Decimal(60), requests_per_second=200),
    ]
    with gateway(tiers=tiers) as app, TestClient(app) as client:
        limits = client.get("/v1/admin/rate-limit", headers=tenant.headers(admin=True)).json()
        assert (limits["tier"], limits["tier_pinned"]) == ("free", False)
        assert limits["data"] == [
            {
                "model": STUB_MODEL,
                "requests_per_second": 0.1,
                "tokens_per_minute": None,
                "tokens_per_month": None,
                "tokens_used_this_month": 0,
            }
        ]
        statuses = [
            client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
            for _ in range(2)
        ]
        assert [r.status_code for r in statuses] == [200, 429]
        with database.session() as session:
            add_paid_spend(session, tenant.organization_id, 20 * 10**9, "USD", actor=Actor("test"))
            add_paid_spend(session, tenant.organization_id, 50 * 10**9, "EUR", actor=Actor("test"))
        limits = client.get("/v1/admin/rate-limit", headers=tenant.headers(admin=True)).json()
        # 20 USD and 50 EUR are not 70 of anything: the tier is the one 50 EUR reaches.
        assert limits["paid_spend"] == {"EUR": "50.00", "USD": "20.00"}
        assert limits["tier"] == "paid"
        assert limits["data"][0]["tokens_used_this_month"] == 15
        again = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
        assert again.status_code == 200


def test_a_spending_cap_holds_against_200_concurrent_requests(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    """A cap worth ten worst cases: however the 200 requests interleave, billed spend stays
    under it, every refusal is a 429 with the documented body, and the ledger holds exactly
    the usage the clients were given."""
    cap = 10 * WORST_COST
    with gateway() as app, live_server(app) as url:
        admin = httpx.put(
            f"{url}/v1/admin/spend-limit",
            json={"monthly_limit": format_amount(cap)},
            headers=tenant.headers(admin=True),
        )
        assert admin.status_code == 200, admin.text

        async def one(client: httpx.AsyncClient, i: int) -> httpx.Response:
            return await client.post(
                "/v1/chat/completions",
                json=stub_body(stream=i % 2 == 0, stream_options={"include_usage": True}),
                headers=tenant.headers(),
            )

        async def run() -> list[tuple[int, dict[str, Any] | None, dict[str, Any]]]:
            limits = httpx.Limits(max_connections=200)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                responses = await asyncio.gather(*(one(client, i) for i in range(200)))
            results: list[tuple[int, dict[str, Any] | None, dict[str, Any]]] = []
            for response in responses:
                if response.status_code != 200:
                    results.append((response.status_code, None, response.json()))
                    continue
                usage = None
                if response.headers["content-type"].startswith("text/event-stream"):
                    for line in response.text.splitlines():
                        if line.startswith("data: {") and '"usage":{' in line:
                            import json

                            usage = json.loads(line[6:])["usage"]
                else:
                    usage = response.json()["usage"]
                results.append((200, usage, {}))
            return results

        results = asyncio.run(run())
        summary = httpx.get(
            f"{url}/v1/admin/spend-limit", headers=tenant.headers(admin=True)
        ).json()
    served = [usage for status, usage, _ in results if status == 200]
    refused = [body for status, _, body in results if status != 200]
    assert len(served) >= 10
    assert len(served) + len(refused) == 200
    assert {
        (status, body["type"], body["code"]) for status, _, body in results if status != 200
    } == {(429, "rate_limit_error", "spend_limit_reached")}
    rows = _ledger(database)
    assert len(rows) == len(served)
    billed = sum(r.cost_nanos for r in rows)
    assert billed <= cap
    assert all(u is not None for u in served)
    assert sum(r.prompt_tokens for r in rows) == sum(u["prompt_tokens"] for u in served if u)
    assert sum(r.completion_tokens for r in rows) == sum(
        u["completion_tokens"] for u in served if u
    )
    assert _reservations(database) == 0
    [org_line, *_] = summary["data"]
    assert org_line["monthly_limit"] == format_amount(cap)
    assert org_line["spent_this_month"] == format_amount(billed)
    assert org_line["reserved"] == "0.00"
