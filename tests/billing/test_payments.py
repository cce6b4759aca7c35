"""Payments: Stripe webhooks (signed, replayed, forged, tampered, stale) over HTTP, Stripe
Checkout against a loopback stand-in for Stripe's API, and manual payments."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from levante.api import create_app
from levante.billing.invoices import create_top_up_invoice
from levante.engine import ModelRegistry
from levante.settings import BillingSettings, Settings
from levante.storage import Database, utcnow
from levante.storage.models import Invoice, Payment, WalletEntry, WebhookEvent
from tests.helpers import Tenant

SECRET = "whsec_payments"


def event(
    invoice: Invoice, *, event_id: str = "evt_1", amount: int | None = None
) -> dict[str, Any]:
    return {
        "id": event_id,
        "type": "checkout.session.completed",
        "data": {
            "object": {
                "id": "cs_test_abc",
                "payment_status": "paid",
                "amount_total": invoice.total_cents if amount is None else amount,
                "currency": invoice.currency.lower(),
                "metadata": {"invoice_id": invoice.id},
            }
        },
    }


def sign(body: str, secret: str = SECRET, timestamp: int | None = None) -> str:
    return str(stripe.WebhookSignature.generate_signature_header(body, secret, timestamp))


class StripeStandIn(BaseHTTPRequestHandler):
    """Answers ``POST /v1/checkout/sessions`` the way Stripe's API does, and remembers it."""

    calls: ClassVar[list[dict[str, list[str]]]] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        form = parse_qs(self.rfile.read(length).decode())
        StripeStandIn.calls.append(form)
        body = json.dumps(
            {
                "id": "cs_test_abc",
                "object": "checkout.session",
                "url": "https://checkout.stripe.com/c/pay/cs_test_abc",
                "client_reference_id": form["client_reference_id"][0],
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def stripe_api() -> Iterator[str]:
    server = HTTPServer(("127.0.0.1", 0), StripeStandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    StripeStandIn.calls = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


@pytest.fixture
def stripe_client(
    settings: Settings, database: Database, model_registry: ModelRegistry, stripe_api: str
) -> Iterator[TestClient]:
    config = settings.model_copy(
        update={
            "billing": BillingSettings(
                provider="stripe",
                stripe_secret_key="sk_test_levante",
                stripe_webhook_secret=SECRET,
                stripe_api_base=stripe_api,
            )
        }
    )
    app = create_app(config, models=model_registry, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def state(database: Database) -> tuple[Any, ...]:
    with database.session() as session:
        return (
            session.scalar(select(func.count()).select_from(Payment)),
            session.scalar(select(func.count()).select_from(WalletEntry)),
            tuple(session.scalars(select(Invoice.status).order_by(Invoice.id))),
        )


def test_a_top_up_through_stripe_checkout_and_its_webhook(
    stripe_client: TestClient, tenant: Tenant, database: Database
) -> None:
    checkout = stripe_client.post(
        "/v1/admin/billing/top-ups", json={"amount": "25.00"}, headers=tenant.headers(admin=True)
    )
    assert checkout.status_code == 201, checkout.text
    assert checkout.json()["url"] == "https://checkout.stripe.com/c/pay/cs_test_abc"
    [call] = StripeStandIn.calls
    assert call["line_items[0][price_data][unit_amount]"] == ["3000"]  # 25.00 + 20% VAT
    assert call["metadata[invoice_id]"] == [checkout.json()["invoice_id"]]
    with database.session() as session:
        invoice = session.get_one(Invoice, checkout.json()["invoice_id"])
        body = json.dumps(event(invoice))
    assert state(database) == (0, 0, ("finalized",))
    # Back from Checkout, the browser has no API key: its page still shows the payment.
    [success], [cancel] = call["success_url"], call["cancel_url"]
    back = urlsplit(success)
    assert back.path == f"/billing/checkout/{invoice.id}"
    page = stripe_client.get(f"{back.path}?{back.query}")
    assert page.status_code == 200, page.text
    assert f"payment of invoice {invoice.number} is being confirmed" in page.text
    cancelled = urlsplit(cancel)
    page = stripe_client.get(f"{cancelled.path}?{cancelled.query}")
    assert f"invoice {invoice.number} is still due (30.00 USD)" in page.text
    for forged in (
        "token=0123456789abcdef0123456789abcdef", "", "token=", "token=" + "a" * 200,
        f"{back.query.split('&')[0]}&checkout=bogus", "token=%00%ff",
    ):  # fmt: skip
        refused = stripe_client.get(f"{back.path}?{forged}")
        assert refused.status_code == (400 if "%00" in forged else 404)  # NUL: refused at once
        assert str(invoice.number) not in refused.text

    response = stripe_client.post(
        "/v1/billing/webhooks/stripe", content=body, headers={"Stripe-Signature": sign(body)}
    )
    assert response.status_code == 200, response.text
    assert response.json()["result"] == "paid"
    paid = state(database)
    assert paid == (1, 1, ("paid",))
    page = stripe_client.get(f"{back.path}?{back.query}")
    assert f"Thank you: invoice {invoice.number} is paid." in page.text
    wallet = stripe_client.get("/v1/admin/billing/wallet", headers=tenant.headers(admin=True))
    assert wallet.json()["balance"] == "25.00"

    # The same event again (Stripe retries), and again freshly signed: nothing changes.
    for header in (sign(body), sign(body, timestamp=int(time.time()) - 5)):
        again = stripe_client.post(
            "/v1/billing/webhooks/stripe", content=body, headers={"Stripe-Signature": header}
        )
        assert again.json()["result"] == "duplicate"
    # Another event about the same payment: the invoice is paid, nothing changes.
    other = json.dumps(event(invoice, event_id="evt_2"))
    response = stripe_client.post(
        "/v1/billing/webhooks/stripe", content=other, headers={"Stripe-Signature": sign(other)}
    )
    assert response.json()["result"] == "ignored"
    assert state(database) == paid


@pytest.mark.parametrize(
    "forgery",
    [
        "wrong secret",
        "tampered amount",
        "stale",
        "future",
        "no signature",
        "not json",
        "a list",
        "data is text",
        "object is text",
        "metadata is text",
        "amount is text",
        "no id",
    ],
)
def test_a_forged_webhook_changes_nothing(
    stripe_client: TestClient, tenant: Tenant, database: Database, forgery: str
) -> None:
    with database.session() as session:
        invoice = create_top_up_invoice(
            session, tenant.organization_id, 1000, settings=BillingSettings(),
            default_currency="USD", now=utcnow(),
        )  # fmt: skip
        body = json.dumps(event(invoice))
    headers = {"Stripe-Signature": sign(body)}
    if forgery == "wrong secret":
        headers = {"Stripe-Signature": sign(body, "whsec_attacker")}
    elif forgery == "tampered amount":
        body = body.replace(f'"amount_total": {invoice.total_cents}', '"amount_total": 1')
    elif forgery == "stale":
        headers = {"Stripe-Signature": sign(body, timestamp=int(time.time()) - 3600)}
    elif forgery == "future":
        headers = {"Stripe-Signature": sign(body, timestamp=int(time.time()) + 3600)}
    elif forgery == "no signature":
        headers = {}
    else:  # correctly signed, but not an event of the shape Stripe sends
        shaped = event(invoice)
        malformed: object = {
            "not json": "{not json",
            "a list": [shaped],
            "data is text": {**shaped, "data": "x"},
            "object is text": {**shaped, "data": {"object": "x"}},
            "metadata is text": {**shaped, "data": {"object": {
                **shaped["data"]["object"], "metadata": "x"}}},
            "amount is text": {**shaped, "data": {"object": {
                **shaped["data"]["object"], "amount_total": "lots"}}},
            "no id": {**shaped, "id": 7},
        }[forgery]  # fmt: skip
        body = malformed if isinstance(malformed, str) else json.dumps(malformed)
        headers = {"Stripe-Signature": sign(body)}
    before = state(database)
    response = stripe_client.post("/v1/billing/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["object"] == "error"
    assert state(database) == before
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(WebhookEvent)) == 0


def test_webhooks_are_refused_without_a_secret(client: TestClient) -> None:
    response = client.post("/v1/billing/webhooks/stripe", content="{}")
    assert response.status_code == 404
    assert "not configured" in response.json()["message"]


def test_a_subscription_paid_up_front(
    stripe_client: TestClient, tenant: Tenant, database: Database
) -> None:
    response = stripe_client.post(
        "/v1/admin/billing/subscriptions",
        json={"plan": "chat-pro-monthly", "pay_now": True},
        headers=tenant.headers(admin=True),
    )
    assert response.status_code == 201, response.text
    checkout = response.json()["checkout"]
    assert checkout["provider"] == "stripe"
    assert checkout["url"]
    with database.session() as session:
        invoice = session.get_one(Invoice, checkout["invoice_id"])
        assert (invoice.kind, invoice.total_cents) == ("charges", round(1499 * 1.2))
