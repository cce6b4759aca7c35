"""VAT by customer: the rate, the scheme and the words on the invoice."""

from __future__ import annotations

from decimal import Decimal

import pytest

from levante.billing.tax import treatment, valid_vat_number


@pytest.mark.parametrize(
    ("seller", "country", "business", "vat", "scheme", "rate"),
    [
        ("FR", "FR", False, None, "standard", "20"),  # a French consumer
        ("FR", "DE", False, None, "standard", "19"),  # an EU consumer pays their own VAT
        ("FR", "DE", True, "DE123456789", "reverse_charge", "0"),
        ("FR", "DE", True, None, "standard", "19"),  # a business without a number
        ("FR", "FR", True, "FR40123456789", "standard", "20"),  # domestic business
        ("FR", "US", True, None, "outside_eu", "0"),
        ("FR", "US", False, None, "outside_eu", "0"),
        ("FR", None, False, None, "standard", "20"),  # unknown: the seller's country
        ("FR", "FI", False, None, "standard", "25.5"),
        ("US", "FR", False, None, "none", "0"),  # a seller outside the EU charges none
    ],
)
def test_treatment(seller, country, business, vat, scheme, rate) -> None:  # type: ignore[no-untyped-def]
    tax = treatment(
        seller_country=seller, customer_country=country, is_business=business, vat_number=vat
    )
    assert (tax.scheme, tax.rate_text) == (scheme, rate)
    if scheme == "reverse_charge":
        assert "Article 196" in tax.note
        assert vat in tax.note
    if scheme == "outside_eu":
        assert "outside the EU" in tax.note


def test_overrides_and_rounding() -> None:
    tax = treatment(
        seller_country="FR",
        customer_country="FR",
        is_business=False,
        vat_number=None,
        overrides={"FR": Decimal("5.5")},
    )
    assert tax.rate_text == "5.5"
    assert tax.tax_cents(1000) == 55
    assert tax.tax_cents(9) == 0  # 0.495 cents rounds to 0
    assert tax.tax_cents(10) == 1  # 0.55 rounds half up
    assert tax.tax_cents(-500) == 0


@pytest.mark.parametrize(
    ("number", "country", "valid"),
    [
        ("DE123456789", "DE", True),
        ("EL123456789", "GR", True),
        ("FR40123456789", "FR", True),
        ("DE123456789", "FR", False),
        ("DE1", "DE", False),
        ("de123456789", "DE", False),
    ],
)
def test_vat_number_shape(number: str, country: str, valid: bool) -> None:
    assert valid_vat_number(number, country) is valid
