"""Enterprise licensing: signed licence files, issued by the vendor from enterprise contracts
and honoured by self-hosted deployments; usage reports from those deployments back into the
vendor's ledger."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from levante.engine import ModelNames
from levante.licensing.activation import (
    Activated,
    Activator,
    activate_node,
    deactivate_node,
    machine_fingerprint,
    record_heartbeat,
)
from levante.licensing.authority import (
    DEFAULT_FEATURES,
    DEFAULT_GRACE_DAYS,
    ImportResult,
    LicenseTerms,
    get_license,
    import_usage,
    issue_license,
    license_status,
    list_licenses,
)
from levante.licensing.envelope import (
    FEATURES,
    License,
    authenticate,
    read_issued,
    verify,
)
from levante.licensing.guard import LicenseGuard
from levante.licensing.keys import (
    Keyring,
    encode_public,
    trust,
    trusted_keys,
)
from levante.licensing.reports import (
    ReportLine,
    sign_report,
    site_key,
)
from levante.licensing.services import (
    Standing,
    accept_held,
    activations_of,
    bind_key,
    held,
    import_report,
    issue,
    license_of,
    licenses_of,
    owed_report,
    reject_held,
    release,
    renew,
    revoke,
    revoke_key,
    site_keys_of,
    standing,
    without_licence,
)
from levante.licensing.sites import (
    bind_site_key,
    build_activation_request,
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
    "FEATURES",
    "Activated",
    "Activator",
    "HeldReport",
    "ImportResult",
    "Keyring",
    "License",
    "LicenseActivation",
    "LicenseGuard",
    "LicenseRecord",
    "LicenseSiteKey",
    "LicenseTerms",
    "ReportLine",
    "Standing",
    "accept_held",
    "activate_node",
    "activations_of",
    "authenticate",
    "bind_key",
    "bind_site_key",
    "build_activation_request",
    "configured_keys",
    "deactivate_node",
    "encode_public",
    "get_license",
    "held",
    "import_report",
    "import_usage",
    "issue",
    "issue_license",
    "license_of",
    "license_status",
    "licenses_of",
    "list_licenses",
    "machine_fingerprint",
    "open_guard",
    "owed_report",
    "read_issued",
    "record_heartbeat",
    "reject_held",
    "release",
    "renew",
    "revoke",
    "revoke_key",
    "sign_report",
    "site_key",
    "site_keys_of",
    "standing",
    "trust",
    "trusted_keys",
    "verify",
    "without_licence",
]
