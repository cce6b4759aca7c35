"""VAT: which rate an invoice carries and the words that must go with it.

The seller is established in an EU country (``billing.seller_country``). Digital services are
taxed where the customer is: a consumer in the EU pays the VAT of their own country (the One
Stop Shop rule); a business in another EU country that gives a VAT number accounts for the VAT
itself (reverse charge, 0% on the invoice); a customer outside the EU pays no EU VAT. A seller
outside the EU charges none. VAT numbers are checked for their shape only: confirming them
with the EU's VIES service needs a network this platform may not have.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# Standard rates, percent, as in force in 2026; ``billing.vat_rates`` overrides any of them.
EU_STANDARD_RATES: dict[str, Decimal] = {
    country: Decimal(rate)
    for country, rate in {
        "AT": "20", "BE": "21", "BG": "20", "CY": "19", "CZ": "21", "DE": "19", "DK": "25",
        "EE": "24", "ES": "21", "FI": "25.5", "FR": "20", "GR": "24", "HR": "25", "HU": "27",
        "IE": "23", "IT": "22", "LT": "21", "LU": "17", "LV": "21", "MT": "18", "NL": "21",
        "PL": "23", "PT": "23", "RO": "21", "SE": "25", "SI": "22", "SK": "23",
    }.items()
}  # fmt: skip

_VAT_NUMBER = re.compile(r"^[A-Z]{2}[0-9A-Z+*.]{2,13}$")


@dataclass(frozen=True, slots=True)
class TaxTreatment:
    scheme: str  # standard | reverse_charge | outside_eu | none
    rate: Decimal  # percent
    country: str | None  # whose VAT applies
    note: str

    @property
    def rate_text(self) -> str:
        """The rate as written on an invoice: "20", "25.5"."""
        return format(self.rate.normalize(), "f")

    def tax_cents(self, taxable_cents: int) -> int:
        """The VAT on an amount, rounded half up to the cent (never on a negative amount)."""
        if taxable_cents <= 0 or not self.rate:
            return 0
        return int((Decimal(taxable_cents) * self.rate / 100).to_integral_value(ROUND_HALF_UP))


def valid_vat_number(number: str, country: str) -> bool:
    """The shape of an EU VAT number: its country prefix (EL for Greece) and 2-13 characters."""
    prefix = "EL" if country == "GR" else country
    return bool(_VAT_NUMBER.match(number)) and number.startswith(prefix)


def treatment(
    *,
    seller_country: str,
    customer_country: str | None,
    is_business: bool,
    vat_number: str | None,
    overrides: Mapping[str, Decimal] | None = None,
) -> TaxTreatment:
    rates = {**EU_STANDARD_RATES, **(overrides or {})}
    if seller_country not in EU_STANDARD_RATES:
        return TaxTreatment("none", Decimal(0), None, "")
    country = customer_country or seller_country
    if country not in EU_STANDARD_RATES:
        return TaxTreatment(
            "outside_eu",
            Decimal(0),
            None,
            "VAT not applicable: services supplied to a customer outside the EU.",
        )
    if is_business and vat_number and country != seller_country:
        return TaxTreatment(
            "reverse_charge",
            Decimal(0),
            country,
            f"Reverse charge: VAT to be accounted for by the customer ({vat_number}), "
            "Article 196 of Council Directive 2006/112/EC.",
        )
    rate = rates[country]
    return TaxTreatment(
        "standard", rate, country, f"VAT {country} {format(rate.normalize(), 'f')}%"
    )
