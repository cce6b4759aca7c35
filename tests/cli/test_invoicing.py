"""``levante billing account|run``, ``plans``, ``subscriptions``, ``wallet`` and ``invoices``."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from levante.cli import app
from levante.storage import Database, utcnow

runner = CliRunner()


@pytest.fixture(autouse=True)
def _use_test_database(monkeypatch: pytest.MonkeyPatch, database_url: str) -> None:
    monkeypatch.setenv("LEVANTE_DATABASE_URL", database_url)
    monkeypatch.setenv("LEVANTE_CONFIG_FILE", "/nonexistent.toml")
    monkeypatch.setenv("COLUMNS", "240")  # wide enough that tables are not cut


def _ok(*args: str) -> str:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def _fails(*args: str, message: str) -> None:
    result = runner.invoke(app, list(args))
    assert result.exit_code == 1, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_a_customer_from_account_to_paid_invoice(database: Database, tmp_path: Path) -> None:
    _ok("org", "create", "Camille Bleu")
    org = ("--org", "camille-bleu")
    out = _ok("billing", "account", *org, "--country", "fr", "--currency", "EUR",
              "--name", "Camille Bleu", "--low-balance", "2")  # fmt: skip
    assert "Camille Bleu, FR, consumer, EUR" in out
    plans = _ok("plans", "list")
    assert "chat-pro-monthly" in plans
    assert "143.90" in plans
    assert "2030-01-01" in _ok(
        "plans", "price", "chat-pro-monthly", "--currency", "EUR", "--amount", "15.99",
        "--from", "2030-01-01",
    )  # fmt: skip

    out = _ok("subscriptions", "create", *org, "chat-pro-monthly")
    sub = re.search(r"sub_\w+", out)
    assert sub
    assert "(active)" in out
    assert "chat-pro-monthly" in _ok("subscriptions", "list", *org)
    _fails("subscriptions", "change", *org, sub.group(), "--seats", "2", message="flat fee")
    _ok("subscriptions", "change", *org, sub.group(), "--plan", "chat-pro-annual")
    assert "ends" in _ok("subscriptions", "cancel", *org, sub.group())

    _ok("wallet", "grant", *org, "5", "--expires", "2099-01-01")
    assert "balance 5.00 EUR" in _ok("wallet", "show", *org)

    out = _ok("invoices", "top-up", *org, "20")
    assert "LEV-000001" in out
    assert "24.00 EUR due" in out  # 20.00 and French VAT
    assert "(paid)" in _ok("invoices", "pay", "LEV-000001", "--reference", "SEPA-7")
    assert "LEV-000001" in _ok("invoices", "list", *org)
    html, pdf = tmp_path / "inv.html", tmp_path / "inv.pdf"
    shown = _ok("invoices", "show", "LEV-000001", "--html", str(html), "--pdf", str(pdf))
    assert "Prepaid API credits" in shown
    assert "LEV-000001" in html.read_text()
    assert pdf.read_bytes().startswith(b"%PDF")
    assert "balance 25.00 EUR" in _ok("wallet", "show", *org)

    # This month is open: its invoice is a draft, built again the same way on a second run.
    period = f"{utcnow():%Y-%m}"
    assert "1 created" in _ok("invoices", "generate", "--period", period)
    assert "1 updated, 0 unchanged; 1 draft(s)" in _ok("invoices", "generate", "--period", period)
    assert "renewed" in _ok("billing", "run")


def test_bad_billing_commands_are_one_line_errors(database: Database) -> None:
    _ok("org", "create", "Acme")
    _fails("invoices", "generate", "--period", "2026-13", message="not a period")
    _fails("invoices", "pay", "LEV-999999", "--reference", "x", message="does not exist")
    _fails("subscriptions", "create", "--org", "acme", "gold", message="does not exist")
    _fails("wallet", "grant", "--org", "acme", "0", message="positive")
    _fails("invoices", "top-up", "--org", "acme", "abc", message="not a decimal")
    _fails("billing", "account", "--org", "acme", "--vat-number", "X", message="needs a country")
    _fails("billing", "account", "--org", "acme", "--currency", "GBP", message="EUR, USD")
    _fails("plans", "price", "chat-free", "--currency", "EUR", "--amount", "1",
           "--from", "2020-01-01", message="in the past")  # fmt: skip
