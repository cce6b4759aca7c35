"""Bad input on the web pages, on SQLite and PostgreSQL alike: every form, walked with a NUL
character and with over-long text in each field, answers a page that says what is wrong (4xx)
and never a 500; a far date, a huge number, a NUL in the address or a header the same; and a
refused form leaves nothing half-written."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from levante.settings import Settings
from levante.storage import Database
from levante.storage.models import ApiKey, Role, TicketAttachment, Workspace
from levante.web import account, chat, support, team
from levante.web.console import customer_router, operator_router
from tests.helpers import MODEL
from tests.web.conftest import PASSWORD, Browser, join_operator

NUL = "a\x00b"
LONG = "x" * 20_000  # past every column; well inside the request limit
ROUTERS = (account.router, chat.router, team.router, support.router, operator_router,
           customer_router)  # fmt: skip
# Pages only the operator's staff reach; the rest are a customer's.
STAFF = re.compile(r"^/console/operator|^/support/tickets/\{number\}/(severity|assign|time)")


@dataclass(frozen=True)
class Form:
    path: str
    fields: tuple[str, ...]
    upload: bool  # multipart, with a file


def _form_fields(dependant: Dependant) -> Iterator[str]:
    """The form fields a route reads, its dependencies' (a console's ``org``) included."""
    yield from (field.alias for field in dependant.body_params)
    for sub in dependant.dependencies:
        yield from _form_fields(sub)


def web_forms() -> Iterator[Form]:
    """Every form the pages post to, and the fields it reads."""
    for router in ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute) and "POST" in (route.methods or ()):
                fields = tuple(dict.fromkeys(_form_fields(route.dependant)))
                upload = "file" in fields
                yield Form(route.path, tuple(f for f in fields if f != "file"), upload)


@dataclass
class Cast:
    customer: Browser
    staff: Browser
    org: str  # the customer's organisation
    ticket: int
    conversation: str

    def good(self) -> dict[str, str]:
        """A sensible value for each field a form reads."""
        return {
            "email": "someone@example.com", "password": PASSWORD, "name": "Name",
            "next": "/chat", "current_password": PASSWORD, "new_password": PASSWORD + "!",
            "instructions": "Be brief.", "plan": "chat-free", "seats": "2", "org": self.org,
            "subject": "Help", "description": "Details", "severity": "3", "deployment": "",
            "model": MODEL, "body": "Hello", "status": "open", "reason": "why",
            "minutes": "5", "note": "n", "once": "once-1", "monthly_limit": "10.00",
            "workspace": "", "expires_on": "", "models": MODEL, "amount": "10.00",
            "input": "1", "output": "1", "period": "2026-01", "reference": "ref",
            "organization": self.org, "title": "Title", "report": "{}",
        }  # fmt: skip

    def who(self, form: Form) -> Browser:
        return self.staff if STAFF.match(form.path) else self.customer

    def path(self, form: Form) -> str:
        path = form.path.replace("{number}", str(self.ticket))
        path = path.replace("{conversation_id}", self.conversation)
        return re.sub(r"\{[^}]+\}", "nope", path)

    def post(self, form: Form, data: dict[str, str]) -> Any:
        person = self.who(form)
        person.get("/chat")  # a fresh CSRF token
        if form.upload:
            return person.upload(self.path(form), "notes.txt", b"hello", data)
        return person.post(self.path(form), data)


@pytest.fixture
def cast(app: TestClient, database: Database) -> Cast:
    customer = Browser(app)
    customer.sign_up("ana@acme.example")
    staff = Browser(app)
    join_operator(database, staff, "ops@levante.example", Role.ADMIN)
    page = customer.get("/support")
    org = re.search(r'name="org" value="([^"]+)"', page.text)
    assert org is not None, page.text
    opened = customer.post("/support/tickets", {
        "org": org.group(1), "subject": "Down", "description": "Since 09:00", "severity": "3",
    })  # fmt: skip
    assert opened.status_code == 303, opened.text
    status, events = customer.send("Hello")
    assert status == 200, events
    return Cast(customer, staff, org.group(1), int(opened.headers["location"].rsplit("/", 1)[1]),
                events[0]["conversation_id"])  # fmt: skip


def test_the_walk_covers_every_form() -> None:
    paths = {form.path for form in web_forms()}
    assert {"/login", "/signup", "/password/forgot", "/console/keys", "/console/workspaces",
            "/support/tickets", "/support/tickets/{number}/attachments",
            "/chat/c/{conversation_id}/rename"} <= paths  # fmt: skip
    assert len(paths) >= 30


def test_a_nul_in_any_form_field_is_refused_with_a_page(cast: Cast) -> None:
    wrong = []
    for form in web_forms():
        # Every field it reads, and one it does not (a form of a CSRF token alone has one).
        response = cast.post(form, {**{field: NUL for field in form.fields}, "extra": NUL})
        said = "text may not contain NUL characters" in response.text
        if response.status_code != 400 or not said:
            wrong.append((form.path, response.status_code))
    assert not wrong


def test_a_nul_in_the_anonymous_forms_is_refused(person: Browser) -> None:
    for path in ("/login", "/signup", "/password/forgot"):
        person.get(path)
        response = person.post(path, {"email": NUL, "password": PASSWORD})
        assert response.status_code == 400, (path, response.text)
        assert "email: text may not contain NUL characters" in response.text
        assert response.headers["content-type"].startswith("text/html")


def test_a_nul_in_a_field_name_a_file_name_or_an_upload_field_is_refused(cast: Cast) -> None:
    person, path = cast.customer, f"/support/tickets/{cast.ticket}/attachments"
    person.get("/chat")
    assert person.post("/support/tickets", {NUL: "x"}).status_code == 400
    # Browsers write a control character in a file name as %00; a raw one is refused.
    body = (
        b'--b\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'
        + person.csrf.encode()
        + b'\r\n--b\r\nContent-Disposition: form-data; name="file"; filename="no\x00tes.txt"'
        b"\r\nContent-Type: text/plain\r\n\r\nhello\r\n--b--\r\n"
    )
    with person._jar() as client:
        named = client.post(path, content=body, headers={
            "Content-Type": "multipart/form-data; boundary=b", "Accept": "text/html",
        })  # fmt: skip
    assert named.status_code == 400, named.text
    assert "file: text may not contain NUL characters" in named.text
    field = person.upload(path, "notes.txt", b"hello", {"internal": NUL})
    assert (field.status_code, "internal: text" in field.text) == (400, True)
    binary = person.upload(path, "blob.bin", b"\x00\x01\x00")  # a file's bytes are its own
    assert binary.status_code == 303, binary.text


def test_over_long_text_in_any_form_field_is_never_a_500(cast: Cast) -> None:
    failed = []
    for form in web_forms():
        for field in form.fields:
            if field == "csrf_token":
                continue
            data = {name: cast.good().get(name, "") for name in form.fields}
            response = cast.post(form, {**data, field: LONG})
            if response.status_code >= 500:
                failed.append((form.path, field, response.status_code))
    assert not failed


def test_over_long_names_are_refused_naming_the_field(cast: Cast, database: Database) -> None:
    person = cast.customer
    person.get("/console/keys")
    key = person.post("/console/keys", {"org": cast.org, "name": "k" * 201})
    assert key.status_code == 400, key.text
    assert "the name is at most 200 characters" in key.text
    space = person.post("/console/workspaces", {"org": cast.org, "name": "w" * 201})
    assert space.status_code == 400  # in place, on the keys page
    assert "the name is at most 200 characters" in space.text
    ticket = person.post("/support/tickets", {"org": cast.org, "subject": "s" * 201,
                                              "description": "d"})  # fmt: skip
    assert ticket.status_code == 400
    assert "the subject is at most 200 characters" in ticket.text
    fits = person.post("/console/keys", {"org": cast.org, "name": "k" * 200})
    assert fits.status_code == 201, fits.text
    with database.session() as session:  # nothing of the refused ones was written
        assert session.scalar(select(func.count()).select_from(ApiKey)
                              .where(ApiKey.name.startswith("kkk"))) == 1  # fmt: skip
        assert session.scalar(select(func.count()).select_from(Workspace)
                              .where(Workspace.name.startswith("www"))) == 0  # fmt: skip


@pytest.mark.parametrize("day", ["9999-12-31", "2100-01-01"])
def test_a_key_expiring_too_far_ahead_is_refused(cast: Cast, day: str) -> None:
    person = cast.customer
    person.get("/console/keys")
    response = person.post("/console/keys", {"org": cast.org, "name": "k", "expires_on": day})
    assert response.status_code == 400, response.text
    assert "expiry must lie within 10 years from now" in response.text


def test_an_attachment_with_an_over_long_content_type_leaves_nothing_behind(
    cast: Cast, settings: Settings, database: Database
) -> None:
    person = cast.customer
    person.get(f"/support/tickets/{cast.ticket}")
    with person._jar() as client:
        response = client.post(
            f"/support/tickets/{cast.ticket}/attachments",
            data={"csrf_token": person.csrf},
            files={"file": ("notes.txt", b"hello", "application/" + "x" * 120)},
            headers={"Accept": "text/html"}, follow_redirects=False,
        )  # fmt: skip
    assert response.status_code == 400, response.text
    assert "content type is at most 100 characters" in response.text
    stored = Path(settings.attachments_dir)
    assert not stored.exists() or not any(p.is_file() for p in stored.rglob("*"))
    with database.session() as session:
        assert session.scalar(select(func.count()).select_from(TicketAttachment)) == 0


def test_a_nul_in_the_address_or_a_header_is_refused(cast: Cast) -> None:
    person = cast.staff
    for path in ("/chat?q=a%00b", "/console/operator/customers?q=%00", "/support?status=%00",
                 f"/support/tickets/{cast.ticket}%00", "/chat/search?q=%00"):  # fmt: skip
        response = person.get(path)
        assert response.status_code == 400, (path, response.status_code)
        assert "text may not contain NUL characters" in response.text
    anonymous = Browser(person._client)
    anonymous.get("/login")
    with anonymous._jar() as client:
        response = client.post(
            "/login", data={"email": "a@b.example", "password": PASSWORD,
                            "csrf_token": anonymous.csrf},
            headers={"Accept": "text/html", "User-Agent": "bot\x00"}, follow_redirects=False,
        )  # fmt: skip
    assert response.status_code == 400
    assert "user-agent: text may not contain NUL characters" in response.text


def test_a_chat_message_with_a_nul_is_refused(cast: Cast) -> None:
    status, events = cast.customer.send("hello \x00")
    assert status == 400
    assert events[0]["message"] == "content: text may not contain NUL characters"
    assert events[0]["code"] == "nul_character"


@pytest.mark.parametrize(
    "path",
    [
        "/console/operator/audit?before=99999999999999999999",
        "/console/operator/audit?before=-1",
        "/console/operator/audit?before=soon",
    ],
)
def test_a_number_out_of_range_in_a_query_is_a_page_not_a_500(cast: Cast, path: str) -> None:
    response = cast.staff.get(path)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert "before:" in response.text


@pytest.mark.parametrize("number", ["9" * 30, "²", "1\u00b9"])  # huge, or digits int() refuses
def test_odd_numbers_in_forms_are_refused(cast: Cast, number: str) -> None:
    person = cast.customer
    person.get("/account")
    person.post("/account/country", {"country": "FR"})
    plan = person.post("/account/plan", {"plan": "chat-team", "seats": number})
    assert plan.status_code < 500, plan.text
    person.get("/chat/team")
    seats = person.post("/chat/team/seats", {"seats": number})
    assert seats.status_code < 500, seats.text
    staff = cast.staff
    staff.get(f"/support/tickets/{cast.ticket}")
    time = staff.post(f"/support/tickets/{cast.ticket}/time", {"minutes": number})
    assert time.status_code == 400, time.text
    assert staff.get(f"/support/tickets/{number}").status_code == 404
