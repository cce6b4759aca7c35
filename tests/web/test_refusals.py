"""One refusal policy for the pages: a form the services refuse comes back in place (4xx, never
a redirect), its reason beside it and what was typed still in it; any other refusal is the
error page, with the visitor's own navigation and a way back to where they were; a page whose
query it cannot use falls back to its default."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient

from levante.storage import Database
from levante.storage.models import Role
from tests.helpers import MODEL, make_tenant
from tests.web.conftest import PASSWORD, Browser, join_operator

_WAY_BACK = re.compile(r'<a href="([^"]*)" data-testid="way-back">')


def way_back(response: object) -> str:
    found = _WAY_BACK.search(getattr(response, "text", ""))
    assert found is not None, getattr(response, "text", "")
    return html.unescape(found.group(1))


def refusal_beside(response: object, action: str) -> str:
    """The reason shown just before the form that posts to ``action``."""
    text = getattr(response, "text", "")
    found = re.search(
        r'data-testid="refusal">([^<]*)</p>\s*<form method="post" action="' + re.escape(action),
        text,
    )
    assert found is not None, text
    return html.unescape(found.group(1))


def values(response: object, name: str) -> list[str]:
    """The values of the inputs called ``name`` on the page, in order."""
    text = getattr(response, "text", "")
    found = []
    for tag in re.findall(r"<input\b[^>]*>", text):
        if f'name="{name}"' in tag:
            value = re.search(r'value="([^"]*)"', tag)
            found.append(html.unescape(value.group(1)) if value else "")
    return found


def _slug(person: Browser) -> str:
    found = re.search(r'name="org" value="([^"]+)"', person.get("/console/keys").text)
    assert found is not None
    return found.group(1)


# -- the error page -------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "home"), [
    ("/console/keys?org=nobody", "/console"),
    ("/console/invoices/nope.pdf", "/console"),
    ("/support/tickets/999", "/support"),
    ("/chat/c/conv_nope", "/chat"),
    ("/account/invoices/nope", "/account"),
    ("/no/such/page", "/chat"),
])  # fmt: skip
def test_the_error_page_keeps_the_navigation_and_leads_back(
    person: Browser, path: str, home: str
) -> None:
    person.sign_up("alice@example.com")
    alone = person.get(path)
    assert alone.status_code == 404, alone.text
    assert "Sign out" in alone.text  # the visitor's own navigation, signed in
    assert 'href="/console"' in alone.text
    assert way_back(alone) == home
    came_from = person.get(path, headers={"Referer": "http://testserver/support/hours?org=a&b=c"})
    assert way_back(came_from) == "/support/hours?org=a&b=c"
    for foreign in ("https://evil.example/console", "//evil.example/x", "javascript:alert(1)",
                    f"http://testserver{path}"):  # fmt: skip
        assert way_back(person.get(path, headers={"Referer": foreign})) == home, foreign
    assert "Back to the chat" not in alone.text or home == "/chat"


def test_the_operators_error_page_leads_back_to_the_operators_console(
    person: Browser, database: Database
) -> None:
    join_operator(database, person, "ops@levante.example", Role.ADMIN)
    missing = person.get("/console/operator/customers/nobody")
    assert missing.status_code == 404
    assert way_back(missing) == "/console/operator"
    bad = person.get("/console/operator/invoices/run")  # no such page: a 405
    assert bad.status_code in (404, 405)
    # A bad range is no error page: it is said beside the range (test_console_pages.py).


def test_a_refusal_for_someone_signed_out_is_a_page_of_a_stranger(person: Browser) -> None:
    missing = person.get("/password/reset/nope")
    assert missing.status_code == 404
    assert "Sign out" not in missing.text
    assert "Sign in" in missing.text
    assert way_back(missing) == "/login"


def test_a_forged_form_is_refused_with_a_way_back_to_its_page(person: Browser) -> None:
    person.sign_up("alice@example.com")
    with person._jar() as client:
        refused = client.post(
            "/account/instructions", data={"instructions": "x", "csrf_token": "forged"},
            headers={"Accept": "text/html", "Referer": "http://testserver/account"},
        )  # fmt: skip
    assert refused.status_code == 403
    assert "Sign out" in refused.text
    assert way_back(refused) == "/account"


# -- forms refused in place -----------------------------------------------------------------------


def test_a_console_form_refused_comes_back_in_place_with_what_was_typed(
    person: Browser,
) -> None:
    person.sign_up("owner@acme.example")
    slug = _slug(person)
    assert person.post("/console/workspaces", {"org": slug, "name": "staging"}).status_code == 303
    person.get(f"/console/usage?org={slug}")
    limit = person.post("/console/spend-limit",
                        {"org": slug, "workspace": "staging", "monthly_limit": "lots"})  # fmt: skip
    assert limit.status_code == 400, limit.text
    assert "location" not in limit.headers
    assert "The monthly limit must be a number" in refusal_beside(limit, "/console/spend-limit")
    assert values(limit, "monthly_limit") == ["lots"]
    assert '<option value="staging" selected>' in limit.text
    assert "notice flash error" not in person.get("/console/usage").text  # nothing left behind

    space = person.post("/console/workspaces", {"org": slug, "name": "w" * 201})
    assert space.status_code == 400
    assert "at most 200 characters" in refusal_beside(space, "/console/workspaces")
    assert values(space, "name") == ["", "w" * 201]  # the key's form is not the one refused

    key = person.post("/console/keys", {"org": slug, "name": "prod", "workspace": "staging",
                                        "models": MODEL,
                                        "expires_on": "next tuesday"})  # fmt: skip
    assert key.status_code == 400
    assert "YYYY-MM-DD" in refusal_beside(key, "/console/keys")
    assert values(key, "name") == ["prod", ""]
    assert f'value="{MODEL}" checked' in key.text
    assert '<option value="staging" selected>' in key.text
    assert values(key, "expires_on") == ["next tuesday"]

    top_up = person.post("/console/top-ups", {"org": slug, "amount": "a lot"})
    assert top_up.status_code == 400
    assert refusal_beside(top_up, "/console/top-ups")
    assert values(top_up, "amount") == ["a lot"]


def test_an_operator_form_refused_comes_back_in_place(person: Browser, database: Database) -> None:
    make_tenant(database, "Acme")
    join_operator(database, person, "ops@levante.example", Role.OWNER)
    person.get("/console/operator/prices")
    price = person.post("/console/operator/prices", {
        "model": MODEL, "input": "0.10", "output": "-1", "currency": "EUR",
    })  # fmt: skip
    assert price.status_code == 400, price.text
    assert refusal_beside(price, "/console/operator/prices")
    assert values(price, "input") == ["0.10"]
    assert "<option selected>EUR</option>" in price.text
    run = person.post("/console/operator/invoices/run", {"period": "January"})
    assert run.status_code == 400
    assert "YYYY-MM" in refusal_beside(run, "/console/operator/invoices/run")
    assert values(run, "period")[0] == "January"
    licence = person.post("/console/operator/licenses", {"organization": "acme"})
    assert 400 <= licence.status_code < 500, licence.text[-3000:]
    assert refusal_beside(licence, "/console/operator/licenses")
    assert values(licence, "organization") == ["acme"]
    report = person.post("/console/operator/licenses/reports", {"report": "not <a> report"})
    assert report.status_code == 400
    assert refusal_beside(report, "/console/operator/licenses/reports")
    assert "not &lt;a&gt; report</textarea>" in report.text


def test_account_team_and_support_forms_refused_come_back_in_place(person: Browser) -> None:
    person.sign_up("alice@example.com")
    person.get("/account")
    wrong = person.post("/account/password",
                        {"current_password": "not it at all", "new_password": "a new secret!"})  # fmt: skip
    assert wrong.status_code == 400
    assert "current password is wrong" in refusal_beside(wrong, "/account/password")
    assert "not it at all" not in wrong.text  # a password is never sent back
    kept = person.post("/account/instructions", {"instructions": "x" * 5000})
    assert 400 <= kept.status_code < 500
    assert refusal_beside(kept, "/account/instructions")
    assert "x" * 5000 + "</textarea>" in kept.text
    person.get("/chat/team")
    seats = person.post("/chat/team/seats", {"seats": "many"})
    assert seats.status_code in (400, 409)
    person.get("/support")
    ticket = person.post("/support/tickets", {"subject": "", "description": "It broke."})
    assert ticket.status_code == 400
    assert "needs a subject" in refusal_beside(ticket, "/support/tickets")
    assert "It broke.</textarea>" in ticket.text


def test_a_refused_sign_in_keeps_the_address_and_the_wait(person: Browser) -> None:
    person.sign_up("alice@example.com")
    person.post("/logout")
    person.get("/login")
    wrong = person.post("/login", {"email": "alice@example.com", "password": "nope nope nope"})
    assert wrong.status_code == 400
    assert "wrong email address or password" in refusal_beside(wrong, "/login")
    assert values(wrong, "email") == ["alice@example.com"]
    assert PASSWORD not in wrong.text


# -- queries a page can do without ----------------------------------------------------------------


@pytest.mark.parametrize("days", ["abc", "12", "-1", "9" * 30])
def test_a_usage_period_it_does_not_offer_falls_back_to_thirty_days(
    person: Browser, days: str
) -> None:
    person.sign_up("owner@acme.example")
    page = person.get(f"/console/usage?days={days}")
    assert page.status_code == 200, page.text
    assert '<option value="30" selected>' in page.text


def test_the_usage_period_it_offers_is_kept(app: TestClient, person: Browser) -> None:
    person.sign_up("owner@acme.example")
    assert '<option value="7" selected>' in person.get("/console/usage?days=7").text


def test_a_ticket_status_it_does_not_know_shows_every_ticket(person: Browser) -> None:
    person.sign_up("ana@acme.example")
    assert person.get("/support?status=bogus").status_code == 200
    assert person.get("/support?status=solved").status_code == 200
