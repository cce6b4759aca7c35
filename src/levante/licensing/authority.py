"""The vendor's side: issuing licences from enterprise contracts, revoking them, and taking
the usage reports of self-hosted sites into the ledger."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante import audit
from levante.audit import Actor
from levante.billing import currency_of, list_subscriptions
from levante.errors import ConflictError, InvalidRequestError, NotFoundError
from levante.licensing import sites
from levante.licensing.envelope import FEATURES, Entitlements, License, read_issued, sign
from levante.licensing.keys import SigningKey
from levante.licensing.reports import UsageReport, check_report, read_report
from levante.pricing import price_in_force, price_usage
from levante.storage import as_utc, new_id
from levante.storage.models import (
    HeldReport,
    LicenseRecord,
    LicenseReport,
    Organization,
    SiteKeyStatus,
    UsageRecord,
)

DEFAULT_GRACE_DAYS = 30
LONGEST_TERM = timedelta(days=3653)  # ten years
DEFAULT_FEATURES = ("admin_api", "usage_reporting")


@dataclass(frozen=True, slots=True)
class LicenseTerms:
    """What a licence grants; None takes it from the organisation's enterprise contract."""

    models: Sequence[str] = ("*",)
    features: Sequence[str] = DEFAULT_FEATURES
    max_seats: int | None = None
    max_nodes: int | None = None
    max_gpus: int | None = None
    starts_at: datetime | None = None
    expires_at: datetime | None = None
    grace_days: int = DEFAULT_GRACE_DAYS
    usage_reporting: bool = True
    report_interval_days: int = 30
    on_expiry: str = "read_only"
    activation: str = "floating"


def contract_terms(session: Session, organization_id: str, terms: LicenseTerms) -> LicenseTerms:
    """Fill what ``terms`` leaves open from the organisation's live enterprise subscriptions:
    seats from a per-seat licence, GPUs from a per-GPU one, the expiry from the end of the
    period paid for."""
    seats, gpus, ends = terms.max_seats, terms.max_gpus, terms.expires_at
    for sub, plan in list_subscriptions(session, organization_id):
        if plan.product != "enterprise":
            continue
        if plan.unit == "seat" and seats is None:
            seats = sub.quantity
        if plan.unit == "gpu" and gpus is None:
            gpus = sub.quantity
        if terms.expires_at is None:
            ends = max(ends or sub.current_period_end, sub.current_period_end)
    if ends is None:
        raise InvalidRequestError(
            "the organisation has no enterprise subscription: give the licence an expiry",
            param="expires_at",
        )
    return LicenseTerms(
        models=terms.models,
        features=terms.features,
        max_seats=seats,
        max_nodes=terms.max_nodes,
        max_gpus=gpus,
        starts_at=terms.starts_at,
        expires_at=ends,
        grace_days=terms.grace_days,
        usage_reporting=terms.usage_reporting,
        report_interval_days=terms.report_interval_days,
        on_expiry=terms.on_expiry,
        activation=terms.activation,
    )


