"""The operator's revenue routes: the report's shape and amounts as decimal strings, the
exchange rates, and a clear error for a bad month or a missing rate."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi.testclient import TestClient

from levante import billing
from levante.audit import Actor
from levante.storage import Database
from tests.helpers import Tenant, make_operator

CLI = Actor.command_line()


def test_the_report_counts_a_subscription_in_its_stream(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    operator = make_operator(database, other_tenant)
    with database.session() as session:
        billing.subscribe(
            session, tenant.organization_id, "support-premium",
            now=datetime(2026, 3, 10, tzinfo=UTC), default_currency="USD", actor=CLI,
        )  # fmt: skip
    response = client.get(
        "/v1/admin/revenue",
        params={"first": "2026-03", "last": "2026-04"},
        headers=operator.headers(True),
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["object"], body["currency"], body["first"], body["last"]) == (
        "revenue", "USD", "2026-03", "2026-04",
    )  # fmt: skip
    april = body["months"][-1]
    assert april["streams"]["support"]["mrr"] == "2166.67"  # 26,000 a year
    assert april["streams"]["support"]["arr"] == "26000.00"
    assert april["streams"]["support"]["share"] == "1.0000"
    assert april["streams"]["api"]["share"] == "0.0000"
    assert body["months"][0]["movements"]["support"]["new"] == "2166.67"
    assert body["top"][0]["arr"]["total"] == "26000.00"
    assert body["cohort"]["support"]["nrr"] == "1.0000"
    assert "usage is never counted in MRR" in body["policy_text"]
    one = client.get(
        "/v1/admin/revenue",
        params={"first": "2026-03", "last": "2026-04", "organization": tenant.organization_id},
        headers=operator.headers(True),
    ).json()
    assert one["months"][-1]["streams"]["total"]["arr"] == "26000.00"


def test_rates_are_set_and_listed_and_a_bad_month_is_a_clear_error(
    client: TestClient, other_tenant: Tenant, database: Database
) -> None:
    operator = make_operator(database, other_tenant)
    headers = operator.headers(True)
    body = {"base": "EUR", "quote": "USD", "rate": "1.0825", "effective_on": "2026-01-01"}
    made = client.post("/v1/admin/revenue/rates", json=body, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["rate"] == "1.0825"
    listed = client.get("/v1/admin/revenue/rates", headers=headers).json()
    assert [(r["base"], r["quote"], r["rate"]) for r in listed["data"]] == [
        ("EUR", "USD", "1.0825")
    ]
    bad = client.post("/v1/admin/revenue/rates", json=body | {"rate": "-2"}, headers=headers)
    assert bad.status_code == 400
    assert bad.json()["param"] == "rate"
    month = client.get("/v1/admin/revenue", params={"first": "2026-13"}, headers=headers)
    assert month.status_code == 400
    assert month.json()["object"] == "error"
