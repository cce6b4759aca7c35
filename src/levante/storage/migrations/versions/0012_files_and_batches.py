"""files, batch jobs and their lines; usage records name the batch job they were a line of

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-03 16:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from levante.storage.types import UTCDateTime

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_PURPOSES = "('batch', 'fine-tune', 'ocr')"
_SOURCES = "('upload', 'mistral')"
_SAMPLES = "('pretrain', 'instruct', 'batch_request', 'batch_result', 'batch_error', 'ocr_input')"
_STATUSES = (
    "('QUEUED', 'RUNNING', 'SUCCESS', 'FAILED', 'TIMEOUT_EXCEEDED', 'CANCELLATION_REQUESTED', "
    "'CANCELLED')"
)
_STATES = "('pending', 'succeeded', 'failed')"


def upgrade() -> None:
    op.create_table(
        "files",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("api_key_id", sa.String(length=32), nullable=True),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("sample_type", sa.String(length=16), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("mimetype", sa.String(length=100), nullable=False),
        sa.Column("bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("num_lines", sa.Integer(), nullable=True),
        sa.Column("storage_key", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.CheckConstraint(f'"purpose" IN {_PURPOSES}', name=op.f("ck_files_purpose")),
        sa.CheckConstraint(f'"source" IN {_SOURCES}', name=op.f("ck_files_source")),
        sa.CheckConstraint(
            f'"sample_type" IS NULL OR "sample_type" IN {_SAMPLES}',
            name=op.f("ck_files_sample_type"),
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_files_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_files")),
    )  # fmt: skip
    op.create_index("ix_files_org_created", "files", ["organization_id", "created_at"])
    op.create_table(
        "batch_jobs",
        sa.Column("id", sa.String(length=40), nullable=False),
        sa.Column("organization_id", sa.String(length=32), nullable=False),
        sa.Column("workspace_id", sa.String(length=32), nullable=True),
        sa.Column("api_key_id", sa.String(length=32), nullable=True),
        sa.Column("endpoint", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("job_metadata", sa.JSON(), nullable=True),
        sa.Column("input_files", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=24), nullable=False),
        sa.Column("total_requests", sa.Integer(), nullable=False),
        sa.Column("succeeded_requests", sa.Integer(), nullable=False),
        sa.Column("failed_requests", sa.Integer(), nullable=False),
        sa.Column("output_file", sa.String(length=40), nullable=True),
        sa.Column("error_file", sa.String(length=40), nullable=True),
        sa.Column("errors", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=True),
        sa.Column("cancel_requested_at", UTCDateTime(), nullable=True),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(f'"status" IN {_STATUSES}', name=op.f("ck_batch_jobs_status")),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organizations.id"],
            name=op.f("fk_batch_jobs_organization_id_organizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_jobs")),
    )  # fmt: skip
    op.create_index("ix_batch_jobs_org_created", "batch_jobs", ["organization_id", "created_at"])
    op.create_index("ix_batch_jobs_status", "batch_jobs", ["status"])
    op.create_table(
        "batch_requests",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("job_id", sa.String(length=40), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("custom_id", sa.String(length=200), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=12), nullable=False),
        sa.Column("claimed_by", sa.String(length=32), nullable=True),
        sa.Column("claimed_at", UTCDateTime(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("error_code", sa.String(length=64), nullable=True),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.CheckConstraint(f'"state" IN {_STATES}', name=op.f("ck_batch_requests_state")),
        sa.ForeignKeyConstraint(
            ["job_id"], ["batch_jobs.id"], ondelete="CASCADE",
            name=op.f("fk_batch_requests_job_id_batch_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_requests")),
        sa.UniqueConstraint("job_id", "line", name=op.f("uq_batch_requests_job_id_line")),
    )  # fmt: skip
    op.create_index("ix_batch_requests_job_state", "batch_requests", ["job_id", "state"])
    with op.batch_alter_table("usage_records") as batch:
        batch.add_column(sa.Column("batch_job_id", sa.String(length=40), nullable=True))
        batch.create_index(op.f("ix_usage_records_batch_job_id"), ["batch_job_id"])


def downgrade() -> None:
    with op.batch_alter_table("usage_records") as batch:
        batch.drop_index(op.f("ix_usage_records_batch_job_id"))
        batch.drop_column("batch_job_id")
    op.drop_table("batch_requests")
    op.drop_table("batch_jobs")
    op.drop_table("files")
