"""Passwords: argon2id hashes (only the hash is kept), and what a password must be."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from levante.errors import InvalidRequestError

MIN_LENGTH = 10
MAX_LENGTH = 1024  # a longer one is refused before hashing: it could only be an attack

_hasher = PasswordHasher()  # argon2id, with the library's recommended cost
# Verified against when no account has the address, so that a wrong address takes as long
# to refuse as a wrong password.
_DECOY = _hasher.hash("levante decoy password")


def check_new_password(password: str, *, email: str = "") -> None:
    """Refuse a password too short, too long, or that is the address itself."""
    if len(password) < MIN_LENGTH:
        raise InvalidRequestError(
            f"a password needs at least {MIN_LENGTH} characters", param="password"
        )
    if len(password) > MAX_LENGTH:
        raise InvalidRequestError(
            f"a password may have at most {MAX_LENGTH} characters", param="password"
        )
    if email and password.strip().lower() == email.lower():
        raise InvalidRequestError("a password may not be the email address", param="password")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether ``password`` matches; a missing hash (no password set) never matches, in the
    time a real check takes."""
    if len(password) > MAX_LENGTH:
        return False
    try:
        return _hasher.verify(password_hash or _DECOY, password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher.check_needs_rehash(password_hash)
