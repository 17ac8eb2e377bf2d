"""Table definitions, portable across SQLite and PostgreSQL (UUID, JSON/JSONB, tz-aware timestamps)."""

from __future__ import annotations

from datetime import UTC

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    DateTime,
    Enum,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.types import TypeDecorator

from domain import enums
from domain.validation import CLIENT_ADDRESS_LENGTH, FILE_NAME_LENGTH, FILE_PATH_LENGTH, REQUEST_ID_LENGTH

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

Json = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """A timezone-aware timestamp on every backend (SQLite stores none; read values come back as UTC)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given for a timezone-aware column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def Ts():
    return UtcDateTime()


def En(enum):
    return Enum(enum, native_enum=False, length=30, validate_strings=True)


def ref(target: str, ondelete: str | None = None) -> ForeignKey:
    """Foreign keys are checked at commit: the ORM maps no relationships, so it does not order inserts."""
    return ForeignKey(target, ondelete=ondelete, deferrable=True, initially="DEFERRED")


def fk(target: str, ondelete: str | None = None, **kw) -> Column:
    return Column(Uuid, ref(target, ondelete), index=True, **kw)


users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("username", String(50), nullable=False, unique=True),
    Column("email", String(100), nullable=False, unique=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", En(enums.Role), nullable=False, index=True),
    Column("department", String(50)),
    Column("status", En(enums.UserStatus), nullable=False),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Column("last_login_at", Ts()),
)

projects = Table(
    "projects",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("description", Text),
    Column("status", En(enums.ProjectStatus), nullable=False, index=True),
    Column("tech_stack", Json, nullable=False),
    fk("users.id", "SET NULL", name="created_by"),
    Column("start_date", Date),
    Column("end_date", Date),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
)

project_members = Table(
    "project_members",
    metadata,
    Column("project_id", Uuid, ref("projects.id", "CASCADE"), primary_key=True),
    Column("user_id", Uuid, ref("users.id", "CASCADE"), primary_key=True, index=True),
    Column("added_at", Ts(), nullable=False),
)

requirements = Table(
    "requirements",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("title", String(200), nullable=False),
    Column("content", Text, nullable=False),
    Column("priority", En(enums.Priority), nullable=False),
    Column("status", En(enums.RequirementStatus), nullable=False),
    Column("prd_document_id", Uuid),
    fk("users.id", "SET NULL", name="created_by"),
    fk("users.id", "SET NULL", name="assigned_to"),
    Column("meta", Json, nullable=False),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Index("ix_requirements_project_status", "project_id", "status"),
)

prd_documents = Table(
    "prd_documents",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("requirements.id", "CASCADE", name="requirement_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("version", Integer, nullable=False),
    Column("sections", Json, nullable=False),
    Column("ai_generated", Boolean, nullable=False),
    Column("approved", Boolean, nullable=False),
    Column("review", Json, nullable=False),
    fk("users.id", "SET NULL", name="created_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    UniqueConstraint("requirement_id", "version", name="uq_prd_documents_requirement_version"),
)

tasks = Table(
    "tasks",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("requirements.id", "CASCADE", name="requirement_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text),
    Column("task_type", En(enums.TaskType), nullable=False),
    Column("status", En(enums.TaskStatus), nullable=False),
    Column("priority", En(enums.Priority), nullable=False),
    fk("users.id", "SET NULL", name="assigned_to"),
    Column("estimated_hours", Numeric(5, 2)),
    Column("actual_hours", Numeric(5, 2)),
    fk("tasks.id", "CASCADE", name="parent_id"),
    Column("meta", Json, nullable=False),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Column("completed_at", Ts()),
    Index("ix_tasks_status_assigned_to", "status", "assigned_to"),
)

task_dependencies = Table(
    "task_dependencies",
    metadata,
    Column("task_id", Uuid, ref("tasks.id", "CASCADE"), primary_key=True),
    Column("depends_on_id", Uuid, ref("tasks.id", "CASCADE"), primary_key=True, index=True),
)

code_artifacts = Table(
    "code_artifacts",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("tasks.id", "CASCADE", name="task_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("file_path", String(FILE_PATH_LENGTH), nullable=False),
    Column("file_name", String(FILE_NAME_LENGTH), nullable=False),
    Column("language", String(30), nullable=False),
    Column("version", Integer, nullable=False),
    Column("storage_key", String(200), nullable=False),
    Column("checksum", String(64), nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("lines_of_code", Integer, nullable=False),
    Column("generated_by", String(50), nullable=False),
    Column("review_status", En(enums.ReviewStatus), nullable=False),
    Column("review_findings", Json, nullable=False),
    Column("review_recommendation", String(30)),
    Column("review_comments", Text),
    fk("users.id", "SET NULL", name="reviewed_by"),
    fk("users.id", "SET NULL", name="created_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Index("ix_code_artifacts_task_version", "task_id", "version"),
    UniqueConstraint("task_id", "file_path", "version", name="uq_code_artifacts_task_path_version"),
)

test_results = Table(
    "test_results",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("code_artifacts.id", "CASCADE", name="artifact_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("test_type", En(enums.TestType), nullable=False),
    Column("status", En(enums.TestRunStatus), nullable=False),
    Column("framework", String(50), nullable=False),
    Column("total", Integer, nullable=False),
    Column("passed", Integer, nullable=False),
    Column("failed", Integer, nullable=False),
    Column("skipped", Integer, nullable=False),
    Column("coverage_percent", Numeric(5, 2)),
    Column("execution_time_ms", Integer, nullable=False),
    Column("error_message", Text),
    Column("report", Json, nullable=False),
    fk("users.id", "SET NULL", name="executed_by"),
    Column("executed_at", Ts(), nullable=False),
)

deployments = Table(
    "deployments",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("environment", En(enums.Environment), nullable=False, index=True),
    Column("version", String(50), nullable=False),
    Column("artifact_ids", Json, nullable=False),
    Column("status", En(enums.DeploymentStatus), nullable=False, index=True),
    Column("k8s_namespace", String(63)),
    Column("k8s_deployment_name", String(100)),
    fk("users.id", "SET NULL", name="approved_by"),
    fk("users.id", "SET NULL", name="deployed_by"),
    fk("deployments.id", "SET NULL", name="rollback_to"),
    fk("users.id", "SET NULL", name="rejected_by"),
    Column("rejection_reason", Text),
    Column("logs", Text, nullable=False),
    Column("failure_reason", Text),
    Column("started_at", Ts()),
    Column("completed_at", Ts()),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
)

environments = Table(
    "environments",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("environment", En(enums.Environment), nullable=False),
    Column("namespace", String(63), nullable=False, unique=True),
    Column("replicas", Integer, nullable=False),
    Column("cpu_request", String(20), nullable=False),
    Column("cpu_limit", String(20), nullable=False),
    Column("memory_request", String(20), nullable=False),
    Column("memory_limit", String(20), nullable=False),
    Column("min_replicas", Integer, nullable=False),
    Column("max_replicas", Integer, nullable=False),
    Column("cpu_percent", Integer, nullable=False),
    Column("memory_percent", Integer, nullable=False),
    Column("variables", Json, nullable=False),
    fk("users.id", "SET NULL", name="updated_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    UniqueConstraint("project_id", "environment", name="uq_environments_project_environment"),
)

environment_secrets = Table(
    "environment_secrets",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("environments.id", "CASCADE", name="environment_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("name", String(128), nullable=False),
    Column("value_encrypted", Text, nullable=False),
    fk("users.id", "SET NULL", name="updated_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    UniqueConstraint("environment_id", "name", name="uq_environment_secrets_environment_name"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("subject_type", String(50), nullable=False),
    Column("subject_id", Uuid, nullable=False),
    fk("projects.id", "CASCADE", name="project_id"),
    Column("payload", Json, nullable=False),
    Column("status", En(enums.JobStatus), nullable=False, index=True),
    Column("progress", Integer, nullable=False),
    Column("message", Text),
    Column("result", Json),
    Column("error", Text),
    Column("attempts", Integer, nullable=False),
    Column("max_attempts", Integer, nullable=False),
    Column("cancel_requested", Boolean, nullable=False),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(12, 6), nullable=False),
    fk("users.id", "SET NULL", name="requested_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Column("started_at", Ts()),
    Column("finished_at", Ts()),
    Column("heartbeat_at", Ts()),
    Index("ix_jobs_subject", "subject_type", "subject_id"),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("users.id", "SET NULL", name="actor_id"),
    Column("action", String(60), nullable=False, index=True),
    Column("outcome", String(20), nullable=False),
    Column("entity_type", String(50), nullable=False),
    Column("entity_id", String(64)),
    Column("before", Json),
    Column("after", Json),
    Column("request_id", String(REQUEST_ID_LENGTH)),
    Column("client_address", String(CLIENT_ADDRESS_LENGTH)),
    Column("at", Ts(), nullable=False),
    Index("ix_audit_log_entity", "entity_type", "entity_id"),
    Index("ix_audit_log_at_id", "at", "id"),  # the log's order, newest first: a page reads its rows off the index
)

ai_model_configs = Table(
    "ai_model_configs",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("provider", String(30), nullable=False),
    Column("model", String(100), nullable=False),
    Column("base_url", String(500)),
    Column("api_key_encrypted", Text),
    Column("max_tokens", Integer, nullable=False),
    Column("temperature", Numeric(3, 2, asdecimal=False), nullable=False),
    Column("is_default", Boolean, nullable=False),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
)

prompt_templates = Table(
    "prompt_templates",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("identifier", String(100), nullable=False, unique=True),
    Column("category", String(50), nullable=False, index=True),
    Column("content", Text, nullable=False),
    Column("variables", Json, nullable=False),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
)

token_revocations = Table(
    "token_revocations",
    metadata,
    Column("key", String(120), primary_key=True),
    Column("expires_at", Ts(), nullable=False, index=True),
)

# Attempt counters (login throttling) shared by every process using the database when there is no Redis.
rate_limit_windows = Table(
    "rate_limit_windows",
    metadata,
    Column("key", String(200), primary_key=True),  # persistence/rate_limits.py MAX_KEY
    Column("hits", Integer, nullable=False),
    Column("ends_at", Ts(), nullable=False, index=True),
)

conversations = Table(
    "conversations",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("subject_type", String(50), nullable=False),
    Column("subject_id", Uuid, nullable=False),
    Column("title", String(200), nullable=False),
    fk("users.id", "SET NULL", name="created_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Index("ix_conversations_subject", "subject_type", "subject_id"),
)

chat_messages = Table(
    "chat_messages",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("conversations.id", "CASCADE", name="conversation_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("role", En(enums.ChatRole), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("content", Text, nullable=False),
    Column("status", En(enums.ChatMessageStatus), nullable=False),
    Column("error", Text),
    Column("citations", Json, nullable=False),
    Column("job_id", Uuid),
    Column("model", String(100)),
    Column("input_tokens", Integer, nullable=False),
    Column("output_tokens", Integer, nullable=False),
    Column("cost_usd", Numeric(12, 6), nullable=False),
    fk("users.id", "SET NULL", name="created_by"),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    UniqueConstraint("conversation_id", "seq", name="uq_chat_messages_conversation_seq"),
)

pipeline_definitions = Table(
    "pipeline_definitions",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("project_id", Uuid, ref("projects.id", "CASCADE"), nullable=False, unique=True),
    Column("stages", Json, nullable=False),
    Column("trigger_on_review", Boolean, nullable=False),
    Column("webhook_secret_encrypted", Text),
    fk("users.id", "SET NULL", name="webhook_owner_id"),
    Column("webhook_rotated_at", Ts()),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
)

pipeline_runs = Table(
    "pipeline_runs",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("version", String(50), nullable=False),
    Column("trigger", En(enums.PipelineTrigger), nullable=False),
    Column("artifact_ids", Json, nullable=False),
    Column("status", En(enums.PipelineRunStatus), nullable=False, index=True),
    fk("users.id", "SET NULL", name="triggered_by"),
    Column("trigger_ref", String(100)),
    Column("message", Text),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Column("finished_at", Ts()),
)

pipeline_stages = Table(
    "pipeline_stages",
    metadata,
    Column("id", Uuid, primary_key=True),
    fk("pipeline_runs.id", "CASCADE", name="run_id", nullable=False),
    fk("projects.id", "CASCADE", name="project_id", nullable=False),
    Column("position", Integer, nullable=False),
    Column("name", String(50), nullable=False),
    Column("kind", En(enums.StageKind), nullable=False),
    Column("environment", En(enums.Environment)),
    Column("test_type", En(enums.TestType)),
    Column("status", En(enums.StageStatus), nullable=False),
    Column("message", Text),
    fk("jobs.id", "SET NULL", name="job_id"),
    fk("jobs.id", "SET NULL", name="work_job_id"),
    fk("deployments.id", "SET NULL", name="deployment_id"),
    Column("detail", Json, nullable=False),
    Column("created_at", Ts(), nullable=False),
    Column("updated_at", Ts(), nullable=False),
    Column("started_at", Ts()),
    Column("finished_at", Ts()),
    UniqueConstraint("run_id", "position", name="uq_pipeline_stages_run_position"),
)

webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("project_id", Uuid, ref("projects.id", "CASCADE"), nullable=False),
    Column("delivery_id", String(100), nullable=False),
    Column("received_at", Ts(), nullable=False, index=True),
    fk("pipeline_runs.id", "SET NULL", name="run_id"),
    UniqueConstraint("project_id", "delivery_id", name="uq_webhook_deliveries_project_delivery"),
)
