"""What the vendor's operator, a licence holder's admins and a self-hosted deployment do with
licences: one function each, taking the acting :class:`~levante.audit.Actor`.

The vendor's side: the operator issues, renews and revokes licences, imports and judges usage
reports and binds site keys; a licence holder reads its own licences, their site keys and
nodes, and may free a node's place. The self-hosted side: the installed licence's standing,
its renewal, and the usage report it owes, over a window whose rule lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from levante import tenancy
from levante.audit import Actor
from levante.errors import InvalidRequestError, NotFoundError
from levante.licensing.activation import list_activations, release_activation
from levante.licensing.authority import (
    ImportResult,
    LicenseTerms,
    accept_held_report,
    get_license,
    held_reports,
    import_usage,
    issue_license,
    list_licenses,
    reject_held_report,
    renew_license,
    resolve_held_report,
    revoke_license,
)
from levante.licensing.envelope import License, Status
from levante.licensing.guard import LicenseGuard
from levante.licensing.keys import Keyring
from levante.licensing.reports import build_report, site_key
from levante.licensing.sites import (
    bind_activation_request,
    bind_site_key,
    revoke_site_key,
    site_keys,
)
from levante.storage import utcnow
from levante.storage.models import HeldReport, LicenseActivation, LicenseRecord, LicenseSiteKey
from levante.vocabulary import Permission

# The usage report a site owes: by default the last 30 days; at most 400 in one report.
DEFAULT_REPORT_DAYS = 30
MAX_REPORT_DAYS = 400

# -- the vendor's ---------------------------------------------------------------------------------


def licenses_of(
    session: Session, actor: Actor, organization: str | None = None
) -> list[LicenseRecord]:
    """The actor's organisation's licences; the operator sees every customer's, or one's."""
    scope = tenancy.listing_scope(
        session, actor, organization, all_by_default=True, needs=Permission.READ_INVOICES
    )
    return list_licenses(session, scope)


def license_of(session: Session, actor: Actor, license_id: str) -> LicenseRecord:
    """A licence the actor may see: its own organisation's, or any for the operator."""
    if tenancy.may(session, actor, Permission.OPERATE):
        return get_license(session, license_id, None)
    tenancy.require(session, actor, Permission.READ_INVOICES)
    return get_license(session, license_id, actor.organization_id)


def issue(
    session: Session,
    actor: Actor,
    organization: str,
    terms: LicenseTerms,
    *,
    keys_dir: Path,
    now: datetime | None = None,
) -> LicenseRecord:
    """The operator signs a licence for an organisation from its enterprise contract."""
    tenancy.require_operator(session, actor)
    org = tenancy.acting_on(session, actor, organization)
    key = Keyring(keys_dir).signing_key()
    return issue_license(session, org.id, key, terms, now=now or utcnow(), actor=actor)


def renew(
    session: Session,
    actor: Actor,
    license_id: str,
    *,
    expires_at: datetime | None,
    keys_dir: Path,
    now: datetime | None = None,
) -> LicenseRecord:
    """The operator extends a licence: the same id and terms with a later expiry."""
    tenancy.require_operator(session, actor)
    key = Keyring(keys_dir).signing_key()
    return renew_license(
        session, license_id, key, expires_at=expires_at, now=now or utcnow(), actor=actor
    )


def revoke(
    session: Session, actor: Actor, license_id: str, *, now: datetime | None = None
) -> LicenseRecord:
    tenancy.require_operator(session, actor)
    return revoke_license(session, license_id, now=now or utcnow(), actor=actor)


def import_report(
    session: Session, actor: Actor, text: str, *, now: datetime | None = None
) -> ImportResult:
    """The operator takes a site's usage report into the ledger (see :func:`import_usage`)."""
    tenancy.require_operator(session, actor)
    return import_usage(session, text, now=now or utcnow(), actor=actor)


def held(session: Session, actor: Actor, *, status: str | None = "held") -> list[HeldReport]:
    tenancy.require_operator(session, actor)
    return held_reports(session, status=status)


def accept_held(
    session: Session, actor: Actor, ref: str, *, now: datetime | None = None
) -> ImportResult:
    """Vouch for a held report (by id, or the start of its id): its site key is bound and the
    report imported."""
    tenancy.require_operator(session, actor)
    return accept_held_report(session, _held_id(session, ref), now=now or utcnow(), actor=actor)


def reject_held(
    session: Session, actor: Actor, ref: str, *, now: datetime | None = None
) -> HeldReport:
    tenancy.require_operator(session, actor)
    return reject_held_report(session, _held_id(session, ref), now=now or utcnow(), actor=actor)