def issue_license(
    session: Session,
    organization_id: str,
    key: SigningKey,
    terms: LicenseTerms,
    *,
    now: datetime,
    actor: Actor,
) -> LicenseRecord:
    """Sign a licence for the organisation and keep it; the record's ``file`` is what the
    customer installs."""
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFoundError(f"organisation '{organization_id}' does not exist")
    terms = contract_terms(session, organization_id, terms)
    unknown = set(terms.features) - set(FEATURES)
    if unknown:
        raise InvalidRequestError(
            f"unknown feature(s) {', '.join(sorted(unknown))}; the features are "
            f"{', '.join(FEATURES)}",
            param="features",
        )
    for name, value in (("max_seats", terms.max_seats), ("max_nodes", terms.max_nodes),
                        ("max_gpus", terms.max_gpus)):  # fmt: skip
        if value is not None and value < 1:
            raise InvalidRequestError(f"{name} must be at least 1", param=name)
    if not 0 <= terms.grace_days <= 365:
        raise InvalidRequestError("grace_days is between 0 and 365", param="grace_days")
    if terms.on_expiry not in ("read_only", "serve_existing"):
        raise InvalidRequestError("on_expiry is read_only or serve_existing", param="on_expiry")
    if terms.activation not in ("floating", "node_locked"):
        raise InvalidRequestError("activation is floating or node_locked", param="activation")
    starts = _utc(terms.starts_at, "starts_at") or now
    expires = _utc(terms.expires_at, "expires_at")
    assert expires is not None  # contract_terms gives one or raises
    if expires <= starts:
        raise InvalidRequestError("a licence must expire after it starts", param="expires_at")
    _within_term(expires, now)
    license = License(
        license_id=new_id("lic"),
        licensee_id=org.id,
        licensee_name=org.name,
        issued_at=now.replace(microsecond=0),
        starts_at=starts.replace(microsecond=0),
        expires_at=expires.replace(microsecond=0),
        grace_days=terms.grace_days,
        entitlements=Entitlements(
            models=tuple(terms.models) or ("*",),
            max_seats=terms.max_seats,
            max_nodes=terms.max_nodes,
            max_gpus=terms.max_gpus,
            features=tuple(sorted(set(terms.features))),
        ),
        key_id=key.key_id,
        usage_reporting=terms.usage_reporting,
        report_interval_days=terms.report_interval_days,
        on_expiry="serve_existing" if terms.on_expiry == "serve_existing" else "read_only",
        activation="node_locked" if terms.activation == "node_locked" else "floating",
    )
    record = LicenseRecord(
        id=license.license_id,
        organization_id=org.id,
        key_id=key.key_id,
        file=sign(license, key),
        issued_at=license.issued_at,
        starts_at=license.starts_at,
        expires_at=license.expires_at,
        grace_days=license.grace_days,
        max_seats=license.entitlements.max_seats,
        max_nodes=license.entitlements.max_nodes,
    )
    session.add(record)
    audit.record(
        session,
        organization_id=org.id,
        actor=actor,
        action="license.issued",
        target=record.id,
        details={
            "expires_at": license.expires_at.isoformat(),
            "max_seats": license.entitlements.max_seats,
            "models": list(license.entitlements.models),
            "key_id": key.key_id,
        },
    )
    session.flush()
    return record


def renew_license(
    session: Session,
    license_id: str,
    key: SigningKey,
    *,
    expires_at: datetime | None,
    now: datetime,
    actor: Actor,
) -> LicenseRecord:
    """Extend a licence: the same licence id and terms, signed again with a later expiry
    (default: the end of the enterprise contract's period paid for). The site installs the new
    file over the old one and the vendor's record follows it, so one licence stays one."""
    record = get_license(session, license_id)
    if record.revoked_at is not None:
        raise ConflictError(
            f"licence '{record.id}' is revoked: issue a new one instead", code="license_revoked"
        )
    current = read_issued(record.file)
    if expires_at is None:
        expires_at = contract_terms(session, record.organization_id, LicenseTerms()).expires_at
    expires = _utc(expires_at, "expires_at")
    assert expires is not None  # contract_terms gives one or raises
    if expires <= current.expires_at:
        raise InvalidRequestError(
            f"a renewal must expire after the licence does ({current.expires_at:%Y-%m-%d})",
            param="expires_at",
        )
    _within_term(expires, now)
    renewed = replace(
        current,
        issued_at=now.replace(microsecond=0),
        expires_at=expires.replace(microsecond=0),
        key_id=key.key_id,
    )
    before = record.expires_at
    record.file, record.key_id = sign(renewed, key), key.key_id
    record.issued_at, record.expires_at = renewed.issued_at, renewed.expires_at
    audit.record(
        session,
        organization_id=record.organization_id,
        actor=actor,
        action="license.renewed",
        target=record.id,
        details={"from": before.isoformat(), "to": renewed.expires_at.isoformat(),
                 "key_id": key.key_id},
    )  # fmt: skip
    session.flush()
    return record


def license_status(record: LicenseRecord, now: datetime) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if now < record.starts_at:
        return "not_yet_valid"
    if now < record.expires_at:
        return "active"
    if now < record.expires_at + timedelta(days=record.grace_days):
        return "grace"
    return "expired"


def list_licenses(session: Session, organization_id: str | None = None) -> list[LicenseRecord]:
    query = select(LicenseRecord).order_by(LicenseRecord.issued_at.desc())
    if organization_id is not None:
        query = query.where(LicenseRecord.organization_id == organization_id)
    return list(session.scalars(query))


