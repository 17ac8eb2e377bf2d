"""Project environments and their write-only secrets; who rejected a deployment and why.

Revision ID: 0020
Revises: 0003
Create Date: 2026-11-29 08:47:36.506752
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0020"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "environments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column(
            "environment",
            sa.Enum("DEV", "STAGING", "PROD", name="environment", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("namespace", sa.String(length=63), nullable=False),
        sa.Column("replicas", sa.Integer(), nullable=False),
        sa.Column("cpu_request", sa.String(length=20), nullable=False),
        sa.Column("cpu_limit", sa.String(length=20), nullable=False),
        sa.Column("memory_request", sa.String(length=20), nullable=False),
        sa.Column("memory_limit", sa.String(length=20), nullable=False),
        sa.Column("min_replicas", sa.Integer(), nullable=False),
        sa.Column("max_replicas", sa.Integer(), nullable=False),
        sa.Column("cpu_percent", sa.Integer(), nullable=False),
        sa.Column("memory_percent", sa.Integer(), nullable=False),
        sa.Column("variables", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_environments_project_id_projects"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_environments_updated_by_users"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environments")),
        sa.UniqueConstraint("namespace", name=op.f("uq_environments_namespace")),
        sa.UniqueConstraint("project_id", "environment", name="uq_environments_project_environment"),
    )
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_environments_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_environments_updated_by"), ["updated_by"], unique=False)

    op.create_table(
        "environment_secrets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("environment_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=128), nullable=False),
        sa.Column("value_encrypted", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["environment_id"],
            ["environments.id"],
            name=op.f("fk_environment_secrets_environment_id_environments"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_environment_secrets_project_id_projects"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["updated_by"],
            ["users.id"],
            name=op.f("fk_environment_secrets_updated_by_users"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_environment_secrets")),
        sa.UniqueConstraint("environment_id", "name", name="uq_environment_secrets_environment_name"),
    )
    with op.batch_alter_table("environment_secrets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_environment_secrets_environment_id"), ["environment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_environment_secrets_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_environment_secrets_updated_by"), ["updated_by"], unique=False)

    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rejected_by", sa.Uuid(), nullable=True))
        batch_op.add_column(sa.Column("rejection_reason", sa.Text(), nullable=True))
        batch_op.create_index(batch_op.f("ix_deployments_rejected_by"), ["rejected_by"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_deployments_rejected_by_users"),
            "users",
            ["rejected_by"],
            ["id"],
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        )


def downgrade() -> None:
    with op.batch_alter_table("deployments", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_deployments_rejected_by_users"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_deployments_rejected_by"))
        batch_op.drop_column("rejection_reason")
        batch_op.drop_column("rejected_by")

    with op.batch_alter_table("environment_secrets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_environment_secrets_updated_by"))
        batch_op.drop_index(batch_op.f("ix_environment_secrets_project_id"))
        batch_op.drop_index(batch_op.f("ix_environment_secrets_environment_id"))

    op.drop_table("environment_secrets")
    with op.batch_alter_table("environments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_environments_updated_by"))
        batch_op.drop_index(batch_op.f("ix_environments_project_id"))

    op.drop_table("environments")
