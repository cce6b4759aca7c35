"""Helpers the tests share."""

from __future__ import annotations

import importlib
import pkgutil
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from fastapi import APIRouter
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from starlette.types import ASGIApp

import levante.api.routes as routes_package
from levante.api.state import AppState
from levante.settings import EMBEDDED_MODEL_ID
from levante.storage import Database
from levante.storage.models import Organization, OutboundMail, UsageRecord
from levante.tenancy import create_api_key, create_organization

MODEL = EMBEDDED_MODEL_ID


@dataclass
class Tenant:
    """An organisation with an admin key and an inference key."""

    organization_id: str
    admin_key: str
    key: str
    key_id: str

    def headers(self, admin: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key if admin else self.key}"}


def make_tenant(database: Database, name: str) -> Tenant:
    with database.session() as session:
        org = create_organization(session, name)
        admin = create_api_key(session, org.id, "admin", is_admin=True)
        key = create_api_key(session, org.id, "app")
        return Tenant(org.id, admin.secret, key.secret, key.key.id)


def usage_records(client: TestClient, database: Database) -> list[UsageRecord]:
    """The ledger's usage records, once the app behind ``client`` (entered as a context) has
    written what it queued: records are written just after the response."""
    assert client.portal is not None, "use the TestClient as a context manager"
    state: AppState = client.app.state.levante  # type: ignore[attr-defined]
    client.portal.call(state.ledger.flush)
    with database.session() as session:
        return list(session.scalars(select(UsageRecord).order_by(UsageRecord.id)))


def make_operator(database: Database, tenant: Tenant) -> Tenant:
    """Make the tenant's organisation the operator's (it manages prices, invoices, licences)."""
    with database.session() as session:
        session.execute(
            update(Organization)
            .where(Organization.id == tenant.organization_id)
            .values(is_operator=True)
        )
    return tenant


def chat_body(
    content: str = "What is the capital of France? Answer in one word.", **extra: object
) -> dict[str, object]:
    body: dict[str, object] = {
        "model": MODEL,
        "messages": [{"role": "user", "content": content}],
        "temperature": 0,
        "random_seed": 7,
        "max_tokens": 16,
    }
    body.update(extra)
    return body


def mailed_link(database: Database, to: str, path: str) -> str:
    """The newest link to ``path`` (e.g. ``/signup/confirm/``) mailed to ``to``, as a path
    on the site (its query kept)."""
    with database.session() as session:
        bodies = session.scalars(
            select(OutboundMail.body).where(OutboundMail.to == to).order_by(OutboundMail.id.desc())
        ).all()
    for body in bodies:
        found = re.search(rf"https?://[^/\s]+({re.escape(path)}\S+)", body)
        if found:
            return found.group(1)
    raise AssertionError(f"no link to {path} was mailed to {to}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(app: ASGIApp) -> Iterator[str]:
    """Serve ``app`` with uvicorn on loopback; yields the base URL (without /v1)."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


def api_routes() -> Iterator[APIRoute]:
    """Every route of every module of levante.api.routes (each router once)."""
    seen: set[int] = set()
    for info in pkgutil.iter_modules(routes_package.__path__):
        module = importlib.import_module(f"{routes_package.__name__}.{info.name}")
        for router in vars(module).values():
            if isinstance(router, APIRouter) and id(router) not in seen:
                seen.add(id(router))
                yield from (r for r in router.routes if isinstance(r, APIRoute))
