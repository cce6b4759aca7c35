"""What a text column can hold, checked before it is written, so that both databases take the
same values: SQLite would keep a name of any length and a NUL character, PostgreSQL refuses
both with an error that would be a 500.

The limit is the column's own (``String(200)`` holds 200 characters). A service calls
:func:`fit` for text it takes from a person before it does anything it could not undo (a file
written); every flush checks the rest (:func:`check_flush`), so a value nobody thought to
check is still a 400 naming its field, and the transaction writes nothing.
"""

from __future__ import annotations

import unicodedata
from functools import cache
from typing import Any

from sqlalchemy import String, inspect
from sqlalchemy.orm import Mapper, QueryableAttribute, Session

from levante.errors import InvalidRequestError

NUL = "\x00"


def visible(text: str) -> str:
    """``text`` without its invisible format characters (Unicode category Cf): the bidi
    embeddings, overrides and isolates (U+202A-U+202E, U+2066-U+2069), the direction marks
    (U+200E, U+200F, U+061C), zero-width characters. "invoice", U+202E, "gnp.exe" shows as
    "invoiceexe.png"; a name on a page, an invoice or a file keeps only what a reader sees."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def _length(column: QueryableAttribute[Any]) -> int | None:
    """The characters ``column`` holds; None for unbounded text."""
    kind = column.property.columns[0].type
    return kind.length if isinstance(kind, String) else None


def fit(
    column: QueryableAttribute[Any],
    value: str,
    *,
    param: str | None = None,
    label: str | None = None,
) -> str:
    """``value``, if ``column`` can hold it; a 400 naming ``param`` (by default the column's
    name) if it is too long or has a NUL character in it. ``label`` is what the message calls
    it (by default the param's words)."""
    _check(value, _length(column), param or column.key, label)
    return value


def check_flush(session: Session, _context: Any, _instances: Any) -> None:
    """Before each flush: every text value a row is given fits its column. Only values set
    in this transaction are checked: a row written before the limit was kept stays usable."""
    for row in (*session.new, *session.dirty):
        state = inspect(row)
        for key, length in _text_columns(state.mapper):
            for value in state.attrs[key].history.added or ():
                if isinstance(value, str):
                    _check(value, length, key)


@cache
def _text_columns(mapper: Mapper[Any]) -> tuple[tuple[str, int | None], ...]:
    """The text attributes of a model, and how many characters each holds (None: any)."""
    return tuple(
        (attribute.key, attribute.columns[0].type.length)
        for attribute in mapper.column_attrs
        if isinstance(attribute.columns[0].type, String)
    )


def _check(value: str, length: int | None, param: str, label: str | None = None) -> None:
    label = label or param.replace("_", " ")
    if NUL in value:
        raise InvalidRequestError(f"the {label} may not contain NUL characters", param=param)
    if length is not None and len(value) > length:
        raise InvalidRequestError(
            f"the {label} is at most {length:,} characters ({len(value):,} given)", param=param
        )
