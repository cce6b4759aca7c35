"""The domain's words as types: the closed sets of values Levante stores and checks.

Each is a ``StrEnum``, so a member is its stored string; the database holds the same sets as
CHECK constraints (migration 0007), and the settings validate against them. Nothing here
imports the rest of Levante: storage, settings and every package may use it.
"""

from __future__ import annotations

from enum import StrEnum

from levante.errors import InvalidRequestError


class Currency(StrEnum):
    """The currencies Levante prices and bills in."""

    EUR = "EUR"
    USD = "USD"


def check_currency(value: str, param: str = "currency") -> Currency:
    """``value`` as a billing currency, or a 400 naming the ones there are."""
    try:
        return Currency(value.upper())
    except ValueError:
        names = ", ".join(Currency)
        raise InvalidRequestError(f"currency must be one of {names}", param=param) from None
