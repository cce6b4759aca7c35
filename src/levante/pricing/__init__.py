"""Prices: dated versions per model, and the one rule that turns usage into money."""

from levante.pricing.book import FREE, Cost, PriceBook, PriceVersion, price_usage
from levante.pricing.money import (
    CENT,
    NANOS,
    format_amount,
    format_cents,
    parse_amount,
    parse_cents,
    to_cents,
    to_decimal,
)
from levante.pricing.service import (
    create_price,
    currencies_without,
    list_prices,
    models_unpriced_in,
    price_in_force,
    unpriced_warning,
)

__all__ = [
    "CENT",
    "FREE",
    "NANOS",
    "Cost",
    "PriceBook",
    "PriceVersion",
    "create_price",
    "currencies_without",
    "format_amount",
    "format_cents",
    "list_prices",
    "models_unpriced_in",
    "parse_amount",
    "parse_cents",
    "price_in_force",
    "price_usage",
    "to_cents",
    "to_decimal",
    "unpriced_warning",
]
