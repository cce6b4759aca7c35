"""What the licensing routes answer and accept: licences, usage reports and their imports,
site keys, nodes, the installed licence, and online activation."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field

from levante import licensing
from levante.licensing import HeldReport, LicenseActivation, LicenseRecord, LicenseSiteKey


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
    features: list[str] = Field(default=list(licensing.DEFAULT_FEATURES))
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


class RenewLicense(BaseModel):
    expires_at: datetime | None = Field(
        default=None, description="default: the end of the enterprise subscription's period"
    )


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

    @classmethod
    def of(cls, standing: licensing.Standing, nodes_running: int) -> InstalledLicense:
        license = standing.license
        return cls(
            license_id=license.license_id,
            licensee=license.licensee_name,
            status=standing.status,
            starts_at=license.starts_at,
            expires_at=license.expires_at,
            grace_ends_at=license.grace_ends_at,
            days_left=standing.days_left,
            on_expiry=license.on_expiry,
            entitlements=license.to_payload()["entitlements"],
            seats_in_use=standing.seats_in_use,
            nodes_running=nodes_running,
            usage_reporting=license.usage_reporting,
            warnings=standing.warnings,
        )


class InstallLicense(BaseModel):
    license: str = Field(min_length=2, max_length=100_000, description="the licence file's text")


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
