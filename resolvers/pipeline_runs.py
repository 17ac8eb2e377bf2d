"""Pipeline runs and definitions: GraphQL arguments to the pipeline use cases."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from domain.model import PipelineDefinition, PipelineRun
from domain.pipeline_specs import StageSpec
from resolvers.context import RequestContext
from resolvers.ids import decode_id, to_global_id
from resolvers.listing import ConnectionArgs, to_list_query
from resolvers.subscriptions import follower

HOOK_PATH = "/hooks/pipelines/{project_id}"


def hook_path(project_global_id: str) -> str:
    return HOOK_PATH.format(project_id=project_global_id)


def artifact_ids(root: Any) -> list[str]:
    return [to_global_id("CodeArtifact", a) for a in root.artifact_ids]


def stage_specs(definition: PipelineDefinition) -> list[StageSpec]:
    return [StageSpec.from_json(s) for s in definition.stages]


async def definition(ctx: RequestContext, project_id: str) -> PipelineDefinition:
    return await ctx.services.pipeline_runs.definition(ctx.viewer, decode_id(project_id, "Project", "projectId"))


async def run(ctx: RequestContext, run_id: str) -> PipelineRun:
    return await ctx.services.pipeline_runs.get(ctx.viewer, decode_id(run_id, "PipelineRun", "id"))


async def runs(ctx: RequestContext, project_id: str, args: ConnectionArgs):
    pid = decode_id(project_id, "Project", "projectId")
    return await ctx.services.pipeline_runs.list(ctx.viewer, to_list_query(args, project_id=pid))


async def update_definition(ctx: RequestContext, data: Any) -> PipelineDefinition:
    stages = (
        None if data.stages is None else [StageSpec(s.name, s.kind, s.environment, s.test_type) for s in data.stages]
    )
    return await ctx.services.pipeline_runs.update_definition(
        ctx.viewer,
        decode_id(data.project_id, "Project", "projectId"),
        stages=stages,
        trigger_on_review=data.trigger_on_review,
    )


async def rotate_secret(ctx: RequestContext, project_id: str) -> tuple[str, str]:
    secret = await ctx.services.pipeline_webhooks.rotate_secret(
        ctx.viewer, decode_id(project_id, "Project", "projectId")
    )
    return secret, hook_path(project_id)


async def start(
    ctx: RequestContext, project_id: str, version: str | None, artifact_global_ids: list[str] | None
) -> PipelineRun:
    ids = (
        None
        if artifact_global_ids is None
        else [decode_id(a, "CodeArtifact", "artifactIds") for a in artifact_global_ids]
    )
    return await ctx.services.pipeline_runs.start(
        ctx.viewer, decode_id(project_id, "Project", "projectId"), version=version, artifact_ids=ids
    )


async def cancel(ctx: RequestContext, run_id: str) -> PipelineRun:
    return await ctx.services.pipeline_runs.cancel(ctx.viewer, decode_id(run_id, "PipelineRun", "id"))


def run_updates(ctx: RequestContext, run_id: str) -> AsyncIterator[PipelineRun]:
    return ctx.services.live.pipeline_run(follower(ctx), decode_id(run_id, "PipelineRun", "id"))
