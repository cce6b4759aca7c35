"""``levante revenue``: the report as tables and CSV, and the exchange rates."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime

import pytest

from levante import billing
from levante.audit import Actor
from levante.storage import Database
from tests.cli.runner import fails, ok
from tests.helpers import make_tenant


@pytest.fixture(autouse=True)
def _use_test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")


def test_the_report_prints_tables_and_csv(database: Database) -> None:
    ok("db", "upgrade")
    acme = make_tenant(database, "Acme")
    with database.session() as session:
        billing.ensure_catalog(session)
        billing.subscribe(
            session, acme.organization_id, "enterprise-gpu", quantity=2,
            now=datetime(2026, 1, 5, tzinfo=UTC), default_currency="EUR",
            actor=Actor.command_line(),
        )  # fmt: skip
    fails("revenue", "--from", "2026-01", "--to", "2026-02", message="levante revenue rates set")
    assert "1 EUR = 1.1 USD" in ok("revenue", "rates", "set", "eur", "usd", "1.1", "--from",
                                   "2025-12-01")  # fmt: skip
    assert "EUR" in ok("revenue", "rates", "list")
    out = ok("revenue", "--from", "2026-01", "--to", "2026-02")
    for part in ("ARR by stream", "Top customers", "acme"):
        assert part in out
    rows = list(csv.DictReader(io.StringIO(ok("revenue", "--from", "2026-01", "--to", "2026-02",
                                               "--csv"))))  # fmt: skip
    assert len(rows) == 2 * 5
    feb = next(r for r in rows if (r["month"], r["stream"]) == ("2026-02", "enterprise"))
    assert feb["arr"] == "26400.00"  # 2 x 12,000 EUR at 1.1
    assert feb["share"] == "1.0000"
    assert feb["currency"] == "USD"
    fails("revenue", "rates", "set", "EUR", "USD", "abc", "--from", "2026-01-01",
          message="is not a rate")  # fmt: skip
