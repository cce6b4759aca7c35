"""Invoice life: drafts while a month is open, finalizing, voiding and reissuing, balances
carried forward, top-ups, and gap-free numbers under concurrency."""

from __future__ import annotations

import threading
from datetime import datetime

import pytest
from sqlalchemy import select

from levante import billing
from levante.audit import Actor
from levante.billing.invoices import (
    Generated,
    create_top_up_invoice,
    generate_for,
    organizations_to_invoice,
    void_invoice,
)
from levante.billing.wallet import wallet_state
from levante.errors import ConflictError, InvalidRequestError
from levante.storage import Database
from levante.storage.models import Charge, Invoice, Reservation, WalletEntry
from tests.billing.conftest import SELLER, record_usage, utc
from tests.helpers import make_tenant


def generate(database: Database, org: str, period: str, now: datetime) -> list[Generated]:
    with database.session() as session:
        return generate_for(
            session, org, period, settings=SELLER, default_currency="EUR", now=now,
            settle_seconds=3600,
        )  # fmt: skip


def invoices(database: Database, org: str) -> list[tuple[str | None, str, int]]:
    with database.session() as session:
        rows = session.scalars(
            select(Invoice).where(Invoice.organization_id == org).order_by(Invoice.created_at)
        )
        return [(i.number, i.status, i.total_cents) for i in rows]


@pytest.fixture
def org(catalog: Database) -> str:
    return make_tenant(catalog, "Dupont").organization_id


def test_an_open_month_stays_a_draft_then_is_finalized(catalog: Database, org: str) -> None:
    record_usage(catalog, org, utc(2026, 6, 3), currency="EUR", prompt=10**7, completion=10**7)
    [draft] = generate(catalog, org, "2026-06", utc(2026, 6, 20))
    assert (draft.outcome, draft.invoice.status, draft.invoice.number) == ("created", "draft", None)
    record_usage(catalog, org, utc(2026, 6, 21), currency="EUR", prompt=10**7, completion=0)
    # Within the settle margin after the month, still a draft, brought up to date.
    [updated] = generate(catalog, org, "2026-06", utc(2026, 7, 1, 0, 30))
    assert (updated.outcome, updated.invoice.status) == ("updated", "draft")
    [final] = generate(catalog, org, "2026-06", utc(2026, 7, 1, 2))
    assert final.invoice.status == "finalized"
    # 10M + 10M input at 0.18, 10M output at 0.54; French consumer by default: 20% VAT.
    assert invoices(catalog, org) == [("LEV-000001", "finalized", round((360 + 540) * 1.2))]


def test_a_running_request_keeps_the_month_open(catalog: Database, org: str) -> None:
    record_usage(catalog, org, utc(2026, 6, 3), currency="EUR", prompt=10**7, completion=0)
    with catalog.session() as session:
        session.add(
            Reservation(
                request_id="req-open", instance_id="gw", organization_id=org, product="api",
                endpoint="/v1/chat/completions", model="m", prompt_tokens=1,
                max_completion_tokens=1, reserved_nanos=1, started_at=utc(2026, 6, 30, 23),
            )
        )  # fmt: skip
    [result] = generate(catalog, org, "2026-06", utc(2026, 7, 5))
    assert result.invoice.status == "draft"


def test_nothing_to_bill_makes_no_invoice(catalog: Database, org: str) -> None:
    with catalog.session() as session:
        billing.subscribe(
            session, org, "chat-free", now=utc(2026, 6, 1), default_currency="EUR", actor=Actor("t")
        )
        assert organizations_to_invoice(session, "2026-06") == []
    assert generate(catalog, org, "2026-06", utc(2026, 7, 2)) == []


def test_voiding_returns_the_fees_and_a_new_invoice_takes_the_next_number(
    catalog: Database, org: str
) -> None:
    with catalog.session() as session:
        billing.subscribe(
            session,
            org,
            "support-standard",
            now=utc(2026, 6, 1),
            default_currency="EUR",
            actor=Actor("t"),
        )
    [first] = generate(catalog, org, "2026-06", utc(2026, 7, 2))
    with catalog.session() as session:
        invoice = session.get_one(Invoice, first.invoice.id)
        void_invoice(session, invoice, now=utc(2026, 7, 3), actor=Actor("t"))
        assert session.scalar(select(Charge.invoice_id)) is None
    [_second] = generate(catalog, org, "2026-06", utc(2026, 7, 4))
    assert invoices(catalog, org) == [
        ("LEV-000001", "void", 720_000),
        ("LEV-000002", "finalized", 720_000),
    ]
    with catalog.session() as session, pytest.raises(ConflictError):
        billing.record_payment(
            session, session.get_one(Invoice, first.invoice.id), provider="manual",
            reference="x", now=utc(2026, 7, 5), actor=Actor("t"),
        )  # fmt: skip