def get_license(
    session: Session, license_id: str, organization_id: str | None = None
) -> LicenseRecord:
    record = session.get(LicenseRecord, license_id)
    if record is None or (
        organization_id is not None and record.organization_id != organization_id
    ):
        raise NotFoundError(f"licence '{license_id}' does not exist")
    return record


def revoke_license(
    session: Session, license_id: str, *, now: datetime, actor: Actor
) -> LicenseRecord:
    """Revoke a licence: it can no longer activate nodes online, and its usage reports are
    still taken (they are owed); a site that never goes online learns of it at renewal."""
    record = get_license(session, license_id)
    if record.revoked_at is None:
        record.revoked_at = now
        audit.record(
            session,
            organization_id=record.organization_id,
            actor=actor,
            action="license.revoked",
            target=record.id,
        )
    return record


@dataclass(frozen=True, slots=True)
class ImportResult:
    report_id: str
    license_id: str
    records: int  # usage records added now
    status: str  # imported | duplicate | held

    @property
    def duplicate(self) -> bool:
        return self.status == "duplicate"


def import_usage(session: Session, text: str, *, now: datetime, actor: Actor) -> ImportResult:
    """Take a site's signed usage report into the ledger, priced like API usage in the
    organisation's currency (product ``enterprise``), so it appears on its invoice.

    The whole report is refused unless every line is usage the licence could have served
    (:func:`check_report`). A report signed with a key the licence has not bound is held for
    the operator (:func:`accept_held_report`), not imported; one signed with a revoked key is
    refused. A report, or a day and model already taken from another report, is taken once."""
    report = read_report(text)
    record = session.get(LicenseRecord, report.license_id)
    if record is None or record.organization_id != report.licensee_id:
        raise NotFoundError(
            f"the report is for licence '{report.license_id}', which was not issued here"
        )
    check_report(report, read_issued(record.file), now=now)
    if session.get(LicenseReport, report.report_id) is not None:
        return ImportResult(report.report_id, record.id, 0, "duplicate")
    key = sites.find_site_key(session, record.id, report.site_key)
    if key is not None and key.status == SiteKeyStatus.REVOKED:
        raise ConflictError(
            f"the report is signed with site key '{key.id}', which was revoked for this licence",
            code="usage_report_site_key_revoked",
        )
    if key is None or key.status != SiteKeyStatus.BOUND:
        _hold(session, record, report, text, now=now)
        return ImportResult(report.report_id, record.id, 0, "held")
    return _import(session, record, report, now=now, actor=actor)


def _import(
    session: Session, record: LicenseRecord, report: UsageReport, *, now: datetime, actor: Actor
) -> ImportResult:
    added = _add_usage(session, record, report)
    session.add(
        LicenseReport(
            id=report.report_id,
            license_id=record.id,
            period_start=report.start,
            period_end=report.end,
            records=added,
            imported_at=now,
        )
    )
    if record.last_report_at is None or now >= record.last_report_at:
        record.seats_reported, record.last_report_at = report.active_seats, now
    audit.record(
        session,
        organization_id=record.organization_id,
        actor=actor,
        action="license.usage_imported",
        target=record.id,
        details={"report": report.report_id[:16], "records": added,
                 "period": f"{report.start}..{report.end}"},
    )  # fmt: skip
    session.flush()
    return ImportResult(report.report_id, record.id, added, "imported")


def _hold(
    session: Session, record: LicenseRecord, report: UsageReport, text: str, *, now: datetime
) -> None:
    if session.get(HeldReport, report.report_id) is not None:
        return
    session.add(
        HeldReport(
            id=report.report_id,
            license_id=record.id,
            site_key=report.site_key,
            text=text,
            period_start=report.start,
            period_end=report.end,
            status="held",
            received_at=now,
        )
    )
    audit.record(
        session,
        organization_id=record.organization_id,
        actor="site",
        action="license.usage_held",
        target=record.id,
        details={"report": report.report_id[:16], "period": f"{report.start}..{report.end}"},
    )
    session.flush()


def held_reports(
    session: Session, *, status: str | None = "held", organization_id: str | None = None
) -> list[HeldReport]:
    query = select(HeldReport).order_by(HeldReport.received_at.desc())
    if status is not None:
        query = query.where(HeldReport.status == status)
    if organization_id is not None:
        query = query.join(LicenseRecord, LicenseRecord.id == HeldReport.license_id).where(
            LicenseRecord.organization_id == organization_id
        )
    return list(session.scalars(query))


