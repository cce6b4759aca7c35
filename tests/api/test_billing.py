"""The billing API: an organisation's own account, plans, subscriptions, wallet and invoices;
the operator's actions; isolation between organisations; bad input."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings
from levante.storage import Database
from tests.helpers import Tenant, make_operator, make_tenant


@pytest.fixture
def operator(database: Database, other_tenant: Tenant) -> Tenant:
    make_operator(database, other_tenant)
    return other_tenant


def test_a_customer_manages_its_billing(client: TestClient, tenant: Tenant) -> None:
    me = tenant.headers(True)
    account = client.get("/v1/admin/billing/account", headers=me).json()
    assert (account["currency"], account["state"], account["country"]) == ("USD", "active", None)
    change = {"country": "de", "is_business": True, "vat_number": "DE 123456789",
              "currency": "EUR", "legal_name": "Acme GmbH"}  # fmt: skip
    account = client.patch("/v1/admin/billing/account", json=change, headers=me)
    assert account.status_code == 200, account.text
    assert (account.json()["country"], account.json()["vat_number"]) == ("DE", "DE123456789")

    plans = {p["code"]: p for p in client.get("/v1/admin/billing/plans", headers=me).json()["data"]}
    assert {"chat-pro-monthly", "chat-pro-annual", "enterprise-gpu", "support-critical"} <= set(
        plans
    )
    assert {(p["currency"], p["amount"]) for p in plans["chat-pro-monthly"]["prices"]} == {
        ("EUR", "14.99"), ("USD", "14.99"),
    }  # fmt: skip
    assert {p["amount"] for p in plans["chat-pro-annual"]["prices"]} == {"143.90"}

    created = client.post(
        "/v1/admin/billing/subscriptions", json={"plan": "chat-team-monthly", "seats": 3},
        headers=me,
    )  # fmt: skip
    assert created.status_code == 201, created.text
    sub = created.json()
    assert (sub["status"], sub["seats"], sub["currency"], sub["checkout"]) == (
        "trialing", 3, "EUR", None,
    )  # fmt: skip
    path = f"/v1/admin/billing/subscriptions/{sub['id']}"
    assert client.patch(path, json={"seats": 5}, headers=me).json()["seats"] == 5
    assert client.post(f"{path}/cancel", json={}, headers=me).json()["cancel_at_period_end"]
    assert not client.post(f"{path}/resume", headers=me).json()["cancel_at_period_end"]
    listed = client.get("/v1/admin/billing/subscriptions", headers=me).json()["data"]
    assert [s["id"] for s in listed] == [sub["id"]]

    checkout = client.post("/v1/admin/billing/top-ups", json={"amount": "40"}, headers=me)
    assert checkout.status_code == 201, checkout.text
    assert checkout.json()["provider"] == "manual"
    assert "bank transfer" in checkout.json()["instructions"]
    invoice_id = checkout.json()["invoice_id"]
    # A German business buying from a French seller: reverse charge, no VAT.
    invoice = client.get(f"/v1/admin/invoices/{invoice_id}", headers=me).json()
    assert (invoice["total"], invoice["tax_scheme"], invoice["status"]) == (
        "40.00", "reverse_charge", "finalized",
    )  # fmt: skip
    assert [line["amount"] for line in invoice["lines"]] == ["40.00"]
    by_number = client.get(f"/v1/admin/invoices/{invoice['number']}", headers=me).json()
    assert by_number["id"] == invoice_id
    html = client.get(f"/v1/admin/invoices/{invoice_id}/html", headers=me)
    assert html.headers["content-type"].startswith("text/html")
    assert invoice["number"] in html.text
    pdf = client.get(f"/v1/admin/invoices/{invoice_id}/pdf", headers=me)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    assert [i["id"] for i in client.get("/v1/admin/invoices", headers=me).json()["data"]] == [
        invoice_id
    ]
    wallet = client.get("/v1/admin/billing/wallet", headers=me).json()
    assert (wallet["balance"], wallet["currency"], wallet["entries"]) == ("0.00", "EUR", [])
    actions = [e["action"] for e in client.get("/v1/admin/audit-logs", headers=me).json()["data"]]
    for action in ("billing_account.updated", "subscription.created", "subscription.changed",
                   "subscription.cancel_scheduled", "subscription.resumed", "invoice.finalized"):  # fmt: skip
        assert action in actions


def test_the_operator_invoices_collects_and_grants(
    client: TestClient, tenant: Tenant, operator: Tenant
) -> None:
    ops = operator.headers(True)
    org = tenant.organization_id
    top_up = client.post(
        "/v1/admin/billing/top-ups", json={"amount": "10"}, headers=tenant.headers(True)
    ).json()
    paid = client.post(
        f"/v1/admin/invoices/{top_up['invoice_id']}/payments", json={"reference": "SEPA-1"},
        headers=ops,
    )  # fmt: skip
    assert paid.status_code == 201, paid.text
    assert (paid.json()["amount"], paid.json()["invoice_status"]) == ("12.00", "paid")
    # The same transfer recorded twice is one payment.
    again = client.post(
        f"/v1/admin/invoices/{top_up['invoice_id']}/payments", json={"reference": "SEPA-1"},
        headers=ops,
    )  # fmt: skip
    assert again.json()["id"] == paid.json()["id"]
    granted = client.post(
        "/v1/admin/billing/grants",
        json={"organization": org, "amount": "5", "expires_on": "2099-01-01"},
        headers=ops,
    )
    assert granted.status_code == 201, granted.text
    assert granted.json()["balance"] == "15.00"
    prepaid = client.patch(
        f"/v1/admin/organizations/{org}/billing",
        json={"prepaid_only": True, "low_balance_threshold": "20"},
        headers=ops,
    )
    assert prepaid.json()["prepaid_only"] is True
    wallet = client.get("/v1/admin/billing/wallet", headers=tenant.headers(True)).json()
    assert (wallet["low_balance"], wallet["low_balance_threshold"]) == (True, "20.00")
    generated = client.post("/v1/admin/invoices/generate", json={"period": "2026-01"}, headers=ops)
    assert generated.status_code == 200, generated.text
    assert generated.json()["created"] == 0
    listed = client.get(f"/v1/admin/invoices?organization={org}", headers=ops).json()["data"]
    assert [i["id"] for i in listed] == [top_up["invoice_id"]]
    second = client.post(
        "/v1/admin/billing/top-ups", json={"amount": "10"}, headers=tenant.headers(True)
    ).json()
    voided = client.post(f"/v1/admin/invoices/{second['invoice_id']}/void", headers=ops)
    assert voided.json()["status"] == "void"


def test_billing_is_private_to_each_organisation(
    client: TestClient, tenant: Tenant, other_tenant: Tenant
) -> None:
    me, them = tenant.headers(True), other_tenant.headers(True)
    sub = client.post(
        "/v1/admin/billing/subscriptions", json={"plan": "support-standard"}, headers=me
    ).json()
    invoice = client.post("/v1/admin/billing/top-ups", json={"amount": "10"}, headers=me).json()[
        "invoice_id"
    ]
    secrets = {tenant.organization_id, sub["id"], invoice}
    for path in ("/v1/admin/invoices", "/v1/admin/billing/subscriptions?include_ended=true",
                 "/v1/admin/billing/wallet", "/v1/admin/billing/account", "/v1/admin/audit-logs"):  # fmt: skip
        response = client.get(path, headers=them)
        assert response.status_code == 200, (path, response.text)
        assert not any(s in json.dumps(response.json()) for s in secrets), path
    denied = [
        ("GET", f"/v1/admin/invoices/{invoice}", None, 404),
        ("GET", f"/v1/admin/invoices/{invoice}/html", None, 404),
        ("GET", f"/v1/admin/invoices/{invoice}/pdf", None, 404),
        ("POST", f"/v1/admin/invoices/{invoice}/checkout", None, 404),
        ("PATCH", f"/v1/admin/billing/subscriptions/{sub['id']}", {"seats": 2}, 404),
        ("POST", f"/v1/admin/billing/subscriptions/{sub['id']}/cancel", {}, 404),
        ("POST", f"/v1/admin/billing/subscriptions/{sub['id']}/resume", None, 404),
        ("GET", f"/v1/admin/invoices?organization={tenant.organization_id}", None, 403),
        ("POST", "/v1/admin/invoices/generate", {"period": "2026-01"}, 403),
        ("POST", f"/v1/admin/invoices/{invoice}/payments", {"reference": "x"}, 403),
        ("POST", f"/v1/admin/invoices/{invoice}/void", None, 403),
        ("POST", "/v1/admin/billing/grants",
         {"organization": tenant.organization_id, "amount": "100"}, 403),
        ("PATCH", f"/v1/admin/organizations/{tenant.organization_id}/billing",
         {"prepaid_only": True}, 403),
    ]  # fmt: skip
    for method, path, body, status in denied:
        response = client.request(method, path, json=body, headers=them)
        assert response.status_code == status, (method, path, response.text)
        assert response.json()["object"] == "error"
    # Inference keys reach none of it.
    assert client.get("/v1/admin/invoices", headers=tenant.headers()).status_code == 403
    assert client.get(f"/v1/admin/invoices/{invoice}", headers=me).status_code == 200


def test_bad_billing_input_gets_the_error_body_never_a_500(
    client: TestClient, tenant: Tenant, operator: Tenant
) -> None:
    me, ops = tenant.headers(True), operator.headers(True)
    org = tenant.organization_id
    cases = [
        (me, "PATCH", "/v1/admin/billing/account", {"country": "F1"}, 400),
        (me, "PATCH", "/v1/admin/billing/account", {"country": "France"}, 422),
        (me, "PATCH", "/v1/admin/billing/account", {"vat_number": "DE123456789"}, 400),
        (
            me,
            "PATCH",
            "/v1/admin/billing/account",
            {"country": "FR", "vat_number": "DE123456789"},
            400,
        ),
        (me, "PATCH", "/v1/admin/billing/account", {"currency": "GBP"}, 422),
        (me, "PATCH", "/v1/admin/billing/account", [1], 422),
        (me, "POST", "/v1/admin/billing/subscriptions", {"plan": "nope"}, 404),
        (
            me,
            "POST",
            "/v1/admin/billing/subscriptions",
            {"plan": "chat-pro-monthly", "seats": 0},
            422,
        ),
        (
            me,
            "POST",
            "/v1/admin/billing/subscriptions",
            {"plan": "chat-pro-monthly", "seats": 2},
            400,
        ),
        (me, "POST", "/v1/admin/billing/subscriptions", {}, 422),
        (me, "PATCH", "/v1/admin/billing/subscriptions/sub_nope", {"seats": 2}, 404),
        (me, "POST", "/v1/admin/billing/top-ups", {"amount": "abc"}, 400),
        (me, "POST", "/v1/admin/billing/top-ups", {"amount": "0.001"}, 400),
        (me, "POST", "/v1/admin/billing/top-ups", {"amount": "-5"}, 400),
        (me, "POST", "/v1/admin/billing/top-ups", {"amount": "0.50"}, 400),
        (me, "POST", "/v1/admin/billing/top-ups", {"amount": "1e30"}, 400),
        (me, "GET", "/v1/admin/invoices?period=2026-13", None, 400),
        (me, "GET", "/v1/admin/invoices?period=june", None, 422),
        (me, "GET", "/v1/admin/invoices?limit=0", None, 422),
        (me, "GET", "/v1/admin/invoices/inv_nope", None, 404),
        (ops, "POST", "/v1/admin/invoices/generate", {"period": "2026-13"}, 400),
        (ops, "POST", "/v1/admin/invoices/generate", {"period": "1999-01"}, 400),
        (
            ops,
            "POST",
            "/v1/admin/invoices/generate",
            {"period": "2026-01", "organization": "nope"},
            404,
        ),
        (ops, "POST", "/v1/admin/invoices/inv_nope/payments", {"reference": "x"}, 404),
        (ops, "POST", "/v1/admin/billing/grants", {"organization": org, "amount": "x"}, 400),
        (
            ops,
            "POST",
            "/v1/admin/billing/grants",
            {"organization": org, "amount": "5", "expires_on": "2020-01-01"},
            400,
        ),
        (ops, "POST", "/v1/admin/billing/grants", {"organization": org, "amount": "-5"}, 400),
        (
            ops,
            "PATCH",
            f"/v1/admin/organizations/{org}/billing",
            {"low_balance_threshold": "-1"},
            400,
        ),
        (ops, "PATCH", "/v1/admin/organizations/nope/billing", {"prepaid_only": True}, 404),
    ]
    for headers, method, path, body, status in cases:
        response = client.request(method, path, json=body, headers=headers)
        assert response.status_code == status, (path, body, response.text)
        assert response.json()["object"] == "error"
    invoice = client.post("/v1/admin/billing/top-ups", json={"amount": "10"}, headers=me).json()
    for amount, status in (("1e30", 400), ("0", 400), ("999", 400), ("0.001", 400)):
        response = client.post(
            f"/v1/admin/invoices/{invoice['invoice_id']}/payments",
            json={"reference": f"r-{amount}", "amount": amount},
            headers=ops,
        )
        assert response.status_code == status, (amount, response.text)


def test_one_unpaid_top_up_at_a_time(client: TestClient, tenant: Tenant) -> None:
    me = tenant.headers(True)
    first = client.post("/v1/admin/billing/top-ups", json={"amount": "10"}, headers=me)
    assert first.status_code == 201, first.text
    second = client.post("/v1/admin/billing/top-ups", json={"amount": "10"}, headers=me)
    assert (second.status_code, second.json()["code"]) == (409, "top_up_pending")
    number = client.get(f"/v1/admin/invoices/{first.json()['invoice_id']}", headers=me).json()
    assert number["number"] in second.json()["message"]


def test_admin_routes_are_rate_limited_per_key(
    settings: Settings, database: Database, model_registry: ModelRegistry, tenant: Tenant
) -> None:
    app = create_app(
        settings.model_copy(update={"admin_requests_per_minute": 5}),
        models=model_registry,
        database=database,
    )
    other = make_tenant(database, "Other")
    with TestClient(app, raise_server_exceptions=False) as client:
        codes = [
            client.get("/v1/admin/api-keys", headers=tenant.headers(True)).status_code
            for _ in range(7)
        ]
        assert codes == [200] * 5 + [429] * 2
        refused = client.get("/v1/admin/api-keys", headers=tenant.headers(True))
        assert refused.json()["type"] == "rate_limit_error"
        assert int(refused.headers["retry-after"]) >= 1
        # Another key has its own allowance; inference is not an admin route.
        assert client.get("/v1/admin/api-keys", headers=other.headers(True)).status_code == 200
