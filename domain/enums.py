"""Enumerations of the data model (roles, statuses, priorities, kinds)."""

from __future__ import annotations

from enum import Enum


class Role(str, Enum):
    SUPER_ADMIN = "SUPER_ADMIN"
    PROJECT_ADMIN = "PROJECT_ADMIN"
    DEVELOPER = "DEVELOPER"
    TESTER = "TESTER"
    GUEST = "GUEST"


class UserStatus(str, Enum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"


class ProjectStatus(str, Enum):
    PLANNING = "PLANNING"
    ACTIVE = "ACTIVE"
    ON_HOLD = "ON_HOLD"
    COMPLETED = "COMPLETED"
    ARCHIVED = "ARCHIVED"


class Priority(str, Enum):
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"
    CRITICAL = "CRITICAL"


class RequirementStatus(str, Enum):
    DRAFT = "DRAFT"
    ANALYZING = "ANALYZING"
    APPROVED = "APPROVED"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"
    REJECTED = "REJECTED"


class TaskType(str, Enum):
    BACKEND = "BACKEND"
    FRONTEND = "FRONTEND"
    TESTING = "TESTING"
    DEVOPS = "DEVOPS"
    DESIGN = "DESIGN"
    DOCS = "DOCS"


class TaskStatus(str, Enum):
    PENDING = "PENDING"
    IN_PROGRESS = "IN_PROGRESS"
    IN_REVIEW = "IN_REVIEW"
    DONE = "DONE"
    BLOCKED = "BLOCKED"
    CANCELLED = "CANCELLED"


class ReviewStatus(str, Enum):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    CHANGES_REQUESTED = "CHANGES_REQUESTED"
    REJECTED = "REJECTED"


class TestType(str, Enum):
    UNIT = "UNIT"
    INTEGRATION = "INTEGRATION"
    E2E = "E2E"


class TestRunStatus(str, Enum):
    PASSED = "PASSED"
    FAILED = "FAILED"
    ERROR = "ERROR"


class Environment(str, Enum):
    DEV = "DEV"
    STAGING = "STAGING"
    PROD = "PROD"


class DeploymentStatus(str, Enum):
    PENDING = "PENDING"
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    ROLLED_BACK = "ROLLED_BACK"


class JobStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class SortDirection(str, Enum):
    ASC = "ASC"
    DESC = "DESC"


class Strategy(str, Enum):
    """How decomposition groups a requirement's work into tasks."""

    ROLE_BASED = "ROLE_BASED"
    FEATURE_BASED = "FEATURE_BASED"


class ChatRole(str, Enum):
    USER = "USER"
    ASSISTANT = "ASSISTANT"


class ChatMessageStatus(str, Enum):
    """An assistant reply is STREAMING until it ends COMPLETE, INCOMPLETE (the model stopped with an error; the text
    received is kept) or CANCELLED (the reply was stopped; the text received is kept). A user message is COMPLETE."""

    STREAMING = "STREAMING"
    COMPLETE = "COMPLETE"
    INCOMPLETE = "INCOMPLETE"
    CANCELLED = "CANCELLED"


class PipelineRunStatus(str, Enum):
    RUNNING = "RUNNING"
    WAITING = "WAITING"  # a stage waits for a person (an approval), holding no worker
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"


class StageStatus(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    WAITING = "WAITING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    SKIPPED = "SKIPPED"
    CANCELLED = "CANCELLED"


class StageKind(str, Enum):
    TEST = "TEST"
    BUILD = "BUILD"
    DEPLOY = "DEPLOY"
    APPROVAL = "APPROVAL"


class PipelineTrigger(str, Enum):
    """What started a pipeline run."""

    MANUAL = "MANUAL"
    REVIEW = "REVIEW"
    WEBHOOK = "WEBHOOK"
