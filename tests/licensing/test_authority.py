"""The vendor's side: licences issued from enterprise contracts, revoked, listed; usage
reports from a self-hosted site taken into the ledger once and invoiced."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from levante import billing, licensing
from levante.audit import Actor
from levante.billing.invoices import generate_for
from levante.errors import InvalidRequestError
from levante.licensing import Keyring, LicenseTerms
from levante.licensing.authority import revoke_license
from levante.licensing.keys import SigningKey
from levante.licensing.reports import build_report
from levante.licensing.sites import bind_activation_request
from levante.pricing import parse_amount
from levante.settings import BillingSettings
from levante.storage import Database, new_id, upgrade
from levante.storage.models import Invoice, InvoiceLine, Price, Role, UsageRecord
from levante.tenancy.records import add_member
from tests.helpers import MODEL, make_tenant
from tests.licensing.conftest import utc

RATES = ("0.18", "0.018", "0.54")  # EUR per million: input, cached input, output


@pytest.fixture
def vendor(database: Database) -> Database:
    with database.session() as session:
        billing.ensure_catalog(session)
        session.add(
            Price(
                id="price_eur", model=MODEL, currency="EUR",
                input_nanos=parse_amount(RATES[0]), cached_input_nanos=parse_amount(RATES[1]),
                output_nanos=parse_amount(RATES[2]), batch_discount_percent=50,
                effective_from=utc(2026, 1, 1),
            )
        )  # fmt: skip
    return database


@pytest.fixture
def customer(vendor: Database) -> str:
    org = make_tenant(vendor, "Carl GmbH").organization_id
    with vendor.session() as session:
        billing.update_account(
            session, org,
            billing.AccountChange(country="DE", is_business=True, vat_number="DE123456789", currency="EUR"),
            default_currency="USD", actor=Actor("t"),
        )  # fmt: skip
        billing.subscribe(
            session,
            org,
            "enterprise-seat",
            quantity=2,
            now=utc(2026, 10, 1),
            default_currency="EUR",
            actor=Actor("t"),
        )
    return org


def test_a_licence_is_issued_from_the_contract(
    vendor: Database, customer: str, keyring: Keyring, key: SigningKey
) -> None:
    with vendor.session() as session:
        record = licensing.issue_license(
            session,
            customer,
            key,
            LicenseTerms(models=[MODEL]),
            now=utc(2026, 10, 1),
            actor=Actor("t"),
        )
        license = licensing.verify(record.file, keyring.public_keys(), utc(2026, 10, 2))
    assert license.licensee_name == "Carl GmbH"
    assert license.entitlements.max_seats == 2
    assert license.expires_at == utc(2027, 10, 1)  # the paid year
    assert license.entitlements.models == (MODEL,)
    assert license.usage_reporting


@pytest.mark.parametrize(
    ("terms", "text"),
    [
        (LicenseTerms(features=["teleport"]), "unknown feature"),
        (LicenseTerms(max_seats=0), "max_seats must be at least 1"),
        (LicenseTerms(starts_at=utc(2028, 1, 1)), "expire after it starts"),
        (LicenseTerms(grace_days=400), "grace_days"),
    ],
)
def test_bad_terms_are_refused(
    vendor: Database, customer: str, key: SigningKey, terms: LicenseTerms, text: str
) -> None:
    with vendor.session() as session, pytest.raises(InvalidRequestError, match=text):
        licensing.issue_license(
            session, customer, key, terms, now=utc(2026, 10, 1), actor=Actor("t")
        )


def test_no_contract_needs_an_expiry(vendor: Database, key: SigningKey) -> None:
    org = make_tenant(vendor, "No Contract").organization_id
    with vendor.session() as session:
        with pytest.raises(InvalidRequestError, match="no enterprise subscription"):
            licensing.issue_license(
                session, org, key, LicenseTerms(), now=utc(2026, 10, 1), actor=Actor("t")
            )
        record = licensing.issue_license(
            session,
            org,
            key,
            LicenseTerms(expires_at=utc(2027, 1, 1)),
            now=utc(2026, 10, 1),
            actor=Actor("t"),
        )
        assert licensing.license_status(record, utc(2026, 12, 1)) == "active"
        assert licensing.license_status(record, utc(2027, 1, 15)) == "grace"
        assert licensing.license_status(record, utc(2027, 3, 1)) == "expired"
        revoke_license(session, record.id, now=utc(2026, 12, 2), actor=Actor("t"))
        assert licensing.license_status(record, utc(2026, 12, 3)) == "revoked"


def site_database(tmp_path: Path) -> Database:
    site = Database(f"sqlite:///{tmp_path / 'site.db'}")
    upgrade(site.engine)
    return site


def site_usage(site: Database, org: str, day: int, prompt: int, completion: int) -> None:
    when = datetime(2026, 10, day, 12, tzinfo=UTC)
    with site.session() as session:
        session.add(UsageRecord(
            request_id=new_id("req"), organization_id=org, endpoint="/v1/chat/completions",
            model=MODEL, prompt_tokens=prompt, completion_tokens=completion, cached_tokens=0,
            status="completed", duration_ms=10, started_at=when, finished_at=when,
            usage_date=when.date(),
        ))  # fmt: skip


def test_a_usage_report_reaches_the_invoice_exactly_once(
    vendor: Database, customer: str, keyring: Keyring, key: SigningKey, tmp_path: Path
) -> None:
    with vendor.session() as session:
        record = licensing.issue_license(
            session,
            customer,
            key,
            LicenseTerms(models=[MODEL]),
            now=utc(2026, 10, 1),
            actor=Actor("t"),
        )
        license_text = record.file

    # The self-hosted site: its own database, no link to the vendor's.
    site = site_database(tmp_path)
    license = licensing.verify(license_text, keyring.public_keys(), utc(2026, 10, 2))
    site_org = make_tenant(site, "Carl IT").organization_id
    with site.session() as session:
        for email in ("a@carl.test", "b@carl.test"):
            add_member(session, site_org, email, Role.MEMBER)
    site_usage(site, site_org, 5, 2_000_000, 1_000_000)
    site_usage(site, site_org, 5, 1_000_000, 1_000_000)
    site_usage(site, site_org, 6, 10_000_000, 5_000_000)
    site_key = licensing.site_key(tmp_path / "site-key.pem")
    with site.session() as session:
        with pytest.raises(InvalidRequestError, match="days that have ended"):
            build_report(
                session,
                license,
                site_key,
                start=date(2026, 10, 1),
                end=date(2026, 11, 3),
                now=utc(2026, 11, 2),
            )
        report = build_report(
            session,
            license,
            site_key,
            start=date(2026, 10, 1),
            end=date(2026, 11, 1),
            now=utc(2026, 11, 2),
        )
        later = build_report(
            session,
            license,
            site_key,
            start=date(2026, 10, 5),
            end=date(2026, 10, 7),
            now=utc(2026, 11, 3),
        )

    # The site is air-gapped: its activation request, carried to the vendor, binds its key.
    bind_site(vendor, license, site_key)
    with vendor.session() as session:
        first = licensing.import_usage(session, report, now=utc(2026, 11, 2), actor=Actor("t"))
    assert (first.records, first.status) == (2, "imported")
    for text in (report, later):  # the same report again; another covering the same days
        with vendor.session() as session:
            assert (
                licensing.import_usage(
                    session, text, now=utc(2026, 11, 3), actor=Actor("t")
                ).records
                == 0
            )
    envelope = json.loads(report)
    envelope["payload"] = envelope["payload"].replace(
        '"prompt_tokens": 10000000', '"prompt_tokens": 1'
    )
    with (
        vendor.session() as session,
        pytest.raises(InvalidRequestError, match="changed after it was signed"),
    ):
        licensing.import_usage(
            session, json.dumps(envelope), now=utc(2026, 11, 3), actor=Actor("t")
        )
    stranger = licensing.site_key(tmp_path / "another-site.pem")
    with site.session() as session:
        forged = build_report(
            session,
            license,
            stranger,
            start=date(2026, 10, 1),
            end=date(2026, 10, 8),
            now=utc(2026, 11, 2),
        )
    with vendor.session() as session:  # held for the operator, not imported
        held = licensing.import_usage(session, forged, now=utc(2026, 11, 3), actor=Actor("t"))
    assert (held.status, held.records) == ("held", 0)

    with vendor.session() as session:
        rows = session.scalars(
            select(UsageRecord).where(UsageRecord.organization_id == customer)
        ).all()
        assert sorted((r.usage_date.day, r.prompt_tokens, r.completion_tokens) for r in rows) == [
            (5, 3_000_000, 2_000_000), (6, 10_000_000, 5_000_000),
        ]  # fmt: skip
        assert {r.product for r in rows} == {"enterprise"}
        [view] = licensing.list_licenses(session, customer)
        assert view.seats_reported == 2

    # October's invoice: the licence's year and the site's usage, priced in EUR, reverse charge.
    with vendor.session() as session:
        [result] = generate_for(
            session, customer, "2026-10", settings=BillingSettings(), default_currency="EUR",
            now=utc(2026, 11, 3), settle_seconds=3600,
        )  # fmt: skip
        invoice = session.get_one(Invoice, result.invoice.id)
        lines = {
            line.description: line.amount_cents
            for line in session.scalars(
                select(InvoiceLine).where(InvoiceLine.invoice_id == invoice.id)
            )
        }
    fresh, output = Decimal(RATES[0]) * 13, Decimal(RATES[2]) * 7  # million tokens
    expected = {
        f"{MODEL} (self-hosted): input tokens": cents(fresh),
        f"{MODEL} (self-hosted): output tokens": cents(output),
    }
    for description, amount in expected.items():
        assert lines[description] == amount
    assert invoice.total_cents == 120000 + sum(expected.values())
    assert invoice.tax_scheme == "reverse_charge"
    with vendor.session() as session:
        assert session.scalar(select(func.count()).select_from(UsageRecord)) == 2


def bind_site(vendor: Database, license: licensing.License, key: Ed25519PrivateKey) -> None:
    request = licensing.build_activation_request(
        license, key, fingerprint="ab" * 16, hostname="carl-gpu-1", now=utc(2026, 10, 2)
    )
    with vendor.session() as session:
        bound = bind_activation_request(session, request, now=utc(2026, 10, 2), actor=Actor("t"))
    assert bound.status == "bound"


def cents(amount: Decimal) -> int:
    return int((amount * 100).to_integral_value(ROUND_HALF_UP))
