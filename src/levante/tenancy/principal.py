"""Who is calling: the resolved identity behind an API key, or a signed-in chat user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from levante.audit import Actor


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, as serving and metering see it: an API key (``api_key_id``),
    or a person in the chat (``user_id``, no key), in the organisation that is billed."""

    organization_id: str
    workspace_id: str
    api_key_id: str | None
    is_admin: bool
    allowed_models: frozenset[str] | None
    expires_at: datetime | None
    user_id: str | None = None

    @property
    def actor(self) -> Actor:
        """The caller as the services and the audit log see it."""
        if self.api_key_id is None:
            return Actor.user(self.organization_id, self.user_id or "unknown")
        return Actor.api_key(self.organization_id, self.api_key_id, admin=self.is_admin)

    def may_use(self, model_id: str) -> bool:
        return self.allowed_models is None or model_id in self.allowed_models
