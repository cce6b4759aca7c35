"""API key secrets: ``lv-`` followed by 43 URL-safe random characters (256 bits).

Keys carry 256 bits of entropy, so a single SHA-256 is a safe one-way store and keeps
authentication to one indexed lookup; slow password hashes (argon2) are for human passwords.
"""

from __future__ import annotations

import hashlib
import secrets

KEY_PREFIX = "lv-"
_DISPLAY_CHARS = 8


def generate_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def display_prefix(secret: str) -> str:
    """The part of a key shown in listings, enough to recognise it and no more."""
    return secret[: len(KEY_PREFIX) + _DISPLAY_CHARS]


def looks_like_key(secret: str) -> bool:
    return secret.startswith(KEY_PREFIX) and 16 <= len(secret) <= 128