def resolve_held_report(session: Session, ref: str) -> str:
    """The id of the held report whose id is, or starts with, ``ref`` (8 characters at least)."""
    ref = ref.strip().lower()
    matches = [] if len(ref) < 8 else [h.id for h in held_reports(session) if h.id.startswith(ref)]
    if len(matches) != 1:
        raise NotFoundError(
            f"'{ref}' names {len(matches)} held reports: give more of its id" if matches
            else f"no held report's id starts with '{ref}' (give 8 characters or more)"
        )  # fmt: skip
    return matches[0]


def _held(session: Session, held_id: str) -> tuple[HeldReport, LicenseRecord]:
    held = session.get(HeldReport, held_id, with_for_update=True)
    if held is None:
        raise NotFoundError(f"held report '{held_id}' does not exist")
    if held.status != "held":
        raise ConflictError(f"report '{held_id}' was already {held.status}", code="already_decided")
    return held, session.get_one(LicenseRecord, held.license_id)


def accept_held_report(
    session: Session, held_id: str, *, now: datetime, actor: Actor
) -> ImportResult:
    """The operator vouches for a held report's site key: it is bound, and the report imported."""
    held, record = _held(session, held_id)
    sites.bind_site_key(session, record, held.site_key, source="held_report", now=now, actor=actor)
    held.status, held.decided_at, held.decided_by = "accepted", now, actor.label
    return import_usage(session, held.text, now=now, actor=actor)


def reject_held_report(
    session: Session, held_id: str, *, now: datetime, actor: Actor
) -> HeldReport:
    """The operator refuses a held report: nothing of it reaches the ledger."""
    held, record = _held(session, held_id)
    held.status, held.decided_at, held.decided_by = "rejected", now, actor.label
    audit.record(
        session,
        organization_id=record.organization_id,
        actor=actor,
        action="license.usage_rejected",
        target=record.id,
        details={"report": held.id[:16]},
    )
    session.flush()
    return held


def ledger_key(license_id: str, day: date, model: str) -> str:
    """The usage record id of one licence, day and model: a digest of all three, so that no
    two lines share one however long their model ids are."""
    digest = hashlib.sha256(f"{license_id}\n{day.isoformat()}\n{model}".encode()).hexdigest()
    return f"lic:{digest[:60]}"


def _add_usage(session: Session, record: LicenseRecord, report: UsageReport) -> int:
    currency = currency_of(session, record.organization_id, "USD")
    added = 0
    for line in report.lines:
        request_id = ledger_key(record.id, line.day, line.model)
        if session.scalar(select(UsageRecord.id).where(UsageRecord.request_id == request_id)):
            continue
        start = datetime.combine(line.day, time(), UTC)
        price = price_in_force(session, line.model, currency, start)
        cost = price_usage(
            price,
            prompt_tokens=line.prompt_tokens,
            cached_tokens=line.cached_tokens,
            completion_tokens=line.completion_tokens,
        )
        session.add(
            UsageRecord(
                request_id=request_id,
                organization_id=record.organization_id,
                product="enterprise",
                endpoint="self-hosted",
                model=line.model,
                prompt_tokens=line.prompt_tokens,
                completion_tokens=line.completion_tokens,
                cached_tokens=line.cached_tokens,
                status="completed",
                duration_ms=0,
                request_metadata={"license_id": record.id, "requests": line.requests},
                started_at=start,
                finished_at=start + timedelta(days=1),
                usage_date=line.day,
                price_id=cost.price_id,
                currency=cost.currency,
                input_cost_nanos=cost.input_nanos,
                cached_cost_nanos=cost.cached_nanos,
                output_cost_nanos=cost.output_nanos,
                cost_nanos=cost.total_nanos,
            )
        )
        added += 1
    return added


def _utc(when: datetime | None, param: str) -> datetime | None:
    return None if when is None else as_utc(when, param=param)


def _within_term(expires: datetime, now: datetime) -> None:
    """A licence is signed for at most :data:`LONGEST_TERM` from now (renewed after that):
    its grace period and every date a site works out from it stay real dates."""
    if expires > now + LONGEST_TERM:
        raise InvalidRequestError(
            f"a licence runs at most {LONGEST_TERM.days // 365} years from now; renew it later",
            param="expires_at",
        )
