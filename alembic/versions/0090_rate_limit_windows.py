"""Login attempt counters in the database, so every worker process and replica without Redis counts the same
attempts (they were in each process's memory).

Revision ID: 0090
Revises: 0080
Create Date: 2026-12-01 01:40:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0090"
down_revision = "0080"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_windows",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("hits", sa.Integer(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_rate_limit_windows")),
    )
    with op.batch_alter_table("rate_limit_windows", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rate_limit_windows_ends_at"), ["ends_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rate_limit_windows", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rate_limit_windows_ends_at"))
    op.drop_table("rate_limit_windows")
