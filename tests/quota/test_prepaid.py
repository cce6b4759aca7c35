"""Prepaid credits and billing state at admission: a prepaid-only organisation is served while
its credits last, even under concurrency; a restricted one is refused; usage is priced in the
organisation's currency or not at all."""

from __future__ import annotations

import asyncio

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante import billing
from levante.audit import Actor
from levante.billing.invoices import create_top_up_invoice
from levante.billing.wallet import grant_credits, wallet_state
from levante.pricing import format_amount
from levante.settings import BillingSettings
from levante.storage import Database, utcnow
from levante.storage.models import BillingAccount, UsageRecord
from tests.helpers import Tenant, live_server
from tests.quota.conftest import (
    INPUT_PER_TOKEN,
    OUTPUT_PER_TOKEN,
    GatewayFactory,
    stub_body,
)

WORST_COST = (len(b"hi") + 16) * INPUT_PER_TOKEN + 4 * OUTPUT_PER_TOKEN


def prepaid(database: Database, org: str, credit_nanos: int) -> None:
    with database.session() as session:
        billing.update_account(
            session,
            org,
            billing.AccountChange(prepaid_only=True),
            default_currency="USD",
            actor=Actor("t"),
        )
        grant_credits(
            session,
            org,
            credit_nanos,
            currency="USD",
            expires_on=None,
            now=utcnow(),
            actor=Actor("t"),
        )


def test_prepaid_credits_are_spent_then_refused_with_402(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    prepaid(database, tenant.organization_id, 3 * WORST_COST)
    with gateway() as app, TestClient(app) as client:
        statuses = [
            client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
            for _ in range(6)
        ]
        refused = [r for r in statuses if r.status_code != 200]
        assert refused, "the credits should have run out"
        body = refused[0].json()
        assert (refused[0].status_code, body["type"], body["code"]) == (
            402,
            "billing_error",
            "insufficient_credits",
        )
        assert "top up" in body["message"]
        wallet = client.get("/v1/admin/billing/wallet", headers=tenant.headers(admin=True)).json()
        with database.session() as session:
            used = sum(r.cost_nanos for r in session.scalars(select(UsageRecord)))
        assert used <= 3 * WORST_COST
        assert wallet["prepaid_only"] is True
        assert wallet["balance"] == format_amount(3 * WORST_COST - used)
        # More credits: served again at once (policies are not cached in these tests).
        with database.session() as session:
            grant_credits(
                session, tenant.organization_id, 10 * WORST_COST, currency="USD",
                expires_on=None, now=utcnow(), actor=Actor("t"),
            )  # fmt: skip
        response = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
        assert response.status_code == 200, response.text


def test_credits_hold_against_100_concurrent_requests(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    credit = 8 * WORST_COST
    prepaid(database, tenant.organization_id, credit)
    with gateway() as app, live_server(app) as url:

        async def run() -> list[int]:
            limits = httpx.Limits(max_connections=100)
            async with httpx.AsyncClient(base_url=url, timeout=60, limits=limits) as client:
                responses = await asyncio.gather(
                    *(
                        client.post(
                            "/v1/chat/completions", json=stub_body(), headers=tenant.headers()
                        )
                        for _ in range(100)
                    )
                )
            return [r.status_code for r in responses]

        statuses = asyncio.run(run())
    assert statuses.count(200) >= 8
    assert set(statuses) == {200, 402}
    with database.session() as session:
        rows = session.scalars(select(UsageRecord)).all()
        assert len(rows) == statuses.count(200)
        assert sum(r.cost_nanos for r in rows) <= credit
        state = wallet_state(session, tenant.organization_id, "USD", utcnow())
        assert state.balance_nanos >= 0


def test_a_restricted_organisation_is_refused_until_it_pays(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    config = BillingSettings(payment_terms_days=0, dunning_grace_days=0)
    with database.session() as session:
        invoice = create_top_up_invoice(
            session, tenant.organization_id, 1000, settings=config, default_currency="USD",
            now=utcnow(),
        )  # fmt: skip
        billing.run_cycle(session, config, utcnow())
    with gateway() as app, TestClient(app) as client:
        refused = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
        assert refused.status_code == 402
        assert refused.json()["code"] == "account_restricted"
        account = client.get("/v1/admin/billing/account", headers=tenant.headers(admin=True))
        assert account.json()["state"] == "restricted"
        with database.session() as session:
            billing.record_payment(
                session,
                session.get_one(type(invoice), invoice.id),
                provider="manual",
                reference="bank-1",
                now=utcnow(),
                actor=Actor("t"),
            )
            assert session.get_one(BillingAccount, tenant.organization_id).state == "active"
        served = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
        assert served.status_code == 200, served.text


def test_usage_is_priced_in_the_organisations_currency(
    gateway: GatewayFactory, tenant: Tenant, database: Database
) -> None:
    with database.session() as session:
        billing.update_account(
            session,
            tenant.organization_id,
            billing.AccountChange(currency="EUR", force=True),  # knowingly, with no EUR price
            default_currency="USD",
            actor=Actor("t"),
        )
    with gateway() as app, TestClient(app) as client:
        response = client.post("/v1/chat/completions", json=stub_body(), headers=tenant.headers())
    assert response.status_code == 400
    assert response.json()["code"] == "model_not_priced"
    assert "EUR" in response.json()["message"]