def test_a_downgrade_credit_larger_than_the_month_is_carried_forward(
    catalog: Database, org: str
) -> None:
    with catalog.session() as session:
        sub = billing.subscribe(
            session,
            org,
            "chat-team-annual",
            quantity=10,
            trial=False,
            now=utc(2026, 5, 20),
            default_currency="EUR",
            actor=Actor("t"),
        )
    generate(catalog, org, "2026-05", utc(2026, 6, 2))
    with catalog.session() as session:
        billing.change(session, org, sub.id, quantity=1, now=utc(2026, 6, 1), actor=Actor("t"))
    [june] = generate(catalog, org, "2026-06", utc(2026, 7, 2))
    assert (june.invoice.taxable_cents, june.invoice.total_cents, june.invoice.status) == (
        0,
        0,
        "paid",
    )
    with catalog.session() as session:
        carried = session.scalar(select(Charge).where(Charge.kind == "carried"))
        assert carried is not None
        assert carried.amount_nanos < 0
        lines = billing.invoice_lines(session, session.get_one(Invoice, june.invoice.id))
        assert lines[-1].kind == "carried"
        assert lines[-1].amount_cents == -carried.amount_nanos // 10**7
    # July's usage (18.00) is less than what June carried: July carries the rest on.
    record_usage(catalog, org, utc(2026, 7, 3), currency="EUR", prompt=10**8, completion=0)
    [july] = generate(catalog, org, "2026-07", utc(2026, 8, 2))
    assert july.invoice.total_cents == 0
    with catalog.session() as session:
        rest = session.scalar(
            select(Charge.amount_nanos).where(Charge.idempotency_key == f"carry:{july.invoice.id}")
        )
    assert rest == carried.amount_nanos + 1800 * 10**7


def test_a_paid_top_up_credits_the_wallet_before_vat(catalog: Database, org: str) -> None:
    with catalog.session() as session:
        invoice = create_top_up_invoice(
            session, org, 10_000, settings=SELLER, default_currency="EUR", now=utc(2026, 6, 1)
        )
        assert (invoice.status, invoice.tax_cents, invoice.total_cents) == (
            "finalized",
            2000,
            12000,
        )
        billing.record_payment(
            session,
            invoice,
            provider="manual",
            reference="t1",
            amount_cents=2000,
            now=utc(2026, 6, 2),
            actor=Actor("t"),
        )
        assert invoice.status == "finalized"
        assert session.scalar(select(WalletEntry)) is None
        billing.record_payment(
            session,
            invoice,
            provider="manual",
            reference="t2",
            now=utc(2026, 6, 3),
            actor=Actor("t"),
        )
        billing.record_payment(
            session,
            invoice,
            provider="manual",
            reference="t2",
            now=utc(2026, 6, 3),
            actor=Actor("t"),
        )
        assert (invoice.status, invoice.paid_cents) == ("paid", 12000)
        wallet = wallet_state(session, org, "EUR", utc(2026, 6, 4))
        assert wallet.balance_nanos == 100 * 10**9
    with catalog.session() as session, pytest.raises(InvalidRequestError, match="between"):
        create_top_up_invoice(
            session, org, 50, settings=SELLER, default_currency="EUR", now=utc(2026, 6, 1)
        )


