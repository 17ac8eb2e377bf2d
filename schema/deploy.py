"""Query and Mutation roots of rollouts: a deployment's progress lines, and rolling an environment back."""

import strawberry
from strawberry.types import Info

from resolvers import deploy
from resolvers.context import RequestContext
from schema.types import DeploymentNode


@strawberry.type(name="DeploymentLogs", description="A window of a deployment's rollout log, oldest line first.")
class DeploymentLogsNode:
    lines: list[str]
    offset: int = strawberry.field(description="The index of the first line in this window.")
    total: int = strawberry.field(description="Lines in the whole log now.")
    complete: bool = strawberry.field(description="The deployment has ended: its log will not grow.")


@strawberry.type
class DeployQuery:
    @strawberry.field(description="The rollout's progress lines from `offset` (at most `limit`, 1,000 by default).")
    async def deployment_logs(
        self, info: Info[RequestContext, None], id: strawberry.ID, offset: int = 0, limit: int | None = None
    ) -> DeploymentLogsNode:
        page = await deploy.deployment_logs(info.context, id, offset, limit)
        return DeploymentLogsNode(lines=page.lines, offset=page.offset, total=page.total, complete=page.complete)


@strawberry.type
class DeployMutation:
    @strawberry.mutation(
        description="Redeploy the last SUCCEEDED revision of this deployment's environment before it, as a new "
        "deployment whose rollbackTo names that revision; this one becomes ROLLED_BACK."
    )
    async def rollback_deployment(self, info: Info[RequestContext, None], id: strawberry.ID) -> DeploymentNode:
        return await deploy.rollback_deployment(info.context, id)
