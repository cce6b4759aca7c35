"""Usage reports from self-hosted sites: what a licensed deployment served, per day and model,
and how many seats it had, signed with the site's own key.

A site makes an Ed25519 key pair the first time it reports (``site_key_file``) and signs each
report with it; the report carries the public half. The vendor pins the first key a licence
reports with and refuses reports signed by another, so a report cannot be altered or made up
by anyone without the site's key. Reports cover whole days that have ended: a day's numbers
are final, and reporting a day twice reports the same numbers.

Format 1 (``"format": "levante-usage-report/1"``): the envelope has ``site_key`` (base64 raw
Ed25519 public key), ``payload`` (JSON text), ``payload_sha256`` and ``signature`` (base64, over
``b"levante-usage-report/1\\n" + payload``).
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from levante.errors import InvalidRequestError, ReportInvalidError
from levante.licensing.envelope import License
from levante.licensing.keys import encode_public, read_private_key, write_private_key
from levante.storage.models import UsageRecord
from levante.tenancy import count_seats

REPORT_FORMAT = "levante-usage-report/1"
# A day's count for one model above this is not believable from one site, and a ledger row
# holds 32-bit token counts.
MAX_LINE_TOKENS = 2_000_000_000
MAX_LINE_REQUESTS = 1_000_000_000
MAX_REPORT_LINES = 100_000


@dataclass(frozen=True, slots=True)
class ReportLine:
    day: date
    model: str
    requests: int
    prompt_tokens: int
    cached_tokens: int
    completion_tokens: int


@dataclass(frozen=True, slots=True)
class UsageReport:
    report_id: str  # the SHA-256 of the payload
    license_id: str
    licensee_id: str
    site_key: str
    start: date
    end: date  # exclusive
    active_seats: int
    lines: tuple[ReportLine, ...]


def check_report(report: UsageReport, license: License, *, now: datetime) -> None:
    """Refuse the whole report unless every line is usage the licence could have served:
    counts that are whole, non-negative and bounded; days inside the licence's validity
    (grace included), inside the report's own period, and over by now; entitled models."""
    first, last = license.starts_at.date(), license.grace_ends_at.date()
    if report.start >= report.end:
        raise ReportInvalidError("the report's period is empty: its start is not before its end")
    if report.end > now.date():
        raise ReportInvalidError(f"the report's period ends after today ({now.date()})")
    if not 0 <= report.active_seats <= MAX_LINE_REQUESTS:
        raise ReportInvalidError("the report's active_seats is not a believable count")
    if len(report.lines) > MAX_REPORT_LINES:
        raise ReportInvalidError(f"a report holds at most {MAX_REPORT_LINES} lines")
    seen: set[tuple[date, str]] = set()
    for number, line in enumerate(report.lines, start=1):
        where = f"line {number} ({line.day}, {line.model})"
        counts = {
            "requests": (line.requests, MAX_LINE_REQUESTS),
            "prompt_tokens": (line.prompt_tokens, MAX_LINE_TOKENS),
            "cached_tokens": (line.cached_tokens, MAX_LINE_TOKENS),
            "completion_tokens": (line.completion_tokens, MAX_LINE_TOKENS),
        }
        for name, (value, bound) in counts.items():
            if not 0 <= value <= bound:
                raise ReportInvalidError(f"{where}: {name} is {value}, outside 0..{bound}")
        if line.cached_tokens > line.prompt_tokens:
            raise ReportInvalidError(f"{where}: more cached tokens than prompt tokens")
        if not report.start <= line.day < report.end:
            raise ReportInvalidError(
                f"{where}: the day is outside the report's period {report.start}..{report.end}"
            )
        if not first <= line.day <= last:
            raise ReportInvalidError(
                f"{where}: the licence was not in force that day ({first}..{last})"
            )
        if not license.entitlements.allows_model(line.model):
            raise ReportInvalidError(f"{where}: the licence does not entitle this model")
        if (line.day, line.model) in seen:
            raise ReportInvalidError(f"{where}: the day and model appear twice")
        seen.add((line.day, line.model))


def site_key(path: Path) -> Ed25519PrivateKey:
    """The site's key, made on first use (readable by its owner only)."""
    if path.exists():
        existing = read_private_key(path)
        if existing is None:
            raise InvalidRequestError(f"{path} is not an Ed25519 private key")
        return existing
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    write_private_key(path, key)
    return key


