"""File names as people will read them: no path, no control character, and no invisible
format character that reorders or hides what the name says."""

from __future__ import annotations

import pytest

from levante.errors import InvalidRequestError
from levante.files import check_filename


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        # U+202E turns what follows right to left: "invoice\u202egnp.exe" reads "invoiceexe.png".
        ("invoice\u202egnp.exe", "invoicegnp.exe"),
        ("\u2067report\u2069.pdf", "report.pdf"),  # right-to-left isolate, pop isolate
        ("a\u202ab\u202bc\u202cd\u202de.txt", "abcde.txt"),  # embeddings, overrides, pop
        ("left\u200e\u200fmark\u061c.csv", "leftmark.csv"),  # LRM, RLM, Arabic letter mark
        ("zero\u200bwidth\ufeff.log", "zerowidth.log"),  # zero-width space, BOM
        ("données été.txt", "données été.txt"),  # letters outside ASCII stay
    ],
)
def test_invisible_format_characters_are_dropped(given: str, kept: str) -> None:
    assert check_filename(given) == kept


@pytest.mark.parametrize("name", ["\u202e", "\u200e\u200f", "..\u202e/x", ".\u200b."])
def test_a_name_that_is_nothing_or_a_path_once_cleaned_is_refused(name: str) -> None:
    with pytest.raises(InvalidRequestError):
        check_filename(name)
