"""The revenue report's CSV (``levante revenue --csv``, the operator's download): amounts that
are negative stay numbers a spreadsheet sums, never text quoted as a formula would be."""

from __future__ import annotations

import csv
import io

from levante import billing, revenue
from levante.storage import Database
from tests.billing.conftest import utc
from tests.helpers import make_tenant
from tests.revenue.test_metrics import CLI, renew, report, subscribe


def test_churn_and_contraction_stay_negative_numbers(catalog: Database) -> None:
    org = make_tenant(catalog, "Leaves").organization_id
    sub = subscribe(catalog, org, "chat-pro-monthly", utc(2026, 1, 1))
    renew(catalog, utc(2026, 2, 1))
    with catalog.session() as session:
        billing.cancel(session, org, sub, at_period_end=True, now=utc(2026, 2, 10), actor=CLI)
    renew(catalog, utc(2026, 4, 1))
    text = revenue.report_csv(report(catalog, "2026-01", "2026-03"))
    rows = list(csv.DictReader(io.StringIO(text)))
    march = next(r for r in rows if (r["month"], r["stream"]) == ("2026-03", "chat"))
    assert march["churn"] == "-14.99"
    assert march["mrr"] == "0.00"
    assert not [cell for row in rows for cell in row.values() if cell.startswith("'")]
