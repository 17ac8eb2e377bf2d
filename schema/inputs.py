"""Input types: filters, orderings, and the payloads of create/update mutations."""

import datetime

import strawberry

from schema import enums as e


def _order(name: str, field_enum: type, default: object) -> type:
    @strawberry.input(name=name)
    class Order:
        field: field_enum = default  # type: ignore[valid-type]  # an enum chosen at run time, per ordering
        direction: e.SortDirection = e.SortDirection.ASC

    return Order


ProjectOrder = _order("ProjectOrder", e.ProjectOrderField, e.ProjectOrderField.CREATED_AT)
RequirementOrder = _order("RequirementOrder", e.RequirementOrderField, e.RequirementOrderField.CREATED_AT)
TaskOrder = _order("TaskOrder", e.TaskOrderField, e.TaskOrderField.CREATED_AT)
ArtifactOrder = _order("ArtifactOrder", e.ArtifactOrderField, e.ArtifactOrderField.CREATED_AT)
TestResultOrder = _order("TestResultOrder", e.TestResultOrderField, e.TestResultOrderField.EXECUTED_AT)
DeploymentOrder = _order("DeploymentOrder", e.DeploymentOrderField, e.DeploymentOrderField.CREATED_AT)
UserOrder = _order("UserOrder", e.UserOrderField, e.UserOrderField.CREATED_AT)
JobOrder = _order("JobOrder", e.JobOrderField, e.JobOrderField.CREATED_AT)


@strawberry.input
class ProjectFilter:
    status: list[e.ProjectStatus] | None = None


@strawberry.input
class RequirementFilter:
    status: list[e.RequirementStatus] | None = None
    priority: list[e.Priority] | None = None
    assigned_to: strawberry.ID | None = None


@strawberry.input
class TaskFilter:
    status: list[e.TaskStatus] | None = None
    priority: list[e.Priority] | None = None
    task_type: list[e.TaskType] | None = None
    assigned_to: strawberry.ID | None = None


@strawberry.input
class ArtifactFilter:
    review_status: list[e.ReviewStatus] | None = None
    language: str | None = None


@strawberry.input
class TestResultFilter:
    test_type: list[e.TestType] | None = None
    status: list[e.TestRunStatus] | None = None


@strawberry.input
class DeploymentFilter:
    environment: list[e.Environment] | None = None
    status: list[e.DeploymentStatus] | None = None


@strawberry.input
class JobFilter:
    status: list[e.JobStatus] | None = None


@strawberry.input
class UserFilter:
    role: list[e.Role] | None = None


@strawberry.input
class CreateProjectInput:
    name: str
    description: str | None = None
    tech_stack: list[str] | None = None
    start_date: datetime.date | None = None
    end_date: datetime.date | None = None


@strawberry.input
class UpdateProjectInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    tech_stack: list[str] | None = strawberry.UNSET
    start_date: datetime.date | None = strawberry.UNSET
    end_date: datetime.date | None = strawberry.UNSET


@strawberry.input
class CreateRequirementInput:
    project_id: strawberry.ID
    title: str
    content: str
    priority: e.Priority = e.Priority.MEDIUM
    assigned_to: strawberry.ID | None = None
    tags: list[str] | None = None
    estimate_hours: float | None = None


@strawberry.input
class UpdateRequirementInput:
    title: str | None = strawberry.UNSET
    content: str | None = strawberry.UNSET
    priority: e.Priority | None = strawberry.UNSET
    assigned_to: strawberry.ID | None = strawberry.UNSET
    tags: list[str] | None = strawberry.UNSET
    estimate_hours: float | None = strawberry.UNSET


@strawberry.input
class CreateTaskInput:
    requirement_id: strawberry.ID
    name: str
    task_type: e.TaskType
    description: str | None = None
    priority: e.Priority = e.Priority.MEDIUM
    assigned_to: strawberry.ID | None = None
    estimated_hours: float | None = None
    parent_id: strawberry.ID | None = None
    dependency_ids: list[strawberry.ID] | None = None


@strawberry.input
class UpdateTaskInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET
    priority: e.Priority | None = strawberry.UNSET
    task_type: e.TaskType | None = strawberry.UNSET
    estimated_hours: float | None = strawberry.UNSET
    actual_hours: float | None = strawberry.UNSET
    parent_id: strawberry.ID | None = strawberry.UNSET


@strawberry.input
class SubmitArtifactInput:
    task_id: strawberry.ID
    file_path: str
    content: str
    language: str


@strawberry.input
class RecordTestResultInput:
    artifact_id: strawberry.ID
    test_type: e.TestType
    status: e.TestRunStatus
    framework: str = "pytest"
    total: int = 0
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    coverage_percent: float | None = None
    execution_time_ms: int = 0
    error_message: str | None = None


@strawberry.input
class CreateDeploymentInput:
    project_id: strawberry.ID
    environment: e.Environment
    version: str
    artifact_ids: list[strawberry.ID] | None = None


@strawberry.input
class CreateUserInput:
    username: str
    email: str
    password: str
    role: e.Role
    department: str | None = None
