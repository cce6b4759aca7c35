"""Operator routes refuse every other organisation before doing anything, admin routes every
key without admin, and no error body carries a path of the server's file system."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

from fastapi.dependencies.models import Dependant
from fastapi.testclient import TestClient

from levante.api.state import admin_principal, operator_principal
from levante.storage import Database, utcnow
from tests.helpers import Tenant, api_routes, make_operator

PATH_LIKE = re.compile(r"(/[\w.-]+){2,}")  # /var/levante/..., /tmp/x/y


def _depends_on(dependant: Dependant, check: object) -> bool:
    return any(dep.call is check or _depends_on(dep, check) for dep in dependant.dependencies)


def operator_routes(check: object = operator_principal) -> Iterator[tuple[str, str]]:
    """Every route that takes the Operator dependency (or ``check``), with "x" for its
    parameters."""
    for route in api_routes():
        if _depends_on(route.dependant, check):
            path = re.sub(r"\{[^}]+\}", "x", route.path)
            for method in sorted(route.methods or ()):
                yield method, path


def test_every_operator_route_refuses_a_customer_first(client: TestClient, tenant: Tenant) -> None:
    routes = list(operator_routes())
    assert len(routes) >= 15, routes  # licences, invoices, prices, grants, held reports
    for method, path in routes:
        response = client.request(method, path, json={}, headers=tenant.headers(True))
        assert response.status_code == 403, (method, path, response.text)
        body = response.json()
        assert (body["object"], body["code"]) == ("error", "permission_denied")
        assert not PATH_LIKE.search(body["message"]), body


def test_every_admin_route_refuses_a_key_without_admin(client: TestClient, tenant: Tenant) -> None:
    """The table's ``use_admin_api``: a key without admin reaches none of the admin API."""
    routes = list(operator_routes(admin_principal))
    assert len(routes) >= 30, routes
    for method, path in routes:
        response = client.request(method, path, json={}, headers=tenant.headers(False))
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "permission_denied"


def test_a_missing_signing_key_is_not_shown_to_the_caller(
    client: TestClient, tenant: Tenant, other_tenant: Tenant, database: Database
) -> None:
    operator = make_operator(database, other_tenant)
    body = {
        "organization": tenant.organization_id,
        "expires_at": (utcnow() + timedelta(days=30)).isoformat(),
    }
    # A customer's key: refused before the server looks for its signing key.
    refused = client.post("/v1/admin/licenses", json=body, headers=tenant.headers(True))
    assert refused.status_code == 403
    # The operator's: the server has no signing key; the answer says so without its path.
    response = client.post("/v1/admin/licenses", json=body, headers=operator.headers(True))
    assert response.status_code == 500
    error = response.json()
    assert error["code"] == "configuration_error"
    assert not PATH_LIKE.search(error["message"]), error
    assert "license-keys" not in error["message"]
