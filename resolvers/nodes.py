"""`node(id)`: any entity by its global id, through the service that guards it."""

from __future__ import annotations

from typing import Any

from resolvers.context import RequestContext
from resolvers.ids import from_global_id


async def node(ctx: RequestContext, global_id: str) -> Any:
    type_name, raw = from_global_id(global_id)
    s = ctx.services
    getters = {
        "Project": s.projects.get,
        "Requirement": s.requirements.get,
        "Task": s.tasks.get,
        "CodeArtifact": s.artifacts.get,
        "TestResult": s.test_results.get,
        "Deployment": s.deployments.get,
        "User": s.users.get,
        "Job": s.jobs.get,
        "PrdDocument": s.pipeline.prd,
        "AiModelConfig": s.ai_config.get_model,
        "PromptTemplate": s.ai_config.get_prompt,
        "AuditEntry": s.audit.get,
    }
    getter = getters.get(type_name)
    if getter is None:
        from domain.errors import NotFound

        raise NotFound(type_name, global_id)
    return await getter(ctx.viewer, raw)
