"""Who is calling: the resolved identity behind an API key."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from levante.audit import Actor


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller, as the API and metering see it."""

    organization_id: str
    workspace_id: str
    api_key_id: str
    is_admin: bool
    allowed_models: frozenset[str] | None
    expires_at: datetime | None

    @property
    def actor(self) -> Actor:
        """The caller as the services and the audit log see it."""
        return Actor.api_key(self.organization_id, self.api_key_id)

    def may_use(self, model_id: str) -> bool:
        return self.allowed_models is None or model_id in self.allowed_models
