"""Billing fixtures: a catalogue, priced models, and usage written as the ledger writes it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from levante.billing import ensure_catalog
from levante.pricing import PriceVersion, parse_amount, price_usage
from levante.settings import BillingSettings
from levante.storage import Database, new_id
from levante.storage.models import Price, UsageRecord

MODEL = "mistral-small"
# Per million tokens: input, cached input, output.
RATES = {"USD": ("0.20", "0.02", "0.60"), "EUR": ("0.18", "0.018", "0.54")}
SELLER = BillingSettings(
    seller_name="Levante SAS",
    seller_address="1 rue de la Paix\n75002 Paris",
    seller_country="FR",
    seller_vat_number="FR40123456789",
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def catalog(database: Database) -> Database:
    """The default catalogue and a model priced in USD and EUR since January 2026."""
    with database.session() as session:
        ensure_catalog(session)
        for currency, (fresh, cached, output) in RATES.items():
            session.add(
                Price(
                    id=f"price_{currency.lower()}",
                    model=MODEL,
                    currency=currency,
                    input_nanos=parse_amount(fresh),
                    cached_input_nanos=parse_amount(cached),
                    output_nanos=parse_amount(output),
                    batch_discount_percent=50,
                    effective_from=utc(2026, 1, 1),
                )
            )
    return database


def record_usage(
    database: Database,
    organization_id: str,
    when: datetime,
    *,
    currency: str,
    prompt: int,
    completion: int,
    cached: int = 0,
) -> None:
    """One usage record, priced the way the ledger prices it."""
    with database.session() as session:
        price = PriceVersion.of(session.get_one(Price, f"price_{currency.lower()}"))
        cost = price_usage(
            price, prompt_tokens=prompt, cached_tokens=cached, completion_tokens=completion
        )
        session.add(
            UsageRecord(
                request_id=new_id("req"),
                organization_id=organization_id,
                endpoint="/v1/chat/completions",
                model=MODEL,
                prompt_tokens=prompt,
                completion_tokens=completion,
                cached_tokens=cached,
                status="completed",
                duration_ms=100,
                started_at=when,
                finished_at=when,
                usage_date=when.date(),
                price_id=price.id,
                currency=currency,
                input_cost_nanos=cost.input_nanos,
                cached_cost_nanos=cost.cached_nanos,
                output_cost_nanos=cost.output_nanos,
                cost_nanos=cost.total_nanos,
            )
        )
