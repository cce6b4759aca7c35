"""The API reference pages load nothing from outside Levante, and "Try it out" can send the
bearer key."""

from __future__ import annotations

import base64
import hashlib
import re

from fastapi.testclient import TestClient

from tests.helpers import Tenant


def test_the_reference_pages_load_only_their_own_assets(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        response = client.get(page)
        assert response.status_code == 200
        html = response.text
        assert not re.search(r"https?://", html), page  # no CDN, no font or favicon site
        assets = re.findall(r"""(?:src|href)=["']([^"']+)["']""", html)
        assert assets, html
        for url in assets:
            loaded = client.get(url)
            assert loaded.status_code == 200, url
            assert len(loaded.content) > 1000 or url.endswith(".png"), url
    assert "validatorUrl" in client.get("/docs").text


def test_the_schema_declares_bearer_auth(client: TestClient, tenant: Tenant) -> None:
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (lv-…): 'Authorization: Bearer <key>'.",
    }
    chat = schema["paths"]["/v1/chat/completions"]["post"]
    assert chat["security"] == [{"bearer": []}]
    assert "security" not in schema["paths"]["/healthz"]["get"]
    assert "security" not in schema["paths"]["/v1/licensing/activations"]["post"]
    # What Swagger UI sends once a key is entered under "Authorize".
    response = client.get("/v1/models", headers={"Authorization": f"Bearer {tenant.key}"})
    assert response.status_code == 200


def test_the_reference_pages_admit_their_own_start_script_and_nothing_else(
    client: TestClient,
) -> None:
    swagger = client.get("/docs")
    policy = swagger.headers["content-security-policy"]
    [start] = re.findall(r"<script>(.*?)</script>", swagger.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(start.encode()).digest()).decode()
    assert f"script-src 'self' 'sha256-{digest}';" in policy
    assert "frame-ancestors 'none'" in policy
    assert "unsafe-eval" not in policy
    redoc = client.get("/redoc").headers["content-security-policy"]
    assert "script-src 'self';" in redoc
    assert swagger.headers["x-frame-options"] == "DENY"
