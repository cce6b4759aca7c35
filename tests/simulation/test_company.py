"""The simulated company at a small scale: the revenue report, read off what the billing code
wrote, shows the shares the scenario asked for, and its figures trace back to the invoices
and the ledger."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import func, select

from levante import revenue, simulation
from levante.audit import Actor
from levante.errors import ConflictError, InvalidRequestError
from levante.pricing import CENT
from levante.settings import RevenueSettings, Settings
from levante.storage import Database
from levante.storage.models import Invoice, InvoiceLine, LicenseReport, SupportTicket, UsageRecord
from tests.helpers import make_tenant

NOW = datetime(2026, 12, 3, 9, 0, tzinfo=UTC)
CLI = Actor.command_line()


def test_a_small_company_shows_the_shares_its_scenario_asked_for(
    database: Database, settings: Settings
) -> None:
    scenario = simulation.load_scenario().scaled(0.03)
    outcome = simulation.simulate(database, settings, scenario, now=NOW)
    assert (outcome.first, outcome.last) == ("2025-12", "2026-11")
    with database.session() as session:
        # By default the report reaches this month, to date; the simulated year is closed.
        assert revenue.report(session, CLI, RevenueSettings(), now=NOW).in_progress == "2026-12"
        report = revenue.report(session, CLI, RevenueSettings(), now=NOW, last="2026-11")
        assert (report.first, report.last) == ("2025-12", "2026-11")
        assert report.in_progress is None
        for stream, wanted in scenario.shares().items():
            share = report.share(stream)
            assert share is not None
            assert abs(float(share) - wanted) <= 0.02, (stream, share, wanted)
        total = report.latest.streams["total"].arr
        assert abs(total / 1e9 - scenario.arr) / scenario.arr < 0.05
        # The API's run-rate is the invoiced usage lines, which are the ledger's records.
        api = report.latest.streams["api"]
        lines = session.scalar(
            select(func.sum(InvoiceLine.amount_cents))
            .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
            .where(Invoice.period == "2026-11", Invoice.currency == "USD",
                   InvoiceLine.product == "api", InvoiceLine.kind == "usage")
        )  # fmt: skip
        assert lines is not None
        assert lines * CENT <= api.usage  # the USD invoices' part; EUR ones add to it
        assert session.scalar(select(func.count()).select_from(SupportTicket))
        assert session.scalar(select(func.count()).select_from(LicenseReport))
        assert session.scalar(
            select(func.count()).select_from(UsageRecord).where(UsageRecord.product == "api")
        )
    assert outcome.invoices > 0
    assert 0 < outcome.payments < outcome.invoices  # some are paid late, a few never


def test_it_refuses_a_database_with_customers(database: Database, settings: Settings) -> None:
    make_tenant(database, "Real customer")
    with pytest.raises(ConflictError, match="fresh"):
        simulation.simulate(database, settings, simulation.load_scenario().scaled(0.01), now=NOW)


def test_a_bad_scenario_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('months = 12\n[api]\narr = "lots"\n')
    with pytest.raises(InvalidRequestError, match=r"api\.arr"):
        simulation.load_scenario(path)
    path.write_text("months = [\n")
    with pytest.raises(InvalidRequestError, match="not valid TOML"):
        simulation.load_scenario(path)
    with pytest.raises(InvalidRequestError, match="scale"):
        simulation.load_scenario().scaled(2)
