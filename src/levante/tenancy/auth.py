"""Authenticating API keys, with a short in-process cache to keep the database off the hot path."""

from __future__ import annotations

import threading
import time

from sqlalchemy import select

from levante.errors import AuthenticationError
from levante.storage import Database, utcnow
from levante.storage.models import ApiKey
from levante.tenancy.keys import hash_secret, looks_like_key
from levante.tenancy.principal import Principal


class KeyAuthenticator:
    """Resolves a bearer secret to a :class:`Principal`.

    Lookups are cached for ``cache_seconds``; revocations made through this process take effect
    at once, those made elsewhere (another gateway process, the CLI) within ``cache_seconds``
    (and the few milliseconds a refresh takes). A key in use is refreshed ahead: once its entry
    is stale, requests keep using it for up to another ``cache_seconds`` while one background
    lookup renews it, so expiry never stalls a busy key's requests.
    """

    def __init__(self, database: Database, cache_seconds: float) -> None:
        self._database = database
        self._ttl = cache_seconds
        self._cache: dict[str, tuple[float, Principal | None]] = {}
        self._lock = threading.Lock()
        self._refreshing: set[str] = set()

    def cached(self, secret: str | None) -> Principal | None:
        """The principal from the cache, if a fresh entry is there (never queries, so it is
        safe on the event loop); None means: call :meth:`authenticate` off the loop."""
        if not secret or self._ttl <= 0 or not looks_like_key(secret):
            return None
        digest = hash_secret(secret)
        with self._lock:
            hit = self._cache.get(digest)
        if hit is None or hit[1] is None:
            return None
        age = time.monotonic() - hit[0]
        if age >= 2 * self._ttl:
            return None
        if age >= self._ttl:
            self._refresh_ahead(digest)
        principal = hit[1]
        if principal.expires_at is not None and principal.expires_at <= utcnow():
            return None
        return principal

    def authenticate(self, secret: str | None) -> Principal:
        if not secret:
            raise AuthenticationError(
                "no API key: send it as 'Authorization: Bearer <key>'", code="missing_api_key"
            )
        if not looks_like_key(secret):
            raise AuthenticationError("the API key is malformed")
        digest = hash_secret(secret)
        principal = self._lookup(digest)
        if principal is None:
            raise AuthenticationError("the API key is unknown or revoked")
        if principal.expires_at is not None and principal.expires_at <= utcnow():
            raise AuthenticationError("the API key has expired", code="expired_api_key")
        return principal

    def _refresh_ahead(self, digest: str) -> None:
        with self._lock:
            if digest in self._refreshing:
                return
            self._refreshing.add(digest)

        def refresh() -> None:
            try:
                principal = self._load(digest)
                with self._lock:
                    self._cache[digest] = (time.monotonic(), principal)
            except Exception:  # the next request looks it up in its own time
                with self._lock:
                    self._cache.pop(digest, None)
            finally:
                with self._lock:
                    self._refreshing.discard(digest)

        threading.Thread(target=refresh, name="key-refresh", daemon=True).start()

    def invalidate(self) -> None:
        with self._lock:
            self._cache.clear()

    def _lookup(self, digest: str) -> Principal | None:
        now = time.monotonic()
        if self._ttl > 0:
            with self._lock:
                hit = self._cache.get(digest)
            if hit is not None and now - hit[0] < self._ttl:
                return hit[1]
        principal = self._load(digest)
        if self._ttl > 0:
            with self._lock:
                if len(self._cache) > 100_000:
                    self._cache.clear()
                self._cache[digest] = (now, principal)
        return principal

    def _load(self, digest: str) -> Principal | None:
        with self._database.session() as session:
            key = session.scalar(
                select(ApiKey).where(ApiKey.secret_hash == digest, ApiKey.revoked_at.is_(None))
            )
            if key is None:
                return None
            return Principal(
                organization_id=key.organization_id,
                workspace_id=key.workspace_id,
                api_key_id=key.id,
                is_admin=key.is_admin,
                allowed_models=frozenset(key.allowed_models) if key.allowed_models else None,
                expires_at=key.expires_at,
            )
