"""Licence signing keys: Ed25519 key pairs named by key id, kept in files, never in a database.

The vendor keeps its private keys in a directory (``licensing.keys_dir``), one
``<key id>.key`` (PKCS #8 PEM, readable by its owner only) beside each ``<key id>.pub``. A new
key pair is the signing key from then on; older ones still verify the licences they signed, so
keys rotate without reissuing anything. Deployments trust public keys by id
(``licensing.trusted_keys``): they never see a private key.
"""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from levante.errors import ConfigurationError


def key_id_of(public: Ed25519PublicKey) -> str:
    """A key's id: ``lk_`` and the first 16 hex digits of the SHA-256 of its raw bytes."""
    return "lk_" + hashlib.sha256(public_bytes(public)).hexdigest()[:16]


def public_bytes(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encode_public(public: Ed25519PublicKey) -> str:
    return base64.b64encode(public_bytes(public)).decode()


def decode_public(text: str) -> Ed25519PublicKey:
    try:
        raw = base64.b64decode(text.strip(), validate=True)
        return Ed25519PublicKey.from_public_bytes(raw)
    except ValueError as exc:
        raise ConfigurationError(f"'{text[:20]}…' is not an Ed25519 public key: {exc}") from None


def write_private_key(path: Path, key: Ed25519PrivateKey) -> None:
    """Write a private key (PKCS #8 PEM) to a new file that only its owner can read."""
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)


def read_private_key(path: Path) -> Ed25519PrivateKey | None:
    """The Ed25519 private key in a PEM file; None if the file holds another kind of key."""
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    return key if isinstance(key, Ed25519PrivateKey) else None


@dataclass(frozen=True, slots=True)
class SigningKey:
    key_id: str
    private: Ed25519PrivateKey

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


class Keyring:
    """The vendor's key pairs in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def generate(self) -> SigningKey:
        """Make a key pair, write it (the private half readable by its owner only), and
        return it: it is the signing key from now on."""
        self.directory.mkdir(parents=True, exist_ok=True)
        private = Ed25519PrivateKey.generate()
        key = SigningKey(key_id_of(private.public_key()), private)
        write_private_key(self.directory / f"{key.key_id}.key", private)
        (self.directory / f"{key.key_id}.pub").write_text(encode_public(key.public) + "\n")
        return key

    def signing_key(self, key_id: str | None = None) -> SigningKey:
        """The named key, or the newest one."""
        paths = sorted(self.directory.glob("*.key"), key=lambda p: (p.stat().st_mtime, p.name))
        if key_id is not None:
            paths = [p for p in paths if p.stem == key_id]
        if not paths:
            wanted = f"key '{key_id}'" if key_id else "no signing key"
            raise ConfigurationError(
                f"{wanted} in {self.directory}: run 'levante license keygen' first"
            )
        path = paths[-1]
        private = read_private_key(path)
        if private is None:
            raise ConfigurationError(f"{path} is not an Ed25519 private key")
        return SigningKey(path.stem, private)

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        if not self.directory.is_dir():
            return {}
        return {p.stem: decode_public(p.read_text()) for p in sorted(self.directory.glob("*.pub"))}


def trusted_keys(
    configured: Mapping[str, str], keyring: Keyring | None = None
) -> dict[str, Ed25519PublicKey]:
    """The public keys licences may be signed with: the configured ones, and the keyring's."""
    keys = keyring.public_keys() if keyring is not None else {}
    keys.update({key_id: decode_public(text) for key_id, text in configured.items()})
    return keys


def trust(encoded: Iterable[str]) -> dict[str, Ed25519PublicKey]:
    """Public keys given as base64 text (a ``.pub`` file's content, or the key itself), by
    key id: the keys a licence may be verified against instead of the configured ones."""
    publics = [decode_public(text.strip()) for text in encoded]
    return {key_id_of(public): public for public in publics}
