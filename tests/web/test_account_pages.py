"""Sign-up, sign-in, sessions, passwords and the account page over HTTP."""

from __future__ import annotations

import re

from sqlalchemy import select

from levante.audit import Actor
from levante.billing import record_transfer
from levante.engine import ModelRegistry
from levante.identity import SignupPolicy
from levante.mail import outbox
from levante.settings import ChatSettings, Settings
from levante.storage import Database
from levante.storage.models import User, WebSession
from levante.vocabulary import SignupMode
from tests.helpers import mailed_link
from tests.web.conftest import PASSWORD, Browser


def test_sign_up_gives_a_session_cookie_a_script_cannot_read(
    person: Browser, database: Database
) -> None:
    person.get("/signup")
    asked = person.post("/signup", {"email": "Alice@Example.com"})
    assert asked.status_code == 200
    assert "Check your mail" in asked.text
    assert not any("lv_session=" in h for h in asked.headers.get_list("set-cookie"))
    link = mailed_link(database, "alice@example.com", "/signup/confirm/")
    assert "Confirm and sign in" in person.get(link).text  # a scanner's GET makes nothing
    short = person.post(link, {"password": "short"})
    assert short.status_code == 400  # in place, on the confirm page
    assert "at least 10 characters" in short.text
    response = person.post(link, {"password": PASSWORD})
    assert response.status_code == 303
    assert response.headers["location"] == "/"  # where they belong: the chat, for a newcomer
    assert person.get("/", follow_redirects=False).headers["location"] == "/chat"
    cookie = next(h for h in response.headers.get_list("set-cookie") if "lv_session=" in h)
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie or "samesite=lax" in cookie.lower()
    assert "Secure" not in cookie  # plain http here; behind https it is set
    page = person.get("/chat")
    assert page.status_code == 200
    assert "alice@example.com" not in page.text or "Sign out" in page.text


def test_the_password_is_kept_as_an_argon2id_hash_only(person: Browser, database: Database) -> None:
    person.sign_up("alice@example.com")
    with database.session() as session:
        user = session.scalars(select(User)).one()
        assert user.password_hash is not None
        assert user.password_hash.startswith("$argon2id$")
        assert PASSWORD not in user.password_hash


def test_sign_up_refusals_read_clearly(person: Browser) -> None:
    person.sign_up("alice@example.com")
    fresh = Browser(person._client)
    fresh.get("/signup")
    again = fresh.post("/signup", {"email": "alice@example.com"})
    assert again.status_code == 200  # the same answer as for a new address: nothing revealed
    assert "Check your mail" in again.text
    bad = fresh.post("/signup", {"email": "not an address"})
    assert bad.status_code == 400
    assert "is not an email address" in bad.text


def test_sign_in_and_out(person: Browser, database: Database) -> None:
    person.sign_up("alice@example.com")
    assert person.post("/logout").status_code == 303
    assert person.get("/chat", follow_redirects=False).status_code == 303
    with database.session() as session:
        assert all(s.revoked_at is not None for s in session.scalars(select(WebSession)))
    person.get("/login")
    wrong = person.post("/login", {"email": "alice@example.com", "password": "nope nope nope"})
    assert wrong.status_code == 400
    assert "wrong email address or password" in wrong.text
    right = person.post(
        "/login", {"email": "alice@example.com", "password": PASSWORD, "next": "/account"}
    )
    assert (right.status_code, right.headers["location"]) == (303, "/account")
    away = person.post(
        "/login", {"email": "alice@example.com", "password": PASSWORD, "next": "//evil.example"}
    )
    assert away.headers.get("location", "/chat") in ("/chat", None) or away.status_code == 303


def test_failed_sign_ins_are_throttled_per_account(person: Browser) -> None:
    person.sign_up("alice@example.com")
    person.post("/logout")
    person.get("/login")
    for _ in range(10):  # five free, then waits of 1, 2, 4, 8 s after the one before
        person.post("/login", {"email": "alice@example.com", "password": "wrong password"})
    blocked = person.post("/login", {"email": "alice@example.com", "password": PASSWORD})
    assert blocked.status_code == 429
    assert "too many failed sign-ins; try again in" in blocked.text
    assert int(blocked.headers["retry-after"]) >= 1


def test_a_forgotten_password_is_reset_once_through_the_mailed_link(
    person: Browser, database: Database
) -> None:
    person.sign_up("alice@example.com")
    person.post("/logout")
    person.get("/password/forgot")
    assert person.post("/password/forgot", {"email": "alice@example.com"}).status_code == 303
    # An unknown address gets the same answer, and no mail.
    assert person.post("/password/forgot", {"email": "nobody@example.com"}).status_code == 303
    with database.session() as session:
        _sign_up_mail, mail = outbox(session)  # the sign-up's link, then the reset's
        assert mail.to == "alice@example.com"
        link = re.search(r"/password/reset/(\S+)", mail.body)
    assert link is not None
    path = link.group(0)
    assert person.get(path).status_code == 200
    assert person.post(path, {"password": "a brand new secret"}).status_code == 303
    assert person.get(path).status_code == 404  # used up
    person.get("/login")
    signed_in = person.post(
        "/login", {"email": "alice@example.com", "password": "a brand new secret"}
    )
    assert signed_in.status_code == 303


