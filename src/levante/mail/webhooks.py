"""Webhooks: notifications to an HTTP endpoint, queued in the database like mail and sent
with a signed body, so that the receiver can tell they come from this deployment.

The signature is ``Levante-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>">``
under the shared secret; a receiver checks it and refuses a timestamp too far from its
clock (which stops a replay). A delivery is retried with growing waits until the endpoint
answers 2xx, and given up after :data:`MAX_ATTEMPTS`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from levante.storage import Database, utcnow
from levante.storage.models import WebhookDelivery

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "Levante-Signature"
MAX_ATTEMPTS = 8


def queue_webhook(
    session: Session, url: str, event: str, payload: dict[str, Any], *, now: datetime
) -> None:
    body = json.dumps({"type": event, "created": int(now.timestamp()), "data": payload},
                      sort_keys=True, default=str)  # fmt: skip
    session.add(
        WebhookDelivery(url=url, event=event, body=body, created_at=now, next_attempt_at=now)
    )


def sign(secret: str, body: str, at: datetime) -> str:
    stamp = int(at.timestamp())
    digest = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(
    secret: str, body: str, header: str, *, now: datetime, tolerance_seconds: int = 300
) -> bool:
    """Whether ``header`` signs ``body`` under ``secret``, within ``tolerance_seconds``."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now.timestamp() - stamp) > tolerance_seconds:
        return False
    expected = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, parts.get("v1", ""))


def deliver_webhooks(
    database: Database,
    secret: str,
    *,
    now: datetime | None = None,
    limit: int = 50,
    timeout: float = 10.0,
) -> int:
    """Send the deliveries that are due; returns how many were taken. Each is claimed by
    moving its next attempt forward before it is sent, so two processes never send it at
    once."""
    now = now or utcnow()
    with database.session() as session:
        due = list(
            session.scalars(
                select(WebhookDelivery.id)
                .where(
                    WebhookDelivery.delivered_at.is_(None),
                    WebhookDelivery.failed_at.is_(None),
                    WebhookDelivery.next_attempt_at <= now,
                )
                .order_by(WebhookDelivery.id)
                .limit(limit)
            )
        )
    sent = 0
    with httpx.Client(timeout=timeout) as client:
        for delivery_id in due:
            with database.session() as session:
                row = session.get_one(WebhookDelivery, delivery_id)
                attempt = row.attempts + 1
                wait = timedelta(seconds=min(3600, 30 * 2**row.attempts))
                claimed = session.execute(
                    update(WebhookDelivery)
                    .where(
                        WebhookDelivery.id == delivery_id,
                        WebhookDelivery.attempts == row.attempts,
                        WebhookDelivery.delivered_at.is_(None),
                    )
                    .values(attempts=attempt, next_attempt_at=utcnow() + wait)
                )
                if not getattr(claimed, "rowcount", 0):
                    continue
                url, body = row.url, row.body
            error = _post(client, url, body, secret)
            with database.session() as session:
                row = session.get_one(WebhookDelivery, delivery_id)
                if error is None:
                    row.delivered_at = utcnow()
                    sent += 1
                else:
                    row.last_error = error[:500]
                    if attempt >= MAX_ATTEMPTS:
                        row.failed_at = utcnow()
                    log.warning("webhook to %s failed (attempt %d): %s", url, attempt, error)
    return sent


def _post(client: httpx.Client, url: str, body: str, secret: str) -> str | None:
    headers = {"content-type": "application/json", "user-agent": "Levante-Webhooks"}
    if secret:
        headers[SIGNATURE_HEADER] = sign(secret, body, utcnow())
    try:
        response = client.post(url, content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"{type(exc).__name__}: {exc}"
    if 200 <= response.status_code < 300:
        return None
    return f"HTTP {response.status_code}"
