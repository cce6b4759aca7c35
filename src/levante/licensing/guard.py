"""The self-hosted side: a deployment started with a licence file enforces it.

- Models: only entitled models are loaded; asking for another answers 403 naming the
  ``models`` entitlement.
- Seats: adding a user beyond ``max_seats`` answers 403; nodes: a gateway process that would
  make more hosts than ``max_nodes`` does not start.
- Features: the admin API needs ``admin_api``; later features (chat app, SSO, fine-tuning) ask
  :meth:`LicenseGuard.require`.
- Time: during the grace period after expiry everything works and warnings are logged and
  shown (``GET /v1/admin/license``). After it the deployment refuses every change and, if the
  licence says ``read_only`` (the default), inference too; with ``serve_existing`` existing
  keys keep their inference. Reads always work, and a renewed licence can always be installed.
  Nothing is deleted or rewritten.

The file is read again when it changes (a renewal dropped in place), at most every few
seconds.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from levante.errors import ConfigurationError, NotLicensedError, PermissionDeniedError
from levante.licensing.envelope import License, Status, authenticate, verify

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
_RECHECK_SECONDS = 5.0
INFERENCE_PATHS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/fim/completions",
    "/v1/embeddings",
)


class LicenseGuard:
    def __init__(
        self,
        path: Path,
        trusted: Mapping[str, Ed25519PublicKey],
        clock: Clock,
        model_names: Mapping[str, str] | None = None,
    ) -> None:
        self.path = path
        self._trusted = dict(trusted)
        self._clock = clock
        self._names = dict(model_names or {})  # every configured name -> model id
        self._lock = threading.Lock()
        self._checked = 0.0
        self._mtime = 0.0
        self._license = self._read()
        self._warned: str | None = None

    # -- the licence ------------------------------------------------------------------------------

    def _read(self) -> License:
        try:
            text = self.path.read_text()
            self._mtime = os.stat(self.path).st_mtime
        except OSError as exc:
            raise ConfigurationError(f"cannot read the licence file {self.path}: {exc}") from None
        license = authenticate(text, self._trusted)
        if license.status(self._clock()) == "not_yet_valid":
            raise ConfigurationError(
                f"the licence in {self.path} is not valid before {license.starts_at:%Y-%m-%d}"
            )
        return license

    @property
    def license(self) -> License:
        """The licence in force, read again if its file changed (a renewal)."""
        now = time.monotonic()
        if now - self._checked >= _RECHECK_SECONDS:
            with self._lock:
                self._checked = now
                try:
                    changed = os.stat(self.path).st_mtime != self._mtime
                    if changed:
                        self._license = self._read()
                        log.info("licence %s loaded from %s", self._license.license_id, self.path)
                except Exception:
                    log.exception("the licence file changed but cannot be used; keeping the last")
        return self._license

    def install(self, text: str) -> License:
        """Replace the licence file with a renewal (verified, for the same licensee), atomically."""
        renewal = verify(text, self._trusted, self._clock())
        current = self.license
        if renewal.licensee_id != current.licensee_id:
            raise NotLicensedError(
                f"the new licence is for '{renewal.licensee_name}', not '{current.licensee_name}'"
            )
        temporary = self.path.with_suffix(self.path.suffix + ".new")
        temporary.write_text(text)
        os.replace(temporary, self.path)
        with self._lock:
            self._license, self._mtime = renewal, os.stat(self.path).st_mtime
        return renewal

    def status(self) -> Status:
        status = self.license.status(self._clock())
        if status == "grace" and self._warned != "grace":
            self._warned = "grace"
            log.warning(
                "the licence %s expired on %s; the grace period ends on %s",
                self.license.license_id, self.license.expires_at, self.license.grace_ends_at,
            )  # fmt: skip
        return status

    def warnings(self) -> list[str]:
        license, status = self.license, self.status()
        if status == "grace":
            return [
                f"the licence expired on {license.expires_at:%Y-%m-%d}; everything works until "
                f"the grace period ends on {license.grace_ends_at:%Y-%m-%d}: install a renewal"
            ]
        if status == "expired":
            mode = "read-only" if license.on_expiry == "read_only" else "serving existing keys"
            return [f"the licence and its grace period have ended: the deployment is {mode}"]
        return []

    # -- checks ---------------------------------------------------------------------------------

    def entitles(self, model_id: str) -> bool:
        return self.license.entitlements.allows_model(model_id)

    def check_model(self, name: str) -> None:
        model_id = self._names.get(name, name)
        if not self.entitles(model_id):
            raise NotLicensedError(
                f"model '{model_id}' is not in this deployment's licence (entitlement: models)",
                param="model",
            )

    def require(self, feature: str) -> None:
        if feature not in self.license.entitlements.features:
            raise NotLicensedError(
                f"this deployment's licence does not include '{feature}' (entitlement: "
                f"features.{feature})"
            )

    def check_seats(self, seats_after: int) -> None:
        limit = self.license.entitlements.max_seats
        if limit is not None and seats_after > limit:
            raise NotLicensedError(
                f"the licence allows {limit} seat(s) and they are all taken (entitlement: "
                "max_seats)"
            )

    def check_nodes(self, hosts: Iterable[str]) -> None:
        limit = self.license.entitlements.max_nodes
        running = sorted(set(hosts))
        if limit is not None and len(running) > limit:
            raise ConfigurationError(
                f"the licence allows {limit} node(s) and this one would make {len(running)} "
                f"({', '.join(running)}) (entitlement: max_nodes)"
            )

    def check_request(self, method: str, path: str) -> None:
        """After the grace period: reads pass, changes and (unless the licence serves existing
        keys) inference do not; installing a renewal always does."""
        if self.status() != "expired" or path == "/v1/admin/license":
            return
        if method in ("GET", "HEAD", "OPTIONS"):
            return
        license = self.license
        if path in INFERENCE_PATHS and license.on_expiry == "serve_existing":
            return
        raise PermissionDeniedError(
            f"the licence expired on {license.expires_at:%Y-%m-%d} and its grace period ended on "
            f"{license.grace_ends_at:%Y-%m-%d}; the deployment is read-only until a renewed "
            "licence is installed",
            code="license_expired",
        )
