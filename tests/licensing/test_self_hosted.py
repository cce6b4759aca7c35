"""A deployment started with a licence file: it serves the licensed model to the licensed
number of seats, and behaves as documented at expiry and after the grace period, on a clock
the test moves."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.errors import ConfigurationError, LicenseInvalidError
from levante.licensing import Keyring
from levante.licensing.envelope import Entitlements
from levante.licensing.keys import SigningKey
from levante.settings import LicensingSettings, ModelSettings, Settings
from levante.storage import Database
from levante.storage.models import GatewayInstance
from tests.helpers import MODEL, Tenant, chat_body, make_operator
from tests.licensing.conftest import license_file, utc

OTHER = ModelSettings.model_validate(
    {"id": "other-model", "upstreams": [{"url": "http://127.0.0.1:9"}]}
)
ISSUED, EXPIRES = utc(2026, 1, 1), utc(2027, 1, 1)


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def operator(database: Database, tenant: Tenant) -> Tenant:
    make_operator(database, tenant)
    return tenant


Licensed = Callable[..., AbstractContextManager[tuple[TestClient, Path]]]


@pytest.fixture
def licensed(
    settings: Settings,
    database: Database,
    model_registry: ModelRegistry,
    tmp_path: Path,
    keyring: Keyring,
    key: SigningKey,
) -> Licensed:
    """Build a deployment under a licence for the embedded model only, two seats."""

    @contextmanager
    def build(clock: Clock, **license: object) -> Iterator[tuple[TestClient, Path]]:
        path = tmp_path / "levante.license"
        license.setdefault(
            "entitlements",
            Entitlements(models=(MODEL,), max_seats=2, features=("admin_api",)),
        )
        path.write_text(license_file(key, grace_days=10, **license))
        config = settings.model_copy(
            update={
                "models": [settings.models[0], OTHER],
                "license_file": path,
                "licensing": LicensingSettings(
                    trusted_keys={key.key_id: (keyring.directory / f"{key.key_id}.pub").read_text()}
                ),
            }
        )
        app = create_app(config, models=model_registry, database=database, clock=clock)
        with TestClient(app, raise_server_exceptions=False) as client:
            yield client, path

    return build


def chat(client: TestClient, tenant: Tenant, model: str = MODEL) -> tuple[int, dict[str, Any]]:
    response = client.post(
        "/v1/chat/completions", json=chat_body(model=model, max_tokens=2), headers=tenant.headers()
    )
    return response.status_code, response.json()


def test_the_licensed_model_and_seats_and_no_more(licensed: Licensed, operator: Tenant) -> None:
    admin = operator.headers(True)
    with licensed(Clock(utc(2026, 6, 1))) as (client, _):
        assert chat(client, operator)[0] == 200
        status, body = chat(client, operator, "other-model")
        assert (status, body["code"]) == (403, "not_licensed")
        assert "entitlement: models" in body["message"]
        models = client.get("/v1/models", headers=operator.headers()).json()["data"]
        assert [m["id"] for m in models] == [MODEL]

        for email in ("alice@acme.test", "bob@acme.test"):
            response = client.post("/v1/admin/members", json={"email": email}, headers=admin)
            assert response.status_code == 201, response.text
        third = client.post("/v1/admin/members", json={"email": "carol@acme.test"}, headers=admin)
        assert (third.status_code, third.json()["code"]) == (403, "not_licensed")
        assert "entitlement: max_seats" in third.json()["message"]
        # A member already seated may join again with another role: no new seat.
        again = client.post(
            "/v1/admin/members", json={"email": "bob@acme.test", "role": "admin"}, headers=admin
        )
        assert again.status_code == 201
        view = client.get("/v1/admin/license", headers=admin).json()
        assert (view["status"], view["seats_in_use"], view["entitlements"]["max_seats"]) == (
            "active",
            2,
            2,
        )
        assert view["warnings"] == []


def test_only_entitled_models_are_loaded(
    settings: Settings, database: Database, tmp_path: Path, keyring: Keyring, key: SigningKey
) -> None:
    path = tmp_path / "levante.license"
    path.write_text(license_file(key, entitlements=Entitlements(models=("other-model",))))
    config = settings.model_copy(update={
        "models": [settings.models[0], OTHER], "license_file": path,
        "licensing": LicensingSettings(trusted_keys={key.key_id: (keyring.directory / f"{key.key_id}.pub").read_text()}),
    })  # fmt: skip
    app: FastAPI = create_app(config, database=database, clock=Clock(utc(2026, 6, 1)))
    assert [m.id for m in app.state.levante.models.configured()] == ["other-model"]


def test_expiry_grace_and_after(
    licensed: Licensed, operator: Tenant, keyring: Keyring, key: SigningKey
) -> None:
    admin = operator.headers(True)
    clock = Clock(EXPIRES - timedelta(days=1))
    with licensed(clock) as (client, path):
        assert chat(client, operator)[0] == 200
        # In the grace period: everything works, and says so.
        clock.now = EXPIRES + timedelta(days=3)
        assert chat(client, operator)[0] == 200
        created = client.post("/v1/admin/api-keys", json={"name": "in-grace"}, headers=admin)
        assert created.status_code == 201
        view = client.get("/v1/admin/license", headers=admin).json()
        assert (view["status"], view["days_left"]) == ("grace", 7)
        assert "grace period ends on 2027-01-11" in view["warnings"][0]
        # After the grace period: read-only. Reads work, changes and inference do not.
        clock.now = EXPIRES + timedelta(days=10, seconds=1)
        status, body = chat(client, operator)
        assert (status, body["code"]) == (403, "license_expired")
        refused = client.post("/v1/admin/api-keys", json={"name": "late"}, headers=admin)
        assert refused.status_code == 403
        assert client.get("/v1/models", headers=operator.headers()).status_code == 200
        assert client.get("/v1/admin/usage", headers=admin).status_code == 200
        assert client.get("/v1/admin/license", headers=admin).json()["status"] == "expired"
        # Nothing was lost: the usage of the working days is all there.
        usage = client.get("/v1/admin/usage", headers=admin).json()
        assert usage["total"]["requests"] == 2
        # A renewal, installed offline, restores service at once.
        renewal = license_file(key, license_id="lic_renewed", expires_at=utc(2028, 1, 1))
        installed = client.put("/v1/admin/license", json={"license": renewal}, headers=admin)
        assert installed.status_code == 200, installed.text
        assert installed.json()["status"] == "active"
        assert json.loads(path.read_text())["payload"] == json.loads(renewal)["payload"]
        assert chat(client, operator)[0] == 200
        # A renewal for someone else, or a forged one, is refused.
        other = license_file(key, licensee_id="org_other", licensee_name="Other")
        assert (
            client.put("/v1/admin/license", json={"license": other}, headers=admin).status_code
            == 403
        )
        forged = renewal.replace("2028-01-01", "2099-01-01")
        response = client.put("/v1/admin/license", json={"license": forged}, headers=admin)
        assert (response.status_code, response.json()["code"]) == (400, "license_payload_changed")


def test_a_licence_may_keep_serving_existing_keys(licensed: Licensed, operator: Tenant) -> None:
    clock = Clock(EXPIRES + timedelta(days=30))
    with licensed(clock, on_expiry="serve_existing") as (client, _):
        assert chat(client, operator)[0] == 200
        refused = client.post(
            "/v1/admin/api-keys", json={"name": "x"}, headers=operator.headers(True)
        )
        assert (refused.status_code, refused.json()["code"]) == (403, "license_expired")


def test_features_outside_the_licence_answer_403(licensed: Licensed, operator: Tenant) -> None:
    with licensed(Clock(utc(2026, 6, 1)), entitlements=Entitlements(models=("*",))) as (client, _):
        response = client.get("/v1/admin/usage", headers=operator.headers(True))
        assert (response.status_code, response.json()["code"]) == (403, "not_licensed")
        assert "features.admin_api" in response.json()["message"]
        assert client.get("/v1/admin/license", headers=operator.headers(True)).status_code == 200
        report = client.get("/v1/admin/license/usage-report", headers=operator.headers(True))
        assert report.status_code == 200, report.text
        assert report.json()["format"] == "levante-usage-report/1"
        assert chat(client, operator)[0] == 200


def test_a_node_beyond_the_licence_does_not_start(
    licensed: Licensed, operator: Tenant, database: Database
) -> None:
    with database.session() as session:
        session.add(
            GatewayInstance(
                id="gw_elsewhere",
                hostname="node-b.internal",
                pid=1,
                last_seen=datetime.now().astimezone(),
            )
        )
    ents = Entitlements(models=("*",), max_nodes=1, features=("admin_api",))
    with (
        pytest.raises(ConfigurationError, match="entitlement: max_nodes"),
        licensed(Clock(utc(2026, 6, 1)), entitlements=ents),
    ):
        pass


def test_a_tampered_licence_file_stops_the_start(
    settings: Settings, database: Database, tmp_path: Path, keyring: Keyring, key: SigningKey
) -> None:
    path = tmp_path / "levante.license"
    envelope = json.loads(license_file(key))
    envelope["payload"] = envelope["payload"].replace('"max_seats": 2', '"max_seats": 9')
    path.write_text(json.dumps(envelope))
    config = settings.model_copy(update={
        "license_file": path,
        "licensing": LicensingSettings(trusted_keys={key.key_id: (keyring.directory / f"{key.key_id}.pub").read_text()}),
    })  # fmt: skip
    with pytest.raises(LicenseInvalidError, match="changed after it was signed"):
        create_app(config, database=database, clock=Clock(utc(2026, 6, 1)))


def test_without_a_licence_there_is_nothing_to_show(client: TestClient, tenant: Tenant) -> None:
    response = client.get("/v1/admin/license", headers=tenant.headers(True))
    assert response.status_code == 404
    assert "open core" in response.json()["message"]
