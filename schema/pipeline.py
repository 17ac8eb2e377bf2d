"""Query and Mutation roots of the AI pipeline and its configuration."""

from enum import Enum

import strawberry
from strawberry.types import Info

from resolvers import nodes, pipeline
from resolvers.context import RequestContext
from schema import enums as e
from schema.pipeline_types import TEMPERATURE_UNSENT, AiModelNode, JobNode, PrdNode, PromptNode
from schema.relay import root_connection


@strawberry.enum
class AiModelOrderField(Enum):
    NAME = "name"
    UPDATED_AT = "updated_at"


@strawberry.enum
class PromptOrderField(Enum):
    IDENTIFIER = "identifier"
    UPDATED_AT = "updated_at"


@strawberry.input
class AiModelOrder:
    field: AiModelOrderField = AiModelOrderField.NAME
    direction: e.SortDirection = e.SortDirection.ASC


@strawberry.input
class PromptOrder:
    field: PromptOrderField = PromptOrderField.IDENTIFIER
    direction: e.SortDirection = e.SortDirection.ASC


@strawberry.input
class AiModelFilter:
    provider: str | None = None


@strawberry.input
class PromptFilter:
    category: str | None = None


@strawberry.input
class CodeSpecifications:
    include_tests: bool = True
    include_docs: bool = False
    coding_standards: str | None = None


@strawberry.input
class CreateAiModelInput:
    name: str
    provider: str
    model: str
    base_url: str | None = None
    api_key: str | None = None
    max_tokens: int = 4096
    temperature: float = strawberry.field(default=0.2, deprecation_reason=TEMPERATURE_UNSENT)
    is_default: bool = False


@strawberry.input
class UpdateAiModelInput:
    model: str | None = strawberry.UNSET
    base_url: str | None = strawberry.UNSET
    api_key: str | None = strawberry.UNSET
    max_tokens: int | None = strawberry.UNSET
    temperature: float | None = strawberry.field(default=strawberry.UNSET, deprecation_reason=TEMPERATURE_UNSENT)
    is_default: bool | None = strawberry.UNSET


@strawberry.input
class SavePromptTemplateInput:
    identifier: str
    category: str
    content: str
    variables: list[str]


@strawberry.type
class PipelineQuery:
    @strawberry.field
    async def prd(self, info: Info[RequestContext, None], id: strawberry.ID) -> PrdNode:
        return await nodes.by_id(info.context, "PrdDocument", id)

    @strawberry.field
    async def job(self, info: Info[RequestContext, None], id: strawberry.ID) -> JobNode:
        return await nodes.by_id(info.context, "Job", id)

    ai_models = root_connection(
        AiModelNode, pipeline.list_models, AiModelFilter, AiModelOrder, "AI model configurations (super admins)."
    )
    prompt_templates = root_connection(
        PromptNode,
        pipeline.list_prompts,
        PromptFilter,
        PromptOrder,
        "Prompt templates by step category (super admins).",
    )


@strawberry.type
class PipelineMutation:
    @strawberry.mutation(description="Draft a PRD for the requirement (a job); the requirement moves to ANALYZING.")
    async def generate_prd(self, info: Info[RequestContext, None], requirement_id: strawberry.ID) -> JobNode:
        return await pipeline.generate_prd(info.context, requirement_id)

    @strawberry.mutation(description="Break the requirement into typed tasks (a job); unstarted AI tasks are replaced.")
    async def decompose_requirement(
        self,
        info: Info[RequestContext, None],
        requirement_id: strawberry.ID,
        strategy: e.Strategy = e.Strategy.ROLE_BASED,
        target_roles: list[e.TaskType] | None = None,
    ) -> JobNode:
        return await pipeline.decompose(info.context, requirement_id, strategy, target_roles)

    @strawberry.mutation(description="Generate code artifacts for the task (a job); the task moves to IN_REVIEW.")
    async def generate_code(
        self,
        info: Info[RequestContext, None],
        task_id: strawberry.ID,
        language: str,
        framework: str | None = None,
        specifications: CodeSpecifications | None = None,
    ) -> JobNode:
        return await pipeline.generate_code(info.context, task_id, language, framework, specifications)

    @strawberry.mutation(description="Review an artifact with static checks and the AI (a job).")
    async def review_code(self, info: Info[RequestContext, None], artifact_id: strawberry.ID) -> JobNode:
        return await pipeline.review_code(info.context, artifact_id)

    @strawberry.mutation(description="Cancel a queued or running job; it ends CANCELLED.")
    async def cancel_job(self, info: Info[RequestContext, None], id: strawberry.ID) -> JobNode:
        return await pipeline.cancel_job(info.context, id)

    @strawberry.mutation
    async def update_prd_section(
        self,
        info: Info[RequestContext, None],
        prd_id: strawberry.ID,
        section_id: str,
        title: str | None = None,
        content: str | None = None,
    ) -> PrdNode:
        return await pipeline.update_prd_section(info.context, prd_id, section_id, title, content)

    @strawberry.mutation(description="Approve the current PRD; the requirement moves to APPROVED.")
    async def approve_prd(self, info: Info[RequestContext, None], prd_id: strawberry.ID) -> PrdNode:
        return await pipeline.approve_prd(info.context, prd_id)

    @strawberry.mutation
    async def create_ai_model(self, info: Info[RequestContext, None], input: CreateAiModelInput) -> AiModelNode:
        return await pipeline.create_model(info.context, input)

    @strawberry.mutation
    async def update_ai_model(
        self, info: Info[RequestContext, None], id: strawberry.ID, input: UpdateAiModelInput
    ) -> AiModelNode:
        return await pipeline.update_model(info.context, id, input)

    @strawberry.mutation
    async def delete_ai_model(self, info: Info[RequestContext, None], id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(await pipeline.delete_model(info.context, id))

    @strawberry.mutation(description="Create or replace a prompt template; `<step>.default` is used by that step.")
    async def save_prompt_template(
        self, info: Info[RequestContext, None], input: SavePromptTemplateInput
    ) -> PromptNode:
        return await pipeline.save_prompt(info.context, input)

    @strawberry.mutation
    async def delete_prompt_template(self, info: Info[RequestContext, None], identifier: str) -> str:
        return await pipeline.delete_prompt(info.context, identifier)
