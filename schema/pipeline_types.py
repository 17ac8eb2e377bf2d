"""Types of the AI pipeline: PRD documents, jobs, AI usage, model configurations, prompt templates."""

import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, Any

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import model, repos
from domain.model import AiModelConfig  # AiModelNode has a field named `model`
from resolvers import relations
from resolvers.context import RequestContext
from resolvers.ids import to_global_id
from schema.enums import JobStatus
from schema.relay import Node, node_id

TEMPERATURE_UNSENT = (
    "Stored but not sent: the Anthropic Messages API (anthropic-version 2026-10-21, which the SDK sends) refuses "
    "temperature, top_p and top_k at any value."
)

if TYPE_CHECKING:
    from schema.types import RequirementNode  # at run time strawberry.lazy resolves it (schema.types imports this)

LazyRequirement = Annotated["RequirementNode", strawberry.lazy("schema.types")]


@strawberry.type
class Feature:
    id: str
    name: str
    priority: str


@strawberry.type
class PrdSection:
    section_id: str
    title: str
    content: str
    features: list[Feature]
    ai_generated: bool


@strawberry.type(name="PrdDocument")
class PrdNode(Node):
    id: strawberry.ID = node_id("PrdDocument")
    version: int
    ai_generated: bool
    approved: bool
    review: JSON
    created_at: datetime.datetime
    updated_at: datetime.datetime
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.PrdDocument))

    @strawberry.field
    def sections(self, root: strawberry.Parent[model.PrdDocument]) -> list[PrdSection]:
        return [
            PrdSection(
                section_id=s["section_id"],
                title=s["title"],
                content=s["content"],
                features=[Feature(id=f["id"], name=f["name"], priority=f["priority"]) for f in s.get("features", [])],
                ai_generated=s.get("ai_generated", True),
            )
            for s in root.sections
        ]

    @strawberry.field
    async def requirement(
        self, root: strawberry.Parent[model.PrdDocument], info: Info[RequestContext, None]
    ) -> LazyRequirement:
        return await relations.one(info.context, repos.REQUIREMENTS, root.requirement_id)


@strawberry.type(name="Job")
class JobNode(Node):
    id: strawberry.ID = node_id("Job")
    kind: str
    status: JobStatus
    progress: int
    message: str | None
    result: JSON | None
    error: str | None
    attempts: int
    max_attempts: int
    input_tokens: int
    output_tokens: int
    created_at: datetime.datetime
    updated_at: datetime.datetime
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.Job))

    @strawberry.field(description="Global id of the entity the job works on.")
    def subject_id(self, root: strawberry.Parent[model.Job]) -> strawberry.ID:
        return strawberry.ID(to_global_id(root.subject_type, root.subject_id))

    @strawberry.field
    def subject_type(self, root: strawberry.Parent[model.Job]) -> str:
        return root.subject_type

    @strawberry.field
    def cost_usd(self, root: strawberry.Parent[model.Job]) -> float:
        return float(root.cost_usd)


@strawberry.type
class AiUsage:
    input_tokens: int
    output_tokens: int
    cost_usd: float

    @classmethod
    def of(cls, totals: dict[str, Any]) -> "AiUsage":
        return cls(
            input_tokens=int(totals["input_tokens"]),
            output_tokens=int(totals["output_tokens"]),
            cost_usd=float(Decimal(str(totals["cost_usd"]))),
        )


@strawberry.type(name="AiModelConfig")
class AiModelNode(Node):
    id: strawberry.ID = node_id("AiModelConfig")
    name: str
    provider: str
    model: str
    base_url: str | None
    max_tokens: int
    temperature: float = strawberry.field(deprecation_reason=TEMPERATURE_UNSENT)
    is_default: bool
    updated_at: datetime.datetime
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.AiModelConfig))

    @strawberry.field(description="Whether a key is stored; the key itself is never returned.")
    def has_api_key(self, root: strawberry.Parent[AiModelConfig]) -> bool:
        return root.api_key_encrypted is not None


@strawberry.type(name="PromptTemplate")
class PromptNode(Node):
    id: strawberry.ID = node_id("PromptTemplate")
    identifier: str
    category: str
    content: str
    variables: list[str]
    updated_at: datetime.datetime
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.PromptTemplate))
