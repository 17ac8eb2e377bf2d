"""Pipelines: per-project definitions with the webhook secret, runs, stages and remembered webhook deliveries.

Revision ID: 0040
Revises: 0050
Create Date: 2026-11-29 08:48:26.945440
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0040"
down_revision = "0050"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pipeline_definitions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("stages", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("trigger_on_review", sa.Boolean(), nullable=False),
        sa.Column("webhook_secret_encrypted", sa.Text(), nullable=True),
        sa.Column("webhook_owner_id", sa.Uuid(), nullable=True),
        sa.Column("webhook_rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pipeline_definitions_project_id_projects"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["webhook_owner_id"],
            ["users.id"],
            name=op.f("fk_pipeline_definitions_webhook_owner_id_users"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_definitions")),
        sa.UniqueConstraint("project_id", name=op.f("uq_pipeline_definitions_project_id")),
    )
    with op.batch_alter_table("pipeline_definitions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_pipeline_definitions_webhook_owner_id"), ["webhook_owner_id"], unique=False
        )

    op.create_table(
        "pipeline_runs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column(
            "trigger",
            sa.Enum("MANUAL", "REVIEW", "WEBHOOK", name="pipelinetrigger", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("artifact_ids", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "RUNNING",
                "WAITING",
                "SUCCEEDED",
                "FAILED",
                "CANCELLED",
                name="pipelinerunstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("triggered_by", sa.Uuid(), nullable=True),
        sa.Column("trigger_ref", sa.String(length=100), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pipeline_runs_project_id_projects"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["triggered_by"],
            ["users.id"],
            name=op.f("fk_pipeline_runs_triggered_by_users"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_runs")),
    )
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_runs_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_runs_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_runs_triggered_by"), ["triggered_by"], unique=False)

    op.create_table(
        "pipeline_stages",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("TEST", "BUILD", "DEPLOY", "APPROVAL", name="stagekind", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column(
            "environment",
            sa.Enum("DEV", "STAGING", "PROD", name="environment", native_enum=False, length=30),
            nullable=True,
        ),
        sa.Column(
            "test_type",
            sa.Enum("UNIT", "INTEGRATION", "E2E", name="testtype", native_enum=False, length=30),
            nullable=True,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "RUNNING",
                "WAITING",
                "SUCCEEDED",
                "FAILED",
                "SKIPPED",
                "CANCELLED",
                name="stagestatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("work_job_id", sa.Uuid(), nullable=True),
        sa.Column("deployment_id", sa.Uuid(), nullable=True),
        sa.Column("detail", sa.JSON().with_variant(postgresql.JSONB(), "postgresql"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_pipeline_stages_deployment_id_deployments"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["jobs.id"],
            name=op.f("fk_pipeline_stages_job_id_jobs"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_pipeline_stages_project_id_projects"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pipeline_runs.id"],
            name=op.f("fk_pipeline_stages_run_id_pipeline_runs"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["work_job_id"],
            ["jobs.id"],
            name=op.f("fk_pipeline_stages_work_job_id_jobs"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pipeline_stages")),
        sa.UniqueConstraint("run_id", "position", name="uq_pipeline_stages_run_position"),
    )
    with op.batch_alter_table("pipeline_stages", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pipeline_stages_deployment_id"), ["deployment_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_stages_job_id"), ["job_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_stages_project_id"), ["project_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_stages_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_pipeline_stages_work_job_id"), ["work_job_id"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("delivery_id", sa.String(length=100), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_id", sa.Uuid(), nullable=True),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name=op.f("fk_webhook_deliveries_project_id_projects"),
            ondelete="CASCADE",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["pipeline_runs.id"],
            name=op.f("fk_webhook_deliveries_run_id_pipeline_runs"),
            ondelete="SET NULL",
            initially="DEFERRED",
            deferrable=True,
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("project_id", "delivery_id", name="uq_webhook_deliveries_project_delivery"),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_received_at"), ["received_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_run_id"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_received_at"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("pipeline_stages", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_stages_work_job_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_stages_run_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_stages_project_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_stages_job_id"))
        batch_op.drop_index(batch_op.f("ix_pipeline_stages_deployment_id"))

    op.drop_table("pipeline_stages")
    with op.batch_alter_table("pipeline_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_triggered_by"))
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_status"))
        batch_op.drop_index(batch_op.f("ix_pipeline_runs_project_id"))

    op.drop_table("pipeline_runs")
    with op.batch_alter_table("pipeline_definitions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pipeline_definitions_webhook_owner_id"))

    op.drop_table("pipeline_definitions")
