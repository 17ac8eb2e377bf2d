"""Object types of the pipeline. Resolvers return domain entities; these types present them."""

import datetime
from typing import Annotated, Any, Optional

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import model, repos
from resolvers import delivery, relations
from resolvers import pipeline as pipeline_resolvers
from resolvers import projects as project_resolvers
from resolvers.context import RequestContext
from resolvers.ids import to_global_id
from schema import enums as e
from schema import inputs as i
from schema.pipeline_types import AiUsage, JobNode, PrdNode
from schema.relay import Node, child_connection, node_id, ref_id

LazyProject = Annotated["ProjectNode", strawberry.lazy("schema.types")]
LazyRequirement = Annotated["RequirementNode", strawberry.lazy("schema.types")]
LazyTask = Annotated["TaskNode", strawberry.lazy("schema.types")]


def _is(cls: type):
    return classmethod(lambda _cls, obj, _info: isinstance(obj, cls))


def _user_field(attribute: str) -> Any:
    async def resolve(root: strawberry.Parent[Any], info: Info[RequestContext, None]) -> Optional["UserNode"]:
        return await relations.one(info.context, repos.USERS, getattr(root, attribute))

    return strawberry.field(resolver=resolve)


@strawberry.type(name="User")
class UserNode(Node):
    id: strawberry.ID = node_id("User")
    username: str
    email: str
    role: e.Role
    department: str | None
    status: e.UserStatus
    created_at: datetime.datetime
    last_login_at: datetime.datetime | None
    is_type_of = _is(model.User)


@strawberry.type(description="A failing test: its pytest node id and the assertion or error it failed with.")
class TestFailure:
    name: str
    message: str


@strawberry.type(name="TestResult")
class TestResultNode(Node):
    id: strawberry.ID = node_id("TestResult")
    artifact_id: strawberry.ID = ref_id("CodeArtifact", "artifact_id")
    test_type: e.TestType
    status: e.TestRunStatus
    framework: str
    total: int
    passed: int
    failed: int
    skipped: int
    coverage_percent: float | None
    execution_time_ms: int
    error_message: str | None
    report: JSON
    executed_at: datetime.datetime
    executed_by: UserNode | None = _user_field("executed_by")
    is_type_of = _is(model.TestResult)

    @strawberry.field(description="The failing tests, from the stored report (empty when none failed).")
    def failures(self, root: strawberry.Parent[model.TestResult]) -> list[TestFailure]:
        stored = root.report.get("failures") if isinstance(root.report, dict) else None
        if not isinstance(stored, list):  # a recorded (recordTestResult) report may hold anything
            return []
        return [
            TestFailure(name=str(f.get("name", "")), message=str(f.get("message", "")))
            for f in stored
            if isinstance(f, dict)
        ]


@strawberry.type
class ReviewFinding:
    severity: str
    file: str
    line: int | None
    rule: str
    message: str
    suggestion: str | None


@strawberry.type(name="CodeArtifact")
class ArtifactNode(Node):
    id: strawberry.ID = node_id("CodeArtifact")
    file_path: str
    file_name: str
    language: str
    version: int
    checksum: str
    size_bytes: int
    lines_of_code: int
    generated_by: str
    review_status: e.ReviewStatus
    review_recommendation: e.ReviewStatus | None
    review_comments: str | None
    created_at: datetime.datetime
    created_by: UserNode | None = _user_field("created_by")
    reviewed_by: UserNode | None = _user_field("reviewed_by")
    test_results = child_connection(
        TestResultNode,
        repos.TEST_RESULTS,
        "artifact_id",
        i.TestResultFilter,
        i.TestResultOrder,
        default_order="executed_at",
    )
    is_type_of = _is(model.CodeArtifact)

    @strawberry.field
    def review_findings(self, root: strawberry.Parent[model.CodeArtifact]) -> list[ReviewFinding]:
        return [
            ReviewFinding(
                severity=f.get("severity", "INFO"),
                file=f.get("file", ""),
                line=f.get("line"),
                rule=f.get("rule", ""),
                message=f.get("message", ""),
                suggestion=f.get("suggestion"),
            )
            for f in root.review_findings
        ]

    @strawberry.field(description="The file's text, fetched from the artifact store.")
    async def content(self, info: Info[RequestContext, None]) -> str:
        return await delivery.artifact_content(info.context, self)

    @strawberry.field
    async def task(self, root: strawberry.Parent[model.CodeArtifact], info: Info[RequestContext, None]) -> LazyTask:
        return await relations.one(info.context, repos.TASKS, root.task_id)


