"""the chat assistant and its people: web sessions, sign-in failures, password resets, chat
profiles, conversations, messages and their search terms; usage and reservations name the user

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:30:00
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

# The chat plans' features as the catalogue shipped them before this revision, and what they
# carry from it: the models a plan allows (None: every model served), messages per rolling
# window, a rolling weekly cap and the longest context. A plan whose features the operator
# changed is left alone.
_OLD_FREE = {"messages_per_day": 25}
_OLD_PAID = {"messages_per_day": None, "shared_workspace": False}
_OLD_TEAM = {"messages_per_day": None, "shared_workspace": True}
FEATURES = {
    "chat-free": (_OLD_FREE, {
        "models": ["smollm2-135m-instruct"], "messages_per_window": 25, "window_hours": 5,
        "messages_per_week": 150, "max_context_tokens": 2048,
    }),
    "chat-pro-monthly": (_OLD_PAID, {
        "models": None, "messages_per_window": 200, "window_hours": 5,
        "messages_per_week": 2000, "max_context_tokens": 8192,
    }),
    "chat-pro-annual": (_OLD_PAID, {
        "models": None, "messages_per_window": 200, "window_hours": 5,
        "messages_per_week": 2000, "max_context_tokens": 8192,
    }),
    "chat-team-monthly": (_OLD_TEAM, {
        "models": None, "messages_per_window": 300, "window_hours": 5,
        "messages_per_week": 3000, "max_context_tokens": 8192, "shared_workspace": True,
    }),
    "chat-team-annual": (_OLD_TEAM, {
        "models": None, "messages_per_window": 300, "window_hours": 5,
        "messages_per_week": 3000, "max_context_tokens": 8192, "shared_workspace": True,
    }),
}  # fmt: skip


def _user_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["user_id"], ["users.id"], name=op.f(f"fk_{table}_user_id_users"), ondelete="CASCADE"
    )


def upgrade() -> None:
    for table in ("usage_records", "reservations"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("user_id", sa.String(length=32), nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_{table}_user_id_users"), "users", ["user_id"], ["id"],
                ondelete="SET NULL",
            )  # fmt: skip
    op.create_index("ix_usage_records_user_started", "usage_records", ["user_id", "started_at"])
    op.create_table(
        "web_sessions",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("csrf_token", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("user_agent", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        _user_fk("web_sessions"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_web_sessions")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_web_sessions_token_hash")),
    )
    op.create_index(op.f("ix_web_sessions_user_id"), "web_sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("subject", sa.String(length=400), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_subject_at", "login_failures", ["subject", "at"])
    op.create_table(
        "password_resets",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        _user_fk("password_resets"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_password_resets")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_password_resets_token_hash")),
    )
    op.create_index(op.f("ix_password_resets_user_id"), "password_resets", ["user_id"])
    op.create_table(
        "chat_profiles",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("personal_organization_id", sa.String(length=32), nullable=True),
        sa.Column("organization_id", sa.String(length=32), nullable=True),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        _user_fk("chat_profiles"),
        sa.ForeignKeyConstraint(
            ["personal_organization_id"], ["organizations.id"],
            name=op.f("fk_chat_profiles_personal_organization_id_organizations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_chat_profiles_organization_id_organizations"), ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_chat_profiles")),
    )  # fmt: skip
    op.create_table(
        "chat_conversations",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("title_source", sa.String(length=8), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "\"title_source\" IN ('pending', 'model', 'user')",
            name=op.f("ck_chat_conversations_title_source"),
        ),
        _user_fk("chat_conversations"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_conversations")),
    )
    op.create_index(
        "ix_chat_conversations_user_updated", "chat_conversations", ["user_id", "updated_at"]
    )
    op.create_table(
        "chat_messages",
        sa.Column("id", BigId, nullable=False, autoincrement=True),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("cached_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("time_to_first_token_ms", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(
            "\"role\" IN ('user', 'assistant')", name=op.f("ck_chat_messages_role")
        ),
        sa.CheckConstraint(
            "\"state\" IN ('complete', 'streaming', 'stopped', 'failed')",
            name=op.f("ck_chat_messages_state"),
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["chat_conversations.id"],
            name=op.f("fk_chat_messages_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
        sa.UniqueConstraint(
            "conversation_id", "position", name=op.f("uq_chat_messages_conversation_id_position")
        ),
    )  # fmt: skip
    op.create_table(
        "chat_search_terms",
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column(
            "term",
            sa.String(length=64).with_variant(sa.String(length=64, collation="C"), "postgresql"),
            nullable=False,
        ),
        sa.Column("conversation_id", sa.String(length=32), nullable=False),
        _user_fk("chat_search_terms"),
        sa.ForeignKeyConstraint(
            ["conversation_id"], ["chat_conversations.id"],
            name=op.f("fk_chat_search_terms_conversation_id_chat_conversations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "user_id", "term", "conversation_id", name=op.f("pk_chat_search_terms")
        ),
    )  # fmt: skip
    op.create_index(
        op.f("ix_chat_search_terms_conversation_id"), "chat_search_terms", ["conversation_id"]
    )
    bind = op.get_bind()
    for code, (old, new) in FEATURES.items():
        row = bind.execute(
            sa.text("SELECT id, features FROM plans WHERE code = :code"), {"code": code}
        ).first()
        if row is None:
            continue
        features = row[1] if not isinstance(row[1], str) else json.loads(row[1])
        if features == old:
            bind.execute(
                sa.text("UPDATE plans SET features = :features WHERE id = :id").bindparams(
                    sa.bindparam("features", type_=sa.JSON())
                ),
                {"features": new, "id": row[0]},
            )


def downgrade() -> None:
    op.drop_table("chat_search_terms")
    op.drop_table("chat_messages")
    op.drop_table("chat_conversations")
    op.drop_table("chat_profiles")
    op.drop_table("password_resets")
    op.drop_table("login_failures")
    op.drop_table("web_sessions")
    op.drop_index("ix_usage_records_user_started", table_name="usage_records")
    for table in ("reservations", "usage_records"):
        with op.batch_alter_table(table) as batch:
            batch.drop_constraint(op.f(f"fk_{table}_user_id_users"), type_="foreignkey")
            batch.drop_column("user_id")
