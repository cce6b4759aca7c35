"""Licences over HTTP.

The vendor's side: licences per customer (``/v1/admin/licenses``), issued and revoked by the
operator, read by their customer; usage reports imported by the operator. The self-hosted
side: the licence this deployment runs under (``/v1/admin/license``), its renewal, and the
usage report it owes.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from levante import licensing
from levante.api.state import (
    Admin,
    AppState,
    Flushed,
    Operator,
    State,
    is_operator,
    require_operator,
)
from levante.errors import InvalidRequestError, NotFoundError
from levante.storage.models import HeldReport, LicenseActivation, LicenseRecord, LicenseSiteKey
from levante.tenancy import count_seats, find_organization

router = APIRouter()

# -- the vendor's ---------------------------------------------------------------------------------


class LicenseView(BaseModel):
    object: Literal["license"] = "license"
    id: str
    organization_id: str
    status: Literal["active", "grace", "expired", "revoked", "not_yet_valid"]
    key_id: str
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime
    grace_days: int
    max_seats: int | None
    max_nodes: int | None
    seats_reported: int | None = Field(description="active seats in the site's latest report")
    last_report_at: datetime | None
    revoked_at: datetime | None
    file: str | None = None

    @classmethod
    def of(cls, record: LicenseRecord, now: datetime, *, file: bool = False) -> LicenseView:
        return cls(
            id=record.id,
            organization_id=record.organization_id,
            status=licensing.license_status(record, now),
            key_id=record.key_id,
            issued_at=record.issued_at,
            starts_at=record.starts_at,
            expires_at=record.expires_at,
            grace_days=record.grace_days,
            max_seats=record.max_seats,
            max_nodes=record.max_nodes,
            seats_reported=record.seats_reported,
            last_report_at=record.last_report_at,
            revoked_at=record.revoked_at,
            file=record.file if file else None,
        )


class LicenseList(BaseModel):
    object: Literal["list"] = "list"
    data: list[LicenseView]


class IssueLicense(BaseModel):
    organization: str = Field(min_length=1, max_length=64)
    expires_at: datetime | None = Field(
        default=None, description="default: the end of the enterprise subscription's period"
    )
    starts_at: datetime | None = None
    models: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        default=["*"], min_length=1
    )
    features: list[str] = Field(default=["admin_api", "usage_reporting"])
    max_seats: int | None = Field(default=None, ge=1, le=10_000_000)
    max_nodes: int | None = Field(default=None, ge=1, le=100_000)
    max_gpus: int | None = Field(default=None, ge=1, le=1_000_000)
    grace_days: int = Field(default=licensing.DEFAULT_GRACE_DAYS, ge=0, le=365)
    usage_reporting: bool = True
    on_expiry: Literal["read_only", "serve_existing"] = "read_only"


class ImportView(BaseModel):
    object: Literal["usage_import"] = "usage_import"
    report_id: str
    license_id: str
    status: Literal["imported", "duplicate", "held"] = Field(
        description="held: signed with a site key the licence has not bound; the operator "
        "accepts or rejects it"
    )
    records: int
    duplicate: bool

    @classmethod
    def of(cls, result: licensing.ImportResult) -> ImportView:
        return cls(
            report_id=result.report_id,
            license_id=result.license_id,
            status=result.status,
            records=result.records,
            duplicate=result.duplicate,
        )


class HeldReportView(BaseModel):
    object: Literal["held_usage_report"] = "held_usage_report"
    id: str
    license_id: str
    site_key: str
    period_start: date
    period_end: date
    status: Literal["held", "accepted", "rejected"]
    received_at: datetime
    decided_at: datetime | None
    decided_by: str | None

    @classmethod
    def of(cls, row: HeldReport) -> HeldReportView:
        return cls(
            id=row.id,
            license_id=row.license_id,
            site_key=row.site_key,
            period_start=row.period_start,
            period_end=row.period_end,
            status=row.status,
            received_at=row.received_at,
            decided_at=row.decided_at,
            decided_by=row.decided_by,
        )


class HeldReportList(BaseModel):
    object: Literal["list"] = "list"
    data: list[HeldReportView]


class SiteKeyView(BaseModel):
    object: Literal["license_site_key"] = "license_site_key"
    id: str
    license_id: str
    public_key: str
    status: Literal["pending", "bound", "revoked"]
    source: str
    hostname: str
    created_at: datetime
    bound_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: LicenseSiteKey) -> SiteKeyView:
        return cls(
            id=row.id,
            license_id=row.license_id,
            public_key=row.public_key,
            status=row.status,
            source=row.source,
            hostname=row.hostname,
            created_at=row.created_at,
            bound_at=row.bound_at,
            revoked_at=row.revoked_at,
        )


class SiteKeyList(BaseModel):
    object: Literal["list"] = "list"
    data: list[SiteKeyView]


class BindSiteKey(BaseModel):
    activation_request: str | None = Field(
        default=None,
        min_length=2,
        max_length=100_000,
        description="an air-gapped site's activation request file (its text)",
    )
    public_key: str | None = Field(
        default=None, min_length=40, max_length=64, description="or a base64 Ed25519 public key"
    )  # fmt: skip


class NodeView(BaseModel):
    object: Literal["license_node"] = "license_node"
    id: str
    license_id: str
    fingerprint: str
    hostname: str
    created_at: datetime
    last_seen: datetime
    released_at: datetime | None

    @classmethod
    def of(cls, row: LicenseActivation) -> NodeView:
        return cls(
            id=row.id,
            license_id=row.license_id,
            fingerprint=row.fingerprint,
            hostname=row.hostname,
            created_at=row.created_at,
            last_seen=row.last_seen,
            released_at=row.deactivated_at,
        )


class NodeList(BaseModel):
    object: Literal["list"] = "list"
    data: list[NodeView]


@router.get("/v1/admin/licenses")
def licenses(
    state: State,
    caller: Admin,
    organization: Annotated[str | None, Query(max_length=64)] = None,
) -> LicenseList:
    """Licences of the caller's organisation; the operator sees every customer's, or one's."""
    now = state.clock()
    with state.database.session() as session:
        scope: str | None = caller.organization_id
        if is_operator(session, caller):
            scope = find_organization(session, organization).id if organization else None
        elif organization is not None:
            require_operator(session, caller)
        return LicenseList(
            data=[LicenseView.of(r, now) for r in licensing.list_licenses(session, scope)]
        )


