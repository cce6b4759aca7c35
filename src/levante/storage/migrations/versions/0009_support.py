"""the support desk: calendars, tickets and their events, attachments, webhook deliveries;
the support role; service-credit and services charges; the support plans' SLA policies

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 07:40:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_ROLES_BEFORE = "\"role\" IN ('owner', 'admin', 'billing', 'member')"
_ROLES_AFTER = "\"role\" IN ('owner', 'admin', 'billing', 'member', 'support')"
_KINDS_BEFORE = "\"kind\" IN ('subscription', 'proration', 'carried')"
_KINDS_AFTER = "\"kind\" IN ('subscription', 'proration', 'carried', 'service_credit', 'services')"
_EVENT_KINDS = (
    "\"kind\" IN ('opened', 'reply', 'note', 'status', 'severity', 'assigned', 'attachment', "
    "'time', 'escalation')"
)
_STATUSES = "\"status\" IN ('new', 'open', 'pending', 'solved', 'closed')"


def _sla(clock: str, first: int, after: int, resolution: int | None) -> dict[str, object]:
    return {"clock": clock, "first_response": first, "next_response": after,
            "resolution": resolution}  # fmt: skip


_H, _D = 60, 480
# The support plans' features as the catalogue shipped them before this revision, and the
# policies that replace them (a plan whose features the operator changed is left alone).
FEATURES = {
    "support-standard": ({"first_response_hours": 24}, {
        "sla": {"1": _sla("business", _H, 4 * _H, 5 * _D),
                "2": _sla("business", 4 * _H, _D, 10 * _D),
                "3": _sla("business", _D, 2 * _D, 20 * _D),
                "4": _sla("business", 2 * _D, 3 * _D, None)},
        "calendar": "business-hours",
        "credits": {"percent_per_breach": "5", "severities": [1], "cap_percent": "25"},
        "hourly_rate": {"EUR": "250", "USD": "275"},
    }),
    "support-premium": ({"first_response_hours": 4}, {
        "sla": {"1": _sla("24x7", _H, 2 * _H, 24 * _H),
                "2": _sla("24x7", 2 * _H, 4 * _H, 72 * _H),
                "3": _sla("business", 4 * _H, _D, 5 * _D),
                "4": _sla("business", _D, 2 * _D, None)},
        "calendar": "business-hours",
        "credits": {"percent_per_breach": "5", "severities": [1, 2], "cap_percent": "50"},
        "hourly_rate": {"EUR": "220", "USD": "240"},
    }),
    "support-critical": ({"first_response_hours": 1}, {
        "sla": {"1": _sla("24x7", 30, _H, 8 * _H),
                "2": _sla("24x7", _H, 2 * _H, 24 * _H),
                "3": _sla("24x7", 4 * _H, 8 * _H, 72 * _H),
                "4": _sla("24x7", 8 * _H, 24 * _H, None)},
        "calendar": "business-hours",
        "credits": {"percent_per_breach": "10", "severities": [1, 2], "cap_percent": "50"},
        "hourly_rate": {"EUR": "200", "USD": "220"},
    }),
}  # fmt: skip


def _checks(pairs: list[tuple[str, str, str]]) -> None:
    for table, name, condition in pairs:
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(name), type_="check")
            batch.create_check_constraint(op.f(name), condition)


def upgrade() -> None:
    _checks([
        ("memberships", "ck_memberships_role", _ROLES_AFTER),
        ("invitations", "ck_invitations_role", _ROLES_AFTER),
        ("charges", "ck_charges_kind", _KINDS_AFTER),
    ])  # fmt: skip
    op.create_table(
        "support_calendars",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_support_calendars_organization_id_organizations"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_calendars")),
        sa.UniqueConstraint("name", name=op.f("uq_support_calendars_name")),
        sa.UniqueConstraint("organization_id", name=op.f("uq_support_calendars_organization_id")),
    )  # fmt: skip
    op.create_table(
        "support_tickets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("opened_by", sa.String(length=32), nullable=True),
        sa.Column("requester", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("severity", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("assignee_id", sa.String(length=32), nullable=True),
        sa.Column("deployment", sa.String(length=200), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("solved_at", UTCDateTime(), nullable=True),
        sa.Column("closed_at", UTCDateTime(), nullable=True),
        sa.Column("due_at", UTCDateTime(), nullable=True),
        sa.Column("breached", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_STATUSES, name=op.f("ck_support_tickets_status")),
        sa.CheckConstraint("severity BETWEEN 1 AND 4", name=op.f("ck_support_tickets_severity")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_support_tickets_organization_id_organizations"),
        ),
        sa.ForeignKeyConstraint(
            ["opened_by"], ["users.id"], name=op.f("fk_support_tickets_opened_by_users"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["assignee_id"], ["users.id"], name=op.f("fk_support_tickets_assignee_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_tickets")),
        sa.UniqueConstraint("number", name=op.f("uq_support_tickets_number")),
    )  # fmt: skip
    op.create_index(
        "ix_support_tickets_org_created", "support_tickets", ["organization_id", "created_at"]
    )
    op.create_index("ix_support_tickets_status_due", "support_tickets", ["status", "due_at"])
    op.create_table(
        "support_ticket_events",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("author_id", sa.String(length=32), nullable=True),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("by_agent", sa.Boolean(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("dedupe_key", sa.String(length=200), nullable=True),
        sa.CheckConstraint(_EVENT_KINDS, name=op.f("ck_support_ticket_events_kind")),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["support_tickets.id"],
            name=op.f("fk_support_ticket_events_ticket_id_support_tickets"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_support_ticket_events_author_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_ticket_events")),
        sa.UniqueConstraint("dedupe_key", name=op.f("uq_support_ticket_events_dedupe_key")),
    )  # fmt: skip
    op.create_index(
        "ix_support_ticket_events_ticket_id", "support_ticket_events", ["ticket_id", "id"]
    )
    op.create_table(
        "support_attachments",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("ticket_id", sa.String(length=32), nullable=False),
        sa.Column("event_id", BigId, nullable=True),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"], ["support_tickets.id"],
            name=op.f("fk_support_attachments_ticket_id_support_tickets"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["support_ticket_events.id"],
            name=op.f("fk_support_attachments_event_id_support_ticket_events"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_support_attachments")),
    )  # fmt: skip
    op.create_index(op.f("ix_support_attachments_ticket_id"), "support_attachments", ["ticket_id"])
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("url", sa.String(length=500), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("failed_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
    )
    op.create_index(
        "ix_webhook_deliveries_due", "webhook_deliveries", ["delivered_at", "next_attempt_at"]
    )
    plans = sa.table("plans", sa.column("code", sa.String), sa.column("features", sa.JSON))
    bind = op.get_bind()
    for code, (old, new) in FEATURES.items():
        row = bind.execute(sa.select(plans.c.features).where(plans.c.code == code)).first()
        current = row[0] if row is not None else None
        if isinstance(current, str):
            current = json.loads(current)
        if row is not None and current == old:
            bind.execute(plans.update().where(plans.c.code == code).values(features=new))


def downgrade() -> None:
    plans = sa.table("plans", sa.column("code", sa.String), sa.column("features", sa.JSON))
    bind = op.get_bind()
    for code, (old, new) in FEATURES.items():
        row = bind.execute(sa.select(plans.c.features).where(plans.c.code == code)).first()
        current = json.loads(row[0]) if row is not None and isinstance(row[0], str) else None
        if row is not None and (current if current is not None else row[0]) == new:
            bind.execute(plans.update().where(plans.c.code == code).values(features=old))
    op.drop_table("webhook_deliveries")
    op.drop_table("support_attachments")
    op.drop_table("support_ticket_events")
    op.drop_table("support_tickets")
    op.drop_table("support_calendars")
    _checks([
        ("memberships", "ck_memberships_role", _ROLES_BEFORE),
        ("invitations", "ck_invitations_role", _ROLES_BEFORE),
        ("charges", "ck_charges_kind", _KINDS_BEFORE),
    ])  # fmt: skip
