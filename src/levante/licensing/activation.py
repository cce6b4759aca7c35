"""Online activation: a node of a self-hosted deployment tells the vendor's Levante it runs a
licence, and keeps telling it.

The vendor's side (:func:`activate_node`, :func:`record_heartbeat`, :func:`deactivate_node`)
counts a licence's active nodes against ``max_nodes``: a ``floating`` node whose heartbeat has been
silent for three periods frees its place, a ``node_locked`` one keeps it until deactivated. The
licence file itself is the credential: it must verify, be in force, have been issued by this
vendor and not be revoked.

The node's side (:class:`Activator`) activates when the deployment starts, if
``licensing.activation_url`` is set: a refusal (no node left, licence revoked) stops the start;
a vendor that cannot be reached does not (the licence file alone is enough offline). It then
sends a heartbeat every ``heartbeat_hours`` and deactivates a floating node when it stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import socket
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.errors import ConfigurationError, ConflictError, NotFoundError, PermissionDeniedError
from levante.licensing import sites
from levante.licensing.envelope import License, verify
from levante.storage import alive_since, new_id
from levante.storage.models import LicenseActivation, LicenseRecord

log = logging.getLogger(__name__)


def machine_fingerprint() -> str:
    """This machine's fingerprint: the SHA-256 of its machine id (or, lacking one, of its
    host name and network address), 32 hex digits."""
    try:
        seed = Path("/etc/machine-id").read_text().strip()
    except OSError:
        seed = ""
    seed = seed or f"{socket.gethostname()}:{uuid.getnode()}"
    return hashlib.sha256(seed.encode()).hexdigest()[:32]


# -- the vendor's side ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Activated:
    activation_id: str
    license_id: str
    mode: str
    nodes_active: int
    max_nodes: int | None


def _record(
    session: Session, text: str, trusted: Mapping[str, Ed25519PublicKey], now: datetime
) -> tuple[License, LicenseRecord]:
    license = verify(text, trusted, now)
    record = session.get(LicenseRecord, license.license_id, with_for_update=True)
    if record is None:
        raise NotFoundError(f"licence '{license.license_id}' was not issued here")
    if record.revoked_at is not None:
        raise PermissionDeniedError(
            f"licence '{record.id}' was revoked on {record.revoked_at:%Y-%m-%d}",
            code="license_revoked",
        )
    return license, record


def _active(
    session: Session, license: License, now: datetime, heartbeat: timedelta
) -> list[LicenseActivation]:
    rows = session.scalars(
        select(LicenseActivation).where(
            LicenseActivation.license_id == license.license_id,
            LicenseActivation.deactivated_at.is_(None),
        )
    ).all()
    if license.activation == "node_locked":
        return list(rows)
    return [r for r in rows if r.last_seen >= alive_since(now, heartbeat)]


def activate_node(
    session: Session,
    text: str,
    fingerprint: str,
    hostname: str,
    *,
    trusted: Mapping[str, Ed25519PublicKey],
    now: datetime,
    heartbeat: timedelta,
    site_key: str | None = None,
) -> Activated:
    """Activate a node (again, if it is already: its place is kept). Past the licence's expiry,
    in its grace period, nodes that hold a place keep it and no new one is added. ``site_key``
    is the key the node's usage reports are signed with (see :mod:`levante.licensing.sites`)."""
    license, record = _record(session, text, trusted, now)
    active = _active(session, license, now, heartbeat)
    mine = session.scalar(
        select(LicenseActivation).where(
            LicenseActivation.license_id == record.id, LicenseActivation.fingerprint == fingerprint
        )
    )
    limit = license.entitlements.max_nodes
    holds_place = mine is not None and mine in active
    if not holds_place and license.status(now) != "active":
        raise PermissionDeniedError(
            f"licence '{record.id}' expired on {license.expires_at:%Y-%m-%d}: nodes already "
            "running keep running through its grace period, new ones cannot be activated",
            code="license_expired",
        )
    if not holds_place and limit is not None and len(active) >= limit:
        raise ConflictError(
            f"all {limit} node(s) of licence '{record.id}' are active (entitlement: max_nodes)",
            code="license_nodes_exhausted",
        )
    if mine is None:
        mine = LicenseActivation(
            id=new_id("act"),
            license_id=record.id,
            fingerprint=fingerprint,
            hostname=hostname[:200],
            created_at=now,
            last_seen=now,
        )
        session.add(mine)
        audit.record(
            session,
            organization_id=record.organization_id,
            actor=f"node:{hostname[:60]}",
            action="license.node_activated",
            target=record.id,
            details={"fingerprint": fingerprint, "hostname": hostname[:200]},
        )
    mine.hostname, mine.last_seen, mine.deactivated_at = hostname[:200], now, None
    if site_key is not None:
        sites.note_site_key(
            session, record, site_key, source="activation", hostname=hostname, now=now
        )
    session.flush()
    return Activated(
        mine.id,
        record.id,
        license.activation,
        len(active) + (0 if holds_place else 1),
        limit,
    )


