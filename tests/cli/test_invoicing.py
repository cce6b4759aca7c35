"""``levante billing account|run``, ``plans``, ``subscriptions``, ``wallet`` and ``invoices``."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from levante.storage import Database, utcnow
from tests.cli.runner import fails, ok


@pytest.fixture(autouse=True)
def _use_test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")
    monkeypatch.setenv("COLUMNS", "240")  # wide enough that tables are not cut


def test_a_customer_from_account_to_paid_invoice(database: Database, tmp_path: Path) -> None:
    ok("org", "create", "Camille Bleu")
    org = ("--org", "camille-bleu")
    out = ok("billing", "account", *org, "--country", "fr", "--currency", "EUR",
              "--name", "Camille Bleu", "--low-balance", "2")  # fmt: skip
    assert "Camille Bleu, FR, consumer, EUR" in out
    plans = ok("plans", "list")
    assert "chat-pro-monthly" in plans
    assert "143.90" in plans
    assert "2030-01-01" in ok(
        "plans", "price", "chat-pro-monthly", "--currency", "EUR", "--amount", "15.99",
        "--from", "2030-01-01",
    )  # fmt: skip

    out = ok("subscriptions", "create", *org, "chat-pro-monthly")
    sub = re.search(r"sub_\w+", out)
    assert sub
    assert "(active)" in out
    assert "chat-pro-monthly" in ok("subscriptions", "list", *org)
    fails("subscriptions", "change", *org, sub.group(), "--seats", "2", message="flat fee")
    ok("subscriptions", "change", *org, sub.group(), "--plan", "chat-pro-annual")
    assert "ends" in ok("subscriptions", "cancel", *org, sub.group())

    ok("wallet", "grant", *org, "5", "--expires", "2099-01-01")
    assert "balance 5.00 EUR" in ok("wallet", "show", *org)

    out = ok("invoices", "top-up", *org, "20")
    assert "LEV-000001" in out
    assert "24.00 EUR due" in out  # 20.00 and French VAT
    assert "(paid)" in ok("invoices", "pay", "LEV-000001", "--reference", "SEPA-7")
    assert "LEV-000001" in ok("invoices", "list", *org)
    html, pdf = tmp_path / "inv.html", tmp_path / "inv.pdf"
    shown = ok("invoices", "show", "LEV-000001", "--html", str(html), "--pdf", str(pdf))
    assert "Prepaid API credits" in shown
    assert "LEV-000001" in html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "balance 25.00 EUR" in ok("wallet", "show", *org)

    # This month is open: its invoice is a draft, built again the same way on a second run.
    period = f"{utcnow():%Y-%m}"
    assert "1 created" in ok("invoices", "generate", "--period", period)
    assert "1 updated, 0 unchanged; 1 draft(s)" in ok("invoices", "generate", "--period", period)
    assert "renewed" in ok("billing", "run")


def test_bad_billing_commands_are_one_line_errors(database: Database) -> None:
    ok("org", "create", "Acme")
    fails("invoices", "generate", "--period", "2026-13", message="not a period")
    fails("invoices", "pay", "LEV-999999", "--reference", "x", message="does not exist")
    fails("subscriptions", "create", "--org", "acme", "gold", message="does not exist")
    fails("wallet", "grant", "--org", "acme", "0", message="positive")
    fails("invoices", "top-up", "--org", "acme", "abc", message="must be a number")
    fails("billing", "account", "--org", "acme", "--vat-number", "X", message="needs a country")
    fails("billing", "account", "--org", "acme", "--currency", "GBP", message="EUR, USD")
    fails("plans", "price", "chat-free", "--currency", "EUR", "--amount", "1",
           "--from", "2020-01-01", message="in the past")  # fmt: skip


def test_a_currency_without_prices_is_caught_when_set(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's order: a model priced in USD, then a customer moved to EUR."""
    model = "smollm2-135m-instruct"
    served = [{"id": model}, {"id": "other-model", "upstreams": [{"url": "http://127.0.0.1:9/v1"}]}]
    monkeypatch.setenv("LEVANTE_MODELS", json.dumps(served))
    ok("org", "create", "Acme Corp")
    org = ("--org", "acme-corp")
    ok("price", "set", model, "--input", "0.1", "--output", "0.3")
    refused = fails("billing", "account", *org, "--currency", "EUR", message="no price in EUR")
    assert "levante price set MODEL --currency EUR" in refused
    warned = ok("price", "set", model, "--input", "0.09", "--output", "0.27", "--currency", "EUR")
    assert "warning" not in warned
    assert "EUR" in ok("billing", "account", *org, "--currency", "EUR")
    ok("org", "create", "Zeta")
    ok("billing", "account", "--org", "zeta", "--currency", "USD")
    # A new model priced in EUR only: the USD customer is warned about at once.
    warned = ok("price", "set", "other-model", "--input", "1", "--output", "1", "--currency", "EUR")
    assert "no price in USD" in " ".join(warned.split())
    fails("billing", "account", *org, "--currency", "USD", message="other-model")
    assert "USD" in ok("billing", "account", *org, "--currency", "USD", "--force")