def _held_id(session: Session, ref: str) -> str:
    """A held report's id, given whole (decided or not) or by its start (a held one)."""
    if session.get(HeldReport, ref) is not None:
        return ref
    return resolve_held_report(session, ref)


def site_keys_of(session: Session, actor: Actor, license_id: str) -> list[LicenseSiteKey]:
    return site_keys(session, license_of(session, actor, license_id).id)


def bind_key(
    session: Session,
    actor: Actor,
    license_id: str | None = None,
    *,
    activation_request: str | None = None,
    public_key: str | None = None,
    now: datetime | None = None,
) -> LicenseSiteKey:
    """The operator binds a site key to a licence: from an air-gapped site's activation
    request (which names its licence), or a public key given outright."""
    tenancy.require_operator(session, actor)
    now = now or utcnow()
    record = None if license_id is None else get_license(session, license_id)
    if activation_request is not None:
        row = bind_activation_request(session, activation_request, now=now, actor=actor)
        if record is not None and row.license_id != record.id:
            raise InvalidRequestError(
                "the activation request is for another licence", param="activation_request"
            )
        return row
    if public_key is not None and record is not None:
        return bind_site_key(session, record, public_key, source="operator", now=now, actor=actor)
    raise InvalidRequestError(
        "give an activation_request or a public_key", param="activation_request"
    )


def revoke_key(session: Session, actor: Actor, license_id: str, site_key_id: str) -> LicenseSiteKey:
    """Stop trusting a site key: reports it signs are refused from now on."""
    tenancy.require_operator(session, actor)
    record = get_license(session, license_id)
    return revoke_site_key(session, record, site_key_id, now=utcnow(), actor=actor)


def activations_of(
    session: Session, actor: Actor, license_id: str, *, include_released: bool = False
) -> list[LicenseActivation]:
    record = license_of(session, actor, license_id)
    return list_activations(session, record.id, include_released=include_released)


def release(
    session: Session, actor: Actor, license_id: str, activation_id: str
) -> LicenseActivation:
    """Free a node's place, for a machine that is gone (the operator, or the licence holder)."""
    record = license_of(session, actor, license_id)
    return release_activation(session, record, activation_id, now=utcnow(), actor=actor)


# -- a self-hosted deployment's -------------------------------------------------------------------


def without_licence() -> NotFoundError:
    return NotFoundError("this deployment runs without a licence (open core)")


@dataclass(frozen=True, slots=True)
class Standing:
    """Where the installed licence stands."""

    license: License
    status: Status
    days_left: int  # until expiry, or in grace, until the grace period ends
    seats_in_use: int
    warnings: list[str]


def days_left(license: License, status: Status, now: datetime) -> int:
    end = license.grace_ends_at if status in ("grace", "expired") else license.expires_at
    return max(0, (end - now).days)


def standing(session: Session, guard: LicenseGuard | None, *, now: datetime) -> Standing:
    if guard is None:
        raise without_licence()
    license, status = guard.license, guard.status()
    return Standing(
        license=license,
        status=status,
        days_left=days_left(license, status, now),
        seats_in_use=tenancy.count_seats(session),
        warnings=guard.warnings(),
    )


def report_window(start: date | None, end: date | None, today: date) -> tuple[date, date]:
    """The days a usage report covers, ``start`` to ``end`` (exclusive): by default the last
    :data:`DEFAULT_REPORT_DAYS` up to today, and never more than :data:`MAX_REPORT_DAYS`."""
    last = end or today
    first = start or last - timedelta(days=DEFAULT_REPORT_DAYS)
    if (last - first).days > MAX_REPORT_DAYS:
        raise InvalidRequestError(f"a report covers at most {MAX_REPORT_DAYS} days", param="start")
    return first, last


@dataclass(frozen=True, slots=True)
class OwedReport:
    text: str
    start: date
    end: date  # exclusive


def owed_report(
    session: Session,
    guard: LicenseGuard | None,
    *,
    site_key_file: Path,
    start: date | None = None,
    end: date | None = None,
    now: datetime | None = None,
) -> OwedReport:
    """The signed usage report this deployment owes its vendor."""
    if guard is None:
        raise without_licence()
    now = now or utcnow()
    first, last = report_window(start, end, now.date())
    text = build_report(
        session, guard.license, site_key(site_key_file), start=first, end=last, now=now
    )
    return OwedReport(text, first, last)
