"""Project environments and the approval decisions on deployments: GraphQL arguments to EnvironmentService and
DeploymentService calls."""

from __future__ import annotations

from typing import Any

from domain.enums import Environment
from resolvers.context import RequestContext
from resolvers.ids import decode_id


def _project(project_id: str) -> Any:
    return decode_id(project_id, "Project", "projectId")


async def environments(ctx: RequestContext, project_id: str):
    return await ctx.services.environments.list(ctx.viewer, _project(project_id))


async def update_environment(ctx: RequestContext, data: Any):
    settings: dict[str, Any] = {}
    for group in (data.resources, data.autoscaling):
        if group is not None:
            settings.update({k: v for k, v in vars(group).items() if v is not None})
    variables = None if data.variables is None else [(var.name, var.value) for var in data.variables]
    return await ctx.services.environments.update(
        ctx.viewer,
        _project(data.project_id),
        data.environment,
        namespace=data.namespace,
        replicas=data.replicas,
        variables=variables,
        **settings,
    )


async def set_secret(ctx: RequestContext, project_id: str, environment: Environment, name: str, value: str):
    return await ctx.services.environments.set_secret(ctx.viewer, _project(project_id), environment, name, value)


async def delete_secret(ctx: RequestContext, project_id: str, environment: Environment, name: str):
    return await ctx.services.environments.delete_secret(ctx.viewer, _project(project_id), environment, name)


async def reject_deployment(ctx: RequestContext, deployment_id: str, reason: str):
    return await ctx.services.deployments.reject(ctx.viewer, decode_id(deployment_id, "Deployment", "id"), reason)