@router.post("/v1/admin/licenses", status_code=201)
def issue(body: IssueLicense, state: State, caller: Operator) -> LicenseView:
    """Issue a licence from the organisation's enterprise contract (operator only)."""
    key = licensing.Keyring(state.settings.license_keys_dir).signing_key()
    with state.database.session() as session:
        record = licensing.issue_license(
            session,
            find_organization(session, body.organization).id,
            key,
            licensing.Terms(
                models=body.models,
                features=body.features,
                max_seats=body.max_seats,
                max_nodes=body.max_nodes,
                max_gpus=body.max_gpus,
                starts_at=body.starts_at,
                expires_at=body.expires_at,
                grace_days=body.grace_days,
                usage_reporting=body.usage_reporting,
                on_expiry=body.on_expiry,
            ),
            now=state.clock(),
            actor=caller.actor,
        )
        return LicenseView.of(record, state.clock(), file=True)


@router.get("/v1/admin/licenses/usage-reports/held")
def held(
    state: State,
    caller: Operator,
    status: Literal["held", "accepted", "rejected", "all"] = "held",
) -> HeldReportList:
    """Usage reports signed with a site key their licence has not bound (operator only)."""
    with state.database.session() as session:
        rows = licensing.held_reports(session, status=None if status == "all" else status)
        return HeldReportList(data=[HeldReportView.of(r) for r in rows])


