"""The support desk in a real browser: a customer with a Premium contract opens a severity-1
ticket with a log attached; an agent finds it in the queue by searching for the customer,
answers it and leaves an internal note; the customer sees the answer and never the note."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from levante import billing, support
from levante.audit import Actor
from levante.storage import Database, new_id, utcnow
from levante.storage.models import Membership, Organization, Role, User
from tests.browser.conftest import screenshot, sign_up


def _customer_org(database: Database, email: str, name: str, plan: str) -> str:
    """An organisation with a support contract, with ``email`` as its owner."""
    with database.session() as session:
        org = Organization(id=new_id("org"), name=name, slug=name.lower().replace(" ", "-"))
        session.add(org)
        session.flush()
        user = session.scalars(select(User).where(User.email == email)).one()
        session.add(Membership(user_id=user.id, organization_id=org.id, role=Role.OWNER))
        billing.ensure_account(session, org.id, "EUR")
        billing.subscribe(session, org.id, plan, now=utcnow() - timedelta(days=30),
                          default_currency="EUR", actor=Actor.command_line())  # fmt: skip
        return org.id


def _agent(database: Database, email: str) -> None:
    with database.session() as session:
        ops = session.scalar(select(Organization).where(Organization.is_operator.is_(True)))
        if ops is None:
            ops = Organization(id=new_id("org"), name="Levante", slug="levante-ops",
                               is_operator=True)  # fmt: skip
            session.add(ops)
            session.flush()
        user = session.scalars(select(User).where(User.email == email)).one()
        session.add(Membership(user_id=user.id, organization_id=ops.id, role=Role.SUPPORT))


def _other_tickets(database: Database, email: str, org: str) -> None:
    """A busier desk than one ticket: another customer's, one of them long unanswered."""
    with database.session() as session:
        user = session.scalars(select(User).where(User.email == email)).one()
    actor = Actor.user(org, user.id)
    now = utcnow()
    for subject, severity, ago in (
        ("Batch job stuck in RUNNING", 2, timedelta(hours=3)),
        ("Licence renewal quote", 4, timedelta(hours=1)),
        ("Token counts differ from tiktoken", 3, timedelta(minutes=20)),
    ):
        with database.session() as session:
            support.open_ticket(session, actor, subject=subject, severity=severity,
                                description="See subject.", now=now - ago)  # fmt: skip


