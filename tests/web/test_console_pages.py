"""The operator's console over HTTP: the revenue dashboard, customers, prices, invoices,
licences, the audit log and the gateways, for the operator's owners and admins; every one of
its routes refuses everyone else, and every form needs its CSRF token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.routing import APIRoute

from levante import billing, tenancy
from levante.audit import Actor
from levante.engine import ModelNames
from levante.storage import Database
from levante.storage.models import Role
from levante.web.console import operator_router
from tests.helpers import make_tenant
from tests.web.conftest import Browser, join_operator

PAGES = ("/console/operator", "/console/operator/revenue", "/console/operator/customers/acme")


def operator_routes() -> Iterator[tuple[str, str]]:
    """Every route of the operator's console, with "x" for its parameters."""
    for route in operator_router.routes:
        if isinstance(route, APIRoute):
            for method in sorted(route.methods or ()):
                yield method, re.sub(r"\{[^}]+\}", "x", route.path)


@pytest.fixture
def acme(database: Database) -> str:
    org = make_tenant(database, "Acme").organization_id
    with database.session() as session:
        billing.subscribe(
            session, org, "support-premium", now=datetime(2026, 1, 10, tzinfo=UTC),
            default_currency="USD", actor=Actor.command_line(),
        )  # fmt: skip
    return org


def test_the_dashboard_shows_the_report_to_an_operator_admin(
    person: Browser, database: Database, acme: str
) -> None:
    join_operator(database, person, "ops@levante.example", Role.ADMIN)
    page = person.get("/console/operator/revenue?first=2026-01&last=2026-02")
    assert page.status_code == 200, page.text
    assert 'id="revenue-data"' in page.text
    assert "26,000.00" in page.text  # support-premium's ARR, in the by-stream table
    assert "/static/vendor/chart.umd.min.js" in page.text
    csv = person.get("/console/operator/revenue?first=2026-01&last=2026-02&format=csv")
    assert csv.headers["content-type"].startswith("text/csv")
    assert "2026-02,support,2166.67,26000.00" in csv.text
    customer = person.get("/console/operator/customers/acme?first=2026-01&last=2026-02")
    assert customer.status_code == 200
    assert "Support Premium" in customer.text
    assert "26,000.00" in customer.text
    assert person.get("/console/operator/customers/nobody").status_code == 404


@pytest.mark.parametrize("role", [None, Role.SUPPORT, Role.MEMBER, Role.BILLING])
def test_every_route_refuses_anyone_else(
    person: Browser, database: Database, acme: str, role: Role | None
) -> None:
    if role is None:
        person.sign_up("customer@acme.example")
    else:
        join_operator(database, person, f"{role}@levante.example", role)
    routes = list(operator_routes())
    assert len(routes) >= 12, routes
    for method, path in routes:
        if method == "GET":
            response = person.get(path)
        else:
            response = person.post(path, {"period": "2026-01", "organization": "acme"})
        assert response.status_code == 403, (method, path, response.status_code)
        assert "26,000" not in response.text
        assert "Acme" not in response.text


def test_the_operator_works_customers_invoices_prices_and_licences(
    person: Browser, database: Database, acme: str
) -> None:
    join_operator(database, person, "ops@levante.example", Role.OWNER)
    found = person.get("/console/operator/customers?q=acm")
    assert found.status_code == 200
    assert "/console/operator/customers/acme" in found.text
    assert "acme" not in person.get("/console/operator/customers?q=nothing-like-it").text
    for path in ("/console/operator/prices", "/console/operator/invoices",
                 "/console/operator/licenses", "/console/operator/audit",
                 "/console/operator/gateways"):  # fmt: skip
        assert person.get(path).status_code == 200, path
    ran = person.post("/console/operator/invoices/run", {"period": "2026-01"})
    assert ran.status_code == 303
    assert "1 created" in person.get(ran.headers["location"]).text
    listed = person.get("/console/operator/invoices?period=2026-01")
    assert "Acme" in listed.text
    # A refused form comes back in place, its reason beside it (test_refusals.py).
    far = person.post("/console/operator/invoices/run", {"period": "9999-12"})
    assert (far.status_code, 'data-testid="refusal"' in far.text) == (400, True)
    far_range = person.get("/console/operator/revenue?last=9999-12")
    # Issue 29: a bad range or an unknown audit slug was a whole error page; now the reason
    # stands beside the filter, what was typed kept, over the page unfiltered.
    assert (far_range.status_code, 'data-testid="refusal"' in far_range.text) == (400, True)
    assert 'value="9999-12"' in far_range.text
    assert "By stream" in far_range.text or "revenue-data" in far_range.text
    unknown = person.get("/console/operator/audit?org=no-such-org")
    assert (unknown.status_code, 'data-testid="refusal"' in unknown.text) == (404, True)
    assert 'value="no-such-org"' in unknown.text
    bad = person.post("/console/operator/invoices/run", {"period": "January"})
    assert bad.status_code == 400
    assert "YYYY-MM" in bad.text
    price = person.post("/console/operator/prices",
                        {"model": "smollm2-135m-instruct", "input": "0.10", "output": "-1"})  # fmt: skip
    assert (price.status_code, 'data-testid="refusal"' in price.text) == (400, True)
    licence = person.post("/console/operator/licenses", {"organization": "acme"})
    assert licence.status_code == 409  # no signing key yet: a readable refusal, not a 500
    assert "levante license keygen" in licence.text
    report = person.post("/console/operator/licenses/reports", {"report": "not a report"})
    assert (report.status_code, 'data-testid="refusal"' in report.text) == (400, True)
    refused = person.post("/console/operator/invoices/run", {"period": "2026-01"}, csrf=False)
    assert refused.status_code == 403