@router.post("/v1/admin/licenses/usage-reports/held/{held_id}/accept")
def accept_held(held_id: str, state: State, caller: Operator) -> ImportView:
    """Vouch for a held report's site key: the key is bound and the report imported."""
    with state.database.session() as session:
        result = licensing.accept_held_report(
            session, held_id, now=state.clock(), actor=caller.actor
        )
    return ImportView.of(result)


@router.post("/v1/admin/licenses/usage-reports/held/{held_id}/reject")
def reject_held(held_id: str, state: State, caller: Operator) -> HeldReportView:
    with state.database.session() as session:
        row = licensing.reject_held_report(session, held_id, now=state.clock(), actor=caller.actor)
        return HeldReportView.of(row)


@router.get("/v1/admin/licenses/{license_id}")
def license_detail(license_id: str, state: State, caller: Admin) -> LicenseView:
    with state.database.session() as session:
        scope = None if is_operator(session, caller) else caller.organization_id
        record = licensing.get_license(session, license_id, scope)
        return LicenseView.of(record, state.clock(), file=True)


@router.post("/v1/admin/licenses/{license_id}/revoke")
def revoke(license_id: str, state: State, caller: Operator) -> LicenseView:
    with state.database.session() as session:
        record = licensing.revoke_license(
            session, license_id, now=state.clock(), actor=caller.actor
        )
        return LicenseView.of(record, state.clock())


class RenewLicense(BaseModel):
    expires_at: datetime | None = Field(
        default=None, description="default: the end of the enterprise subscription's period"
    )


@router.post("/v1/admin/licenses/{license_id}/renew")
def renew(license_id: str, body: RenewLicense, state: State, caller: Operator) -> LicenseView:
    """Extend a licence (operator only): the same id and terms with a later expiry; the
    answer's ``file`` is what the site installs."""
    key = licensing.Keyring(state.settings.license_keys_dir).signing_key()
    with state.database.session() as session:
        record = licensing.renew_license(
            session,
            license_id,
            key,
            expires_at=body.expires_at,
            now=state.clock(),
            actor=caller.actor,
        )
        return LicenseView.of(record, state.clock(), file=True)


@router.get("/v1/admin/licenses/{license_id}/site-keys")
def list_site_keys(license_id: str, state: State, caller: Admin) -> SiteKeyList:
    """The keys a licence's usage reports may be signed with (the operator's, or the licence
    holder's own)."""
    with state.database.session() as session:
        record = _visible(session, caller, license_id)
        return SiteKeyList(
            data=[SiteKeyView.of(k) for k in licensing.site_keys(session, record.id)]
        )


@router.post("/v1/admin/licenses/{license_id}/site-keys", status_code=201)
def bind_site_key(
    license_id: str, body: BindSiteKey, state: State, caller: Operator
) -> SiteKeyView:
    """Bind a site key to the licence: from an air-gapped site's activation request, or a
    public key given outright (operator only)."""
    now, actor = state.clock(), caller.actor
    with state.database.session() as session:
        record = licensing.get_license(session, license_id)
        if body.activation_request is not None:
            row = licensing.bind_activation_request(
                session, body.activation_request, now=now, actor=actor
            )
            if row.license_id != record.id:
                raise InvalidRequestError(
                    "the activation request is for another licence", param="activation_request"
                )
        elif body.public_key is not None:
            row = licensing.bind_site_key(
                session, record, body.public_key, source="operator", now=now, actor=actor
            )
        else:
            raise InvalidRequestError(
                "give an activation_request or a public_key", param="activation_request"
            )
        return SiteKeyView.of(row)


@router.post("/v1/admin/licenses/{license_id}/site-keys/{site_key_id}/revoke")
def revoke_site_key(
    license_id: str, site_key_id: str, state: State, caller: Operator
) -> SiteKeyView:
    """Stop trusting a site key: reports it signs are refused from now on (operator only)."""
    with state.database.session() as session:
        record = licensing.get_license(session, license_id)
        row = licensing.revoke_site_key(
            session, record, site_key_id, now=state.clock(), actor=caller.actor
        )
        return SiteKeyView.of(row)


