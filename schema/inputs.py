"""Input types: filters, orderings, and the payloads of create/update mutations."""
import datetime
from typing import Optional

import strawberry

from schema import enums as e


def _order(name: str, field_enum: type, default: object) -> type:
    @strawberry.input(name=name)
    class Order:
        field: field_enum = default  # type: ignore[valid-type]
        direction: e.SortDirection = e.SortDirection.ASC  # type: ignore[attr-defined]
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
    status: Optional[list[e.ProjectStatus]] = None


@strawberry.input
class RequirementFilter:
    status: Optional[list[e.RequirementStatus]] = None
    priority: Optional[list[e.Priority]] = None
    assigned_to: Optional[strawberry.ID] = None


@strawberry.input
class TaskFilter:
    status: Optional[list[e.TaskStatus]] = None
    priority: Optional[list[e.Priority]] = None
    task_type: Optional[list[e.TaskType]] = None
    assigned_to: Optional[strawberry.ID] = None


@strawberry.input
class ArtifactFilter:
    review_status: Optional[list[e.ReviewStatus]] = None
    language: Optional[str] = None


@strawberry.input
class TestResultFilter:
    __test__ = False
    test_type: Optional[list[e.TestType]] = None
    status: Optional[list[e.TestRunStatus]] = None


@strawberry.input
class DeploymentFilter:
    environment: Optional[list[e.Environment]] = None
    status: Optional[list[e.DeploymentStatus]] = None


@strawberry.input
class JobFilter:
    status: Optional[list[e.JobStatus]] = None


@strawberry.input
class UserFilter:
    role: Optional[list[e.Role]] = None


@strawberry.input
class CreateProjectInput:
    name: str
    description: Optional[str] = None
    tech_stack: Optional[list[str]] = None
    start_date: Optional[datetime.date] = None
    end_date: Optional[datetime.date] = None


@strawberry.input
class UpdateProjectInput:
    name: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
    tech_stack: Optional[list[str]] = strawberry.UNSET
    start_date: Optional[datetime.date] = strawberry.UNSET
    end_date: Optional[datetime.date] = strawberry.UNSET


@strawberry.input
class CreateRequirementInput:
    project_id: strawberry.ID
    title: str
    content: str
    priority: e.Priority = e.Priority.MEDIUM  # type: ignore[attr-defined]
    assigned_to: Optional[strawberry.ID] = None
    tags: Optional[list[str]] = None
    estimate_hours: Optional[float] = None


@strawberry.input
class UpdateRequirementInput:
    title: Optional[str] = strawberry.UNSET
    content: Optional[str] = strawberry.UNSET
    priority: Optional[e.Priority] = strawberry.UNSET
    assigned_to: Optional[strawberry.ID] = strawberry.UNSET
    tags: Optional[list[str]] = strawberry.UNSET
    estimate_hours: Optional[float] = strawberry.UNSET


@strawberry.input
class CreateTaskInput:
    requirement_id: strawberry.ID
    name: str
    task_type: e.TaskType
    description: Optional[str] = None
    priority: e.Priority = e.Priority.MEDIUM  # type: ignore[attr-defined]
    assigned_to: Optional[strawberry.ID] = None
    estimated_hours: Optional[float] = None
    parent_id: Optional[strawberry.ID] = None
    dependency_ids: Optional[list[strawberry.ID]] = None


@strawberry.input
class UpdateTaskInput:
    name: Optional[str] = strawberry.UNSET
    description: Optional[str] = strawberry.UNSET
    priority: Optional[e.Priority] = strawberry.UNSET
    task_type: Optional[e.TaskType] = strawberry.UNSET
    estimated_hours: Optional[float] = strawberry.UNSET
    actual_hours: Optional[float] = strawberry.UNSET
    parent_id: Optional[strawberry.ID] = strawberry.UNSET


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
    coverage_percent: Optional[float] = None
    execution_time_ms: int = 0
    error_message: Optional[str] = None


@strawberry.input
class CreateDeploymentInput:
    project_id: strawberry.ID
    environment: e.Environment
    version: str
    artifact_ids: Optional[list[strawberry.ID]] = None


@strawberry.input
class CreateUserInput:
    username: str
    email: str
    password: str
    role: e.Role
    department: Optional[str] = None
