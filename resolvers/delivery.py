"""Code artifacts, test results and deployments: queries and mutations."""

from __future__ import annotations

from typing import Any

from domain.enums import DeploymentStatus, ReviewStatus
from resolvers.context import RequestContext
from resolvers.ids import decode_id


async def submit_artifact(ctx: RequestContext, data: Any):
    return await ctx.services.artifacts.submit(
        ctx.viewer,
        task_id=decode_id(data.task_id, "Task", "taskId"),
        file_path=data.file_path,
        content=data.content,
        language=data.language,
    )


async def submit_review(ctx: RequestContext, artifact_id: str, decision: ReviewStatus, comments: str | None):
    return await ctx.services.artifacts.submit_review(
        ctx.viewer, decode_id(artifact_id, "CodeArtifact", "artifactId"), decision, comments
    )


async def delete_artifact(ctx: RequestContext, artifact_id: str) -> str:
    await ctx.services.artifacts.delete(ctx.viewer, decode_id(artifact_id, "CodeArtifact", "id"))
    return artifact_id


async def artifact_content(ctx: RequestContext, artifact: Any) -> str:
    return await ctx.services.artifacts.content(ctx.viewer, artifact)


async def record_test_result(ctx: RequestContext, data: Any):
    fields = vars(data) | {"artifact_id": decode_id(data.artifact_id, "CodeArtifact", "artifactId")}
    return await ctx.services.test_results.record(ctx.viewer, **fields)


async def create_deployment(ctx: RequestContext, data: Any):
    return await ctx.services.deployments.create(
        ctx.viewer,
        project_id=decode_id(data.project_id, "Project", "projectId"),
        environment=data.environment,
        version=data.version,
        artifact_ids=[decode_id(a, "CodeArtifact", "artifactIds") for a in data.artifact_ids or []],
    )


async def approve_deployment(ctx: RequestContext, deployment_id: str):
    return await ctx.services.deployments.approve(ctx.viewer, decode_id(deployment_id, "Deployment", "id"))


async def change_deployment_status(ctx: RequestContext, deployment_id: str, status: DeploymentStatus):
    return await ctx.services.deployments.change_status(
        ctx.viewer, decode_id(deployment_id, "Deployment", "id"), status
    )
