"""Which site keys the vendor trusts with a licence's usage reports.

Anyone holding a copy of a licence file knows its licence and organisation ids, so a report's
signature proves only that it was signed by *some* key. The vendor therefore imports reports
signed by a key it has bound to the licence, and holds any other for the operator:

- an online activation carries the node's site key; the first key a licence activates with is
  bound, later new ones wait as ``pending``;
- an air-gapped site writes an activation request (its public key, signed with its private
  key) that is carried to the vendor and bound when the operator confirms it;
- the operator can bind a key outright, revoke one (its reports are refused from then on), and
  so rotate a site's key. Every change is audited.

Format 1 of an activation request (``"format": "levante-activation-request/1"``): ``site_key``
(base64 raw Ed25519 public key), ``payload`` (JSON text with ``license_id``, ``licensee_id``,
``fingerprint``, ``hostname``, ``created_at``) and ``signature`` (base64, over
``b"levante-activation-request/1\\n" + payload``).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.errors import (
    ActivationRequestInvalidError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
)
from levante.licensing.envelope import License
from levante.licensing.keys import encode_public
from levante.storage import new_id
from levante.storage.models import LicenseRecord, LicenseSiteKey, SiteKeyStatus

REQUEST_FORMAT = "levante-activation-request/1"


@dataclass(frozen=True, slots=True)
class ActivationRequest:
    license_id: str
    licensee_id: str
    site_key: str
    fingerprint: str
    hostname: str
    created_at: datetime


def build_activation_request(
    license: License,
    key: Ed25519PrivateKey,
    *,
    fingerprint: str,
    hostname: str,
    now: datetime,
) -> str:
    """What an air-gapped site carries to the vendor so that its reports are trusted."""
    payload = json.dumps(
        {
            "format": REQUEST_FORMAT,
            "license_id": license.license_id,
            "licensee_id": license.licensee_id,
            "fingerprint": fingerprint,
            "hostname": hostname[:200],
            "created_at": now.isoformat(),
        },
        indent=1,
        sort_keys=True,
    )
    envelope = {
        "format": REQUEST_FORMAT,
        "site_key": encode_public(key.public_key()),
        "payload": payload,
        "signature": base64.b64encode(key.sign(_message(payload))).decode(),
    }
    return json.dumps(envelope, indent=2) + "\n"


def read_activation_request(text: str) -> ActivationRequest:
    """A request whose signature was made with the private half of the key it carries."""
    try:
        envelope = json.loads(text)
        if envelope.get("format") != REQUEST_FORMAT:
            raise ActivationRequestInvalidError(f"the request's format is not {REQUEST_FORMAT}")
        payload, site = str(envelope["payload"]), str(envelope["site_key"])
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(site, validate=True))
        signature = base64.b64decode(envelope["signature"], validate=True)
    except ActivationRequestInvalidError:
        raise
    except (ValueError, KeyError, TypeError, AttributeError):
        raise ActivationRequestInvalidError("this is not an activation request file") from None
    try:
        public.verify(signature, _message(payload))
    except InvalidSignature:
        raise ActivationRequestInvalidError(
            "the request's signature does not match its site key"
        ) from None
    try:
        data: dict[str, Any] = json.loads(payload)
        return ActivationRequest(
            license_id=str(data["license_id"]),
            licensee_id=str(data["licensee_id"]),
            site_key=site,
            fingerprint=str(data["fingerprint"]),
            hostname=str(data["hostname"])[:200],
            created_at=datetime.fromisoformat(str(data["created_at"])),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ActivationRequestInvalidError(f"the signed request cannot be read: {exc}") from None


def check_public_key(text: str) -> str:
    """``text`` if it is a base64 raw Ed25519 public key."""
    try:
        Ed25519PublicKey.from_public_bytes(base64.b64decode(text, validate=True))
    except ValueError:
        raise InvalidRequestError(
            "a site key is a base64 Ed25519 public key (32 bytes)", param="public_key"
        ) from None
    return text


def site_keys(session: Session, license_id: str) -> list[LicenseSiteKey]:
    return list(
        session.scalars(
            select(LicenseSiteKey)
            .where(LicenseSiteKey.license_id == license_id)
            .order_by(LicenseSiteKey.created_at, LicenseSiteKey.id)
        )
    )


def find_site_key(session: Session, license_id: str, public_key: str) -> LicenseSiteKey | None:
    return session.scalar(
        select(LicenseSiteKey).where(
            LicenseSiteKey.license_id == license_id, LicenseSiteKey.public_key == public_key
        )
    )


def note_site_key(
    session: Session,
    record: LicenseRecord,
    public_key: str,
    *,
    source: str,
    hostname: str,
    now: datetime,
) -> LicenseSiteKey:
    """Record a key a site has shown (an online activation): bound if the licence has no bound
    key yet, pending otherwise; a key already known keeps its status."""
    known = find_site_key(session, record.id, public_key)
    if known is not None:
        return known
    has_bound = session.scalar(
        select(LicenseSiteKey.id).where(
            LicenseSiteKey.license_id == record.id,
            LicenseSiteKey.status == SiteKeyStatus.BOUND,
        )
    )
    row = LicenseSiteKey(
        id=new_id("sk"),
        license_id=record.id,
        public_key=check_public_key(public_key),
        status=SiteKeyStatus.PENDING if has_bound else SiteKeyStatus.BOUND,
        source=source,
        hostname=hostname[:200],
        created_at=now,
        bound_at=None if has_bound else now,
    )
    session.add(row)
    audit.record(
        session,
        organization_id=record.organization_id,
        actor=f"node:{hostname[:60]}",
        action="license.site_key_bound" if row.status == SiteKeyStatus.BOUND
        else "license.site_key_seen",
        target=record.id,
        details={"site_key": row.id, "source": source},
    )  # fmt: skip
    session.flush()
    return row


def bind_site_key(
    session: Session,
    record: LicenseRecord,
    public_key: str,
    *,
    source: str,
    now: datetime,
    actor: Actor,
    hostname: str = "",
) -> LicenseSiteKey:
    """Trust ``public_key`` with the licence's reports (the operator's decision)."""
    row = find_site_key(session, record.id, check_public_key(public_key))
    if row is None:
        row = LicenseSiteKey(
            id=new_id("sk"),
            license_id=record.id,
            public_key=public_key,
            status=SiteKeyStatus.PENDING,
            source=source,
            hostname=hostname[:200],
            created_at=now,
        )
        session.add(row)
    if row.status != SiteKeyStatus.BOUND:
        row.status, row.bound_at, row.revoked_at = SiteKeyStatus.BOUND, now, None
        audit.record(
            session,
            organization_id=record.organization_id,
            actor=actor,
            action="license.site_key_bound",
            target=record.id,
            details={"site_key": row.id, "source": source},
        )
    session.flush()
    return row


def bind_activation_request(
    session: Session, text: str, *, now: datetime, actor: Actor
) -> LicenseSiteKey:
    """Confirm an air-gapped site's activation request: its key is bound to its licence."""
    request = read_activation_request(text)
    record = session.get(LicenseRecord, request.license_id)
    if record is None or record.organization_id != request.licensee_id:
        raise NotFoundError(
            f"the request is for licence '{request.license_id}', which was not issued here"
        )
    if record.revoked_at is not None:
        raise ConflictError(f"licence '{record.id}' is revoked", code="license_revoked")
    return bind_site_key(
        session,
        record,
        request.site_key,
        source="activation_request",
        now=now,
        actor=actor,
        hostname=request.hostname,
    )


def revoke_site_key(
    session: Session, record: LicenseRecord, site_key_id: str, *, now: datetime, actor: Actor
) -> LicenseSiteKey:
    """Stop trusting a site key: reports it signs are refused from now on."""
    row = session.get(LicenseSiteKey, site_key_id)
    if row is None or row.license_id != record.id:
        raise NotFoundError(f"site key '{site_key_id}' is not one of licence '{record.id}'")
    if row.status != SiteKeyStatus.REVOKED:
        row.status, row.revoked_at = SiteKeyStatus.REVOKED, now
        audit.record(
            session,
            organization_id=record.organization_id,
            actor=actor,
            action="license.site_key_revoked",
            target=record.id,
            details={"site_key": row.id},
        )
    session.flush()
    return row


def _message(payload: str) -> bytes:
    return f"{REQUEST_FORMAT}\n{payload}".encode()
