"""The domain's enums exposed as GraphQL enums, plus the ordering fields of each connection."""

from enum import Enum

import strawberry

from domain import enums

Role = strawberry.enum(enums.Role)
UserStatus = strawberry.enum(enums.UserStatus)
ProjectStatus = strawberry.enum(enums.ProjectStatus)
Priority = strawberry.enum(enums.Priority)
RequirementStatus = strawberry.enum(enums.RequirementStatus)
TaskType = strawberry.enum(enums.TaskType)
TaskStatus = strawberry.enum(enums.TaskStatus)
ReviewStatus = strawberry.enum(enums.ReviewStatus)
TestType = strawberry.enum(enums.TestType)
TestRunStatus = strawberry.enum(enums.TestRunStatus)
Environment = strawberry.enum(enums.Environment)
DeploymentStatus = strawberry.enum(enums.DeploymentStatus)
SortDirection = strawberry.enum(enums.SortDirection)
JobStatus = strawberry.enum(enums.JobStatus)


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