@router.get("/v1/admin/licenses/{license_id}/activations")
def activations(
    license_id: str, state: State, caller: Admin, include_released: bool = False
) -> NodeList:
    """The nodes activated online under a licence (the operator's, or the licence holder's)."""
    with state.database.session() as session:
        record = _visible(session, caller, license_id)
        rows = licensing.list_activations(session, record.id, include_released=include_released)
        return NodeList(data=[NodeView.of(r) for r in rows])


@router.post("/v1/admin/licenses/{license_id}/activations/{activation_id}/release")
def release(license_id: str, activation_id: str, state: State, caller: Admin) -> NodeView:
    """Free a node's place, for a machine that is gone (the operator, or the licence holder)."""
    with state.database.session() as session:
        record = _visible(session, caller, license_id)
        row = licensing.release_activation(
            session, record, activation_id, now=state.clock(), actor=caller.actor
        )
        return NodeView.of(row)


def _visible(session: Session, caller: Admin, license_id: str) -> LicenseRecord:
    scope = None if is_operator(session, caller) else caller.organization_id
    return licensing.get_license(session, license_id, scope)


@router.post("/v1/admin/licenses/usage-reports")
async def import_report(request: Request, state: State, caller: Operator) -> ImportView:
    """Import a self-hosted site's usage report, sent as the body (operator only). The whole
    report is refused if a line is not usage the licence could have served; one signed with a
    site key the licence has not bound is held, not imported; the same report twice is taken
    once."""
    text = (await request.body()).decode("utf-8", "replace")

    def run() -> licensing.ImportResult:
        with state.database.session() as session:
            return licensing.import_usage(session, text, now=state.clock(), actor=caller.actor)

    return ImportView.of(await anyio.to_thread.run_sync(run))


# -- this deployment's ----------------------------------------------------------------------------


class InstalledLicense(BaseModel):
    object: Literal["installed_license"] = "installed_license"
    license_id: str
    licensee: str
    status: str
    starts_at: datetime
    expires_at: datetime
    grace_ends_at: datetime
    days_left: int = Field(description="until expiry, or in grace, until the grace period ends")
    on_expiry: str
    entitlements: dict[str, Any]
    seats_in_use: int
    nodes_running: int
    usage_reporting: bool
    warnings: list[str]


class InstallLicense(BaseModel):
    license: str = Field(min_length=2, max_length=100_000, description="the licence file's text")


def _installed(state: AppState, session: Session) -> InstalledLicense:
    guard = state.license
    if guard is None:
        raise NotFoundError("this deployment runs without a licence (open core)")
    license, status, now = guard.license, guard.status(), state.clock()
    end = license.grace_ends_at if status in ("grace", "expired") else license.expires_at
    return InstalledLicense(
        license_id=license.license_id,
        licensee=license.licensee_name,
        status=status,
        starts_at=license.starts_at,
        expires_at=license.expires_at,
        grace_ends_at=license.grace_ends_at,
        days_left=max(0, (end - now).days),
        on_expiry=license.on_expiry,
        entitlements=license.to_payload()["entitlements"],
        seats_in_use=count_seats(session),
        nodes_running=len(state.ledger.live_hosts()),
        usage_reporting=license.usage_reporting,
        warnings=guard.warnings(),
    )


@router.get("/v1/admin/license")
def installed(state: State, caller: Admin) -> InstalledLicense:
    """The licence this deployment runs under: status, entitlements, seats, warnings."""
    with state.database.session() as session:
        return _installed(state, session)


@router.put("/v1/admin/license")
def install(body: InstallLicense, state: State, caller: Operator) -> InstalledLicense:
    """Install a renewed licence (offline renewal): verified, for the same licensee, then
    written over the licence file. Works in every state, read-only included."""
    with state.database.session() as session:
        if state.license is None:
            raise NotFoundError("this deployment runs without a licence (open core)")
        state.license.install(body.license)
        return _installed(state, session)


