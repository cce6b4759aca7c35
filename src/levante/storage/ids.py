"""Readable, prefixed random identifiers (``org_…``, ``key_…``, ``req_…``)."""

from __future__ import annotations

import secrets

_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"


def new_id(prefix: str, length: int = 20) -> str:
    # One read of the system's random source per id (each byte below 252 maps evenly onto
    # the 36 letters; the rest are dropped), not one per character.
    letters: list[str] = []
    while len(letters) < length:
        letters.extend(_ALPHABET[b % 36] for b in secrets.token_bytes(length + 8) if b < 252)
    return f"{prefix}_" + "".join(letters[:length])
