"""AI pipeline mutations and reads: PRDs, decomposition, code generation and review, AI configuration."""

from __future__ import annotations

from typing import Any

from domain import repos
from domain.enums import Strategy, TaskType
from resolvers.context import RequestContext
from resolvers.ids import decode_id
from resolvers.listing import ConnectionArgs, to_list_query
from resolvers.projects import provided


async def cancel_job(ctx: RequestContext, job_id: str):
    return await ctx.services.jobs.cancel(ctx.viewer, decode_id(job_id, "Job", "id"))


async def generate_prd(ctx: RequestContext, requirement_id: str):
    return await ctx.services.pipeline.generate_prd(
        ctx.viewer, decode_id(requirement_id, "Requirement", "requirementId")
    )


async def decompose(ctx: RequestContext, requirement_id: str, strategy: Strategy, target_roles: list[TaskType] | None):
    return await ctx.services.pipeline.decompose(
        ctx.viewer, decode_id(requirement_id, "Requirement", "requirementId"), strategy, target_roles
    )


async def generate_code(ctx: RequestContext, task_id: str, language: str, framework: str | None, specs: Any):
    options = {} if specs is None else vars(specs)
    return await ctx.services.pipeline.generate_code(
        ctx.viewer, decode_id(task_id, "Task", "taskId"), language=language, framework=framework, **options
    )


async def review_code(ctx: RequestContext, artifact_id: str):
    return await ctx.services.pipeline.review_code(ctx.viewer, decode_id(artifact_id, "CodeArtifact", "artifactId"))


async def update_prd_section(ctx: RequestContext, prd_id: str, section_id: str, title: str | None, content: str | None):
    return await ctx.services.pipeline.update_prd_section(
        ctx.viewer, decode_id(prd_id, "PrdDocument", "prdId"), section_id, title=title, content=content
    )


async def approve_prd(ctx: RequestContext, prd_id: str):
    return await ctx.services.pipeline.approve_prd(ctx.viewer, decode_id(prd_id, "PrdDocument", "prdId"))


async def list_models(ctx: RequestContext, args: ConnectionArgs):
    return await ctx.services.ai_config.models.list(ctx.viewer, to_list_query(args))


async def create_model(ctx: RequestContext, data: Any):
    return await ctx.services.ai_config.create_model(ctx.viewer, **vars(data))


async def update_model(ctx: RequestContext, config_id: str, data: Any):
    return await ctx.services.ai_config.update_model(
        ctx.viewer, decode_id(config_id, "AiModelConfig", "id"), **provided(data)
    )


async def delete_model(ctx: RequestContext, config_id: str) -> str:
    await ctx.services.ai_config.delete_model(ctx.viewer, decode_id(config_id, "AiModelConfig", "id"))
    return config_id


async def list_prompts(ctx: RequestContext, args: ConnectionArgs):
    return await ctx.services.ai_config.prompts.list(ctx.viewer, to_list_query(args))


async def save_prompt(ctx: RequestContext, data: Any):
    return await ctx.services.ai_config.save_prompt(ctx.viewer, **vars(data))


async def delete_prompt(ctx: RequestContext, identifier: str) -> str:
    return await ctx.services.ai_config.delete_prompt(ctx.viewer, identifier)


USAGE_COLUMNS = ("input_tokens", "output_tokens", "cost_usd")


async def ai_usage(ctx: RequestContext, project_id: Any) -> dict[str, Any]:
    return await ctx.loaders.sums_of(repos.JOBS, "project_id", USAGE_COLUMNS).load(project_id)
