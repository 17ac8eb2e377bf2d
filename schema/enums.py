"""The domain's enums exposed as GraphQL enums, plus the ordering fields of each connection."""

from enum import Enum

import strawberry

from domain.enums import (
    DeploymentStatus,
    Environment,
    JobStatus,
    Priority,
    ProjectStatus,
    RequirementStatus,
    ReviewStatus,
    Role,
    SortDirection,
    Strategy,
    TaskStatus,
    TaskType,
    TestRunStatus,
    TestType,
    UserStatus,
)

# strawberry.enum registers a class in place, so the domain's own enums are the GraphQL enums (and stay types to
# mypy, which a `Role = strawberry.enum(...)` alias would not be).
for _enum in (
    Role,
    UserStatus,
    ProjectStatus,
    Priority,
    RequirementStatus,
    TaskType,
    TaskStatus,
    ReviewStatus,
    TestType,
    TestRunStatus,
    Environment,
    DeploymentStatus,
    SortDirection,
    JobStatus,
):
    strawberry.enum(_enum)
strawberry.enum(Strategy, name="DecompositionStrategy")

__all__ = [
    "DeploymentStatus",
    "Environment",
    "JobStatus",
    "Priority",
    "ProjectStatus",
    "RequirementStatus",
    "ReviewStatus",
    "Role",
    "SortDirection",
    "Strategy",
    "TaskStatus",
    "TaskType",
    "TestRunStatus",
    "TestType",
    "UserStatus",
]


@strawberry.enum
class ProjectOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    STATUS = "status"


@strawberry.enum
class RequirementOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    TITLE = "title"
    PRIORITY = "priority"
    STATUS = "status"


@strawberry.enum
class TaskOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"
    NAME = "name"
    PRIORITY = "priority"
    STATUS = "status"
    ESTIMATED_HOURS = "estimated_hours"


@strawberry.enum
class ArtifactOrderField(Enum):
    CREATED_AT = "created_at"
    FILE_PATH = "file_path"
    VERSION = "version"


@strawberry.enum
class TestResultOrderField(Enum):
    EXECUTED_AT = "executed_at"
    COVERAGE = "coverage_percent"


@strawberry.enum
class DeploymentOrderField(Enum):
    CREATED_AT = "created_at"
    VERSION = "version"
    STATUS = "status"


@strawberry.enum
class JobOrderField(Enum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


@strawberry.enum
class UserOrderField(Enum):
    CREATED_AT = "created_at"
    USERNAME = "username"
