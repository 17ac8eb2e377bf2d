"""The Subscription root: jobs, deployments and everything that happens in a project, live."""

import datetime
import uuid
from collections.abc import AsyncGenerator

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from domain import repos
from domain.events import DomainEvent
from resolvers import relations, subscriptions
from resolvers.context import RequestContext
from resolvers.ids import to_global_id
from schema import fanout
from schema.pipeline_types import JobNode
from schema.types import DeploymentNode, UserNode


@strawberry.type(description="A change of one entity in a project: created, updated, status_changed, ...")
class ProjectEvent:
    entity_type: str
    action: str
    old_status: str | None
    new_status: str | None
    at: datetime.datetime
    data: JSON

    @strawberry.field(description="Global id of the changed entity.")
    def entity_id(self, root: strawberry.Parent[DomainEvent]) -> strawberry.ID:
        return strawberry.ID(to_global_id(root.entity_type, root.entity_id))

    @strawberry.field
    async def actor(self, root: strawberry.Parent[DomainEvent], info: Info[RequestContext, None]) -> UserNode | None:
        return await relations.one(info.context, repos.USERS, uuid.UUID(root.actor_id) if root.actor_id else None)

    is_type_of = classmethod(lambda cls, obj, _info: isinstance(obj, DomainEvent))


@strawberry.type
class Subscription:
    @strawberry.subscription(description="The job now, then every change until it ends.")
    async def job_updated(self, info: Info[RequestContext, None], id: strawberry.ID) -> AsyncGenerator[JobNode, None]:
        async for job in subscriptions.until_closed(info.context, subscriptions.job_updates(info.context, id)):
            yield job

    @strawberry.subscription(description="The deployment now, then every change.")
    async def deployment_updated(
        self, info: Info[RequestContext, None], id: strawberry.ID
    ) -> AsyncGenerator[DeploymentNode, None]:
        async for deployment in subscriptions.until_closed(
            info.context, subscriptions.deployment_updates(info.context, id)
        ):
            yield deployment

    @strawberry.subscription(description="A snapshot event with the project's status, then every change in it.")
    async def project_events(
        self, info: Info[RequestContext, None], project_id: strawberry.ID
    ) -> AsyncGenerator[ProjectEvent, None]:
        ctx = info.context
        # Over graphql-transport-ws each event's result is executed and encoded once for every subscriber with the
        # same selection and visibility; access is still checked per subscriber (by the stream below).
        # Events that need no access re-check go straight from the publisher to the connection when it can.
        shared = fanout.shared_sender(info._raw_info, f"{ctx.viewer.user_id}:{ctx.viewer.role}", ctx)
        direct = shared.direct if shared is not None else None
        events = subscriptions.project_events(ctx, project_id, direct)
        async for event in subscriptions.until_closed(ctx, events):
            if shared is None or event.action == "snapshot" or not await shared.send(event):
                yield event
