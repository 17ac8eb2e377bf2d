"""`node(id)`: any entity by its global id, through the service that guards it."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from domain.errors import NotFound
from domain.permissions import Viewer
from resolvers.context import RequestContext
from resolvers.ids import decode_id, from_global_id


def _getters(ctx: RequestContext) -> dict[str, Callable[[Viewer, uuid.UUID], Awaitable[Any]]]:
    s = ctx.services
    return {
        "Project": s.projects.get,
        "Requirement": s.requirements.get,
        "Task": s.tasks.get,
        "CodeArtifact": s.artifacts.get,
        "TestResult": s.test_results.get,
        "Deployment": s.deployments.get,
        "User": s.users.get,
        "Job": s.jobs.get,
        "PrdDocument": s.pipeline.prds.get,
        "AiModelConfig": s.ai_config.models.get,
        "PromptTemplate": s.ai_config.prompts.get,
        "AuditEntry": s.audit.get,
        "Conversation": s.chat.get,
        "ChatMessage": s.chat.message_reads.get,
        "PipelineRun": s.pipeline_runs.get,
        "PipelineStage": s.pipeline_runs.stage_reads.get,
    }


async def node(ctx: RequestContext, global_id: str) -> Any:
    type_name, raw = from_global_id(global_id)
    getter = _getters(ctx).get(type_name)
    if getter is None:
        raise NotFound(type_name, global_id)
    return await getter(ctx.viewer, raw)


async def by_id(ctx: RequestContext, type_name: str, global_id: str) -> Any:
    """An entity of a known type (`project(id)`, `job(id)`...); an id of another type is invalid input."""
    return await _getters(ctx)[type_name](ctx.viewer, decode_id(global_id, type_name, "id"))
