"""Entities of the R&D pipeline as plain dataclasses; persistence maps them, the domain owns them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from domain.enums import (
    ChatMessageStatus,
    ChatRole,
    DeploymentStatus,
    Environment,
    JobStatus,
    PipelineRunStatus,
    PipelineTrigger,
    Priority,
    ProjectStatus,
    RequirementStatus,
    ReviewStatus,
    Role,
    StageKind,
    StageStatus,
    TaskStatus,
    TaskType,
    TestRunStatus,
    TestType,
    UserStatus,
)


def new_id() -> uuid.UUID:
    return uuid.uuid4()


@dataclass(eq=False)
class User:
    username: str
    email: str
    password_hash: str
    role: Role = Role.DEVELOPER
    department: str | None = None
    status: UserStatus = UserStatus.ACTIVE
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    last_login_at: datetime | None = None


@dataclass(eq=False)
class Project:
    name: str
    created_by: uuid.UUID | None
    description: str | None = None
    status: ProjectStatus = ProjectStatus.PLANNING
    tech_stack: list[str] = field(default_factory=list)
    start_date: date | None = None
    end_date: date | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class ProjectMember:
    project_id: uuid.UUID
    user_id: uuid.UUID
    added_at: datetime | None = None


@dataclass(eq=False)
class Requirement:
    project_id: uuid.UUID
    title: str
    content: str
    created_by: uuid.UUID | None
    priority: Priority = Priority.MEDIUM
    status: RequirementStatus = RequirementStatus.DRAFT
    assigned_to: uuid.UUID | None = None
    prd_document_id: uuid.UUID | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class PrdDocument:
    requirement_id: uuid.UUID
    project_id: uuid.UUID
    version: int
    sections: list[dict[str, Any]]
    ai_generated: bool = True
    approved: bool = False
    review: dict[str, Any] = field(default_factory=dict)
    created_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class Task:
    requirement_id: uuid.UUID
    project_id: uuid.UUID
    name: str
    task_type: TaskType
    description: str | None = None
    status: TaskStatus = TaskStatus.PENDING
    priority: Priority = Priority.MEDIUM
    assigned_to: uuid.UUID | None = None
    estimated_hours: Decimal | None = None
    actual_hours: Decimal | None = None
    parent_id: uuid.UUID | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(eq=False)
class TaskDependency:
    task_id: uuid.UUID
    depends_on_id: uuid.UUID


@dataclass(eq=False)
class CodeArtifact:
    task_id: uuid.UUID
    project_id: uuid.UUID
    file_path: str
    file_name: str
    language: str
    storage_key: str
    checksum: str
    version: int = 1
    size_bytes: int = 0
    lines_of_code: int = 0
    generated_by: str = "human"
    review_status: ReviewStatus = ReviewStatus.PENDING
    review_findings: list[dict[str, Any]] = field(default_factory=list)
    review_recommendation: str | None = None
    review_comments: str | None = None
    reviewed_by: uuid.UUID | None = None
    created_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class TestResult:
    artifact_id: uuid.UUID
    project_id: uuid.UUID
    test_type: TestType
    status: TestRunStatus
    framework: str = "pytest"
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    coverage_percent: Decimal | None = None
    execution_time_ms: int = 0
    error_message: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    executed_by: uuid.UUID | None = None
    executed_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)


@dataclass(eq=False)
class Deployment:
    project_id: uuid.UUID
    environment: Environment
    version: str
    artifact_ids: list[str] = field(default_factory=list)
    status: DeploymentStatus = DeploymentStatus.PENDING
    k8s_namespace: str | None = None
    k8s_deployment_name: str | None = None
    approved_by: uuid.UUID | None = None
    deployed_by: uuid.UUID | None = None
    rollback_to: uuid.UUID | None = None
    rejected_by: uuid.UUID | None = None
    rejection_reason: str | None = None
    logs: str = ""
    failure_reason: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class ProjectEnvironment:
    """A project's DEV, STAGING or PROD settings as stored (a row exists once someone changed them)."""

    project_id: uuid.UUID
    environment: Environment
    namespace: str
    replicas: int
    cpu_request: str
    cpu_limit: str
    memory_request: str
    memory_limit: str
    min_replicas: int
    max_replicas: int
    cpu_percent: int
    memory_percent: int
    variables: dict[str, str] = field(default_factory=dict)
    updated_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class EnvironmentSecret:
    """One write-only secret of an environment; `value_encrypted` is a SecretBox token, never shown."""

    environment_id: uuid.UUID
    project_id: uuid.UUID
    name: str
    value_encrypted: str
    updated_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class Job:
    kind: str
    subject_type: str
    subject_id: uuid.UUID
    project_id: uuid.UUID | None = None
    payload: dict[str, Any] = field(default_factory=dict)
    status: JobStatus = JobStatus.QUEUED
    progress: int = 0
    message: str | None = None
    result: dict[str, Any] | None = None
    error: str | None = None
    attempts: int = 0
    max_attempts: int = 3
    cancel_requested: bool = False
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    requested_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None