def test_a_customer_opens_a_ticket_and_an_agent_answers_it_from_the_queue(
    chromium: Browser, page: Page, site_url: str, site_database: Database, tmp_path: Path
) -> None:
    sign_up(page, site_url, "maria@northwind.example")
    _customer_org(site_database, "maria@northwind.example", "Northwind Labs", "support-premium")
    log = tmp_path / "gateway.log"
    log.write_text("ERROR engine: context shift failed\n")

    page.goto(f"{site_url}/support")
    expect(page.get_by_role("heading", name="Support for Northwind Labs")).to_be_visible()
    expect(page.get_by_test_id("contract")).to_contain_text("Support Premium")
    page.get_by_label("Subject").fill("All inference requests fail after the upgrade")
    page.get_by_label("Severity").select_option("1")
    page.get_by_label("Affected deployment or licence").fill("lic_northwind_prod")
    page.get_by_label("Model").fill("mistral-small")
    page.get_by_label("What happens").fill(
        "Since upgrading to 0.3 every `POST /v1/chat/completions` answers **500**.\n\n"
        "- 4 nodes, all affected\n- rollback is possible but slow"
    )
    page.get_by_label("Attach a file").set_input_files(str(log))
    page.get_by_role("button", name="Open ticket").click()
    expect(page.get_by_role("heading", name="All inference requests fail")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("new")
    expect(page.locator(".timer.running").first).to_contain_text("First response")
    expect(page.locator(".timer.running").first).to_contain_text("from now")
    expect(page.get_by_role("link", name="gateway.log").first).to_be_visible()
    number = page.url.rsplit("/", 1)[1]

    agent_context = chromium.new_context(viewport={"width": 1280, "height": 800})
    desk = agent_context.new_page()
    sign_up(desk, site_url, "sam@levante.example")
    _agent(site_database, "sam@levante.example")
    other_context = chromium.new_context()
    sign_up(other_context.new_page(), site_url, "li@contoso.example")
    other_context.close()
    contoso = _customer_org(site_database, "li@contoso.example", "Contoso", "support-critical")
    _other_tickets(site_database, "li@contoso.example", contoso)

    desk.goto(f"{site_url}/support")
    expect(desk).to_have_url(f"{site_url}/support/queue")
    rows = desk.get_by_test_id("queue").locator("tbody tr")
    expect(rows).to_have_count(4)
    expect(desk.locator("tr.breached").first).to_contain_text("Batch job stuck")
    screenshot(desk, "support-queue")

    desk.get_by_label("Search").fill("northwind")
    desk.get_by_role("button", name="Search").click()
    expect(desk).to_have_url(re.compile(r"/support/queue\?q=northwind"))
    expect(desk.get_by_label("Search")).to_have_value("northwind")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("All inference requests fail after the upgrade")
    desk.get_by_role("link", name=f"#{number}").click()
    expect(desk.get_by_role("link", name="gateway.log").first).to_be_visible()
    expect(desk.get_by_label("Status")).to_have_value("new")
    desk.get_by_label("Reply to the customer").fill(
        "Thanks, we can reproduce it: 0.3.0 dropped the context-shift fix. Please roll "
        "forward to **0.3.1**; we are watching your nodes meanwhile."
    )
    desk.get_by_role("button", name="Send").click()
    expect(desk.get_by_test_id("status")).to_have_text("open")
    desk.get_by_label("Reply to the customer").fill(
        "Known regression, see KB-142. Call them at 14:00."
    )
    desk.get_by_role("button", name="Add internal note").click()
    desk.get_by_label("Agent").select_option("sam@levante.example")
    desk.get_by_role("button", name="Assign").click()
    expect(desk.get_by_test_id("assignee")).to_have_text("sam@levante.example")
    expect(desk.locator(".timer.met")).to_contain_text("First response")
    screenshot(desk, "support-ticket")
    agent_context.close()

    page.reload()
    expect(page.get_by_text("roll forward to")).to_be_visible()
    expect(page.get_by_test_id("status")).to_have_text("open")
    expect(page.get_by_text("KB-142")).to_have_count(0)
    expect(page.get_by_text("internal note")).to_have_count(0)


def test_a_customer_buys_consulting_hours_and_watches_them_drawn_down(
    page: Page, site_url: str, site_database: Database
) -> None:
    sign_up(page, site_url, "omar@fabrikam.example")
    org = _customer_org(site_database, "omar@fabrikam.example", "Fabrikam", "support-standard")
    page.goto(f"{site_url}/support?org={org}")
    page.get_by_role("link", name="Hours").click()
    expect(page.get_by_role("heading", name="Consulting hours for Fabrikam")).to_be_visible()
    expect(page.get_by_test_id("hours-left")).to_contain_text("0 min left")
    page.get_by_role("button", name="Buy 40 hours").click()
    expect(page.get_by_test_id("flash")).to_contain_text("Invoice")
    expect(page.get_by_test_id("hours-left")).to_contain_text("40 h left on 1 pack")

    with site_database.session() as session:
        user = session.scalars(select(User).where(User.email == "omar@fabrikam.example")).one()
        ticket = support.open_ticket(
            session, Actor.user(org, user.id), subject="Plan a LoRA fine-tune on our tickets",
            description="Scope and data preparation.", severity=4, now=utcnow(),
        )  # fmt: skip
        number = ticket.number
    with site_database.session() as session:
        for minutes in (150, 95):
            support.log_time(session, Actor.command_line(), str(number), minutes,
                             note="working session", now=utcnow())  # fmt: skip
    page.reload()
    expect(page.get_by_test_id("hours-left")).to_contain_text("35 h 55 min left")
    expect(page.get_by_role("link", name=f"#{number}")).to_have_count(2)
    screenshot(page, "support-hours")
