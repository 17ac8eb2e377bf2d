"""The Query root."""

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import nodes, projects, tasks, users
from resolvers.ids import decode_id
from schema import inputs as i
from schema.relay import Node, root_connection
from schema.types import (
    ArtifactNode,
    DeploymentNode,
    ProjectNode,
    RequirementNode,
    TaskNode,
    TestResultNode,
    UserNode,
)


def _by_id(node_type: type, type_name: str, service: str) -> Any:
    async def resolve(info: Info, id: strawberry.ID) -> node_type:  # type: ignore[valid-type]
        svc = getattr(info.context.services, service)
        return await svc.get(info.context.viewer, decode_id(id, type_name, "id"))

    return strawberry.field(resolver=resolve)


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        return await nodes.node(info.context, id)

    @strawberry.field(description="The signed-in user.")
    async def me(self, info: Info) -> UserNode:
        return await users.me(info.context)

    project: ProjectNode = _by_id(ProjectNode, "Project", "projects")
    requirement: RequirementNode = _by_id(RequirementNode, "Requirement", "requirements")
    task: TaskNode = _by_id(TaskNode, "Task", "tasks")
    artifact: ArtifactNode = _by_id(ArtifactNode, "CodeArtifact", "artifacts")
    test_result: TestResultNode = _by_id(TestResultNode, "TestResult", "test_results")
    deployment: DeploymentNode = _by_id(DeploymentNode, "Deployment", "deployments")

    projects = root_connection(
        ProjectNode, projects.list_projects, i.ProjectFilter, i.ProjectOrder, "Projects the viewer may see."
    )
    tasks = root_connection(
        TaskNode,
        tasks.list_tasks,
        i.TaskFilter,
        i.TaskOrder,
        "Tasks across the viewer's projects (filter by assignee for 'my tasks').",
    )
    users = root_connection(UserNode, users.list_users, i.UserFilter, i.UserOrder, "Every user (super admins only).")
