"""The vendor's licence API: issued by the operator from a contract, read by its customer and
nobody else, revoked; usage reports imported once; bad input answered with the error body."""

from __future__ import annotations

import json
from datetime import date, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi.testclient import TestClient

from levante import licensing
from levante.api import create_app
from levante.engine import ModelRegistry
from levante.licensing.reports import build_report
from levante.settings import Settings
from levante.storage import Database, upgrade, utcnow
from tests.helpers import Tenant, make_operator, make_tenant


@pytest.fixture
def operator(database: Database, other_tenant: Tenant, settings: Settings) -> Tenant:
    licensing.Keyring(settings.license_keys_dir).generate()
    make_operator(database, other_tenant)
    return other_tenant


def test_licences_are_issued_read_and_revoked(
    client: TestClient, tenant: Tenant, operator: Tenant, settings: Settings, tmp_path: Path
) -> None:
    ops, mine = operator.headers(True), tenant.headers(True)
    expires = (utcnow() + timedelta(days=365)).isoformat()
    body = {"organization": tenant.organization_id, "expires_at": expires, "max_seats": 5}
    assert client.post("/v1/admin/licenses", json=body, headers=mine).status_code == 403
    issued = client.post("/v1/admin/licenses", json=body, headers=ops)
    assert issued.status_code == 201, issued.text
    view = issued.json()
    assert (view["status"], view["max_seats"]) == ("active", 5)
    trusted = licensing.Keyring(settings.license_keys_dir).public_keys()
    assert licensing.verify(view["file"], trusted, utcnow()).licensee_id == tenant.organization_id

    listed = client.get("/v1/admin/licenses", headers=mine).json()["data"]
    assert [item["id"] for item in listed] == [view["id"]]
    assert listed[0]["file"] is None  # the list leaves the files out
    detail = client.get(f"/v1/admin/licenses/{view['id']}", headers=mine).json()
    assert detail["file"] == view["file"]
    everyone = client.get("/v1/admin/licenses", headers=ops).json()["data"]
    assert view["id"] in [item["id"] for item in everyone]

    # The site reports its usage; the operator imports it once.
    site = tmp_path / "site-key.pem"
    site_db = Database(f"sqlite:///{tmp_path / 'site.db'}")
    upgrade(site_db.engine)
    license = licensing.verify(view["file"], trusted, utcnow())
    with site_db.session() as session:
        report = build_report(
            session, license, licensing.site_key(site), start=date(2026, 1, 1),
            end=utcnow().date(), now=utcnow(),
        )  # fmt: skip
    site_db.dispose()
    path = "/v1/admin/licenses/usage-reports"
    assert client.post(path, content=report, headers=mine).status_code == 403
    first = client.post(path, content=report, headers=ops)
    assert first.status_code == 200, first.text
    assert first.json()["status"] == "held"  # no site key is bound to the licence yet
    held = client.get("/v1/admin/licenses/usage-reports/held", headers=ops).json()["data"]
    assert [h["id"] for h in held] == [first.json()["report_id"]]
    assert client.get("/v1/admin/licenses/usage-reports/held", headers=mine).status_code == 403
    hid = held[0]["id"]
    accepted = client.post(f"/v1/admin/licenses/usage-reports/held/{hid}/accept", headers=ops)
    assert accepted.json()["status"] == "imported", accepted.text
    again = client.post(f"/v1/admin/licenses/usage-reports/held/{hid}/accept", headers=ops)
    assert (again.status_code, again.json()["code"]) == (409, "already_decided")
    assert client.post(path, content=report, headers=ops).json()["duplicate"] is True
    [key] = client.get(f"/v1/admin/licenses/{view['id']}/site-keys", headers=mine).json()["data"]
    assert (key["status"], key["source"]) == ("bound", "held_report")
    response = client.post(path, content=report.replace('"site_key"', '"sight_key"'), headers=ops)
    assert (response.status_code, response.json()["object"]) == (400, "error")
    # A report signed with some other key is held; the operator refuses it.
    with site_db.session() as session:
        stranger = build_report(
            session, license, licensing.site_key(tmp_path / "other-key.pem"),
            start=date(2025, 12, 1), end=date(2026, 1, 1), now=utcnow(),
        )  # fmt: skip
    held_id = client.post(path, content=stranger, headers=ops).json()["report_id"]
    rejected = client.post(f"/v1/admin/licenses/usage-reports/held/{held_id}/reject", headers=ops)
    assert rejected.json()["status"] == "rejected", rejected.text
    # The operator stops trusting the site's key: its next report is refused.
    revoke_key = f"/v1/admin/licenses/{view['id']}/site-keys/{key['id']}/revoke"
    assert client.post(revoke_key, headers=mine).status_code == 403
    assert client.post(revoke_key, headers=ops).json()["status"] == "revoked"
    with site_db.session() as session:
        later_report = build_report(
            session, license, licensing.site_key(site), start=date(2025, 11, 1),
            end=date(2025, 12, 1), now=utcnow(),
        )  # fmt: skip
    assert client.post(path, content=later_report, headers=ops).status_code == 409

    later = (utcnow() + timedelta(days=730)).isoformat()
    renewed = client.post(f"/v1/admin/licenses/{view['id']}/renew", json={"expires_at": later},
                          headers=ops).json()  # fmt: skip
    assert (renewed["id"], renewed["expires_at"][:10]) == (view["id"], later[:10])
    assert licensing.verify(renewed["file"], trusted, utcnow()).license_id == view["id"]
    early = client.post(f"/v1/admin/licenses/{view['id']}/renew", json={"expires_at": expires},
                        headers=ops)  # fmt: skip
    assert (early.status_code, early.json()["param"]) == (400, "expires_at")
    revoked = client.post(f"/v1/admin/licenses/{view['id']}/revoke", headers=ops)
    assert revoked.json()["status"] == "revoked"
    assert client.post(f"/v1/admin/licenses/{view['id']}/revoke", headers=mine).status_code == 403