def build_report(
    session: Session,
    license: License,
    key: Ed25519PrivateKey,
    *,
    start: date,
    end: date,
    now: datetime,
) -> str:
    """A signed report of the usage served from ``start`` to ``end`` (exclusive), which must
    not include today."""
    if end > now.date():
        raise InvalidRequestError("a report covers days that have ended: its end is today at most")
    if start >= end:
        raise InvalidRequestError("a report covers at least one day: start before end")
    rows = session.execute(
        select(
            UsageRecord.usage_date,
            UsageRecord.model,
            func.count(),
            func.sum(UsageRecord.prompt_tokens),
            func.sum(UsageRecord.cached_tokens),
            func.sum(UsageRecord.completion_tokens),
        )
        .where(UsageRecord.usage_date >= start, UsageRecord.usage_date < end)
        .group_by(UsageRecord.usage_date, UsageRecord.model)
        .order_by(UsageRecord.usage_date, UsageRecord.model)
    ).all()
    lines = [
        ReportLine(day, model, int(count), int(prompt or 0), int(cached or 0), int(done or 0))
        for day, model, count, prompt, cached, done in rows
    ]
    return sign_report(
        license, key, start=start, end=end, now=now, active_seats=count_seats(session), lines=lines
    )


def sign_report(
    license: License,
    key: Ed25519PrivateKey,
    *,
    start: date,
    end: date,
    now: datetime,
    active_seats: int,
    lines: Sequence[ReportLine],
) -> str:
    """The signed report file of ``lines`` (a day and model each), as a site sends it."""
    payload = json.dumps(
        {
            "format": REPORT_FORMAT,
            "license_id": license.license_id,
            "licensee_id": license.licensee_id,
            "generated_at": now.isoformat(),
            "period": {"start": start.isoformat(), "end": end.isoformat()},
            "active_seats": active_seats,
            "lines": [
                {
                    "date": line.day.isoformat(),
                    "model": line.model,
                    "requests": line.requests,
                    "prompt_tokens": line.prompt_tokens,
                    "cached_tokens": line.cached_tokens,
                    "completion_tokens": line.completion_tokens,
                }
                for line in lines
            ],
        },
        indent=1,
        sort_keys=True,
    )
    envelope = {
        "format": REPORT_FORMAT,
        "site_key": encode_public(key.public_key()),
        "payload": payload,
        "payload_sha256": hashlib.sha256(payload.encode()).hexdigest(),
        "signature": base64.b64encode(key.sign(_message(payload))).decode(),
    }
    return json.dumps(envelope, indent=2) + "\n"


def read_report(text: str) -> UsageReport:
    """A report whose signature matches the site key it carries (the caller checks that key
    is the one the licence reports with)."""
    try:
        envelope = json.loads(text)
        payload, site = envelope["payload"], envelope["site_key"]
        signature = base64.b64decode(envelope["signature"], validate=True)
        if envelope.get("format") != REPORT_FORMAT:
            raise ReportInvalidError(f"the report's format is not {REPORT_FORMAT}")
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(site, validate=True))
    except ReportInvalidError:
        raise
    except (ValueError, KeyError, TypeError):
        raise ReportInvalidError("the usage report is not a report file") from None
    digest = hashlib.sha256(str(payload).encode()).hexdigest()
    if digest != envelope.get("payload_sha256"):
        raise ReportInvalidError(
            "the report's contents were changed after it was signed", code="usage_report_changed"
        )
    try:
        public.verify(signature, _message(payload))
    except InvalidSignature:
        raise ReportInvalidError(
            "the report's signature does not match its site key", code="usage_report_signature"
        ) from None
    try:
        data: dict[str, Any] = json.loads(payload)
        return UsageReport(
            report_id=digest,
            license_id=str(data["license_id"]),
            licensee_id=str(data["licensee_id"]),
            site_key=site,
            start=date.fromisoformat(data["period"]["start"]),
            end=date.fromisoformat(data["period"]["end"]),
            active_seats=_count(data["active_seats"]),
            lines=tuple(
                ReportLine(
                    day=date.fromisoformat(line["date"]),
                    model=_text(line["model"]),
                    requests=_count(line["requests"]),
                    prompt_tokens=_count(line["prompt_tokens"]),
                    cached_tokens=_count(line["cached_tokens"]),
                    completion_tokens=_count(line["completion_tokens"]),
                )
                for line in data["lines"]
            ),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ReportInvalidError(f"the signed report cannot be read: {exc}") from None


def _count(value: Any) -> int:
    """A whole number as JSON writes one: ``3`` and not ``3.7``, ``"3"`` or ``true``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{value!r} is not a whole number")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= 200:
        raise ValueError(f"{value!r} is not a model id")
    return value


def _message(payload: str) -> bytes:
    return f"{REPORT_FORMAT}\n{payload}".encode()
