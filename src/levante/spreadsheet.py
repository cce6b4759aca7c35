"""CSV that a spreadsheet opens as data: every export Levante writes goes through here.

Excel, LibreOffice and Google Sheets run a cell that starts with ``=``, ``+``, ``-`` or ``@``
(and, in some, a tab or a carriage return) as a formula. A name a customer chose (an
organisation named after a sign-up address such as ``=HYPERLINK(...)``) would then run on the
operator's machine. As OWASP advises, such a cell is written with a leading single quote,
which the spreadsheet shows as text. A plain number (``-12.50``) is no formula and stays as it
is, so amounts and counts remain numbers.

A spreadsheet set to split on semicolons (Excel's default in much of Europe) or tabs cuts an
unquoted cell there, so ``x;=2+3`` becomes a cell ``=2+3`` of its own: the quote goes after
each such separator too.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_AFTER_A_SEPARATOR = re.compile(r"([;\t])(?=[=+\-@\t\r])")


def formula_safe(cell: object) -> object:
    """The cell as a spreadsheet should read it: text that could run is quoted; numbers, and
    text that could not, are left alone."""
    if not isinstance(cell, str) or _PLAIN_NUMBER.fullmatch(cell):
        return cell
    cell = cell[:1] + _AFTER_A_SEPARATOR.sub(r"\1'", cell[1:])
    return "'" + cell if cell.startswith(_FORMULA_START) else cell


def csv_text(header: Iterable[str], rows: Iterable[Iterable[object]]) -> str:
    """A CSV document: the header, then the rows, every cell made :func:`formula_safe`."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([formula_safe(name) for name in header])
    writer.writerows([formula_safe(cell) for cell in row] for row in rows)
    return out.getvalue()
