"""The web pages over HTTP: a person-like client that keeps cookies and reads the CSRF
token from each page, against the app on the real model."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from levante.api import create_app
from levante.engine import ModelRegistry
from levante.settings import ChatSettings, Settings
from levante.storage import Database, new_id
from levante.storage.models import Membership, Organization, Plan, Role, User
from tests.helpers import mailed_link

PASSWORD = "correct horse battery"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]*)">')


class Browser:
    """One person's person: its own cookies, and the CSRF token of the last page read."""

    def __init__(self, client: TestClient) -> None:
        self._client = client
        self._jar_type = type(client.cookies)  # the test client's own cookie jar class
        self.cookies: Any = self._jar_type()
        self.csrf = ""

    @contextmanager
    def _jar(self) -> Iterator[TestClient]:
        """The shared client, holding this person's cookies for one request."""
        self._client.cookies = self.cookies
        try:
            yield self._client
        finally:
            self.cookies = self._client.cookies
            self._client.cookies = self._jar_type()

    def get(self, path: str, *, headers: dict[str, str] | None = None, **kwargs: Any) -> Any:
        with self._jar() as client:
            response = client.get(path, headers={"Accept": "text/html", **(headers or {})},
                                  **kwargs)  # fmt: skip
        found = _CSRF.search(response.text)
        if found and found.group(1):
            self.csrf = found.group(1)
        return response

    def get_json(self, path: str) -> Any:
        with self._jar() as client:
            return client.get(path)

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True) -> Any:
        fields = dict(data or {})
        if csrf:
            fields["csrf_token"] = self.csrf
        with self._jar() as client:
            return client.post(
                path, data=fields, headers={"Accept": "text/html"}, follow_redirects=False
            )

    def upload(
        self, path: str, name: str, content: bytes, data: dict[str, str] | None = None
    ) -> Any:
        fields = {**(data or {}), "csrf_token": self.csrf}
        with self._jar() as client:
            return client.post(
                path, data=fields, files={"file": (name, content, "text/plain")},
                headers={"Accept": "text/html"}, follow_redirects=False,
            )  # fmt: skip

    def sign_up(self, email: str, password: str = PASSWORD) -> Any:
        """Sign up as a person does: the form, then the link mailed to the address, where the
        password is chosen."""
        self.get("/signup")
        response = self.post("/signup", {"email": email})
        assert response.status_code == 200, response.text
        assert "Check your mail" in response.text
        link = mailed_link(self.database, email, "/signup/confirm/")
        self.get(link)
        confirmed = self.post(link, {"password": password})
        assert confirmed.status_code == 303, confirmed.text
        self.get("/chat")
        return confirmed

    @property
    def database(self) -> Database:
        state: Any = self._client.app.state.levante  # type: ignore[attr-defined]
        return state.database  # type: ignore[no-any-return]

    def send(self, content: str, **fields: Any) -> tuple[int, list[dict[str, Any]]]:
        """Post a message; the status and the events (or the error body)."""
        with self._jar() as client:
            response = client.post(
                "/chat/messages",
                json={"content": content, **fields},
                headers={"X-CSRF-Token": self.csrf},
            )
        if response.headers.get("content-type", "").startswith("application/json"):
            return response.status_code, [response.json()]
        events = [
            json.loads(line[6:])
            for line in response.text.splitlines()
            if line.startswith("data: ") and line != "data: [DONE]"
        ]
        return response.status_code, events


@pytest.fixture
def web_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"chat": ChatSettings(temperature=0, max_answer_tokens=16)})


@pytest.fixture
def app(
    web_settings: Settings, database: Database, model_registry: ModelRegistry
) -> Iterator[TestClient]:
    application = create_app(web_settings, models=model_registry, database=database)
    with TestClient(application, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def person(app: TestClient) -> Browser:
    return Browser(app)


@pytest.fixture
def other_person(app: TestClient) -> Browser:
    """A second person, with cookies of their own."""
    return Browser(app)


def set_free_plan(database: Database, **features: Any) -> None:
    with database.session() as session:
        plan = session.scalars(select(Plan).where(Plan.code == "chat-free")).one()
        plan.features = {**(plan.features or {}), **features}


def join_operator(database: Database, person: Browser, email: str, role: Role) -> None:
    """Sign ``person`` up and make them a member of the operator's organisation."""
    person.sign_up(email)
    with database.session() as session:
        ops = session.scalar(select(Organization).where(Organization.is_operator.is_(True)))
        if ops is None:
            ops = Organization(id=new_id("org"), name="Levante Ops", slug="ops", is_operator=True)
            session.add(ops)
            session.flush()
        user = session.scalars(select(User).where(User.email == email)).one()
        session.add(Membership(user_id=user.id, organization_id=ops.id, role=role))
