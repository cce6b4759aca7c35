"""Prices: dated versions per model, and the one rule that turns usage into money."""

from levante.pricing.book import Cost, PriceBook, PriceVersion, price_usage
from levante.pricing.money import (
    CENT,
    NANOS,
    format_amount,
    format_cents,
    parse_amount,
    parse_cents,
    to_cents,
)
from levante.pricing.services import (
    DEFAULT_BATCH_DISCOUNT_PERCENT,
    NewPrice,
    add_price,
    create_price,
    list_prices,
    models_unpriced_in,
    price_in_force,
    unpriced_models_warning,
)
from levante.storage.models import Price

__all__ = [
    "CENT",
    "DEFAULT_BATCH_DISCOUNT_PERCENT",
    "NANOS",
    "Cost",
    "NewPrice",
    "Price",
    "PriceBook",
    "PriceVersion",
    "add_price",
    "create_price",
    "format_amount",
    "format_cents",
    "list_prices",
    "models_unpriced_in",
    "parse_amount",
    "parse_cents",
    "price_in_force",
    "price_usage",
    "to_cents",
    "unpriced_models_warning",
]
