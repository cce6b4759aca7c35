"""``X-Forwarded-For`` and ``X-Forwarded-Proto`` count only when the peer that sent them is a
proxy the operator named in ``trusted_proxies``; by default no peer is trusted, loopback
included, and ``levante serve`` leaves the headers to the app."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn
from fastapi.testclient import TestClient
from starlette.types import Receive, Scope, Send

from levante.api import create_app
from levante.api.middleware import forwarded_by
from levante.cli import app as cli
from levante.engine import ModelRegistry
from levante.errors import ConfigurationError
from levante.settings import Settings, load_settings
from levante.storage import Database
from tests.cli.runner import runner

FORWARDED = {"X-Forwarded-For": "203.0.113.9", "X-Forwarded-Proto": "https"}


async def _echo(scope: Scope, receive: Receive, send: Send) -> None:
    """The client address and scheme the app behind the middleware sees."""
    body = f"{scope['client'][0]} {scope['scheme']}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


def _seen(trusted: list[str], peer: str, headers: dict[str, str]) -> str:
    client = TestClient(forwarded_by(_echo, trusted), client=(peer, 50000))
    text: str = client.get("/", headers=headers).text
    return text


def test_a_configured_proxy_is_believed() -> None:
    assert _seen(["10.0.0.0/8"], "10.1.2.3", FORWARDED) == "203.0.113.9 https"
    assert _seen(["192.0.2.7"], "192.0.2.7", FORWARDED) == "203.0.113.9 https"
    # The proxy's own address is skipped: the client is the last address not a proxy.
    chain = {"X-Forwarded-For": "198.51.100.4, 203.0.113.9, 10.0.0.5"}
    assert _seen(["10.0.0.0/8"], "10.1.2.3", chain) == "203.0.113.9 http"


def test_any_other_peer_is_taken_as_the_client() -> None:
    assert _seen(["10.0.0.0/8"], "127.0.0.1", FORWARDED) == "127.0.0.1 http"
    assert _seen(["10.0.0.0/8"], "192.0.2.7", FORWARDED) == "192.0.2.7 http"
    assert _seen([], "127.0.0.1", FORWARDED) == "127.0.0.1 http"


@contextmanager
def _site(
    settings: Settings, database: Database, registry: ModelRegistry, peer: str
) -> Iterator[TestClient]:
    application = create_app(settings, models=registry, database=database)
    with TestClient(application, client=(peer, 50000)) as client:
        yield client


@pytest.mark.parametrize(("trusted", "secure"), [([], False), (["127.0.0.1"], True)])
def test_the_app_reads_the_scheme_from_a_trusted_proxy_only(
    settings: Settings,
    database: Database,
    model_registry: ModelRegistry,
    trusted: list[str],
    secure: bool,
) -> None:
    # Behind a trusted proxy that says https, the pages' cookies are marked Secure.
    configured = settings.model_copy(update={"trusted_proxies": trusted})
    with _site(configured, database, model_registry, "127.0.0.1") as client:
        page = client.get("/login", headers={**FORWARDED, "Accept": "text/html"})
    assert page.status_code == 200
    assert ("secure" in page.headers["set-cookie"].lower()) is secure


def test_proxies_are_addresses_or_networks() -> None:
    assert load_settings(trusted_proxies=["10.0.0.0/8", "::1", "192.0.2.7"]).trusted_proxies == [
        "10.0.0.0/8",
        "::1/128",
        "192.0.2.7/32",
    ]
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        load_settings(trusted_proxies=["proxy.internal"])
    with pytest.raises(ConfigurationError, match="trusted_proxies"):
        load_settings(trusted_proxies=["10.0.0.1/8"])


def test_serve_turns_uvicorns_own_proxy_handling_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # uvicorn believes X-Forwarded-For from 127.0.0.1 unless told not to: a local process, or
    # a proxy that passes the client's header on, could then claim any address.
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")
    monkeypatch.setenv("LEVANTE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("LEVANTE_DATABASE_URL", f"sqlite:///{tmp_path / 'levante.db'}")
    called: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: called.update(kwargs))
    result = runner.invoke(cli, ["serve"])
    assert result.exit_code == 0, result.output
    assert called["proxy_headers"] is False
