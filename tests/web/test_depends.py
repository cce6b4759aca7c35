"""The web layer's dependencies, walked over every route of the pages: signed out, a page (GET
or POST) sends the browser to sign in and a script gets a 401; every state-changing request
without the visitor's CSRF token is refused (403), signed in or not; and reading the form in
a dependency leaves FastAPI's own form parameters filled."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated
from urllib.parse import quote

import pytest
from fastapi import APIRouter, FastAPI, File, Form, UploadFile
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import BaseRoute

from levante.api.errors import install_error_handlers
from levante.storage import Database
from levante.storage.models import Role
from levante.web.depends import PostedByAnyone
from levante.web.identity import Visitor, visitor
from tests.web.conftest import Browser, join_operator

# What a stranger may reach: the landing page, signing up and in, a link mailed to them, an
# invitation's page, the way back from a payment provider. Every other page needs someone
# signed in.
PUBLIC = {
    ("GET", "/signup"), ("POST", "/signup"), ("GET", "/login"), ("POST", "/login"),
    ("POST", "/logout"), ("GET", "/password/forgot"), ("POST", "/password/forgot"),
    ("GET", "/password/reset/{token}"), ("POST", "/password/reset/{token}"),
    ("GET", "/signup/confirm/{token}"), ("POST", "/signup/confirm/{token}"),
    ("GET", "/chat/join/{token}"), ("GET", "/account/checkout/{invoice_id}"), ("GET", "/"),
    ("GET", "/invitations/{token}"),
}  # fmt: skip


def _routes(routes: list[BaseRoute]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # a router the app included
        if isinstance(included, APIRouter):
            yield from _routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


def page_routes(app: TestClient) -> Iterator[tuple[str, str]]:
    """Every route of the web pages (method, path template), from the app itself."""
    for route in _routes(app.app.routes):  # type: ignore[attr-defined]
        if route.endpoint.__module__.startswith("levante.web"):
            for method in sorted(route.methods or ()):
                yield method, route.path


def _filled(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "x", path)


def test_the_walk_finds_every_product(app: TestClient) -> None:
    paths = {path for _, path in page_routes(app)}
    for prefix in ("/account", "/chat", "/chat/team", "/support", "/console", "/console/operator"):
        assert any(p.startswith(prefix + "/") or p == prefix for p in paths), prefix
    assert len(paths) >= 60


def test_signed_out_every_page_sends_the_browser_to_sign_in(app: TestClient) -> None:
    stranger = Browser(app)
    stranger.get("/login")  # the anonymous CSRF token, so that a form gets past its check
    wrong = []
    for method, template in page_routes(app):
        if (method, template) in PUBLIC:
            continue
        path = _filled(template)
        if method == "GET":
            response = stranger.get(path, follow_redirects=False)
        else:
            response = stranger.post(path, {"title": "t", "org": "x"})
        expected = f"/login?next={quote(path, safe='/')}"
        if (response.status_code, response.headers.get("location")) != (303, expected):
            wrong.append((method, template, response.status_code))
    assert not wrong


def test_signed_out_a_script_is_told_to_sign_in(app: TestClient) -> None:
    """The chat's ``fetch`` calls take no page: a 401 with the error body instead."""
    title = app.get("/chat/c/x/title")
    assert title.status_code == 401
    assert title.json()["code"] == "signed_out"
    sent = app.post("/chat/messages", json={"content": "hi"}, headers={"X-CSRF-Token": "x"})
    assert sent.status_code in (401, 403)
    assert sent.headers["content-type"].startswith("application/json")


def _state_changing(app: TestClient) -> Iterator[tuple[str, str]]:
    for method, template in page_routes(app):
        if method not in ("GET", "HEAD"):
            yield template, _filled(template)


def _refused(response: object) -> bool:
    status = getattr(response, "status_code", 0)
    return status == 403 and "did not come from this site" in getattr(response, "text", "")


@pytest.fixture
def operator(app: TestClient, database: Database) -> Browser:
    """Someone every page lets in: the operator's admin, an agent and a customer at once."""
    person = Browser(app)
    join_operator(database, person, "ops@levante.example", Role.ADMIN)
    return person


def test_every_state_changing_request_needs_the_csrf_token_signed_in(operator: Browser) -> None:
    wrong = []
    for template, path in _state_changing(operator._client):
        for token in (None, "forged-" + "x" * 30):
            fields = {"title": "t", "org": "x", "email": "a@b.example", "password": "x" * 12}
            if token is not None:
                fields["csrf_token"] = token
            response = operator.post(path, fields, csrf=False)
            if not _refused(response):
                wrong.append((template, token is not None, response.status_code))
    assert not wrong
    assert operator.get("/chat").status_code == 200  # still signed in: /logout was refused too


def test_every_state_changing_request_needs_the_csrf_token_signed_out(app: TestClient) -> None:
    stranger = Browser(app)
    stranger.get("/login")
    wrong = []
    for template, path in _state_changing(app):
        response = stranger.post(path, {"email": "a@b.example", "password": "x" * 12}, csrf=False)
        if not _refused(response):
            wrong.append((template, response.status_code))
    assert not wrong


def test_a_fetch_without_the_csrf_header_is_refused_with_the_error_body(
    person: Browser,
) -> None:
    person.sign_up("alice@example.com")
    person.csrf = ""
    status, body = person.send("Hello")
    assert (status, body[0]["code"]) == (403, "csrf_failed")


def test_a_dependency_reading_the_form_leaves_the_form_parameters_filled() -> None:
    """Starlette keeps the parsed form on the request: FastAPI's Form() and File() parameters
    are filled from it after the CSRF dependency read the token, whichever parsed it first."""
    app = FastAPI()
    install_error_handlers(app)
    app.dependency_overrides[visitor] = lambda: Visitor(None, "the-token")

    @app.post("/fields")
    def fields(
        who: PostedByAnyone, name: Annotated[str, Form()], tags: Annotated[list[str], Form()]
    ) -> dict[str, object]:
        return {"name": name, "tags": tags, "typed": who.typed.get("name")}

    @app.post("/upload")
    async def upload(
        who: PostedByAnyone, file: Annotated[UploadFile, File()], note: Annotated[str, Form()]
    ) -> dict[str, object]:
        return {"file": (await file.read()).decode(), "note": note}

    @app.post("/bare")
    def bare_form(who: PostedByAnyone) -> dict[str, object]:
        return {"typed": dict(who.typed)}

    @app.post("/json")
    def json_body(who: PostedByAnyone, body: dict[str, str]) -> dict[str, object]:
        return body  # type: ignore[return-value]

    with TestClient(app) as client:
        token = {"csrf_token": "the-token"}
        filled = client.post("/fields", data={**token, "name": "Ana", "tags": ["a", "b"]})
        assert filled.json() == {"name": "Ana", "tags": ["a", "b"], "typed": "Ana"}
        sent = client.post("/upload", data={**token, "note": "n"},
                           files={"file": ("f.txt", b"bytes", "text/plain")})  # fmt: skip
        assert sent.json() == {"file": "bytes", "note": "n"}
        bare = client.post("/bare", data={**token, "extra": "kept"})
        assert bare.json() == {"typed": {"extra": "kept"}}  # never the token itself
        fetched = client.post("/json", json={"a": "b"}, headers={"X-CSRF-Token": "the-token"})
        assert fetched.json() == {"a": "b"}
        assert client.post("/fields", data={"name": "Ana", "tags": ["a"]}).status_code == 403
        assert client.post("/json", json={"a": "b"}).status_code == 403
