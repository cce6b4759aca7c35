"""Money in integer nanos, the one pricing rule, dated versions."""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal
from functools import partial

import pytest

from levante import pricing
from levante.audit import Actor
from levante.errors import ConflictError, InvalidAmountError, InvalidRequestError
from levante.pricing import (
    PriceBook,
    PriceVersion,
    format_amount,
    parse_amount,
    price_usage,
)
from levante.storage import Database, utcnow
from levante.storage.models import Price

create_price = partial(pricing.create_price, actor=Actor("test"))


def test_amounts_are_exact_integers() -> None:
    assert parse_amount("0.15") == 150_000_000
    assert parse_amount(20) == 20_000_000_000
    assert parse_amount(Decimal("0.000000001")) == 1
    assert format_amount(150_000_000) == "0.15"
    assert format_amount(20_000_000_000) == "20.00"
    assert format_amount(13_500) == "0.0000135"
    for bad, said in [
        ("0.0000000001", "The input must have at most nine decimal places."),
        ("abc", "The input must be a number, like 20 or 20.50."),
        ("NaN", "The input must be a number"),
        ("inf", "The input must be a number"),
        ("1e10", "The input must be between -1,000,000,000 and 1,000,000,000."),
    ]:
        with pytest.raises(InvalidAmountError) as caught:
            parse_amount(bad, param="input")
        assert caught.value.message.startswith(said), bad
        # One of the error hierarchy: every front end shows it without wrapping it.
        assert isinstance(caught.value, InvalidRequestError)
        assert caught.value.param == "input"


def _version(**extra: int) -> PriceVersion:
    fields = {
        "input_nanos": parse_amount("0.15"),
        "cached_input_nanos": parse_amount("0.015"),
        "output_nanos": parse_amount("0.6"),
        "batch_discount_percent": 50,
    } | extra
    return PriceVersion(id="price_x", model="m", currency="USD", effective_from=utcnow(), **fields)


def test_cached_tokens_cost_the_cached_rate_and_batch_halves() -> None:
    version = _version()
    cost = price_usage(version, prompt_tokens=1000, cached_tokens=400, completion_tokens=100)
    assert cost.input_nanos == 600 * 150  # 0.15 per 1M = 150 nanos per token
    assert cost.cached_nanos == 400 * 15
    assert cost.output_nanos == 100 * 600
    assert cost.total_nanos == 90_000 + 6_000 + 60_000
    batch = price_usage(
        version, prompt_tokens=1000, cached_tokens=400, completion_tokens=100, batch=True
    )
    assert batch.total_nanos == cost.total_nanos // 2
    assert price_usage(None, prompt_tokens=5, cached_tokens=0, completion_tokens=5).total_nanos == 0


def test_fractions_of_a_nano_round_half_up_per_part() -> None:
    version = _version(input_nanos=1_500_000, output_nanos=499_999)  # 1.5 and 0.499999 per token
    cost = price_usage(version, prompt_tokens=1, cached_tokens=0, completion_tokens=1)
    assert (cost.input_nanos, cost.output_nanos) == (2, 0)


def test_a_request_is_priced_with_the_version_in_force_when_it_started(
    database: Database,
) -> None:
    now = utcnow()
    with database.session() as session:
        # History: a version from last month (the API refuses to backdate new ones).
        old = Price(
            id="price_old", model="m", currency="USD", input_nanos=1, cached_input_nanos=0,
            output_nanos=2, batch_discount_percent=0, effective_from=now - timedelta(days=30),
        )  # fmt: skip
        session.add(old)
        new = create_price(
            session, model="m", currency="USD", input_nanos=30, output_nanos=4,
            effective_from=now + timedelta(hours=1),
        )  # fmt: skip
        assert new.cached_input_nanos == 3  # 10% of the input price by default
    book = PriceBook(database, refresh_seconds=60)
    current = book.version("m", now)
    assert current is not None
    assert current.id == old.id
    later = book.version("m", now + timedelta(hours=2))
    assert later is not None
    assert later.id == new.id
    assert book.version("m", now - timedelta(days=31)) is None
    assert book.version("other", now) is None


def test_prices_are_never_backdated_nor_duplicated(database: Database) -> None:
    with database.session() as session:
        with pytest.raises(InvalidRequestError):
            create_price(
                session, model="m", currency="USD", input_nanos=1, output_nanos=1,
                effective_from=utcnow(), lead_seconds=60,
            )  # fmt: skip
        when = utcnow() + timedelta(minutes=5)
        create_price(
            session, model="m", currency="EUR", input_nanos=1, output_nanos=1, effective_from=when
        )
        with pytest.raises(ConflictError):
            create_price(
                session, model="m", currency="EUR", input_nanos=2, output_nanos=2,
                effective_from=when,
            )  # fmt: skip


def test_a_new_version_is_known_everywhere_before_it_applies(database: Database) -> None:
    """The book is never used older than its refresh period, and a version takes effect no
    sooner than that after it is written: no request is priced with an outdated version."""
    book = PriceBook(database, refresh_seconds=0.3)
    assert book.version("m") is None
    with database.session() as session:
        new = create_price(
            session, model="m", currency="USD", input_nanos=1, output_nanos=1, lead_seconds=0.3
        )
    assert book.version("m") is None  # written, not yet in force
    time.sleep(0.35)
    current = book.version("m")
    assert current is not None
    assert current.id == new.id


def test_the_batch_discount_defaults_alike_everywhere(database: Database) -> None:
    """Regression: 50 % from the API and the CLI, 0 % from the service under them."""
    from levante.api.schemas.admin import CreatePrice

    with database.session() as session:
        price = create_price(session, model="m", currency="USD", input_nanos=1, output_nanos=1)
    assert price.batch_discount_percent == pricing.DEFAULT_BATCH_DISCOUNT_PERCENT == 50
    body = CreatePrice(model="m", input="1", output="1")
    assert body.batch_discount_percent == pricing.DEFAULT_BATCH_DISCOUNT_PERCENT
