"""Prices: dated versions per model, and the one rule that turns usage into money."""

from levante.pricing.book import FREE, Cost, PriceBook, PriceVersion, price_usage
from levante.pricing.money import NANOS, format_amount, parse_amount, to_decimal
from levante.pricing.service import create_price, list_prices

__all__ = [
    "FREE",
    "NANOS",
    "Cost",
    "PriceBook",
    "PriceVersion",
    "create_price",
    "format_amount",
    "list_prices",
    "parse_amount",
    "price_usage",
    "to_decimal",
]