def test_changing_the_password_ends_the_other_sessions(
    person: Browser, other_person: Browser
) -> None:
    person.sign_up("alice@example.com")
    other_person.get("/login")
    other_person.post("/login", {"email": "alice@example.com", "password": PASSWORD})
    assert other_person.get("/chat").status_code == 200
    person.get("/account")
    changed = person.post(
        "/account/password", {"current_password": PASSWORD, "new_password": "another secret!"}
    )
    assert changed.status_code == 303
    assert person.get("/chat").status_code == 200
    assert other_person.get("/chat", follow_redirects=False).status_code == 303
    wrong = person.post(
        "/account/password", {"current_password": "nope", "new_password": "another secret!"}
    )
    assert wrong.status_code == 400
    assert "the current password is wrong" in wrong.text


def test_upgrading_by_transfer_applies_the_plan_once_paid(
    person: Browser, database: Database
) -> None:
    person.sign_up("alice@example.com")
    page = person.get("/account")
    assert 'data-testid="plan-name">Chat Free<' in page.text
    # Issue 29: the Pro card said 14.99 USD, the invoice 17.99 USD (French VAT on a consumer
    # who never gave a country). The country comes first; the price shown includes its VAT.
    assert "Choose your country above first." in page.text
    refused = person.post("/account/plan", {"plan": "chat-pro-monthly"})
    assert (refused.status_code, "Choose your country first" in refused.text) == (400, True)
    assert person.post("/account/country", {"country": "FR"}).status_code == 303
    page = person.get("/account")
    assert re.search(r"<h3>Chat Pro</h3>\s*<p class=\"price\">17.99 USD", page.text), page.text
    assert "VAT included (FR 20%)" in page.text
    chosen = person.post("/account/plan", {"plan": "chat-pro-monthly"})
    assert chosen.status_code == 303
    page = person.get(chosen.headers["location"])
    assert "starts as soon as its invoice is paid" in page.text
    assert "bank transfer" in page.text
    assert 'data-testid="plan-name">Chat Free<' in page.text  # not paid yet
    # Issue 29: the Pro card said "Current plan" before its invoice was paid.
    cards = dict(re.findall(r'<h3>([^<]+)</h3>.*?<p class="badge">([^<]+)</p>', page.text, re.S))
    assert cards.get("Chat Pro") == "Waiting for payment", cards
    assert cards.get("Chat Free") == "Current plan", cards
    number = re.search(r"<td>(LEV-\d+)</td>", page.text)
    assert number is not None
    assert re.search(rf"<td>{number.group(1)}</td>.*?17\.99 USD", page.text, re.S)  # as shown
    with database.session() as session:
        record_transfer(session, Actor.command_line(), number.group(1), reference="bank-1")
    page = person.get("/account")
    assert 'data-testid="plan-name">Chat Pro<' in page.text
    assert "200 of 200 messages left" in page.text
    invoice = person.get("/account/invoices/" + number.group(1))
    assert invoice.status_code == 200
    assert number.group(1) in invoice.text


def test_instructions_apply_and_deleting_the_account_signs_out(
    person: Browser, database: Database
) -> None:
    person.sign_up("alice@example.com")
    person.get("/account")
    saved = person.post("/account/instructions", {"instructions": "Answer in French."})
    assert saved.status_code == 303
    assert "Answer in French." in person.get("/account").text
    refused = person.post("/account/delete", {"password": "wrong"})
    assert refused.status_code == 400
    deleted = person.post("/account/delete", {"password": PASSWORD})
    assert deleted.status_code == 303
    assert person.get("/chat", follow_redirects=False).status_code == 303
    with database.session() as session:
        assert session.scalars(select(User)).all() == []


def test_sign_up_can_be_closed_or_limited_to_domains(
    settings: Settings, database: Database, model_registry: object
) -> None:
    from fastapi.testclient import TestClient

    from levante.api import create_app

    for mode, email, allowed in (
        (SignupMode.CLOSED, "a@example.com", False),
        (SignupMode.INVITE, "a@example.com", False),
        (SignupMode.DOMAINS, "a@corp.example", True),
        (SignupMode.DOMAINS, "a@elsewhere.example", False),
    ):
        chat = ChatSettings(signup=mode, signup_domains=["corp.example"])
        app = create_app(
            settings.model_copy(update={"chat": chat}),
            models=model_registry,  # type: ignore[arg-type]
            database=database,
        )
        with TestClient(app) as client:
            visitor = Browser(client)
            visitor.get("/signup")
            response = visitor.post("/signup", {"email": email, "password": PASSWORD})
            assert (response.status_code == 200) is allowed, (mode, email, response.text)
            if not allowed:
                assert response.status_code == 403
    assert SignupPolicy().mode == SignupMode.OPEN


