"""The headers every response carries: a page runs only Levante's own scripts, is never framed
and never cached; the API's answers are not sniffed; static assets still load and cache."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante import billing, platform
from levante.api import create_app
from levante.audit import Actor
from levante.engine import ModelRegistry
from levante.settings import BillingSettings, Settings
from levante.storage import Database
from levante.storage.models import Membership, User
from levante.web.templating import ASSET_VERSION
from tests.helpers import Tenant, make_tenant
from tests.web.conftest import Browser

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}


def directives(response: object) -> dict[str, str]:
    header: str = response.headers["content-security-policy"]  # type: ignore[attr-defined]
    parts = (part.strip().split(" ", 1) for part in header.split(";") if part.strip())
    return {name: value for name, value in parts}


def assert_page_headers(response: object) -> None:
    headers = response.headers  # type: ignore[attr-defined]
    assert directives(response) == POLICY
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in headers  # served over http here


def test_signed_out_pages_and_a_redirect(person: Browser) -> None:
    for path in ("/login", "/signup"):
        response = person.get(path)
        assert response.status_code == 200, path
        assert_page_headers(response)
    to_sign_in = person.get("/console/keys", follow_redirects=False)
    assert to_sign_in.status_code == 303
    assert to_sign_in.headers["cache-control"] == "no-store"
    assert to_sign_in.headers["x-content-type-options"] == "nosniff"


def test_signed_in_pages_and_the_key_secret(person: Browser) -> None:
    signed_up = person.sign_up("owner@acme.example")
    assert "lv_session" in signed_up.headers["set-cookie"]
    assert signed_up.headers["cache-control"] == "no-store"
    for path in ("/chat", "/console/keys", "/console/usage", "/account", "/support"):
        response = person.get(path)
        assert response.status_code == 200, path
        assert_page_headers(response)
    org = re.search(r'name="org" value="([^"]+)"', person.get("/console/keys").text)
    assert org is not None
    made = person.post("/console/keys", {"org": org.group(1), "name": "production"})
    assert made.status_code == 201
    assert 'id="new-secret"' in made.text
    assert_page_headers(made)


def test_the_error_page(person: Browser) -> None:
    person.sign_up("alice@example.com")
    missing = person.get("/chat/c/conv_nothing_here")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("text/html")
    assert_page_headers(missing)


def test_invoice_downloads_are_not_stored(person: Browser, database: Database) -> None:
    person.sign_up("owner@acme.example")
    with database.session() as session:
        user = session.scalars(select(User).where(User.email == "owner@acme.example")).one()
        org = session.scalars(select(Membership).where(Membership.user_id == user.id)).one()
        billing.subscribe(session, org.organization_id, "support-standard",
                          now=datetime(2026, 11, 2, tzinfo=UTC), default_currency="USD",
                          actor=Actor.command_line())  # fmt: skip
    run = platform.run_invoices(
        database, Actor.command_line(), "2026-11", organization=org.organization_id,
        finalize=False, settings=BillingSettings(), default_currency="USD", settle_seconds=0,
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )  # fmt: skip
    invoice = run.results[0].invoice.id
    for ref in (f"{invoice}.pdf", f"{invoice}.html"):
        download = person.get(f"/console/invoices/{ref}")
        assert download.status_code == 200, ref
        assert download.headers["cache-control"] == "no-store"
        assert download.headers["x-content-type-options"] == "nosniff"
    # The HTML invoice keeps its own style sheet (it is saved as one file): its policy admits
    # exactly that sheet, by its hash, and still no script.
    html = person.get(f"/console/invoices/{invoice}.html")
    [sheet] = re.findall(r"<style>(.*?)</style>", html.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(sheet.encode()).digest()).decode()
    assert directives(html) == {**POLICY, "style-src": f"'self' 'sha256-{digest}'"}


def test_static_assets_still_load_and_may_be_cached(app: TestClient) -> None:
    for name, kind in (("app.css", "text/css"), ("chat.js", "text/javascript")):
        asset = app.get(f"/static/{name}?v={ASSET_VERSION}")
        assert asset.status_code == 200, name
        assert asset.headers["content-type"].startswith(kind)
        assert asset.headers["x-content-type-options"] == "nosniff"
        assert "cache-control" not in asset.headers
        assert "content-security-policy" not in asset.headers


def test_the_api_answers_are_not_sniffed(app: TestClient, database: Database) -> None:
    tenant: Tenant = make_tenant(database, "Acme")
    models = app.get("/v1/models", headers=tenant.headers())
    assert models.status_code == 200
    assert models.headers["x-content-type-options"] == "nosniff"
    refused = app.get("/v1/models")
    assert refused.status_code == 401
    assert refused.headers["x-content-type-options"] == "nosniff"
    assert "x-frame-options" not in refused.headers


@pytest.fixture
def https_app(
    web_settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[TestClient]:
    behind_https = web_settings.model_copy(
        update={"billing": BillingSettings(public_url="https://levante.example")}
    )
    application = create_app(behind_https, models=model_registry, database=database)
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client


def test_behind_https_browsers_are_told_to_stay_on_it(https_app: TestClient) -> None:
    for path in ("/login", "/healthz", f"/static/app.css?v={ASSET_VERSION}"):
        response = https_app.get(path, headers={"Accept": "text/html"})
        assert response.headers["strict-transport-security"] == "max-age=31536000", path


def test_with_stripe_forms_may_continue_to_its_checkout(
    web_settings: Settings, database: Database, model_registry: ModelRegistry
) -> None:
    # Chromium applies form-action to the redirect that follows a form (a plan bought, a
    # top-up): the checkout page's origin is allowed, and nothing else.
    stripe = web_settings.model_copy(
        update={"billing": BillingSettings(provider="stripe", stripe_secret_key="sk_test_x")}
    )
    application = create_app(stripe, models=model_registry, database=database)
    with TestClient(application, raise_server_exceptions=False) as client:
        page = client.get("/login", headers={"Accept": "text/html"})
    assert directives(page)["form-action"] == "'self' https://checkout.stripe.com"
