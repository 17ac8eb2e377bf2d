"""Live updates over GraphQL: each subscription follows its entity through the LiveUpdates use case; when one ends,
the connection is closed with a code saying why."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from typing import Any

from domain.events import AccessEnded, AccessLost, DomainEvent, EventsMissed, SubscriberOverflow
from domain.model import Deployment, Job
from domain.services.live import Follower
from resolvers.context import RequestContext
from resolvers.ids import decode_id

log = logging.getLogger("rdflow.subscriptions")

OVERFLOW_CLOSE_CODE = 4008
RESYNC_CLOSE_CODE = 4009
RESYNC_REASON = "resync: events may have been missed; refetch and resubscribe"
ACCESS_CLOSE_CODES = {AccessLost.SIGNED_OUT: 4401, AccessLost.REMOVED: 4403}

_closing: set[asyncio.Task] = set()


async def _close(ctx: RequestContext, code: int, reason: str) -> None:
    if ctx.close_connection is not None:  # only a WebSocket has a connection to close
        await ctx.close_connection(code, reason)


def follower(ctx: RequestContext, direct: Callable[[DomainEvent], bool] | None = None) -> Follower:
    """The viewer; a client that stops reading loses its connection, with the reason, instead of slowing others."""

    def overflowed(exc: SubscriberOverflow) -> None:
        log.warning("closing a subscriber (user %s): %s", ctx.viewer.user_id, exc)
        task = asyncio.ensure_future(_close(ctx, OVERFLOW_CLOSE_CODE, str(exc)))
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    return Follower(ctx.viewer, ctx.recheck_sign_in, overflowed, direct)


def job_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[Job]:
    return ctx.services.live.job(follower(ctx), decode_id(global_id, "Job", "id"))


def deployment_updates(ctx: RequestContext, global_id: str) -> AsyncIterator[Deployment]:
    return ctx.services.live.deployment(follower(ctx), decode_id(global_id, "Deployment", "id"))


def project_events(
    ctx: RequestContext, global_id: str, direct: Callable[[DomainEvent], bool] | None = None
) -> AsyncIterator[DomainEvent]:
    """`direct` sends an event to the client at once from the publisher (see Follower)."""
    return ctx.services.live.project_events(follower(ctx, direct), decode_id(global_id, "Project", "projectId"))


async def until_closed(ctx: RequestContext, updates: AsyncIterator[Any]) -> AsyncIterator[Any]:
    """Ends a subscription quietly when the bus dropped it (its connection is closing already), and closes the
    connection with the reason when access ended or events may have been missed."""
    try:
        async for item in updates:
            yield item
    except SubscriberOverflow:
        return
    except EventsMissed:
        await _close(ctx, RESYNC_CLOSE_CODE, RESYNC_REASON)
    except AccessEnded as exc:
        code = ACCESS_CLOSE_CODES[exc.why]
        log.info("closing a subscription (%d): %s", code, exc.reason)
        await _close(ctx, code, exc.reason)
