"""The Mutation root: create/update/delete and explicit status transitions."""

import strawberry
from strawberry.types import Info

from resolvers import delivery, projects, requirements, tasks, users
from resolvers.context import RequestContext
from schema import enums as e
from schema import inputs as i
from schema.types import ArtifactNode, DeploymentNode, ProjectNode, RequirementNode, TaskNode, TestResultNode, UserNode


@strawberry.type
class Mutation:
    @strawberry.mutation
    async def create_project(self, info: Info[RequestContext, None], input: i.CreateProjectInput) -> ProjectNode:
        return await projects.create(info.context, input)

    @strawberry.mutation
    async def update_project(
        self, info: Info[RequestContext, None], id: strawberry.ID, input: i.UpdateProjectInput
    ) -> ProjectNode:
        return await projects.update(info.context, id, input)

    @strawberry.mutation
    async def change_project_status(
        self, info: Info[RequestContext, None], id: strawberry.ID, status: e.ProjectStatus
    ) -> ProjectNode:
        return await projects.change_status(info.context, id, status)

    @strawberry.mutation(description="Delete a project and everything under it; refused once it has deployments.")
    async def delete_project(self, info: Info[RequestContext, None], id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await projects.delete(info.context, id))

    @strawberry.mutation
    async def add_project_member(
        self, info: Info[RequestContext, None], project_id: strawberry.ID, user_id: strawberry.ID
    ) -> ProjectNode:
        return await projects.add_member(info.context, project_id, user_id)

    @strawberry.mutation
    async def remove_project_member(
        self, info: Info[RequestContext, None], project_id: strawberry.ID, user_id: strawberry.ID
    ) -> ProjectNode:
        return await projects.remove_member(info.context, project_id, user_id)

    @strawberry.mutation
    async def create_requirement(
        self, info: Info[RequestContext, None], input: i.CreateRequirementInput
    ) -> RequirementNode:
        return await requirements.create(info.context, input)

    @strawberry.mutation
    async def update_requirement(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
        input: i.UpdateRequirementInput,
    ) -> RequirementNode:
        return await requirements.update(info.context, id, input)

    @strawberry.mutation
    async def change_requirement_status(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
        status: e.RequirementStatus,
    ) -> RequirementNode:
        return await requirements.change_status(info.context, id, status)

    @strawberry.mutation
    async def delete_requirement(self, info: Info[RequestContext, None], id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await requirements.delete(info.context, id))

    @strawberry.mutation
    async def create_task(self, info: Info[RequestContext, None], input: i.CreateTaskInput) -> TaskNode:
        return await tasks.create(info.context, input)

    @strawberry.mutation
    async def update_task(
        self, info: Info[RequestContext, None], id: strawberry.ID, input: i.UpdateTaskInput
    ) -> TaskNode:
        return await tasks.update(info.context, id, input)

    @strawberry.mutation(description="Assign a task to a project member, or unassign it with null.")
    async def assign_task(
        self, info: Info[RequestContext, None], id: strawberry.ID, user_id: strawberry.ID | None
    ) -> TaskNode:
        return await tasks.assign(info.context, id, user_id)

    @strawberry.mutation
    async def add_task_dependency(
        self, info: Info[RequestContext, None], task_id: strawberry.ID, depends_on_id: strawberry.ID
    ) -> TaskNode:
        return await tasks.add_dependency(info.context, task_id, depends_on_id)

    @strawberry.mutation
    async def remove_task_dependency(
        self, info: Info[RequestContext, None], task_id: strawberry.ID, depends_on_id: strawberry.ID
    ) -> TaskNode:
        return await tasks.remove_dependency(info.context, task_id, depends_on_id)

    @strawberry.mutation(description="Move a task along its status machine; starting needs its dependencies DONE.")
    async def change_task_status(
        self, info: Info[RequestContext, None], id: strawberry.ID, status: e.TaskStatus
    ) -> TaskNode:
        return await tasks.change_status(info.context, id, status)

    @strawberry.mutation
    async def delete_task(self, info: Info[RequestContext, None], id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await tasks.delete(info.context, id))

    @strawberry.mutation(description="Store a file for a task as the next version of its path.")
    async def submit_artifact(self, info: Info[RequestContext, None], input: i.SubmitArtifactInput) -> ArtifactNode:
        return await delivery.submit_artifact(info.context, input)

    @strawberry.mutation(description="Record the human review decision on an artifact.")
    async def submit_review(
        self,
        info: Info[RequestContext, None],
        artifact_id: strawberry.ID,
        decision: e.ReviewStatus,
        comments: str | None = None,
    ) -> ArtifactNode:
        return await delivery.submit_review(info.context, artifact_id, decision, comments)

    @strawberry.mutation
    async def delete_artifact(self, info: Info[RequestContext, None], id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await delivery.delete_artifact(info.context, id))

    @strawberry.mutation(description="Record the outcome of a test run made outside rdflow.")
    async def record_test_result(
        self, info: Info[RequestContext, None], input: i.RecordTestResultInput
    ) -> TestResultNode:
        return await delivery.record_test_result(info.context, input)

    @strawberry.mutation(description="Request a deployment; PROD waits for a project admin's approval.")
    async def create_deployment(
        self, info: Info[RequestContext, None], input: i.CreateDeploymentInput
    ) -> DeploymentNode:
        return await delivery.create_deployment(info.context, input)

    @strawberry.mutation(
        description="Release a deployment awaiting approval: a project admin other than its requester (four eyes); "
        "a super admin may approve their own, audited as an override."
    )
    async def approve_deployment(self, info: Info[RequestContext, None], id: strawberry.ID) -> DeploymentNode:
        return await delivery.approve_deployment(info.context, id)

    @strawberry.mutation
    async def change_deployment_status(
        self,
        info: Info[RequestContext, None],
        id: strawberry.ID,
        status: e.DeploymentStatus,
    ) -> DeploymentNode:
        return await delivery.change_deployment_status(info.context, id, status)

    @strawberry.mutation
    async def create_user(self, info: Info[RequestContext, None], input: i.CreateUserInput) -> UserNode:
        return await users.create_user(info.context, input)

    @strawberry.mutation
    async def update_user_role(
        self, info: Info[RequestContext, None], user_id: strawberry.ID, role: e.Role
    ) -> UserNode:
        return await users.update_role(info.context, user_id, role)

    @strawberry.mutation
    async def deactivate_user(self, info: Info[RequestContext, None], user_id: strawberry.ID) -> UserNode:
        return await users.deactivate(info.context, user_id)