def test_back_from_the_payment_page_lands_on_the_account_signed_in(
    web_settings: Settings, database: Database, model_registry: ModelRegistry
) -> None:
    from fastapi.testclient import TestClient

    from levante.api import create_app
    from levante.billing.checkout import return_token

    billing = web_settings.billing.model_copy(update={"stripe_secret_key": "sk_test_x"})
    config = web_settings.model_copy(update={"billing": billing})
    with TestClient(create_app(config, models=model_registry, database=database)) as client:
        person = Browser(client)
        person.sign_up("alice@example.com")
        person.get("/account")
        person.post("/account/country", {"country": "FR"})
        person.post("/account/plan", {"plan": "chat-pro-monthly"})
        invoice = re.search(r"/account/invoices/(inv_\w+)", person.get("/account").text)
        assert invoice is not None
        token = return_token(billing, invoice.group(1))
        back = f"/account/checkout/{invoice.group(1)}?token={token}&checkout=success"
        landed = person.get(back)
        assert landed.status_code == 200
        assert str(landed.url).endswith("/account")  # the notice comes from the session
        assert "is being confirmed" in landed.text
        assert "Sign out" in landed.text  # signed in
        forged = person.get(f"/account/checkout/{invoice.group(1)}?token=forged")
        assert forged.status_code == 404
        signed_out = Browser(client).get(back, follow_redirects=False)
        assert signed_out.headers["location"].startswith("/login?next=/account")


def test_a_stranger_cannot_claim_an_account_an_operator_made(
    person: Browser, database: Database
) -> None:
    """Finding 1: sign-up set the stranger's password on the operator's new owner."""
    from levante import tenancy

    with database.session() as session:
        tenancy.open_organization(session, Actor.command_line(), name="Ops", slug="ops")
        tenancy.add_member(
            session, Actor.command_line(), "ops", email="boss@example.com",
            role=tenancy.Role.OWNER, public_url="http://testserver",
        )  # fmt: skip
    person.get("/signup")
    asked = person.post("/signup", {"email": "boss@example.com", "password": PASSWORD})
    assert asked.status_code == 200
    assert "Check your mail" in asked.text
    assert not any("lv_session=" in h for h in asked.headers.get_list("set-cookie"))
    person.get("/login")
    refused = person.post("/login", {"email": "boss@example.com", "password": PASSWORD})
    assert refused.status_code == 400
    assert person.get("/console/operator/revenue", follow_redirects=False).status_code == 303
    # The address's owner follows the claim link mailed to it, and is the owner.
    owner = Browser(person._client)
    link = mailed_link(database, "boss@example.com", "/password/reset/")
    assert "Choose your password" in owner.get(link).text
    assert owner.post(link, {"password": "the owner's secret"}).status_code == 303
    owner.get("/login")
    assert (
        owner.post("/login", {"email": "boss@example.com", "password": "the owner's secret"})
    ).status_code == 303


def test_notices_come_from_the_server_never_from_the_url(person: Browser) -> None:
    """Finding 8: /account?message=..., /console/billing?done=... printed any text."""
    person.sign_up("alice@example.com")
    spoof = "Your account is suspended. Pay 500 USD to IBAN FR00"
    for path in (f"/account?message={spoof}", f"/account?notice={spoof}",
                 f"/console/billing?done={spoof}", f"/console/billing?error={spoof}",
                 f"/console/usage?done={spoof}", f"/support/hours?bought={spoof}"):  # fmt: skip
        assert spoof not in person.get(path).text, path
    saved = person.post("/account/instructions", {"instructions": "Be brief."})
    assert saved.headers["location"] == "/account"
    assert "Your custom instructions are saved." in person.get("/account").text
    assert "Your custom instructions are saved." not in person.get("/account").text  # once


def test_the_account_page_lists_sessions_and_signs_out_the_others(
    person: Browser, other_person: Browser
) -> None:
    person.sign_up("alice@example.com")
    other_person.get("/login")
    other_person.post("/login", {"email": "alice@example.com", "password": PASSWORD})
    page = person.get("/account")
    assert page.text.count("this one") == 1
    assert "Sign out everywhere else" in page.text
    assert person.post("/account/sessions/end-others").status_code == 303
    assert "Signed out of 1 other session." in person.get("/account").text
    assert other_person.get("/chat", follow_redirects=False).status_code == 303
    assert person.get("/chat").status_code == 200


def test_an_unpaid_invoice_has_a_pay_button(person: Browser) -> None:
    """Issue 29: unpaid invoices had no Pay button in the account page (nor the console)."""
    person.sign_up("alice@example.com")
    person.get("/account")
    person.post("/account/country", {"country": "FR"})
    person.post("/account/plan", {"plan": "chat-pro-monthly"})
    page = person.get("/account").text
    action = re.search(r'action="(/account/invoices/[^"/]+/pay)"', page)
    assert action is not None
    paid = person.post(action.group(1), {})
    assert paid.status_code == 303
    assert "by bank transfer" in person.get(paid.headers["location"]).text
    console = person.get("/console/billing").text
    assert re.search(r'action="/console/invoices/[^"/]+/pay"', console)
    assert person.post("/account/invoices/inv_nope/pay", {}).status_code == 404
