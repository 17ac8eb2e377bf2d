"""Live updates: each subscription authorizes, subscribes, sends the current state, then every change, for as long
as the viewer's access lasts; the socket is closed with a code saying why a subscription ended."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from starlette.websockets import WebSocket

from domain.errors import Forbidden, NotFound, Unauthenticated
from domain.events import DomainEvent, EventsMissed, SubscriberOverflow, entity_topic, project_topic
from domain.permissions import Viewer
from domain.services.jobs import TERMINAL, job_data
from resolvers.context import RequestContext
from resolvers.ids import decode_id

log = logging.getLogger("rdflow.subscriptions")

OVERFLOW_CLOSE_CODE = 4008
RESYNC_CLOSE_CODE = 4009
RESYNC_REASON = "resync: events may have been missed; refetch and resubscribe"
SIGNED_OUT_CLOSE_CODE = 4401
ACCESS_REMOVED_CLOSE_CODE = 4403
# Project events after which a viewer may have lost the project (any event of its own user re-checks its sign-in).
PROJECT_GRANT_ACTIONS = frozenset({"member_removed", "deleted"})

CheckAccess = Callable[[Viewer], Awaitable[Any]]
_closing: set[asyncio.Task] = set()


class SubscriptionClosed(Exception):
    """A subscription must end and its socket close with `code`: access ended, or events may have been missed."""

    def __init__(self, code: int, reason: str):
        super().__init__(reason)
        self.code = code
        self.reason = reason


async def close_socket(ctx: RequestContext, code: int, reason: str) -> None:
    """Close the subscriber's WebSocket (the transport aborts it when the client does not complete the close)."""
    socket = ctx.extras.get("request")
    if isinstance(socket, WebSocket):
        with contextlib.suppress(Exception):  # already closed or gone: nothing left to tell
            await socket.close(code=code, reason=reason[:120])


def _subscribe(ctx: RequestContext, topics: list[str]):
    """Subscribe; a client that stops reading loses its connection, with the reason, instead of slowing others."""

    def overflowed(exc: SubscriberOverflow) -> None:
        log.warning("closing a subscriber of %s: %s", ", ".join(topics), exc)
        task = asyncio.ensure_future(close_socket(ctx, OVERFLOW_CLOSE_CODE, str(exc)))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    return ctx.services.deps.bus.subscribe(
        [*topics, entity_topic("User", str(ctx.viewer.user_id))], on_overflow=overflowed
    )


async def _signed_in(ctx: RequestContext) -> Viewer:
    """The viewer as its sign-in stands now (role included); Unauthenticated once it ended."""
    if ctx.recheck_sign_in is None:  # no token to check again: fail closed
        raise Unauthenticated("your sign-in changed; sign in again")
    return await ctx.recheck_sign_in()


async def _recheck(ctx: RequestContext, event: DomainEvent, check_access: CheckAccess) -> None:
    """Raises SubscriptionClosed when `event` ended the viewer's sign-in or its access to what it follows."""
    try:
        if event.entity_type == "User":
            viewer = await _signed_in(ctx)
            try:
                await check_access(viewer)
            except (Forbidden, NotFound) as exc:  # a role change took the access away: sign in again
                raise Unauthenticated(f"your role changed: {exc.message}") from exc
        else:
            await check_access(ctx.viewer)
    except Unauthenticated as exc:
        raise SubscriptionClosed(SIGNED_OUT_CLOSE_CODE, exc.message) from exc
    except (Forbidden, NotFound) as exc:
        raise SubscriptionClosed(ACCESS_REMOVED_CLOSE_CODE, exc.message) from exc


async def _while_allowed(
    ctx: RequestContext,
    events: AsyncIterator[DomainEvent],
    check_access: CheckAccess,
    wanted: Callable[[DomainEvent], bool],
) -> AsyncIterator[DomainEvent]:
    """The `wanted` events; grant changes (the viewer's user, the project's membership) re-check access first."""
    viewer_id = str(ctx.viewer.user_id)
    async for event in events:
        if (event.entity_type == "User" and event.entity_id == viewer_id) or (
            event.entity_type == "Project" and event.action in PROJECT_GRANT_ACTIONS
        ):
            await _recheck(ctx, event, check_access)
        if wanted(event):
            yield event


def _state(job: Any) -> dict[str, Any]:
    """What a subscriber sees of a job (a heartbeat alone changes nothing visible)."""
    return {k: v for k, v in job_data(job).items() if k != "heartbeat_at"}


async def job_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[Any]:
    job_id = decode_id(global_id, "Job", "id")
    job = await ctx.services.jobs.get(ctx.viewer, job_id)
    topics = [entity_topic("Job", str(job_id))]
    if job.project_id is not None:
        topics.append(entity_topic("Project", str(job.project_id)))

    def check(viewer: Viewer) -> Awaitable[Any]:
        return ctx.services.jobs.get(viewer, job_id)

    async with _subscribe(ctx, topics) as events:
        job = await check(ctx.viewer)  # read after subscribing: nothing is missed
        yield job
        sent = _state(job)
        if job.status in TERMINAL:
            return
        async for _ in _while_allowed(ctx, events, check, lambda e: e.entity_type == "Job"):
            job = await check(ctx.viewer)
            # Several events may find the same state (one read already saw the next change): send it once.
            if (state := _state(job)) != sent:
                yield job
                sent = state
            if job.status in TERMINAL:
                return


async def deployment_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[Any]:
    deployment_id = decode_id(global_id, "Deployment", "id")
    deployment = await ctx.services.deployments.get(ctx.viewer, deployment_id)
    topics = [entity_topic("Deployment", str(deployment_id)), entity_topic("Project", str(deployment.project_id))]

    def check(viewer: Viewer) -> Awaitable[Any]:
        return ctx.services.deployments.get(viewer, deployment_id)

    async with _subscribe(ctx, topics) as events:
        yield await check(ctx.viewer)
        async for _ in _while_allowed(ctx, events, check, lambda e: e.entity_type == "Deployment"):
            yield await check(ctx.viewer)


async def project_events(ctx: RequestContext, global_id: str) -> AsyncIterator[DomainEvent]:
    project_id = decode_id(global_id, "Project", "projectId")
    await ctx.services.projects.get(ctx.viewer, project_id)

    def check(viewer: Viewer) -> Awaitable[Any]:
        return ctx.services.projects.get(viewer, project_id)

    async with _subscribe(ctx, [project_topic(str(project_id))]) as events:
        project = await check(ctx.viewer)
        yield DomainEvent(
            entity_type="Project",
            entity_id=str(project.id),
            action="snapshot",
            at=ctx.services.deps.clock.now(),
            project_id=str(project.id),
            new_status=project.status.value,
        )
        async for event in _while_allowed(ctx, events, check, lambda e: e.project_id == str(project_id)):
            yield event


async def until_closed(ctx: RequestContext, updates: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Ends a subscription quietly when the bus dropped it (its socket is closing already), and closes the socket
    with the reason when access ended or events may have been missed."""
    try:
        async for item in updates:
            yield item
    except SubscriberOverflow:
        return
    except EventsMissed:
        await close_socket(ctx, RESYNC_CLOSE_CODE, RESYNC_REASON)
    except SubscriptionClosed as exc:
        log.info("closing a subscription (%d): %s", exc.code, exc.reason)
        await close_socket(ctx, exc.code, exc.reason)
