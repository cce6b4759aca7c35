"""``levante serve`` with ``LEVANTE_LICENSE_FILE``: the process serves the licensed model,
refuses the other, and shows its licence."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import httpx

from levante.licensing import Keyring, License, encode_public
from levante.licensing.envelope import Entitlements, sign
from levante.storage import Database, utcnow
from tests.e2e.processes import gateway_process
from tests.engine.upstream_stub import StubUpstream
from tests.helpers import Tenant, make_operator


def test_a_licensed_gateway_process(
    tmp_path: Path, database_url: str, database: Database, tenant: Tenant
) -> None:
    make_operator(database, tenant)
    key = Keyring(tmp_path / "vendor").generate()
    now = utcnow().replace(microsecond=0)
    license = License(
        license_id="lic_e2e", licensee_id="org_site", licensee_name="Site",
        issued_at=now, starts_at=now - timedelta(days=1), expires_at=now + timedelta(days=90),
        grace_days=7, entitlements=Entitlements(models=("x",), features=("admin_api",)),
        key_id=key.key_id,
    )  # fmt: skip
    path = tmp_path / "site.license"
    path.write_text(sign(license, key))
    stub = StubUpstream("x").start()
    models = [{"id": name, "upstreams": [{"url": stub.url}]} for name in ("x", "y")]
    settings = {
        "tiers": [{"name": "unlimited"}],
        "license_file": str(path),
        "licensing": {"trusted_keys": {key.key_id: encode_public(key.public)}},
    }
    try:
        with gateway_process(tmp_path, database_url, models, **settings) as gateway:

            def chat(model: str) -> httpx.Response:
                return httpx.post(
                    f"{gateway.url}/v1/chat/completions",
                    json={"model": model, "messages": [{"role": "user", "content": "hi"}]},
                    headers=tenant.headers(),
                    timeout=30,
                )

            assert chat("x").status_code == 200
            refused = chat("y")
            assert (refused.status_code, refused.json()["code"]) == (403, "not_licensed")
            view = httpx.get(f"{gateway.url}/v1/admin/license", headers=tenant.headers(True))
            assert (view.json()["license_id"], view.json()["status"]) == ("lic_e2e", "active")
    finally:
        stub.stop()
