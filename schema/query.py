"""The Query root."""

from typing import Any

import strawberry
from strawberry.types import Info

from resolvers import nodes, projects, tasks, users
from resolvers.context import RequestContext
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


def _by_id(node_type: type, type_name: str) -> Any:
    async def resolve(info: Info[RequestContext, None], id: strawberry.ID) -> node_type:  # type: ignore[valid-type]  # node_type: a runtime argument
        return await nodes.by_id(info.context, type_name, id)

    return strawberry.field(resolver=resolve)


@strawberry.type
class Query:
    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info[RequestContext, None], id: strawberry.ID) -> Node | None:
        return await nodes.node(info.context, id)

    @strawberry.field(description="The signed-in user.")
    async def me(self, info: Info[RequestContext, None]) -> UserNode:
        return await users.me(info.context)

    project: ProjectNode = _by_id(ProjectNode, "Project")
    requirement: RequirementNode = _by_id(RequirementNode, "Requirement")
    task: TaskNode = _by_id(TaskNode, "Task")
    artifact: ArtifactNode = _by_id(ArtifactNode, "CodeArtifact")
    test_result: TestResultNode = _by_id(TestResultNode, "TestResult")
    deployment: DeploymentNode = _by_id(DeploymentNode, "Deployment")

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