def test_licences_are_private(
    client: TestClient, tenant: Tenant, operator: Tenant, database: Database
) -> None:
    third = make_tenant(database, "Initech")
    body = {"organization": tenant.organization_id, "expires_at": "2030-01-01T00:00:00Z"}
    issued = client.post("/v1/admin/licenses", json=body, headers=operator.headers(True)).json()
    theirs = third.headers(True)
    assert client.get("/v1/admin/licenses", headers=theirs).json()["data"] == []
    assert client.get(f"/v1/admin/licenses/{issued['id']}", headers=theirs).status_code == 404
    listed = client.get(f"/v1/admin/licenses?organization={tenant.organization_id}", headers=theirs)
    assert listed.status_code == 403
    assert issued["file"] not in json.dumps(
        client.get("/v1/admin/audit-logs", headers=theirs).json()
    )


def test_bad_licence_requests(client: TestClient, tenant: Tenant, operator: Tenant) -> None:
    ops = operator.headers(True)
    org = tenant.organization_id
    cases = [
        ({"organization": "nope", "expires_at": "2030-01-01T00:00:00Z"}, 404),
        ({"organization": org}, 400),  # no contract and no expiry
        ({"organization": org, "expires_at": "2030-01-01T00:00:00Z", "max_seats": 0}, 422),
        ({"organization": org, "expires_at": "2030-01-01T00:00:00Z", "features": ["warp"]}, 400),
        ({"organization": org, "expires_at": "2020-01-01T00:00:00Z"}, 400),
        ({"organization": org, "expires_at": "soon"}, 422),
        ({"organization": org, "expires_at": "2030-01-01T00:00:00Z", "on_expiry": "explode"}, 422),
        ({"organization": org, "expires_at": "2030-01-01T00:00:00Z", "models": []}, 422),
    ]
    for body, status in cases:
        response = client.post("/v1/admin/licenses", json=body, headers=ops)
        assert response.status_code == status, (body, response.text)
        assert response.json()["object"] == "error"
    for path, status in (
        ("/v1/admin/licenses/lic_nope", 404),
        ("/v1/admin/licenses?organization=nope", 404),
    ):
        assert client.get(path, headers=ops).status_code == status
    response = client.post(
        "/v1/admin/licenses/usage-reports", content=b"\xff\xfe not a report", headers=ops
    )
    assert (response.status_code, response.json()["code"]) == (400, "usage_report_invalid")


def test_activations_are_rate_limited_listed_and_released(
    settings: Settings, database: Database, model_registry: ModelRegistry, tenant: Tenant,
    other_tenant: Tenant,
) -> None:  # fmt: skip
    licensing.Keyring(settings.license_keys_dir).generate()
    ops = make_operator(database, other_tenant).headers(True)
    limited = settings.model_copy(
        update={"licensing": settings.licensing.model_copy(update={"activations_per_hour": 3})}
    )
    app = create_app(limited, models=model_registry, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        expires = (utcnow() + timedelta(days=365)).isoformat()
        body = {"organization": tenant.organization_id, "expires_at": expires, "max_nodes": 5}
        issued = client.post("/v1/admin/licenses", json=body, headers=ops).json()
        site = licensing.encode_public(Ed25519PrivateKey.generate().public_key())
        statuses = []
        for n in range(5):
            response = client.post(
                "/v1/licensing/activations",
                json={"license": issued["file"], "fingerprint": f"{n:02x}" * 8,
                      "hostname": f"node-{n}", "site_key": site},
            )  # fmt: skip
            statuses.append(response.status_code)
        assert statuses == [201, 201, 201, 429, 429]
        assert int(response.headers["retry-after"]) > 0
        path = f"/v1/admin/licenses/{issued['id']}/activations"
        nodes = client.get(path, headers=tenant.headers(True)).json()["data"]
        assert sorted(n["hostname"] for n in nodes) == ["node-0", "node-1", "node-2"]
        third = make_tenant(database, "Initech").headers(True)
        assert client.get(path, headers=third).status_code == 404
        release = f"/v1/admin/licenses/{issued['id']}/activations/{nodes[0]['id']}/release"
        released = client.post(release, headers=tenant.headers(True))
        assert released.json()["released_at"] is not None
        assert len(client.get(path, headers=ops).json()["data"]) == 2
        [key] = client.get(f"/v1/admin/licenses/{issued['id']}/site-keys", headers=ops).json()[
            "data"
        ]
        assert (key["status"], key["source"], key["public_key"]) == ("bound", "activation", site)
