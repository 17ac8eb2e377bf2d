"""Initial schema: users, projects, requirements, PRDs, tasks, artifacts, tests, deployments, jobs, audit, AI config.

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:08:53
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# persistence.tables.UtcDateTime and Json, spelled as the plain types they store.
TIMESTAMP_TZ = sa.DateTime(timezone=True)
JSON_DOCUMENT = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def deferred_fk(name: str, column: str, target: str, ondelete: str) -> sa.ForeignKeyConstraint:
    """Every foreign key is checked at commit (DEFERRABLE INITIALLY DEFERRED), as in persistence.tables."""
    return sa.ForeignKeyConstraint(
        [column], [target], name=name, ondelete=ondelete, deferrable=True, initially="DEFERRED"
    )


def upgrade() -> None:
    op.create_table(
        "ai_model_configs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("provider", sa.String(length=30), nullable=False),
        sa.Column("model", sa.String(length=100), nullable=False),
        sa.Column("base_url", sa.String(length=500), nullable=True),
        sa.Column("api_key_encrypted", sa.Text(), nullable=True),
        sa.Column("max_tokens", sa.Integer(), nullable=False),
        sa.Column("temperature", sa.Numeric(precision=3, scale=2, asdecimal=False), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_ai_model_configs"),
        sa.UniqueConstraint("name", name="uq_ai_model_configs_name"),
    )
    op.create_table(
        "prompt_templates",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("identifier", sa.String(length=100), nullable=False),
        sa.Column("category", sa.String(length=50), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("variables", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_prompt_templates"),
        sa.UniqueConstraint("identifier", name="uq_prompt_templates_identifier"),
        sa.Index("ix_prompt_templates_category", "category"),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("username", sa.String(length=50), nullable=False),
        sa.Column("email", sa.String(length=100), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "SUPER_ADMIN",
                "PROJECT_ADMIN",
                "DEVELOPER",
                "TESTER",
                "GUEST",
                name="role",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("department", sa.String(length=50), nullable=True),
        sa.Column(
            "status", sa.Enum("ACTIVE", "INACTIVE", name="userstatus", native_enum=False, length=30), nullable=False
        ),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("last_login_at", TIMESTAMP_TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
        sa.UniqueConstraint("username", name="uq_users_username"),
        sa.Index("ix_users_role", "role"),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("action", sa.String(length=60), nullable=False),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("before", JSON_DOCUMENT, nullable=True),
        sa.Column("after", JSON_DOCUMENT, nullable=True),
        sa.Column("request_id", sa.String(length=64), nullable=True),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_audit_log_actor_id_users", "actor_id", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_log"),
        sa.Index("ix_audit_log_action", "action"),
        sa.Index("ix_audit_log_actor_id", "actor_id"),
        sa.Index("ix_audit_log_at", "at"),
        sa.Index("ix_audit_log_entity", "entity_type", "entity_id"),
    )
    op.create_table(
        "projects",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "PLANNING",
                "ACTIVE",
                "ON_HOLD",
                "COMPLETED",
                "ARCHIVED",
                name="projectstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("tech_stack", JSON_DOCUMENT, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("start_date", sa.Date(), nullable=True),
        sa.Column("end_date", sa.Date(), nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_projects_created_by_users", "created_by", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
        sa.Index("ix_projects_created_by", "created_by"),
        sa.Index("ix_projects_status", "status"),
    )
    op.create_table(
        "deployments",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column(
            "environment",
            sa.Enum("DEV", "STAGING", "PROD", name="environment", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("version", sa.String(length=50), nullable=False),
        sa.Column("artifact_ids", JSON_DOCUMENT, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "AWAITING_APPROVAL",
                "IN_PROGRESS",
                "SUCCEEDED",
                "FAILED",
                "ROLLED_BACK",
                name="deploymentstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("k8s_namespace", sa.String(length=63), nullable=True),
        sa.Column("k8s_deployment_name", sa.String(length=100), nullable=True),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("deployed_by", sa.Uuid(), nullable=True),
        sa.Column("rollback_to", sa.Uuid(), nullable=True),
        sa.Column("logs", sa.Text(), nullable=False),
        sa.Column("started_at", TIMESTAMP_TZ, nullable=True),
        sa.Column("completed_at", TIMESTAMP_TZ, nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_deployments_approved_by_users", "approved_by", "users.id", "SET NULL"),
        deferred_fk("fk_deployments_deployed_by_users", "deployed_by", "users.id", "SET NULL"),
        deferred_fk("fk_deployments_project_id_projects", "project_id", "projects.id", "CASCADE"),
        deferred_fk("fk_deployments_rollback_to_deployments", "rollback_to", "deployments.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_deployments"),
        sa.Index("ix_deployments_approved_by", "approved_by"),
        sa.Index("ix_deployments_deployed_by", "deployed_by"),
        sa.Index("ix_deployments_environment", "environment"),
        sa.Index("ix_deployments_project_id", "project_id"),
        sa.Index("ix_deployments_rollback_to", "rollback_to"),
        sa.Index("ix_deployments_status", "status"),
    )
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=50), nullable=False),
        sa.Column("subject_type", sa.String(length=50), nullable=False),
        sa.Column("subject_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=True),
        sa.Column("payload", JSON_DOCUMENT, nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED", name="jobstatus", native_enum=False, length=30
            ),
            nullable=False,
        ),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("result", JSON_DOCUMENT, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Numeric(precision=12, scale=6), nullable=False),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("started_at", TIMESTAMP_TZ, nullable=True),
        sa.Column("finished_at", TIMESTAMP_TZ, nullable=True),
        sa.Column("heartbeat_at", TIMESTAMP_TZ, nullable=True),
        deferred_fk("fk_jobs_project_id_projects", "project_id", "projects.id", "CASCADE"),
        deferred_fk("fk_jobs_requested_by_users", "requested_by", "users.id", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_jobs"),
        sa.Index("ix_jobs_project_id", "project_id"),
        sa.Index("ix_jobs_requested_by", "requested_by"),
        sa.Index("ix_jobs_status", "status"),
        sa.Index("ix_jobs_subject", "subject_type", "subject_id"),
    )
    op.create_table(
        "project_members",
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("added_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_project_members_project_id_projects", "project_id", "projects.id", "CASCADE"),
        deferred_fk("fk_project_members_user_id_users", "user_id", "users.id", "CASCADE"),
        sa.PrimaryKeyConstraint("project_id", "user_id", name="pk_project_members"),
        sa.Index("ix_project_members_user_id", "user_id"),
    )
    op.create_table(
        "requirements",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column(
            "priority",
            sa.Enum("LOW", "MEDIUM", "HIGH", "CRITICAL", name="priority", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "DRAFT",
                "ANALYZING",
                "APPROVED",
                "IN_PROGRESS",
                "DONE",
                "REJECTED",
                name="requirementstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("prd_document_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("assigned_to", sa.Uuid(), nullable=True),
        sa.Column("meta", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_requirements_assigned_to_users", "assigned_to", "users.id", "SET NULL"),
        deferred_fk("fk_requirements_created_by_users", "created_by", "users.id", "SET NULL"),
        deferred_fk("fk_requirements_project_id_projects", "project_id", "projects.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_requirements"),
        sa.Index("ix_requirements_assigned_to", "assigned_to"),
        sa.Index("ix_requirements_created_by", "created_by"),
        sa.Index("ix_requirements_project_id", "project_id"),
        sa.Index("ix_requirements_project_status", "project_id", "status"),
    )
    op.create_table(
        "prd_documents",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("requirement_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sections", JSON_DOCUMENT, nullable=False),
        sa.Column("ai_generated", sa.Boolean(), nullable=False),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("review", JSON_DOCUMENT, nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_prd_documents_created_by_users", "created_by", "users.id", "SET NULL"),
        deferred_fk("fk_prd_documents_project_id_projects", "project_id", "projects.id", "CASCADE"),
        deferred_fk("fk_prd_documents_requirement_id_requirements", "requirement_id", "requirements.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_prd_documents"),
        sa.UniqueConstraint("requirement_id", "version", name="uq_prd_documents_requirement_version"),
        sa.Index("ix_prd_documents_created_by", "created_by"),
        sa.Index("ix_prd_documents_project_id", "project_id"),
        sa.Index("ix_prd_documents_requirement_id", "requirement_id"),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("requirement_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column(
            "task_type",
            sa.Enum(
                "BACKEND",
                "FRONTEND",
                "TESTING",
                "DEVOPS",
                "DESIGN",
                "DOCS",
                name="tasktype",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "PENDING",
                "IN_PROGRESS",
                "IN_REVIEW",
                "DONE",
                "BLOCKED",
                "CANCELLED",
                name="taskstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column(
            "priority",
            sa.Enum("LOW", "MEDIUM", "HIGH", "CRITICAL", name="priority", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("assigned_to", sa.Uuid(), nullable=True),
        sa.Column("estimated_hours", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("actual_hours", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("meta", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("completed_at", TIMESTAMP_TZ, nullable=True),
        deferred_fk("fk_tasks_assigned_to_users", "assigned_to", "users.id", "SET NULL"),
        deferred_fk("fk_tasks_parent_id_tasks", "parent_id", "tasks.id", "CASCADE"),
        deferred_fk("fk_tasks_project_id_projects", "project_id", "projects.id", "CASCADE"),
        deferred_fk("fk_tasks_requirement_id_requirements", "requirement_id", "requirements.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_tasks"),
        sa.Index("ix_tasks_assigned_to", "assigned_to"),
        sa.Index("ix_tasks_parent_id", "parent_id"),
        sa.Index("ix_tasks_project_id", "project_id"),
        sa.Index("ix_tasks_requirement_id", "requirement_id"),
        sa.Index("ix_tasks_status_assigned_to", "status", "assigned_to"),
    )
    op.create_table(
        "code_artifacts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("file_path", sa.String(length=500), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("language", sa.String(length=30), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("storage_key", sa.String(length=200), nullable=False),
        sa.Column("checksum", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("lines_of_code", sa.Integer(), nullable=False),
        sa.Column("generated_by", sa.String(length=50), nullable=False),
        sa.Column(
            "review_status",
            sa.Enum(
                "PENDING",
                "APPROVED",
                "CHANGES_REQUESTED",
                "REJECTED",
                name="reviewstatus",
                native_enum=False,
                length=30,
            ),
            nullable=False,
        ),
        sa.Column("review_findings", JSON_DOCUMENT, nullable=False),
        sa.Column("review_comments", sa.Text(), nullable=True),
        sa.Column("reviewed_by", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TIMESTAMP_TZ, nullable=False),
        sa.Column("updated_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_code_artifacts_created_by_users", "created_by", "users.id", "SET NULL"),
        deferred_fk("fk_code_artifacts_project_id_projects", "project_id", "projects.id", "CASCADE"),
        deferred_fk("fk_code_artifacts_reviewed_by_users", "reviewed_by", "users.id", "SET NULL"),
        deferred_fk("fk_code_artifacts_task_id_tasks", "task_id", "tasks.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_code_artifacts"),
        sa.UniqueConstraint("task_id", "file_path", "version", name="uq_code_artifacts_task_path_version"),
        sa.Index("ix_code_artifacts_created_by", "created_by"),
        sa.Index("ix_code_artifacts_project_id", "project_id"),
        sa.Index("ix_code_artifacts_reviewed_by", "reviewed_by"),
        sa.Index("ix_code_artifacts_task_id", "task_id"),
        sa.Index("ix_code_artifacts_task_version", "task_id", "version"),
    )
    op.create_table(
        "task_dependencies",
        sa.Column("task_id", sa.Uuid(), nullable=False),
        sa.Column("depends_on_id", sa.Uuid(), nullable=False),
        deferred_fk("fk_task_dependencies_depends_on_id_tasks", "depends_on_id", "tasks.id", "CASCADE"),
        deferred_fk("fk_task_dependencies_task_id_tasks", "task_id", "tasks.id", "CASCADE"),
        sa.PrimaryKeyConstraint("task_id", "depends_on_id", name="pk_task_dependencies"),
        sa.Index("ix_task_dependencies_depends_on_id", "depends_on_id"),
    )
    op.create_table(
        "test_results",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("artifact_id", sa.Uuid(), nullable=False),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column(
            "test_type",
            sa.Enum("UNIT", "INTEGRATION", "E2E", name="testtype", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum("PASSED", "FAILED", "ERROR", name="testrunstatus", native_enum=False, length=30),
            nullable=False,
        ),
        sa.Column("framework", sa.String(length=50), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("passed", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("coverage_percent", sa.Numeric(precision=5, scale=2), nullable=True),
        sa.Column("execution_time_ms", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("report", JSON_DOCUMENT, nullable=False),
        sa.Column("executed_by", sa.Uuid(), nullable=True),
        sa.Column("executed_at", TIMESTAMP_TZ, nullable=False),
        deferred_fk("fk_test_results_artifact_id_code_artifacts", "artifact_id", "code_artifacts.id", "CASCADE"),
        deferred_fk("fk_test_results_executed_by_users", "executed_by", "users.id", "SET NULL"),
        deferred_fk("fk_test_results_project_id_projects", "project_id", "projects.id", "CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_test_results"),
        sa.Index("ix_test_results_artifact_id", "artifact_id"),
        sa.Index("ix_test_results_executed_by", "executed_by"),
        sa.Index("ix_test_results_project_id", "project_id"),
    )


def downgrade() -> None:
    op.drop_table("test_results")
    op.drop_table("task_dependencies")
    op.drop_table("code_artifacts")
    op.drop_table("tasks")
    op.drop_table("prd_documents")
    op.drop_table("requirements")
    op.drop_table("project_members")
    op.drop_table("jobs")
    op.drop_table("deployments")
    op.drop_table("projects")
    op.drop_table("audit_log")
    op.drop_table("users")
    op.drop_table("prompt_templates")
    op.drop_table("ai_model_configs")
