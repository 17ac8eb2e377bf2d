"""Pipelines over GraphQL: a project's stage definition, runs with their stages, starting, cancelling, the webhook
secret, and `pipelineUpdated` live."""

import datetime
from collections.abc import AsyncGenerator
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import strawberry
from strawberry.types import Info

from domain import model, repos
from domain.enums import PipelineRunStatus, PipelineTrigger, StageKind, StageStatus
from resolvers import pipeline_runs as resolve
from resolvers import relations, subscriptions
from resolvers.context import RequestContext
from resolvers.listing import ConnectionArgs
from schema import enums as e
from schema.relay import Connection, Node, node_id, ref_id, rows_only
from schema.types import UserNode

for _enum in (PipelineRunStatus, PipelineTrigger, StageKind, StageStatus):
    strawberry.enum(_enum)

if TYPE_CHECKING:
    from schema.types import ProjectNode  # at run time strawberry.lazy resolves it

LazyProject = Annotated["ProjectNode", strawberry.lazy("schema.types")]


def _seconds(started: datetime.datetime | None, finished: datetime.datetime | None) -> float | None:
    return None if started is None or finished is None else (finished - started).total_seconds()


@strawberry.type(name="PipelineStage")
class PipelineStageNode(Node):
    id: strawberry.ID = node_id("PipelineStage")
    position: int
    name: str
    kind: StageKind
    environment: e.Environment | None
    test_type: e.TestType | None
    status: StageStatus
    message: str | None
    started_at: datetime.datetime | None
    finished_at: datetime.datetime | None
    job_id: strawberry.ID | None = ref_id("Job", "job_id")
    work_job_id: strawberry.ID | None = ref_id("Job", "work_job_id")
    deployment_id: strawberry.ID | None = ref_id("Deployment", "deployment_id")
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.PipelineStage))

    @strawberry.field(description="Seconds from start to end; null until the stage has ended.")
    def duration_seconds(self, root: strawberry.Parent[model.PipelineStage]) -> float | None:
        return _seconds(root.started_at, root.finished_at)


@strawberry.type(name="PipelineRun")
class PipelineRunNode(Node):
    id: strawberry.ID = node_id("PipelineRun")
    version: str
    status: PipelineRunStatus
    trigger: PipelineTrigger
    trigger_ref: str | None = strawberry.field(description="The webhook delivery id, or the reviewed artifact's id.")
    message: str | None
    created_at: datetime.datetime
    finished_at: datetime.datetime | None
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.PipelineRun))

    @strawberry.field(name="artifactIds")
    def artifact_global_ids(self, root: strawberry.Parent[model.PipelineRun]) -> list[strawberry.ID]:
        return [strawberry.ID(i) for i in resolve.artifact_ids(root)]

    @strawberry.field(description="Who started the run (for a webhook: the owner of its secret).")
    async def triggered_by(
        self, root: strawberry.Parent[model.PipelineRun], info: Info[RequestContext, None]
    ) -> UserNode | None:
        return await relations.one(info.context, repos.USERS, root.triggered_by)

    @strawberry.field(description="Seconds from start to end; null while the run goes on.")
    def duration_seconds(self, root: strawberry.Parent[model.PipelineRun]) -> float | None:
        return _seconds(root.created_at, root.finished_at)

    @strawberry.field(description="The stages in order.")
    async def stages(
        self, root: strawberry.Parent[model.PipelineRun], info: Info[RequestContext, None]
    ) -> list[PipelineStageNode]:
        stages = await relations.children(info.context, repos.PIPELINE_STAGES, "run_id", root.id)
        return sorted(stages, key=lambda s: s.position)

    @strawberry.field
    async def project(
        self, root: strawberry.Parent[model.PipelineRun], info: Info[RequestContext, None]
    ) -> LazyProject:
        return await relations.one(info.context, repos.PROJECTS, root.project_id)


@strawberry.type(name="PipelineStageSpec")
class StageSpecType:
    name: str
    kind: StageKind
    environment: e.Environment | None
    test_type: e.TestType | None


@strawberry.type(name="PipelineDefinition")
class PipelineDefinitionType:
    trigger_on_review: bool
    webhook_rotated_at: datetime.datetime | None
    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, model.PipelineDefinition))

    @strawberry.field
    def stages(self, root: strawberry.Parent[model.PipelineDefinition]) -> list[StageSpecType]:
        return resolve.stage_specs(root)  # type: ignore[return-value]  # StageSpec has the same fields

    @strawberry.field(description="Whether a webhook secret is set; the secret is shown once, when rotated.")
    def webhook_configured(self, root: strawberry.Parent[model.PipelineDefinition]) -> bool:
        return root.webhook_secret_encrypted is not None


