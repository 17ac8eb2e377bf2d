"""The audit log read newest first, page by page: an index on (at, id), the listing's order, in place of the one on
`at` alone (with which PostgreSQL sorted every row of the log for each page).

Revision ID: 0080
Revises: 0070
Create Date: 2026-11-30 02:30:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0080"
down_revision = "0070"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_log_at_id", "audit_log", ["at", "id"])
    op.drop_index("ix_audit_log_at", table_name="audit_log")


def downgrade() -> None:
    op.create_index("ix_audit_log_at", "audit_log", ["at"])
    op.drop_index("ix_audit_log_at_id", table_name="audit_log")
