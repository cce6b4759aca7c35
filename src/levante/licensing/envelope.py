"""The licence file: a versioned JSON envelope around a signed JSON payload.

Version 1 (``"format": "levante-license/1"``)::

    {
      "format": "levante-license/1",
      "algorithm": "Ed25519",
      "key_id": "lk_…",
      "payload": "{\\"license_id\\": …}",      the licence, as JSON text
      "payload_sha256": "…",                 hex digest of the payload's UTF-8 bytes
      "signature": "…"                       base64 Ed25519 signature
    }

The signature covers ``b"levante-license/1\\n" + payload`` (UTF-8). The payload stays text, so
the file can be read as it is and the signed bytes are exactly those in the file; its own
``format`` and ``key_id`` repeat the envelope's, so that neither can be swapped unnoticed.
Verification needs only the file, the vendor's public keys and a clock: no network, no
database.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from levante.errors import LicenseInvalidError
from levante.licensing.keys import SigningKey

FORMAT = "levante-license/1"
FEATURES = ("admin_api", "chat_app", "fine_tuning", "sso", "usage_reporting")
Status = Literal["active", "grace", "expired", "not_yet_valid"]


@dataclass(frozen=True, slots=True)
class Entitlements:
    models: tuple[str, ...] = ("*",)  # model ids; "*" is every model
    max_seats: int | None = None
    max_nodes: int | None = None
    max_gpus: int | None = None
    features: tuple[str, ...] = ()

    def allows_model(self, model_id: str) -> bool:
        return "*" in self.models or model_id in self.models


@dataclass(frozen=True, slots=True)
class License:
    license_id: str
    licensee_id: str
    licensee_name: str
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime
    grace_days: int
    entitlements: Entitlements
    key_id: str
    usage_reporting: bool = False
    report_interval_days: int = 30
    on_expiry: Literal["read_only", "serve_existing"] = "read_only"
    # Online activation, for deployments that use it: a floating node frees its place when it
    # goes silent; a node-locked one keeps it until it is deactivated.
    activation: Literal["floating", "node_locked"] = "floating"
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def grace_ends_at(self) -> datetime:
        return self.expires_at + timedelta(days=self.grace_days)

    def status(self, now: datetime) -> Status:
        if now < self.starts_at:
            return "not_yet_valid"
        if now < self.expires_at:
            return "active"
        if now < self.grace_ends_at:
            return "grace"
        return "expired"

    def to_payload(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "license_id": self.license_id,
            "licensee": {"organization_id": self.licensee_id, "name": self.licensee_name},
            "issued_at": _time(self.issued_at),
            "starts_at": _time(self.starts_at),
            "expires_at": _time(self.expires_at),
            "grace_days": self.grace_days,
            "entitlements": {
                **asdict(self.entitlements),
                "models": list(self.entitlements.models),
                "features": list(self.entitlements.features),
            },
            "usage_reporting": {
                "required": self.usage_reporting,
                "interval_days": self.report_interval_days,
            },
            "on_expiry": self.on_expiry,
            "activation": self.activation,
            "key_id": self.key_id,
            **self.extra,
        }


def sign(license: License, key: SigningKey) -> str:
    """The licence file's text, signed with ``key``."""
    if license.key_id != key.key_id:
        raise ValueError("the licence names another signing key")
    payload = json.dumps(license.to_payload(), indent=1, sort_keys=True)
    signature = key.private.sign(_message(payload))
    envelope = {
        "format": FORMAT,
        "algorithm": "Ed25519",
        "key_id": key.key_id,
        "payload": payload,
        "payload_sha256": hashlib.sha256(payload.encode()).hexdigest(),
        "signature": base64.b64encode(signature).decode(),
    }
    return json.dumps(envelope, indent=2) + "\n"


