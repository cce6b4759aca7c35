"""Links in mail follow the address the server listens on (issue 29: with LEVANTE_PORT=8101
the reset mail and the claim links said http://127.0.0.1:8080)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import select

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import Settings
from levante.storage import Database
from levante.storage.models import OutboundMail
from tests.helpers import mailed_link
from tests.web.conftest import Browser


def test_mailed_links_carry_the_listening_port(
    web_settings: Settings, database: Database, model_registry: ModelRegistry
) -> None:
    config = Settings(**{**web_settings.model_dump(exclude={"billing"}), "port": 8101})
    assert config.billing.public_url == "http://127.0.0.1:8101"
    with TestClient(create_app(config, models=model_registry, database=database)) as client:
        person = Browser(client)
        person.get("/signup")
        person.post("/signup", {"email": "alice@example.com", "password": "correct horse battery"})
    with database.session() as session:
        body = session.scalars(select(OutboundMail.body)).one()
    assert "http://127.0.0.1:8101/signup/confirm/" in body
    assert mailed_link(database, "alice@example.com", "/signup/confirm/").startswith("/signup/")
