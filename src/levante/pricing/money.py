"""Money as integers: amounts are counted in nanos, 1e-9 of a currency unit.

A token can cost a fraction of a cent, so cents are too coarse for a usage ledger; nanos keep
every per-request cost exact, sums stay integers, and invoices round once, at the end.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from levante.errors import InvalidAmountError

NANOS = 1_000_000_000
# The largest amount accepted anywhere (a price, a cap, a payment): a billion currency units,
# so that sums of nanos stay well inside a 64-bit column.
MAX_AMOUNT = Decimal(1_000_000_000)


def _the(param: str | None) -> str:
    """The amount a message is about, in words: its field ("The monthly limit"), or none."""
    return f"The {param.replace('_', ' ')}" if param else "The amount"


def parse_amount(value: str | int | Decimal, *, param: str | None = None) -> int:
    """A decimal amount ("0.15", 20) in nanos; more than nine decimals, or more than
    :data:`MAX_AMOUNT` in either direction, is an :class:`InvalidAmountError` naming
    ``param`` (in its ``param``, and in words in its message, which a person reads beside
    the form: "The monthly limit must be a number, like 20 or 20.50.")."""
    try:
        amount = Decimal(str(value).strip())
    except InvalidOperation:
        amount = Decimal("NaN")
    if not amount.is_finite():
        raise InvalidAmountError(f"{_the(param)} must be a number, like 20 or 20.50.", param=param)
    if abs(amount) > MAX_AMOUNT:
        raise InvalidAmountError(
            f"{_the(param)} must be between -{MAX_AMOUNT:,} and {MAX_AMOUNT:,}.", param=param
        )
    nanos = amount * NANOS
    if nanos != nanos.to_integral_value():
        raise InvalidAmountError(
            f"{_the(param)} must have at most nine decimal places.", param=param
        )
    return int(nanos)


def to_decimal(nanos: int) -> Decimal:
    return Decimal(nanos) / NANOS


def format_amount(nanos: int) -> str:
    """An amount as a decimal string: at least two decimals, no trailing zeros beyond them."""
    text = f"{to_decimal(nanos):.9f}"
    whole, _, fraction = text.partition(".")
    fraction = fraction.rstrip("0").ljust(2, "0")
    return f"{whole}.{fraction}"


def per_tokens(tokens: int, nanos_per_million: int) -> int:
    """The cost of ``tokens`` at a price per million tokens, rounded half up to a nano."""
    return (tokens * nanos_per_million + 500_000) // 1_000_000


CENT = NANOS // 100


def to_cents(nanos: int) -> int:
    """An amount in whole cents, rounded half away from zero: where money leaves the ledger
    for an invoice, it is rounded once."""
    sign = -1 if nanos < 0 else 1
    return sign * ((abs(nanos) + CENT // 2) // CENT)


def parse_cents(value: str | int | Decimal, *, param: str | None = None) -> int:
    """A decimal amount in whole cents ("12.50" is 1250); a fraction of a cent is an error."""
    nanos = parse_amount(value, param=param)
    if nanos % CENT:
        raise InvalidAmountError(
            f"{_the(param)} must be in whole cents, like 20 or 20.50.", param=param
        )
    return nanos // CENT


def format_cents(cents: int, *, grouping: bool = True) -> str:
    """Cents as a decimal string with two decimals, with thousands separators (1,234.50) or,
    for machines, without (1234.50)."""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d}" if grouping else f"{sign}{whole}.{part:02d}"
