"""The AI review's recommended decision, kept on the reviewed artifact.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24 21:16:06.617624
"""

from __future__ import annotations

import sqlalchemy as sa

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("code_artifacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("review_recommendation", sa.String(length=30), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("code_artifacts", schema=None) as batch_op:
        batch_op.drop_column("review_recommendation")
