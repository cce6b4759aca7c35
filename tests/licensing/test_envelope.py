"""Licence files: signed, verified offline, and every way of being wrong told apart."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from levante.errors import LicenseInvalidError
from levante.licensing import Keyring, authenticate, verify
from levante.licensing.keys import SigningKey
from tests.licensing.conftest import license_file, make_license, utc

NOW = utc(2026, 6, 1)


def trusted(keyring: Keyring) -> dict[str, Ed25519PublicKey]:
    return keyring.public_keys()


def test_a_valid_licence_verifies(keyring: Keyring, key: SigningKey) -> None:
    text = license_file(key)
    license = verify(text, trusted(keyring), NOW)
    assert license == make_license(key)
    assert license.status(NOW) == "active"
    assert license.entitlements.allows_model("smollm2-135m-instruct")
    assert not license.entitlements.allows_model("other")
    envelope = json.loads(text)
    assert envelope["format"] == "levante-license/1"
    assert json.loads(envelope["payload"])["licensee"]["name"] == "Acme GmbH"  # readable


def tamper(text: str, field: str, change: Callable[[Any], object]) -> str:
    envelope = json.loads(text)
    envelope[field] = change(envelope[field])
    return json.dumps(envelope)


def flip_signature_byte(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[10] ^= 1
    return base64.b64encode(bytes(raw)).decode()


@pytest.mark.parametrize(
    ("case", "code", "words"),
    [
        ("payload", "license_payload_changed", "changed after it was signed"),
        ("payload and digest", "license_bad_signature", "not a valid signature"),
        ("signature", "license_bad_signature", "not a valid signature"),
        ("unknown key", "license_unknown_key", "does not trust"),
        ("other key", "license_bad_signature", "not a valid signature"),
        ("not json", "license_malformed", "not JSON"),
        ("format", "license_unsupported_format", "not supported"),
        ("missing", "license_malformed", "no 'signature'"),
    ],
)
def test_a_tampered_licence_is_rejected(
    keyring: Keyring, key: SigningKey, case: str, code: str, words: str
) -> None:
    text = license_file(key)
    if case == "payload":  # ask for more seats than were granted
        text = tamper(text, "payload", lambda p: p.replace('"max_seats": 2', '"max_seats": 200'))
    elif case == "payload and digest":
        payload = json.loads(text)["payload"].replace('"max_seats": 2', '"max_seats": 200')
        text = tamper(text, "payload", lambda _: payload)
        text = tamper(
            text, "payload_sha256", lambda _: hashlib.sha256(payload.encode()).hexdigest()
        )
    elif case == "signature":
        text = tamper(text, "signature", flip_signature_byte)
    elif case == "unknown key":
        text = license_file(
            SigningKey("lk_stranger", Keyring(keyring.directory / "x").generate().private),
            key_id="lk_stranger",
        )
    elif case == "other key":
        # Signed by a second vendor key, but claiming the first one's id.
        other = keyring.generate()
        forged = json.loads(license_file(other))
        forged["key_id"] = key.key_id
        text = json.dumps(forged)
    elif case == "not json":
        text = text[:-10]
    elif case == "format":
        text = tamper(text, "format", lambda _: "levante-license/9")
    else:
        envelope = json.loads(text)
        del envelope["signature"]
        text = json.dumps(envelope)
    with pytest.raises(LicenseInvalidError) as caught:
        verify(text, trusted(keyring), NOW)
    assert caught.value.code == code
    assert words in caught.value.message


@pytest.mark.parametrize(
    ("now", "code", "words"),
    [
        (utc(2025, 12, 31), "license_not_yet_valid", "not valid before 2026-01-01"),
        (utc(2027, 1, 31, 0, 0, 1), "license_expired", "grace period ended on 2027-01-31"),
    ],
)
def test_dates_outside_the_licence_are_rejected(
    keyring: Keyring,
    key: SigningKey,
    now: datetime,
    code: str,
    words: str,
) -> None:
    with pytest.raises(LicenseInvalidError) as caught:
        verify(license_file(key), trusted(keyring), now)
    assert (caught.value.code, words in caught.value.message) == (code, True)


def test_grace_is_still_valid(keyring: Keyring, key: SigningKey) -> None:
    license = verify(license_file(key), trusted(keyring), utc(2027, 1, 20))
    assert license.status(utc(2027, 1, 20)) == "grace"
    # authenticate() checks the signature only: an expired licence can still be read.
    assert authenticate(license_file(key), trusted(keyring)).status(utc(2028, 1, 1)) == "expired"


def test_rotated_keys_keep_verifying_old_licences(keyring: Keyring, key: SigningKey) -> None:
    old = license_file(key)
    new_key = keyring.generate()
    assert keyring.signing_key(new_key.key_id).key_id == new_key.key_id
    for text in (old, license_file(new_key)):
        verify(text, trusted(keyring), NOW)
    assert oct(os.stat(keyring.directory / f"{key.key_id}.key").st_mode & 0o777) == "0o600"


def test_verification_needs_no_network_and_no_database(
    keyring: Keyring, key: SigningKey, tmp_path: Path
) -> None:
    """A fresh interpreter with the network cut (no route, no DNS) and no database settings
    verifies the licence from its file and the vendor's public key alone."""
    lic = tmp_path / "acme.license"
    lic.write_text(license_file(key))
    public = (keyring.directory / f"{key.key_id}.pub").read_text().strip()
    script = f"""
import socket
def refuse(*args, **kwargs):
    raise OSError("network disabled for this test")
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
from datetime import datetime, UTC
from pathlib import Path
from levante.licensing import verify, trusted_keys
license = verify(Path({str(lic)!r}).read_text(), trusted_keys({{{key.key_id!r}: {public!r}}}), datetime(2026, 6, 1, tzinfo=UTC))
print(license.license_id, license.licensee_name)
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEVANTE_")}
    env["LEVANTE_DATABASE_URL"] = "postgresql://nobody@192.0.2.1:1/none"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "lic_test Acme GmbH"
