"""The audit log: who created or revoked keys, changed limits, prices or caps, and when."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from levante.storage.models import AuditEvent, Role

__all__ = ["Actor", "AuditEvent", "list_events", "record"]


@dataclass(frozen=True, slots=True)
class Actor:
    """Who does something, as the audit log names them and as the services check them.

    ``organization_id`` is the organisation whose powers the actor holds: an API key's, or a
    signed-in user's, with ``role`` the role they hold there (an admin key acts as an admin;
    ``key`` marks a key). What each role may do is :mod:`levante.tenancy.permissions`. The
    command line has no organisation, and ``operator`` set: whoever runs it runs the
    deployment, and acts as the operator on any organisation it names. An actor with neither
    (a payment provider's webhook, a background job) may act on nothing by name.
    """

    label: str
    organization_id: str | None = None
    operator: bool = False
    role: Role | None = None
    key: bool = False

    @classmethod
    def api_key(cls, organization_id: str, api_key_id: str, *, admin: bool = False) -> Actor:
        return cls(f"api_key:{api_key_id}", organization_id, role=Role.ADMIN if admin else None,
                   key=True)  # fmt: skip

    @classmethod
    def user(cls, organization_id: str | None, user_id: str, role: Role | None = None) -> Actor:
        """A signed-in person, acting on the organisation they are working in with their
        role there (None: no role, and so no permission)."""
        return cls(f"user:{user_id}", organization_id, role=role)

    @classmethod
    def command_line(cls) -> Actor:
        return cls("cli", operator=True)

    def __str__(self) -> str:
        return self.label


def record(
    session: Session,
    *,
    organization_id: str | None,
    actor: Actor | str,
    action: str,
    target: str,
    details: dict[str, Any] | None = None,
) -> None:
    """Add an event to the caller's transaction, so it commits with the change it describes."""
    session.add(
        AuditEvent(
            organization_id=organization_id,
            actor=str(actor),
            action=action,
            target=target,
            details=details,
        )
    )


def list_events(
    session: Session,
    organization_id: str | None,
    *,
    limit: int = 100,
    before_id: int | None = None,
    action: str | None = None,
) -> list[AuditEvent]:
    """An organisation's events (every organisation's, with None), newest first; page with
    ``before_id``; ``action`` keeps those whose action starts with it ("member.")."""
    query = select(AuditEvent)
    if organization_id is not None:
        query = query.where(AuditEvent.organization_id == organization_id)
    if action:
        escaped = action.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        query = query.where(AuditEvent.action.like(f"{escaped}%", escape="\\"))
    if before_id is not None:
        query = query.where(AuditEvent.id < before_id)
    return list(session.scalars(query.order_by(AuditEvent.id.desc()).limit(limit)))
