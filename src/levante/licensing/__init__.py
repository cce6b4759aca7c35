"""Enterprise licensing: signed licence files, issued by the vendor from enterprise contracts
and honoured by self-hosted deployments; usage reports from those deployments back into the
vendor's ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from levante.engine import ModelNames
from levante.licensing.actions import (
    DEFAULT_REPORT_DAYS,
    MAX_REPORT_DAYS,
    OwedReport,
    Standing,
    accept_held,
    activations_of,
    bind_key,
    days_left,
    held,
    import_report,
    issue,
    license_of,
    licenses_of,
    owed_report,
    reject_held,
    release,
    renew,
    report_window,
    revoke,
    revoke_key,
    site_keys_of,
    standing,
    without_licence,
)
from levante.licensing.activation import (
    Activated,
    Activator,
    activate_node,
    deactivate_node,
    list_activations,
    machine_fingerprint,
    record_heartbeat,
    release_activation,
)
from levante.licensing.authority import (
    DEFAULT_FEATURES,
    DEFAULT_GRACE_DAYS,
    ImportResult,
    Terms,
    accept_held_report,
    contract_terms,
    get_license,
    held_reports,
    import_usage,
    issue_license,
    ledger_key,
    license_status,
    list_licenses,
    reject_held_report,
    renew_license,
    resolve_held_report,
    revoke_license,
)
from levante.licensing.envelope import (
    FEATURES,
    FORMAT,
    Entitlements,
    License,
    authenticate,
    read_issued,
    sign,
    verify,
)
from levante.licensing.guard import LicenseGuard
from levante.licensing.keys import (
    Keyring,
    SigningKey,
    decode_public,
    encode_public,
    key_id_of,
    trust,
    trusted_keys,
)
from levante.licensing.reports import (
    REPORT_FORMAT,
    ReportLine,
    UsageReport,
    build_report,
    check_report,
    read_report,
    sign_report,
    site_key,
)
from levante.licensing.sites import (
    REQUEST_FORMAT,
    ActivationRequest,
    bind_activation_request,
    bind_site_key,
    build_activation_request,
    read_activation_request,
    revoke_site_key,
    site_keys,
)
from levante.settings import Settings
from levante.storage import utcnow
from levante.storage.models import HeldReport, LicenseActivation, LicenseRecord, LicenseSiteKey


def configured_keys(settings: Settings) -> dict[str, Ed25519PublicKey]:
    """The public keys this installation trusts: the configured ones and its keyring's."""
    return trusted_keys(settings.licensing.trusted_keys, Keyring(settings.license_keys_dir))


def open_guard(settings: Settings, clock: Callable[[], datetime] = utcnow) -> LicenseGuard | None:
    """The guard of a deployment started with a licence file; None without one (open core)."""
    if settings.license_file is None:
        return None
    names = ModelNames(settings.models).as_mapping()
    return LicenseGuard(settings.license_file, configured_keys(settings), clock, names)


__all__ = [
    "DEFAULT_FEATURES",
    "DEFAULT_GRACE_DAYS",
    "DEFAULT_REPORT_DAYS",
    "FEATURES",
    "FORMAT",
    "MAX_REPORT_DAYS",
    "REPORT_FORMAT",
    "REQUEST_FORMAT",
    "Activated",
    "ActivationRequest",
    "Activator",
    "Entitlements",
    "HeldReport",
    "ImportResult",
    "Keyring",
    "License",
    "LicenseActivation",
    "LicenseGuard",
    "LicenseRecord",
    "LicenseSiteKey",
    "OwedReport",
    "ReportLine",
    "SigningKey",
    "Standing",
    "Terms",
    "UsageReport",
    "accept_held",
    "accept_held_report",
    "activate_node",
    "activations_of",
    "authenticate",
    "bind_activation_request",
    "bind_key",
    "bind_site_key",
    "build_activation_request",
    "build_report",
    "check_report",
    "configured_keys",
    "contract_terms",
    "days_left",
    "deactivate_node",
    "decode_public",
    "encode_public",
    "get_license",
    "held",
    "held_reports",
    "import_report",
    "import_usage",
    "issue",
    "issue_license",
    "key_id_of",
    "ledger_key",
    "license_of",
    "license_status",
    "licenses_of",
    "list_activations",
    "list_licenses",
    "machine_fingerprint",
    "open_guard",
    "owed_report",
    "read_activation_request",
    "read_issued",
    "read_report",
    "record_heartbeat",
    "reject_held",
    "reject_held_report",
    "release",
    "release_activation",
    "renew",
    "renew_license",
    "report_window",
    "resolve_held_report",
    "revoke",
    "revoke_key",
    "revoke_license",
    "revoke_site_key",
    "sign",
    "sign_report",
    "site_key",
    "site_keys",
    "site_keys_of",
    "standing",
    "trust",
    "trusted_keys",
    "verify",
    "without_licence",
]
