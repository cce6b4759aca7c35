"""Authenticating API keys, with a short in-process cache to keep the database off the hot path."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante.caching import RefreshingCache
from levante.errors import AuthenticationError
from levante.storage import Database, Topic, utcnow
from levante.storage.models import ApiKey
from levante.tenancy.keys import hash_secret, looks_like_key
from levante.tenancy.principal import Principal


class KeyAuthenticator:
    """Resolves a bearer secret to a :class:`Principal`.

    Lookups are cached for ``cache_seconds``; revocations made through this process take effect
    at once, those made elsewhere (another gateway process, the CLI) within ``cache_seconds``
    of the revocation's commit, never later. A key in use is refreshed ahead: in the second half
    of that time one background lookup renews it, so expiry never stalls a busy key's
    requests.
    """

    def __init__(self, database: Database, cache_seconds: float) -> None:
        self._database = database
        # Unknown keys are cached too (as None): a flood of bad keys does not reach the database.
        self._cache: RefreshingCache[str, Principal | None] = RefreshingCache(
            self._load, cache_seconds, name="key"
        )
        database.listen(Topic.API_KEYS, lambda _organization: self.invalidate())

    def cached(self, secret: str | None) -> Principal | None:
        """The principal from the cache, if a fresh entry is there (never queries, so it is
        safe on the event loop); None means: call :meth:`authenticate` off the loop."""
        if not secret or not looks_like_key(secret):
            return None
        hit = self._cache.cached(hash_secret(secret))
        principal = hit.value if hit is not None else None
        if principal is None:
            return None
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
        principal = self._cache.get(hash_secret(secret))
        if principal is None:
            raise AuthenticationError("the API key is unknown or revoked")
        if principal.expires_at is not None and principal.expires_at <= utcnow():
            raise AuthenticationError("the API key has expired", code="expired_api_key")
        return principal

    def invalidate(self) -> None:
        self._cache.invalidate()

    def _load(self, digest: str) -> Principal | None:
        with self._database.session() as session:
            key = session.scalar(
                select(ApiKey).where(ApiKey.secret_hash == digest, ApiKey.revoked_at.is_(None))
            )
            return None if key is None else _principal(key)


def key_principal(session: Session, api_key_id: str) -> Principal:
    """The caller a stored key stands for now (work it started, such as a batch job, goes on
    in its name); a 401 once the key is revoked or expired."""
    key = session.get(ApiKey, api_key_id)
    if key is None or key.revoked_at is not None:
        raise AuthenticationError("the API key that made this request has been revoked")
    if key.expires_at is not None and key.expires_at <= utcnow():
        raise AuthenticationError("the API key that made this request has expired")
    return _principal(key)


def _principal(key: ApiKey) -> Principal:
    return Principal(
        organization_id=key.organization_id,
        workspace_id=key.workspace_id,
        api_key_id=key.id,
        is_admin=key.is_admin,
        allowed_models=frozenset(key.allowed_models) if key.allowed_models else None,
        expires_at=key.expires_at,
    )
