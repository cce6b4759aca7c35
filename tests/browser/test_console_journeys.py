"""The consoles in a real browser: on a small simulated company, the operator's owner sees
the dashboard's three charts drawn with the report's data; a builder creates a key in the
customer console, calls the API with it through the ``openai`` SDK, sees the request on the
usage chart at once, and downloads an invoice as a PDF."""

from __future__ import annotations

from pathlib import Path

import openai
from playwright.sync_api import Page, expect
from sqlalchemy import select

from levante import billing, platform, simulation, tenancy
from levante.audit import Actor
from levante.settings import BillingSettings, Settings
from levante.storage import Database, new_id, utcnow
from levante.storage.models import Membership, Organization, Role, User
from tests.browser.conftest import screenshot, sign_up
from tests.helpers import MODEL


def _owner_of_operator(database: Database, email: str) -> None:
    with database.session() as session:
        ops = Organization(id=new_id("org"), name="Levante", slug="levante", is_operator=True)
        session.add(ops)
        session.flush()
        user = session.scalars(select(User).where(User.email == email)).one()
        session.add(Membership(user_id=user.id, organization_id=ops.id, role=Role.OWNER))


def test_the_dashboard_draws_its_charts(
    page: Page, site_url: str, site_database: Database, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=str(site_database.engine.url))
    outcome = simulation.simulate(site_database, settings, simulation.load_scenario().scaled(0.02))
    sign_up(page, site_url, "owner@levante.example")
    _owner_of_operator(site_database, "owner@levante.example")
    page.goto(f"{site_url}/console/operator/revenue")
    expect(page.locator("body")).to_have_attribute("data-charts", "drawn")
    for chart in ("arr-chart", "share-chart", "movements-chart"):
        box = page.locator(f"#{chart}").bounding_box()
        assert box is not None, chart
        assert (box["width"] > 200, box["height"] > 150) == (True, True), chart
        # The canvas holds a drawing: some of its pixels are not transparent.
        painted = page.evaluate(
            """(id) => { const c = document.getElementById(id);
                 const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
                 let n = 0; for (let i = 3; i < d.length; i += 4) if (d[i]) n++; return n; }""",
            chart,
        )
        assert painted > 1000, chart
    expect(page.locator("#streams tr[data-stream=total] .share")).to_have_text("100.0%")
    # Issue 29: the dashboard ended with the last closed month, showing 0 on a live
    # deployment; it reaches this month now, labelled as to date.
    expect(page.locator("h1")).to_contain_text("(to date")
    screenshot(page, "console-dashboard-small")
    page.goto(f"{site_url}/console/operator/revenue?first={outcome.first}&last={outcome.last}")
    expect(page.get_by_text(f"{outcome.first} to {outcome.last}")).to_be_visible()
    page.locator("#top a").first.click()
    expect(page.locator("#customer-streams")).to_be_visible()
    expect(page.locator("#invoices tbody tr").first).to_be_visible()


def test_a_key_made_in_the_console_works_and_its_usage_shows(
    page: Page, site_url: str, site_database: Database
) -> None:
    sign_up(page, site_url, "builder@acme.example")
    page.goto(f"{site_url}/console/keys")
    page.get_by_label("Name").fill("production")
    page.get_by_role("button", name="Create key").click()
    secret = page.locator("#new-secret").inner_text()
    assert secret.startswith("lv-")
    # The secret shown once is copied with a click (issue: there was no Copy button).
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=site_url)
    copy = page.locator("#copy-secret")
    expect(copy).to_have_text("Copy")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    expect(page.locator("#keys")).to_contain_text("never")  # not used yet
    screenshot(page, "console-keys")
    client = openai.OpenAI(base_url=f"{site_url}/v1", api_key=secret, max_retries=0)
    answer = client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8,
        temperature=0,
    )  # fmt: skip
    assert answer.usage is not None
    used = answer.usage.total_tokens
    page.goto(f"{site_url}/console/usage")
    expect(page.locator("body")).to_have_attribute("data-charts", "drawn")
    expect(page.locator("#usage-requests")).to_have_text("1")
    expect(page.locator("#usage-tokens")).to_have_text(f"{used:,}")
    expect(page.locator("#by-key")).to_contain_text("production")
    screenshot(page, "console-usage")
    page.goto(f"{site_url}/console/keys")
    row = page.locator("#keys tbody tr", has_text="production")
    expect(row.locator("td").nth(5)).to_contain_text("UTC")  # last used: just now
    # An invoice of the organisation, downloaded as a PDF from the billing page.
    with site_database.session() as session:
        org = tenancy.console_organizations(
            session, _user_id(site_database, "builder@acme.example")
        )[0][0]
        billing.subscribe(session, org.id, "support-standard", now=utcnow(),
                          default_currency="USD", actor=Actor.command_line())  # fmt: skip
    platform.run_invoices(
        site_database, Actor.command_line(), f"{utcnow():%Y-%m}", organization=org.id,
        finalize=False, settings=BillingSettings(), default_currency="USD", settle_seconds=0,
    )  # fmt: skip
    page.goto(f"{site_url}/console/billing")
    with page.expect_download() as download:
        page.locator("#invoices a", has_text="PDF").first.click()
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"%PDF")
    assert download.value.suggested_filename.endswith(".pdf")


def _user_id(database: Database, email: str) -> str:
    with database.session() as session:
        return session.scalars(select(User.id).where(User.email == email)).one()
