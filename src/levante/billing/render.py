"""An invoice as an HTML page and as a PDF document, from the same rows."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

import font_roboto
from fpdf import FPDF
from fpdf.fonts import FontFace, TTFFont

from levante.pricing import format_cents
from levante.storage.models import Invoice, InvoiceLine

_TITLES = {"period": "Invoice", "top_up": "Invoice (prepaid credits)", "charges": "Invoice"}


def _heading(invoice: Invoice) -> str:
    return f"{_TITLES.get(invoice.kind, 'Invoice')} {invoice.number or '(draft)'}"


def _dates(invoice: Invoice) -> list[tuple[str, str]]:
    rows = []
    if invoice.period:
        rows.append(("Period", invoice.period))
    if invoice.issued_at:
        rows.append(("Issued", f"{invoice.issued_at:%Y-%m-%d}"))
    if invoice.due_at:
        rows.append(("Due", f"{invoice.due_at:%Y-%m-%d}"))
    rows.append(("Status", invoice.status))
    return rows


def _party(party: dict[str, object]) -> list[str]:
    lines = [str(party.get("name") or "")]
    lines += [x for x in str(party.get("address") or "").splitlines() if x]
    if party.get("country"):
        lines.append(str(party["country"]))
    if party.get("vat_number"):
        lines.append(f"VAT {party['vat_number']}")
    return [x for x in lines if x]


def how_to_pay(seller: dict[str, object], reference: str | None, due: str = "") -> str:
    """How a bank transfer (of ``due``, when given) reaches the seller: their account, and
    what to quote."""
    to = str(seller.get("name") or "the seller")
    account = ", ".join(
        f"{label} {seller[key]}"
        for key, label in (("iban", "IBAN"), ("bic", "BIC"))
        if seller.get(key)
    )
    quoting = f", quoting {reference}" if reference else ""
    pay = f"Pay {due}" if due else "Pay"
    return f"{pay} by bank transfer to {to}" + (f", {account}" if account else "") + quoting + "."


def _payment_note(invoice: Invoice) -> str:
    """What an invoice still to be paid says about paying it ("" once paid or void)."""
    if invoice.status != "finalized" or invoice.amount_due_cents <= 0:
        return ""
    return how_to_pay(invoice.seller, invoice.number)


def _totals(invoice: Invoice) -> list[tuple[str, str]]:
    money = invoice.currency
    rows = [("Subtotal", f"{format_cents(invoice.subtotal_cents)} {money}")]
    if invoice.credits_cents:
        rows.append(("Credits applied", f"-{format_cents(invoice.credits_cents)} {money}"))
    rows.append((f"VAT ({invoice.tax_rate}%)", f"{format_cents(invoice.tax_cents)} {money}"))
    rows.append(("Total", f"{format_cents(invoice.total_cents)} {money}"))
    if invoice.paid_cents:
        rows.append(("Paid", f"{format_cents(invoice.paid_cents)} {money}"))
        rows.append(("Due", f"{format_cents(invoice.amount_due_cents)} {money}"))
    return rows


def _quantity(line: InvoiceLine) -> str:
    return f"{line.quantity:,}" if line.unit else ""


def render_html(invoice: Invoice, lines: Sequence[InvoiceLine]) -> str:
    def cells(values: Sequence[str], tag: str = "td") -> str:
        return "".join(f"<{tag}>{escape(v)}</{tag}>" for v in values)

    body = "\n".join(
        "<tr>"
        + cells(
            [
                line.description,
                _quantity(line),
                line.unit_price,
                f"{format_cents(line.amount_cents)} {invoice.currency}",
            ]
        )
        + "</tr>"
        for line in lines
    )
    totals = "\n".join(
        f"<tr><th colspan=3>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in _totals(invoice)
    )
    seller = "<br>".join(escape(x) for x in _party(invoice.seller))
    customer = "<br>".join(escape(x) for x in _party(invoice.customer))
    dates = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in _dates(invoice))
    notes = [x for x in (_payment_note(invoice), invoice.tax_note) if x]
    note = "".join(f"<p class=note>{escape(x)}</p>" for x in notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(_heading(invoice))}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 60rem; color: #222; }}
header {{ display: flex; justify-content: space-between; gap: 2rem; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 1.5rem; }}
th, td {{ border-bottom: 1px solid #ddd; padding: .4rem .6rem; text-align: left; }}
td:nth-child(n+2), tfoot td {{ text-align: right; white-space: nowrap; }}
tfoot th {{ text-align: right; }}
dl {{ display: grid; grid-template-columns: auto auto; gap: .2rem 1rem; }}
.note {{ margin-top: 1.5rem; font-size: .9rem; }}
</style></head>
<body>
<h1>{escape(_heading(invoice))}</h1>
<header><div><strong>From</strong><br>{seller}</div>
<div><strong>Bill to</strong><br>{customer}</div><dl>{dates}</dl></header>
<table><thead><tr>{cells(["Description", "Quantity", "Unit price", "Amount"], "th")}</tr></thead>
<tbody>
{body}
</tbody>
<tfoot>
{totals}
</tfoot></table>
{note}
</body></html>
"""