@dataclass(eq=False)
class AuditEntry:
    action: str
    entity_type: str
    outcome: str = "OK"
    actor_id: uuid.UUID | None = None
    entity_id: str | None = None
    before: dict[str, Any] | None = None
    after: dict[str, Any] | None = None
    request_id: str | None = None
    client_address: str | None = None
    id: uuid.UUID = field(default_factory=new_id)
    at: datetime | None = None


@dataclass(eq=False)
class AiModelConfig:
    name: str
    provider: str
    model: str
    base_url: str | None = None
    api_key_encrypted: str | None = None
    max_tokens: int = 4096
    temperature: float = 0.2
    is_default: bool = False
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class PromptTemplate:
    identifier: str
    category: str
    content: str
    variables: list[str] = field(default_factory=list)
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class Conversation:
    """An AI chat about one object of a project (`subject_type` Requirement, Task, CodeArtifact or Deployment)."""

    project_id: uuid.UUID
    subject_type: str
    subject_id: uuid.UUID
    title: str
    created_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class ChatMessage:
    """One turn of a conversation; an assistant reply records what it cited, its job, usage and how it ended."""

    conversation_id: uuid.UUID
    project_id: uuid.UUID
    role: ChatRole
    seq: int
    content: str = ""
    status: ChatMessageStatus = ChatMessageStatus.COMPLETE
    error: str | None = None
    citations: list[dict[str, Any]] = field(default_factory=list)
    job_id: uuid.UUID | None = None
    model: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: Decimal = Decimal(0)
    created_by: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class PipelineDefinition:
    """A project's pipeline: its ordered stages, whether an approved review starts a run, and its webhook secret."""

    project_id: uuid.UUID
    stages: list[dict[str, Any]]
    trigger_on_review: bool = False
    webhook_secret_encrypted: str | None = None
    webhook_owner_id: uuid.UUID | None = None
    webhook_rotated_at: datetime | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(eq=False)
class PipelineRun:
    project_id: uuid.UUID
    version: str
    trigger: PipelineTrigger
    artifact_ids: list[str] = field(default_factory=list)
    status: PipelineRunStatus = PipelineRunStatus.RUNNING
    triggered_by: uuid.UUID | None = None
    trigger_ref: str | None = None  # the webhook delivery id, or the reviewed artifact's id
    message: str | None = None
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(eq=False)
class PipelineStage:
    run_id: uuid.UUID
    project_id: uuid.UUID
    position: int
    name: str
    kind: StageKind
    environment: Environment | None = None
    test_type: TestType | None = None
    status: StageStatus = StageStatus.PENDING
    message: str | None = None
    job_id: uuid.UUID | None = None  # the stage's own job (it starts the stage's work)
    work_job_id: uuid.UUID | None = None  # the job doing the work (a test run, the build)
    deployment_id: uuid.UUID | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    id: uuid.UUID = field(default_factory=new_id)
    created_at: datetime | None = None
    updated_at: datetime | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


@dataclass(eq=False)
class WebhookDelivery:
    """A webhook delivery id already accepted for a project: the same delivery again is a replay."""

    project_id: uuid.UUID
    delivery_id: str
    received_at: datetime
    run_id: uuid.UUID | None = None
    id: uuid.UUID = field(default_factory=new_id)