def test_numbers_have_no_gaps_under_concurrency(catalog: Database) -> None:
    orgs = [make_tenant(catalog, f"Org {i}").organization_id for i in range(20)]
    errors: list[BaseException] = []

    def issue(mine: list[str]) -> None:  # one open top-up per organisation: five each
        try:
            for org in mine:
                with catalog.session() as session:
                    create_top_up_invoice(
                        session,
                        org,
                        1000,
                        settings=SELLER,
                        default_currency="EUR",
                        now=utc(2026, 6, 1),
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(orgs[i::4],)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with catalog.session() as session:
        numbers = sorted(str(number) for number in session.scalars(select(Invoice.number)))
    assert numbers == [f"LEV-{n:06d}" for n in range(1, 21)]


def test_customer_text_is_printed_as_typed_not_as_markdown(catalog: Database, org: str) -> None:
    from tests.billing.test_scripted_month import pdf_text

    name = "**Evil** [pay here](https://evil.example) Ltd"
    with catalog.session() as session:
        billing.update_account(
            session, org,
            billing.AccountChange(legal_name=name, address="1 __Rue__ [x](http://a.b)",
                                  country="FR"),
            default_currency="EUR", actor=Actor("t"),
        )  # fmt: skip
        invoice = create_top_up_invoice(
            session, org, 1000, settings=SELLER, default_currency="EUR", now=utc(2026, 10, 1)
        )
        pdf = billing.render_pdf(invoice, billing.invoice_lines(session, invoice))
    assert b"/URI" not in pdf  # no link anywhere in the document
    text = " ".join(pdf_text(pdf).split())  # a long name wraps onto two lines
    assert name in text, text
    assert "1 __Rue__ [x](http://a.b)" in text


@pytest.mark.parametrize(
    ("name", "address", "country"),
    [
        ("Łódź Żółć Sp. z o.o.", "ul. Piotrkowska 104, 90-926 Łódź", "PL"),
        ("Αθηναϊκή Ενέργεια Α.Ε.", "Οδός Ερμού 12, 105 63 Αθήνα", "GR"),
        ("ООО «Ёлка и Щука»", "ул. Тверская, д. 7, Москва", "RU"),
    ],
)
def test_a_pdf_invoice_prints_polish_greek_and_russian_names_exactly(
    catalog: Database, org: str, name: str, address: str, country: str
) -> None:
    """Issue 29: "Łódź Ёлка" printed as "?ód? ????" with the PDF's Latin-1 fonts."""
    from tests.billing.test_scripted_month import pdf_text

    with catalog.session() as session:
        billing.update_account(
            session, org, billing.AccountChange(legal_name=name, address=address,
                                                country=country),
            default_currency="EUR", actor=Actor("t"),
        )  # fmt: skip
        invoice = create_top_up_invoice(
            session, org, 1000, settings=SELLER, default_currency="EUR", now=utc(2026, 10, 1)
        )
        pdf = billing.render_pdf(invoice, billing.invoice_lines(session, invoice))
    text = " ".join(pdf_text(pdf).split())
    assert name in text, text
    assert address in text, text
    assert "?" not in text


def test_a_script_the_pdf_font_lacks_prints_as_a_question_mark(catalog: Database, org: str) -> None:
    from tests.billing.test_scripted_month import pdf_text

    with catalog.session() as session:
        billing.update_account(
            session, org, billing.AccountChange(legal_name="北京 Trading", country="FR"),
            default_currency="EUR", actor=Actor("t"),
        )  # fmt: skip
        invoice = create_top_up_invoice(
            session, org, 1000, settings=SELLER, default_currency="EUR", now=utc(2026, 10, 1)
        )
        lines = billing.invoice_lines(session, invoice)
        pdf = billing.render_pdf(invoice, lines)
        html = billing.render_html(invoice, lines)
    assert "?? Trading" in pdf_text(pdf)
    assert "北京 Trading" in html  # the HTML invoice shows every script


@pytest.mark.parametrize(
    ("change", "param"),
    [
        (billing.AccountChange(email="x@y.example\r\nBcc: evil@evil.example"), "email"),
        (billing.AccountChange(email="not an email"), "email"),
        (billing.AccountChange(legal_name="Acme\nLtd"), "legal_name"),
    ],
)
def test_billing_details_that_would_break_a_header_or_a_line_are_refused(
    catalog: Database, org: str, change: billing.AccountChange, param: str
) -> None:
    """Probe: a billing email with a line break (a mail header's Bcc) or no address at all
    was kept."""
    with catalog.session() as session, pytest.raises(InvalidRequestError) as refused:
        billing.update_account(session, org, change, default_currency="EUR", actor=Actor("t"))
    assert refused.value.param == param


def test_billing_details_keep_only_what_a_reader_sees(catalog: Database, org: str) -> None:
    """Probe: U+202E in a legal name reversed the text under "Bill to" on the invoice."""
    with catalog.session() as session:
        account = billing.update_account(
            session, org,
            billing.AccountChange(legal_name="Acme \u202egnp.exe Ltd",
                                  address=" 1 Rue \u2066Haute\u2069\n75001 Paris \n"),
            default_currency="EUR", actor=Actor("t"),
        )  # fmt: skip
        assert account.legal_name == "Acme gnp.exe Ltd"
        assert account.address == "1 Rue Haute\n75001 Paris"


def test_an_unpaid_invoice_and_its_instructions_name_the_sellers_bank_account(
    catalog: Database, org: str
) -> None:
    """Issue 29: "Pay 17.99 USD by bank transfer to Levante, quoting LEV-000001" gave no bank
    details anywhere (page, HTML invoice, PDF)."""
    from levante.billing.payments import provider_for
    from tests.billing.test_scripted_month import pdf_text

    seller = SELLER.model_copy(update={"seller_iban": "FR7630006000011234567890189",
                                       "seller_bic": "AGRIFRPP"})  # fmt: skip
    with catalog.session() as session:
        invoice = create_top_up_invoice(
            session, org, 1000, settings=seller, default_currency="EUR", now=utc(2026, 10, 1)
        )
        lines = billing.invoice_lines(session, invoice)
        html = billing.render_html(invoice, lines)
        pdf = " ".join(pdf_text(billing.render_pdf(invoice, lines)).split())
        said = provider_for(seller).checkout(invoice, success_url="/", cancel_url="/").instructions
    account = "IBAN FR7630006000011234567890189, BIC AGRIFRPP"
    assert f"Pay by bank transfer to Levante SAS, {account}, quoting {invoice.number}." in html
    assert account in pdf
    assert said.startswith(f"Pay {invoice.amount_due_cents // 100}.00 EUR by bank transfer to")
    assert account in said
