"""PostgreSQL going away under the gateway: 503 with Retry-After and a code that says so, one
log line for the outage rather than a traceback per request, and service back at once."""

from __future__ import annotations

import contextlib
import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from fastapi.testclient import TestClient

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings, TierSettings
from levante.storage import Database
from tests.conftest import TEST_MODEL
from tests.helpers import make_tenant


class Cable:
    """A TCP forwarder in front of PostgreSQL that can be cut (every connection closed, new
    ones dropped at once) and mended, as a database host that goes down and comes back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._down = False
        self._open: set[socket.socket] = set()
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def cut(self) -> None:
        with self._lock:
            self._down = True
            for conn in self._open:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._open.clear()

    def mend(self) -> None:
        with self._lock:
            self._down = False

    def close(self) -> None:
        self.cut()
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                down = self._down
            if down:
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._open |= {client, server}
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_RDWR)


@pytest.fixture
def cable(postgres_url: str) -> Iterator[tuple[Cable, str]]:
    parts = urlsplit(postgres_url)
    cable = Cable((parts.hostname or "127.0.0.1", parts.port or 5432))
    netloc = f"{parts.username}@127.0.0.1:{cable.port}"
    yield cable, urlunsplit(parts._replace(netloc=netloc))
    cable.close()


def test_a_database_outage_answers_503_and_service_resumes(
    cable: tuple[Cable, str],
    tmp_path: Path,
    model_registry: ModelRegistry,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wire, url = cable
    database = Database(url)
    tenant = make_tenant(database, f"Outage {secrets.token_hex(4)}")
    settings = Settings(
        data_dir=tmp_path, database_url=url, models=[TEST_MODEL], auth_cache_seconds=0,
        limits_cache_seconds=0, tiers=[TierSettings(name="unlimited")],
    )  # fmt: skip
    app = create_app(settings, models=model_registry, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/v1/models", headers=tenant.headers()).status_code == 200
        wire.cut()
        caplog.clear()
        with caplog.at_level(logging.ERROR):
            answers = [client.get("/v1/models", headers=tenant.headers()) for _ in range(10)]
            answers += [client.get("/v1/admin/api-keys", headers=tenant.headers(True))]
        assert [r.status_code for r in answers] == [503] * len(answers)
        for response in answers:
            body = response.json()
            assert (body["object"], body["code"]) == ("error", "store_unavailable")
            assert int(response.headers["retry-after"]) > 0
        outage = [r for r in caplog.records if "database is unreachable" in r.getMessage()]
        assert len(outage) == 1  # once for the outage, not once per request
        assert not [r for r in caplog.records if "unhandled error" in r.getMessage()]
        wire.mend()
        assert client.get("/v1/models", headers=tenant.headers()).status_code == 200
    database.dispose()
