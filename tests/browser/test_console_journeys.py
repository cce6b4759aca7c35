"""The revenue dashboard in a real browser: on a small simulated company, the operator's
owner signs in, and the three charts render with the report's data."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect
from sqlalchemy import select

from levante import simulation
from levante.settings import Settings
from levante.storage import Database, new_id
from levante.storage.models import Membership, Organization, Role, User
from tests.browser.conftest import screenshot, sign_up


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
    expect(page.get_by_text(f"{outcome.first} to {outcome.last}")).to_be_visible()
    screenshot(page, "console-dashboard-small")
    page.locator("#top a").first.click()
    expect(page.locator("#customer-streams")).to_be_visible()
    expect(page.locator("#invoices tbody tr").first).to_be_visible()
