"""Licensing fixtures: a vendor keyring and licences signed with it."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from levante.licensing import Keyring, License
from levante.licensing.envelope import Entitlements, sign
from levante.licensing.keys import SigningKey


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


@pytest.fixture
def keyring(tmp_path: Path) -> Keyring:
    return Keyring(tmp_path / "vendor-keys")


@pytest.fixture
def key(keyring: Keyring) -> SigningKey:
    return keyring.generate()


def make_license(key: SigningKey, **changes: object) -> License:
    fields: dict[str, object] = {
        "license_id": "lic_test",
        "licensee_id": "org_acme",
        "licensee_name": "Acme GmbH",
        "issued_at": utc(2026, 1, 1),
        "starts_at": utc(2026, 1, 1),
        "expires_at": utc(2027, 1, 1),
        "grace_days": 30,
        "entitlements": Entitlements(models=("smollm2-135m-instruct",), max_seats=2,
                                     features=("admin_api",)),
        "key_id": key.key_id,
    }  # fmt: skip
    fields.update(changes)
    return License(**fields)  # type: ignore[arg-type]


def license_file(key: SigningKey, **changes: object) -> str:
    return sign(make_license(key, **changes), key)
