"""Online activation: nodes of a self-hosted deployment activate against the vendor's Levante,
which holds them to the licence's node count."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante import licensing
from levante.api import create_app
from levante.audit import Actor
from levante.engine import ModelRegistry
from levante.errors import ConfigurationError
from levante.licensing import Keyring, LicenseTerms
from levante.licensing.authority import revoke_license
from levante.settings import LicensingSettings, Settings
from levante.storage import Database, upgrade, utcnow
from levante.storage.models import LicenseActivation
from tests.helpers import free_port, live_server, make_tenant


@pytest.fixture
def vendor(
    settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[tuple[str, Settings]]:
    """The vendor's Levante, serving on loopback, with a signing key."""
    Keyring(settings.license_keys_dir).generate()
    app = create_app(settings, models=model_registry, database=database)
    with live_server(app) as url:
        yield url, settings


Vendor = tuple[str, Settings]


def issue(database: Database, settings: Settings, **terms: Any) -> str:
    org = make_tenant(database, "Carl GmbH").organization_id
    key = Keyring(settings.license_keys_dir).signing_key()
    with database.session() as session:
        record = licensing.issue_license(
            session, org, key,
            LicenseTerms(expires_at=utcnow().replace(year=utcnow().year + 1), max_nodes=1, **terms),
            now=utcnow(), actor=Actor("t"),
        )  # fmt: skip
        return record.file


@contextmanager
def site(tmp_path: Path, name: str, license: str, vendor_settings: Settings, url: str,
         model_registry: ModelRegistry) -> Iterator[TestClient]:  # fmt: skip
    path = tmp_path / f"{name}.license"
    path.write_text(license)
    db = Database(f"sqlite:///{tmp_path / name}.db")
    upgrade(db.engine)
    keys = Keyring(vendor_settings.license_keys_dir).public_keys()
    config = Settings(
        data_dir=tmp_path / name,
        database_url=f"sqlite:///{tmp_path / name}.db",
        models=vendor_settings.models,
        license_file=path,
        licensing=LicensingSettings(
            trusted_keys={k: licensing.encode_public(v) for k, v in keys.items()},
            activation_url=url,
            node_fingerprint=(name * 32)[:32].encode().hex()[:32],
        ),
    )
    app = create_app(config, models=model_registry, database=db)
    try:
        with TestClient(app) as client:
            yield client
    finally:
        db.dispose()


def activations(database: Database) -> list[tuple[str, bool]]:
    with database.session() as session:
        return [
            (a.hostname, a.deactivated_at is None)
            for a in session.scalars(select(LicenseActivation))
        ]


def test_a_floating_node_frees_its_place_when_it_stops(
    vendor: Vendor, database: Database, tmp_path: Path, model_registry: ModelRegistry
) -> None:
    url, config = vendor
    text = issue(database, config)
    with site(tmp_path, "a", text, config, url, model_registry):
        assert [active for _, active in activations(database)] == [True]
        with (
            pytest.raises(ConfigurationError, match="all 1 node"),
            site(tmp_path, "b", text, config, url, model_registry),
        ):
            pass
    assert [active for _, active in activations(database)] == [False]
    with site(tmp_path, "b", text, config, url, model_registry):
        assert sorted(active for _, active in activations(database)) == [False, True]


def test_a_node_locked_place_is_kept(
    vendor: Vendor, database: Database, tmp_path: Path, model_registry: ModelRegistry
) -> None:
    url, config = vendor
    text = issue(database, config, activation="node_locked")
    with site(tmp_path, "a", text, config, url, model_registry):
        pass
    with (
        pytest.raises(ConfigurationError, match="all 1 node"),
        site(tmp_path, "b", text, config, url, model_registry),
    ):
        pass
    with site(tmp_path, "a", text, config, url, model_registry):  # the same node comes back
        pass


def test_an_unreachable_vendor_does_not_stop_the_start(
    vendor: Vendor, database: Database, tmp_path: Path, model_registry: ModelRegistry
) -> None:
    _, config = vendor
    text = issue(database, config)
    with site(
        tmp_path, "a", text, config, f"http://127.0.0.1:{free_port()}", model_registry
    ) as client:
        assert client.get("/healthz").status_code == 200


def test_the_activation_api_refuses_what_it_should(vendor: Vendor, database: Database) -> None:
    url, config = vendor
    text = issue(database, config)
    body = {"license": text, "fingerprint": "ab" * 16, "hostname": "node-a"}
    first = httpx.post(f"{url}/v1/licensing/activations", json=body)
    assert first.status_code == 201, first.text
    activation = first.json()["activation_id"]
    beat = httpx.post(
        f"{url}/v1/licensing/activations/{activation}/heartbeat", json={"fingerprint": "cd" * 16}
    )
    assert beat.status_code == 404
    assert (
        httpx.post(
            f"{url}/v1/licensing/activations/{activation}/heartbeat",
            json={"fingerprint": "ab" * 16},
        ).status_code
        == 200
    )
    forged = httpx.post(
        f"{url}/v1/licensing/activations", json=body | {"license": text.replace("Carl", "Karl")}
    )
    assert (forged.status_code, forged.json()["code"]) == (400, "license_payload_changed")
    bad = httpx.post(f"{url}/v1/licensing/activations", json=body | {"fingerprint": "zz"})
    assert bad.status_code == 422
    with database.session() as session:
        revoke_license(session, first.json()["license_id"], now=utcnow(), actor=Actor("t"))
    revoked = httpx.post(f"{url}/v1/licensing/activations", json=body)
    assert (revoked.status_code, revoked.json()["code"]) == (403, "license_revoked")