def test_signed_out_goes_to_sign_in(person: Browser) -> None:
    for path in PAGES:
        response = person.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/console/operator")


def test_the_operator_sets_exchange_rates_and_sees_plan_prices(
    person: Browser, database: Database, acme: str
) -> None:
    """Issue 29: rates were set only on the command line, and the plans listed no prices."""
    join_operator(database, person, "ops@levante.example", Role.OWNER)
    prices = person.get("/console/operator/prices")
    assert "No rate yet" in prices.text
    # Issue 29, point 18: a served model without a price is flagged in the console too.
    assert 'data-testid="unpriced"' in prices.text
    assert "is metered at 0.00" in prices.text
    assert "26,000.00" in prices.text or "2,166.67" in prices.text or "USD now" in prices.text
    bad = person.post("/console/operator/rates",
                      {"base": "EUR", "quote": "USD", "rate": "-1", "effective_on": "2026-01-01"})  # fmt: skip
    assert (bad.status_code, 'data-testid="refusal"' in bad.text) == (400, True)
    assert 'value="-1"' in bad.text
    day = person.post("/console/operator/rates",
                      {"base": "EUR", "quote": "USD", "rate": "1.08", "effective_on": "2026-13-01"})  # fmt: skip
    assert day.status_code == 400
    assert "YYYY-MM-DD" in day.text
    done = person.post("/console/operator/rates",
                       {"base": "EUR", "quote": "USD", "rate": "1.08", "effective_on": "2026-01-01"})  # fmt: skip
    assert done.status_code == 303
    page = person.get(done.headers["location"])
    assert "1 EUR = 1.08 USD" in page.text


def test_the_audit_log_names_people_and_spans_every_organisation(
    person: Browser, database: Database, acme: str
) -> None:
    """Issue 29: the log showed `user:user_fll3…` for a person, one organisation at a time
    chosen by typing a slug, with no filter."""
    join_operator(database, person, "ops@levante.example", Role.OWNER)
    with database.session() as session:
        tenancy.add_member(
            session, Actor.command_line(), "acme", email="dev@acme.example", role=Role.MEMBER,
            public_url="http://x",
        )  # fmt: skip
        tenancy.create_key(session, Actor.command_line(), "acme", name="ci",
                           models=ModelNames([]))  # fmt: skip
    added = person.post("/console/operator/rates", {"base": "EUR", "quote": "USD", "rate": "1.1",
                                                    "effective_on": "2026-01-01"})  # fmt: skip
    assert added.status_code == 303
    every = person.get("/console/operator/audit")
    assert every.status_code == 200
    assert "dev@acme.example" in every.text  # the member added to Acme...
    assert "the command line" in every.text  # ...by the command line
    assert "ops@levante.example" in every.text  # the rate, by the operator signed in
    assert "user:user_" not in every.text
    assert ">Acme</a>" in every.text
    members = person.get("/console/operator/audit?action=member.")
    assert "api_key.created" not in members.text
    assert "member.added" in members.text
    acme_only = person.get("/console/operator/audit?org=acme")
    assert "api_key.created" in acme_only.text
    assert "exchange_rate.set" not in acme_only.text


def test_the_operator_pages_through_invoices_and_opens_one(
    person: Browser, database: Database, acme: str
) -> None:
    """Issue 29: the operator could not open an invoice, and the list stopped at 200 rows
    without saying so."""
    from levante.billing.invoices import create_top_up_invoice
    from levante.settings import BillingSettings
    from levante.storage import new_id
    from levante.storage.models import Invoice

    join_operator(database, person, "ops@levante.example", Role.OWNER)
    with database.session() as session:
        one = create_top_up_invoice(session, acme, 1000, settings=BillingSettings(),
                                    default_currency="USD", now=datetime.now(UTC))  # fmt: skip
        made = [one.id]
        for _ in range(119):  # voided copies, to page through
            made.append(new_id("inv"))
            session.add(Invoice(
                id=made[-1], organization_id=acme, kind=one.kind, currency="USD", status="void",
                customer=one.customer, seller=one.seller, tax_scheme=one.tax_scheme,
                tax_rate=one.tax_rate, created_at=datetime(2026, 1, 1, tzinfo=UTC),
            ))  # fmt: skip
    first = person.get("/console/operator/invoices")
    assert "Invoices 1–50 of 120" in first.text
    assert "page 1 of 3" in first.text
    third = person.get("/console/operator/invoices?page=3")
    assert "Invoices 101–120 of 120" in third.text
    assert 'rel="next"' not in third.text
    assert person.get("/console/operator/invoices?page=0").status_code == 422
    html = person.get(f"/console/operator/invoices/{made[0]}.html")
    assert html.status_code == 200
    assert "10.00" in html.text
    pdf = person.get(f"/console/operator/invoices/{made[0]}.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    assert person.get("/console/operator/invoices/nope.html").status_code == 404
    wrong = person.get("/console/operator/invoices?status=lost")
    assert (wrong.status_code, 'data-testid="refusal"' in wrong.text) == (400, True)