def record_heartbeat(
    session: Session,
    activation_id: str,
    fingerprint: str,
    *,
    now: datetime,
) -> LicenseActivation:
    row = session.get(LicenseActivation, activation_id)
    if row is None or row.fingerprint != fingerprint or row.deactivated_at is not None:
        raise NotFoundError(f"activation '{activation_id}' is not active")
    record = session.get_one(LicenseRecord, row.license_id)
    if record.revoked_at is not None:
        raise PermissionDeniedError(f"licence '{record.id}' was revoked", code="license_revoked")
    if now >= record.expires_at + timedelta(days=record.grace_days):
        raise PermissionDeniedError(
            f"licence '{record.id}' expired on {record.expires_at:%Y-%m-%d} and its grace "
            "period has ended",
            code="license_expired",
        )
    row.last_seen = now
    return row


def deactivate_node(
    session: Session, activation_id: str, fingerprint: str, *, now: datetime
) -> None:
    row = session.get(LicenseActivation, activation_id)
    if row is None or row.fingerprint != fingerprint:
        raise NotFoundError(f"activation '{activation_id}' does not exist")
    row.deactivated_at = now


def list_activations(
    session: Session, license_id: str, *, include_released: bool = False
) -> list[LicenseActivation]:
    """A licence's activations, newest first (the caller has checked it may see the licence)."""
    query = (
        select(LicenseActivation)
        .where(LicenseActivation.license_id == license_id)
        .order_by(LicenseActivation.created_at.desc(), LicenseActivation.id)
    )
    if not include_released:
        query = query.where(LicenseActivation.deactivated_at.is_(None))
    return list(session.scalars(query))


def release_activation(
    session: Session, record: LicenseRecord, activation_id: str, *, now: datetime, actor: Actor
) -> LicenseActivation:
    """Free a node's place (a machine that died, or was replaced); audited."""
    row = session.get(LicenseActivation, activation_id)
    if row is None or row.license_id != record.id:
        raise NotFoundError(f"activation '{activation_id}' is not one of licence '{record.id}'")
    if row.deactivated_at is None:
        row.deactivated_at = now
        audit.record(
            session,
            organization_id=record.organization_id,
            actor=actor,
            action="license.node_released",
            target=record.id,
            details={"activation": row.id, "hostname": row.hostname},
        )
    session.flush()
    return row


# -- the node's side ------------------------------------------------------------------------------


class Activator:
    def __init__(
        self,
        url: str,
        license_text: Callable[[], str],
        *,
        fingerprint: str,
        heartbeat_hours: float,
        mode: str,
        site_key: str | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._client = httpx.Client(base_url=url.rstrip("/"), timeout=15, transport=transport)
        self._license_text = license_text
        self._fingerprint = fingerprint
        self._interval = heartbeat_hours * 3600
        self._mode = mode
        self._site_key = site_key
        self._activation: str | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Activate (a refusal stops the start; an unreachable vendor does not), then keep
        sending heartbeats."""
        try:
            response = self._client.post(
                "/v1/licensing/activations",
                json={
                    "license": self._license_text(),
                    "fingerprint": self._fingerprint,
                    "hostname": socket.gethostname(),
                    **({"site_key": self._site_key} if self._site_key else {}),
                },
            )
        except httpx.HTTPError as exc:
            log.warning("licence activation: the vendor cannot be reached (%s); running on the "
                        "licence file alone", exc)  # fmt: skip
        else:
            if response.status_code >= 400:
                raise ConfigurationError(
                    f"the vendor refused to activate this node: {_message(response)}"
                )
            self._activation = response.json()["activation_id"]
            log.info("licence activation %s", self._activation)
        self._thread = threading.Thread(target=self._beat, name="license-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self) -> None:
        while not self._stop.wait(self._interval):
            if self._activation is None:
                continue
            try:
                response = self._client.post(
                    f"/v1/licensing/activations/{self._activation}/heartbeat",
                    json={"fingerprint": self._fingerprint},
                )
                if response.status_code >= 400:
                    log.error("licence heartbeat refused: %s", _message(response))
            except httpx.HTTPError as exc:
                log.warning("licence heartbeat: the vendor cannot be reached (%s)", exc)

    def close(self) -> None:
        self._stop.set()
        if self._activation is not None and self._mode == "floating":
            # If this fails, the vendor frees a silent floating node by itself.
            with contextlib.suppress(httpx.HTTPError):
                self._client.request(
                    "DELETE",
                    f"/v1/licensing/activations/{self._activation}",
                    json={"fingerprint": self._fingerprint},
                )
        self._client.close()


def _message(response: httpx.Response) -> str:
    try:
        return str(response.json().get("message", response.text))
    except ValueError:
        return response.text[:200]
