"""The operator's console over HTTP: the revenue dashboard and a customer's page show the
report's figures to the operator's owners and admins, and refuse everyone else."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from levante import billing
from levante.audit import Actor
from levante.storage import Database
from levante.storage.models import Role
from tests.helpers import make_tenant
from tests.web.conftest import Browser, join_operator

PAGES = ("/console/operator", "/console/operator/revenue", "/console/operator/customers/acme")


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


@pytest.mark.parametrize("role", [None, Role.SUPPORT, Role.MEMBER])
def test_anyone_else_is_refused(
    person: Browser, database: Database, acme: str, role: Role | None
) -> None:
    if role is None:
        person.sign_up("customer@acme.example")
    else:
        join_operator(database, person, f"{role}@levante.example", role)
    for path in PAGES:
        response = person.get(path)
        assert response.status_code == 403, (path, response.status_code)
        assert "26,000" not in response.text


def test_signed_out_goes_to_sign_in(person: Browser) -> None:
    for path in PAGES:
        response = person.get(path, follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"].startswith("/login?next=/console/operator")