def authenticate(text: str, trusted: Mapping[str, Ed25519PublicKey]) -> License:
    """The licence in ``text`` if it is well formed and signed by a trusted key, whatever its
    dates; otherwise a :class:`LicenseInvalidError` that says what is wrong."""
    try:
        envelope = json.loads(text)
    except ValueError:
        raise _invalid("license_malformed", "the licence file is not JSON") from None
    if not isinstance(envelope, dict):
        raise _invalid("license_malformed", "the licence file is not a JSON object")
    if envelope.get("format") != FORMAT:
        raise _invalid(
            "license_unsupported_format",
            f"the licence format '{envelope.get('format')}' is not supported (this version "
            f"reads {FORMAT})",
        )
    key_id, payload = _field(envelope, "key_id"), _field(envelope, "payload")
    signature_text, digest = _field(envelope, "signature"), _field(envelope, "payload_sha256")
    public = trusted.get(key_id)
    if public is None:
        raise _invalid(
            "license_unknown_key",
            f"the licence is signed with key '{key_id}', which this deployment does not trust",
        )
    if hashlib.sha256(payload.encode()).hexdigest() != digest:
        raise _invalid(
            "license_payload_changed",
            "the licence's contents were changed after it was signed (their digest differs)",
        )
    try:
        signature = base64.b64decode(signature_text, validate=True)
        public.verify(signature, _message(payload))
    except (ValueError, InvalidSignature):
        raise _invalid(
            "license_bad_signature",
            f"the licence's signature is not a valid signature of key '{key_id}'",
        ) from None
    try:
        license = _parse(json.loads(payload))
    except (ValueError, KeyError, TypeError) as exc:
        raise _invalid("license_malformed", f"the signed licence cannot be read: {exc}") from None
    if license.key_id != key_id:
        raise _invalid(
            "license_wrong_key",
            f"the licence names key '{license.key_id}' but its envelope names '{key_id}'",
        )
    return license


def read_issued(text: str) -> License:
    """The licence in a file this vendor issued and kept (its signature was made here, so it is
    not checked again)."""
    try:
        return _parse(json.loads(json.loads(text)["payload"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise _invalid("license_malformed", f"the stored licence cannot be read: {exc}") from None


def verify(text: str, trusted: Mapping[str, Ed25519PublicKey], now: datetime) -> License:
    """:func:`authenticate`, and the licence must be in force: started, and not past its
    expiry plus grace."""
    license = authenticate(text, trusted)
    status = license.status(now)
    if status == "not_yet_valid":
        raise _invalid(
            "license_not_yet_valid",
            f"the licence is not valid before {_time(license.starts_at)}",
        )
    if status == "expired":
        raise _invalid(
            "license_expired",
            f"the licence expired on {_time(license.expires_at)} and its {license.grace_days}-day "
            f"grace period ended on {_time(license.grace_ends_at)}",
        )
    return license


def _field(envelope: dict[str, Any], name: str) -> str:
    value = envelope.get(name)
    if not isinstance(value, str):
        raise _invalid("license_malformed", f"the licence file has no '{name}' text")
    return value


def _message(payload: str) -> bytes:
    return f"{FORMAT}\n{payload}".encode()


def _invalid(code: str, message: str) -> LicenseInvalidError:
    return LicenseInvalidError(message, code=code)


def _time(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _when(text: str) -> datetime:
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if when.tzinfo is None:
        raise ValueError(f"'{text}' has no time zone")
    return when.astimezone(UTC)


def _parse(data: dict[str, Any]) -> License:
    if data.get("format") != FORMAT:
        raise ValueError("the payload's format differs from the envelope's")
    rights = data["entitlements"]
    features = tuple(str(f) for f in rights.get("features", ()))
    known = {
        "format", "license_id", "licensee", "issued_at", "starts_at", "expires_at",
        "grace_days", "entitlements", "usage_reporting", "on_expiry", "activation", "key_id",
    }  # fmt: skip
    reporting = data.get("usage_reporting") or {}
    on_expiry = data.get("on_expiry", "read_only")
    if on_expiry not in ("read_only", "serve_existing"):
        raise ValueError(f"on_expiry '{on_expiry}' is unknown")
    activation = data.get("activation", "floating")
    if activation not in ("floating", "node_locked"):
        raise ValueError(f"activation '{activation}' is unknown")
    return License(
        license_id=str(data["license_id"]),
        licensee_id=str(data["licensee"]["organization_id"]),
        licensee_name=str(data["licensee"]["name"]),
        issued_at=_when(data["issued_at"]),
        starts_at=_when(data["starts_at"]),
        expires_at=_when(data["expires_at"]),
        grace_days=int(data["grace_days"]),
        entitlements=Entitlements(
            models=tuple(str(m) for m in rights.get("models", ("*",))),
            max_seats=_optional_int(rights.get("max_seats")),
            max_nodes=_optional_int(rights.get("max_nodes")),
            max_gpus=_optional_int(rights.get("max_gpus")),
            features=features,
        ),
        key_id=str(data["key_id"]),
        usage_reporting=bool(reporting.get("required", False)),
        report_interval_days=int(reporting.get("interval_days", 30)),
        on_expiry=on_expiry,
        activation=activation,
        extra={k: v for k, v in data.items() if k not in known},
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