@strawberry.type(name="Task")
class TaskNode(Node):
    id: strawberry.ID = node_id("Task")
    name: str
    description: str | None
    task_type: e.TaskType
    status: e.TaskStatus
    priority: e.Priority
    estimated_hours: float | None
    actual_hours: float | None
    meta: JSON
    created_at: datetime.datetime
    updated_at: datetime.datetime
    completed_at: datetime.datetime | None
    assigned_to: UserNode | None = _user_field("assigned_to")
    artifacts = child_connection(ArtifactNode, repos.ARTIFACTS, "task_id", i.ArtifactFilter, i.ArtifactOrder)
    is_type_of = _is(model.Task)

    @strawberry.field
    async def requirement(
        self, root: strawberry.Parent[model.Task], info: Info[RequestContext, None]
    ) -> LazyRequirement:
        return await relations.one(info.context, repos.REQUIREMENTS, root.requirement_id)

    @strawberry.field
    async def parent(self, root: strawberry.Parent[model.Task], info: Info[RequestContext, None]) -> LazyTask | None:
        return await relations.one(info.context, repos.TASKS, root.parent_id)

    @strawberry.field
    async def subtasks(self, root: strawberry.Parent[model.Task], info: Info[RequestContext, None]) -> list[LazyTask]:
        return await relations.children(info.context, repos.TASKS, "parent_id", root.id)

    @strawberry.field(description="Tasks that must be DONE before this one can start.")
    async def dependencies(
        self, root: strawberry.Parent[model.Task], info: Info[RequestContext, None]
    ) -> list[LazyTask]:
        return await relations.task_dependencies(info.context, root.id)


@strawberry.type(name="Requirement")
class RequirementNode(Node):
    id: strawberry.ID = node_id("Requirement")
    title: str
    content: str
    priority: e.Priority
    status: e.RequirementStatus
    meta: JSON
    created_at: datetime.datetime
    updated_at: datetime.datetime
    created_by: UserNode | None = _user_field("created_by")
    assigned_to: UserNode | None = _user_field("assigned_to")
    tasks = child_connection(TaskNode, repos.TASKS, "requirement_id", i.TaskFilter, i.TaskOrder)
    is_type_of = _is(model.Requirement)

    @strawberry.field
    async def project(
        self, root: strawberry.Parent[model.Requirement], info: Info[RequestContext, None]
    ) -> LazyProject:
        return await relations.one(info.context, repos.PROJECTS, root.project_id)

    @strawberry.field(description="The current PRD (the latest generated version).")
    async def prd(self, root: strawberry.Parent[model.Requirement], info: Info[RequestContext, None]) -> PrdNode | None:
        return await relations.one(info.context, repos.PRDS, root.prd_document_id)

    @strawberry.field(description="Every PRD version, oldest first.")
    async def prd_versions(
        self, root: strawberry.Parent[model.Requirement], info: Info[RequestContext, None]
    ) -> list[PrdNode]:
        return sorted(
            await relations.children(info.context, repos.PRDS, "requirement_id", root.id), key=lambda p: p.version
        )


@strawberry.type(name="Deployment")
class DeploymentNode(Node):
    id: strawberry.ID = node_id("Deployment")
    environment: e.Environment
    version: str
    status: e.DeploymentStatus
    k8s_namespace: str | None
    k8s_deployment_name: str | None
    logs: str
    failure_reason: str | None = strawberry.field(description="Why the rollout failed, as the cluster told it.")
    started_at: datetime.datetime | None
    completed_at: datetime.datetime | None
    created_at: datetime.datetime
    approved_by: UserNode | None = _user_field("approved_by")
    deployed_by: UserNode | None = _user_field("deployed_by")
    rollback_to: strawberry.ID | None = ref_id("Deployment", "rollback_to")
    rejected_by: UserNode | None = _user_field("rejected_by")
    rejection_reason: str | None
    is_type_of = _is(model.Deployment)

    @strawberry.field(name="artifactIds")
    def artifact_global_ids(self, root: strawberry.Parent[model.Deployment]) -> list[strawberry.ID]:
        return [strawberry.ID(to_global_id("CodeArtifact", a)) for a in root.artifact_ids]

    @strawberry.field
    async def project(self, root: strawberry.Parent[model.Deployment], info: Info[RequestContext, None]) -> LazyProject:
        return await relations.one(info.context, repos.PROJECTS, root.project_id)


@strawberry.type(name="Project")
class ProjectNode(Node):
    id: strawberry.ID = node_id("Project")
    name: str
    description: str | None
    status: e.ProjectStatus
    tech_stack: list[str]
    start_date: datetime.date | None
    end_date: datetime.date | None
    created_at: datetime.datetime
    updated_at: datetime.datetime
    created_by: UserNode | None = _user_field("created_by")
    requirements = child_connection(
        RequirementNode, repos.REQUIREMENTS, "project_id", i.RequirementFilter, i.RequirementOrder
    )
    tasks = child_connection(TaskNode, repos.TASKS, "project_id", i.TaskFilter, i.TaskOrder)
    deployments = child_connection(
        DeploymentNode, repos.DEPLOYMENTS, "project_id", i.DeploymentFilter, i.DeploymentOrder
    )
    jobs = child_connection(JobNode, repos.JOBS, "project_id", i.JobFilter, i.JobOrder)
    is_type_of = _is(model.Project)

    @strawberry.field
    async def members(self, info: Info[RequestContext, None]) -> list[UserNode]:
        return await project_resolvers.members(info.context, self.id)

    @strawberry.field(description="AI tokens and estimated cost summed over the project's jobs.")
    async def ai_usage(self, info: Info[RequestContext, None]) -> AiUsage:
        return AiUsage.of(await pipeline_resolvers.ai_usage(info.context, self.id))