# Roboto (Apache 2.0, from the font-roboto package) covers Latin, Greek and Cyrillic, so names
# such as "Łódź", "Αθήνα" or "Ёлка" print as written; it is embedded in each PDF (the glyphs
# used only). A character it has no glyph for (Chinese, Arabic, Hebrew, Devanagari...) prints
# as "?" in the PDF; the HTML invoice shows every script.
_FONT = "Roboto"
_FONT_FILES = {"": font_roboto.font_files["Roboto"], "B": font_roboto.font_files["RobotoBold"]}


def _new_pdf() -> FPDF:
    pdf = FPDF(format="A4")
    for style, path in _FONT_FILES.items():
        pdf.add_font(_FONT, style, path)
    return pdf


def _printable(pdf: FPDF, text: str) -> str:
    """``text`` with every character the font cannot draw replaced by "?"."""
    font = pdf.fonts[_FONT.lower()]
    drawn = font.cmap if isinstance(font, TTFFont) else {}
    return "".join(c if ord(c) in drawn or c in "\n\t" else "?" for c in text)


def render_pdf(invoice: Invoice, lines: Sequence[InvoiceLine]) -> bytes:
    pdf = _new_pdf()

    def shown(text: str) -> str:
        return _printable(pdf, text)

    pdf.set_title(shown(_heading(invoice)))
    pdf.set_creator("Levante")
    pdf.add_page()
    pdf.set_font(_FONT, "B", 16)
    pdf.cell(0, 10, shown(_heading(invoice)), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(_FONT, size=9)
    top = pdf.get_y() + 2
    for column, (title, rows) in enumerate(
        (
            ("From", _party(invoice.seller)),
            ("Bill to", _party(invoice.customer)),
            ("", [f"{k}: {v}" for k, v in _dates(invoice)]),
        )
    ):
        # The customer writes its own name and address: plain text, never Markdown, so that
        # "[text](url)" or "**" on an invoice is printed as typed, not turned into a link.
        pdf.set_xy(pdf.l_margin + column * 63, top)
        if title:
            pdf.set_font(_FONT, "B", 9)
            pdf.cell(60, 4.5, title, new_x="LEFT", new_y="NEXT")
            pdf.set_font(_FONT, size=9)
        pdf.multi_cell(60, 4.5, shown("\n".join(rows)), markdown=False)
    pdf.set_y(top + 32)
    header = FontFace(emphasis="BOLD", fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=(100, 28, 30, 32),
        text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=header,
        line_height=5,
    ) as table:
        table.row(["Description", "Quantity", "Unit price", "Amount"])
        for line in lines:
            table.row(
                [
                    shown(line.description),
                    _quantity(line),
                    shown(line.unit_price),
                    f"{format_cents(line.amount_cents)} {invoice.currency}",
                ]
            )
    pdf.ln(3)
    for label, value in _totals(invoice):
        pdf.set_font(_FONT, "B" if label == "Total" else "", 10)
        pdf.cell(158, 6, label, align="R")
        pdf.cell(32, 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    for text in (_payment_note(invoice), invoice.tax_note):
        if text:
            pdf.ln(4)
            pdf.set_font(_FONT, size=8)
            pdf.multi_cell(0, 4, shown(text))
    return bytes(pdf.output())