@router.get("/v1/admin/license/usage-report")
def usage_report(
    state: State,
    caller: Operator,
    _: Flushed,
    start: date | None = None,
    end: date | None = None,
) -> JSONResponse:
    """The signed usage report owed to the vendor, for whole days from ``start`` to ``end``
    (exclusive; default: the last 30 days up to today)."""
    if state.license is None:
        raise NotFoundError("this deployment runs without a licence (open core)")
    now = state.clock()
    last = end or now.date()
    first = start or last - timedelta(days=30)
    if (last - first).days > 400:
        raise InvalidRequestError("a report covers at most 400 days", param="start")
    with state.database.session() as session:
        text = licensing.build_report(
            session,
            state.license.license,
            licensing.site_key(state.settings.site_key_file),
            start=first,
            end=last,
            now=now,
        )
    return JSONResponse(
        json.loads(text),
        headers={"Content-Disposition": f'attachment; filename="usage-{first}-{last}.json"'},
    )


# -- online activation (the vendor's; the licence file is the credential) ------------------------


class Activate(BaseModel):
    license: str = Field(min_length=2, max_length=100_000)
    fingerprint: str = Field(pattern=r"^[0-9a-f]{16,64}$")
    hostname: str = Field(min_length=1, max_length=200)
    site_key: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9+/]{43}=$",
        description="the base64 public key the node signs its usage reports with",
    )


class NodeProof(BaseModel):
    fingerprint: str = Field(pattern=r"^[0-9a-f]{16,64}$")


class ActivationView(BaseModel):
    object: Literal["license_activation"] = "license_activation"
    activation_id: str
    license_id: str
    mode: str
    nodes_active: int
    max_nodes: int | None
    heartbeat_seconds: float


@router.post("/v1/licensing/activations", status_code=201)
async def activate(body: Activate, state: State) -> ActivationView:
    """Activate a node of a self-hosted deployment against its licence (a few attempts per
    licence per hour: ``licensing.activations_per_hour``)."""
    settings = state.settings.licensing
    trusted = licensing.configured_keys(state.settings)
    claimed = licensing.authenticate(body.license, trusted)
    await state.throttle.check(
        f"activation:{claimed.license_id}",
        per_hour=settings.activations_per_hour,
        burst=max(1, int(settings.activations_per_hour)),
        what="activations of this licence",
    )

    def run() -> licensing.Activated:
        with state.database.session() as session:
            return licensing.activate_node(
                session,
                body.license,
                body.fingerprint,
                body.hostname,
                trusted=trusted,
                now=state.clock(),
                heartbeat=timedelta(hours=settings.heartbeat_hours),
                site_key=body.site_key,
            )

    done = await anyio.to_thread.run_sync(run)
    hours = settings.heartbeat_hours
    return ActivationView(
        activation_id=done.activation_id,
        license_id=done.license_id,
        mode=done.mode,
        nodes_active=done.nodes_active,
        max_nodes=done.max_nodes,
        heartbeat_seconds=hours * 3600,
    )


@router.post("/v1/licensing/activations/{activation_id}/heartbeat")
def heartbeat(activation_id: str, body: NodeProof, state: State) -> dict[str, str]:
    with state.database.session() as session:
        licensing.record_heartbeat(session, activation_id, body.fingerprint, now=state.clock())
    return {"object": "license_heartbeat", "activation_id": activation_id}


@router.delete("/v1/licensing/activations/{activation_id}")
def deactivate(activation_id: str, body: NodeProof, state: State) -> dict[str, str]:
    with state.database.session() as session:
        licensing.deactivate_node(session, activation_id, body.fingerprint, now=state.clock())
    return {"object": "license_activation", "activation_id": activation_id, "status": "inactive"}