@strawberry.type
class WebhookSecret:
    secret: str = strawberry.field(description="Shown this once; rdflow keeps it encrypted and never returns it.")
    url_path: str = strawberry.field(description="POST signed deliveries here.")


@strawberry.input
class StageInput:
    name: str
    kind: StageKind
    environment: e.Environment | None = None
    test_type: e.TestType | None = None


@strawberry.input
class UpdatePipelineInput:
    project_id: strawberry.ID
    stages: list[StageInput] | None = None
    trigger_on_review: bool | None = None


@strawberry.input
class PipelineRunFilter:
    status: list[PipelineRunStatus] | None = None


@strawberry.enum
class PipelineRunOrderField(Enum):
    CREATED_AT = "created_at"


@strawberry.input
class PipelineRunOrder:
    field: PipelineRunOrderField = PipelineRunOrderField.CREATED_AT
    direction: e.SortDirection = e.SortDirection.DESC


@strawberry.type
class PipelineRunQuery:
    @strawberry.field(description="The project's pipeline definition (the default one until an admin changes it).")
    async def pipeline(self, info: Info[RequestContext, None], project_id: strawberry.ID) -> PipelineDefinitionType:
        return await resolve.definition(info.context, project_id)  # type: ignore[return-value]  # the row

    @strawberry.field
    async def pipeline_run(self, info: Info[RequestContext, None], id: strawberry.ID) -> PipelineRunNode:
        return await resolve.run(info.context, id)  # type: ignore[return-value]  # the row

    @strawberry.field(description="A project's pipeline runs, newest first unless ordered otherwise.")
    async def pipeline_runs(
        self,
        info: Info[RequestContext, None],
        project_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: PipelineRunFilter | None = None,
        order_by: PipelineRunOrder | None = None,
    ) -> Connection[PipelineRunNode]:
        args = ConnectionArgs(
            first, after, last, before, filter, order_by or PipelineRunOrder(), rows_only=rows_only(info)
        )
        return await resolve.runs(info.context, project_id, args)  # a Page, which the Connection reads


@strawberry.type
class PipelineRunMutation:
    @strawberry.mutation(description="Change a project's stages (validated) and whether approved reviews start runs.")
    async def update_pipeline(
        self, info: Info[RequestContext, None], input: UpdatePipelineInput
    ) -> PipelineDefinitionType:
        return await resolve.update_definition(info.context, input)  # type: ignore[return-value]  # the row

    @strawberry.mutation(description="A new webhook secret for the project, shown once; the old one stops working.")
    async def rotate_pipeline_webhook_secret(
        self, info: Info[RequestContext, None], project_id: strawberry.ID
    ) -> WebhookSecret:
        secret, path = await resolve.rotate_secret(info.context, project_id)
        return WebhookSecret(secret=secret, url_path=path)

    @strawberry.mutation(description="Run the project's pipeline on artifacts (default: the newest approved ones).")
    async def start_pipeline_run(
        self,
        info: Info[RequestContext, None],
        project_id: strawberry.ID,
        version: str | None = None,
        artifact_ids: list[strawberry.ID] | None = None,
    ) -> PipelineRunNode:
        ids = None if artifact_ids is None else [str(a) for a in artifact_ids]
        return await resolve.start(info.context, project_id, version, ids)  # type: ignore[return-value]  # the row

    @strawberry.mutation(description="Stop a run midway: its running job is cancelled and no later stage starts.")
    async def cancel_pipeline_run(self, info: Info[RequestContext, None], id: strawberry.ID) -> PipelineRunNode:
        return await resolve.cancel(info.context, id)  # type: ignore[return-value]  # the row


@strawberry.type
class PipelineRunSubscription:
    @strawberry.subscription(description="The pipeline run now, then after every change of it or its stages.")
    async def pipeline_updated(
        self, info: Info[RequestContext, None], id: strawberry.ID
    ) -> AsyncGenerator[PipelineRunNode, None]:
        async for run in subscriptions.until_closed(info.context, resolve.run_updates(info.context, id)):
            yield run
