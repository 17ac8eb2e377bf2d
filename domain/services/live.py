"""Live updates: authorize, subscribe, read the current state after subscribing, then stream each change."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from typing import Any

from domain.errors import Forbidden, NotFound, Unauthenticated
from domain.events import AccessEnded, AccessLost, DomainEvent, SubscriberOverflow, entity_topic, project_topic
from domain.model import Deployment, Job, PipelineRun
from domain.permissions import Viewer
from domain.services.base import Deps
from domain.services.deployments import DeploymentService
from domain.services.jobs import TERMINAL, JobService, job_data
from domain.services.pipeline_runs import RUN_TERMINAL, PipelineRunService
from domain.services.projects import ProjectService
from domain.services.shared_reads import SharedReads

# Project events after which a viewer may have lost the project (any event of its own user re-checks its sign-in).
PROJECT_GRANT_ACTIONS = frozenset({"member_removed", "deleted"})

CheckAccess = Callable[[Viewer], Awaitable[Any]]


@dataclass(frozen=True)
class Follower:
    """Who follows: the viewer, how to authenticate its sign-in again as it stands now (None: it cannot be, so a
    change of it ends the subscription), what to do at once when it falls too far behind (called by the bus,
    before its next read raises SubscriberOverflow), and how to hand an event to the client at once from the
    publisher (True: sent; False: it cannot now, the stream yields it instead). `direct` is used only for events
    that need no access re-check, while the stream waits with nothing queued, so order and re-checks hold."""

    viewer: Viewer
    recheck_sign_in: Callable[[], Awaitable[Viewer]] | None = None
    on_overflow: Callable[[SubscriberOverflow], None] | None = None
    direct: Callable[[DomainEvent], bool] | None = None


def _job_state(job: Job) -> dict[str, Any]:
    """What a follower sees of a job (a heartbeat alone changes nothing visible)."""
    return {k: v for k, v in job_data(job).items() if k != "heartbeat_at"}


class LiveUpdates:
    """Each stream ends with AccessEnded when access does, SubscriberOverflow or EventsMissed from the bus."""

    def __init__(
        self,
        deps: Deps,
        jobs: JobService,
        deployments: DeploymentService,
        projects: ProjectService,
        runs: PipelineRunService,
    ):
        self.deps = deps
        self.jobs = jobs
        self.deployments = deployments
        self.projects = projects
        self.runs = runs
        # Subscribe-time and re-check reads of a project, shared by the subscribers of one user and role.
        self._project_reads = SharedReads()

    async def job(self, follower: Follower, job_id: uuid.UUID) -> AsyncIterator[Job]:
        """The job now, then each visible change, until it ends."""
        job = await self.jobs.get(follower.viewer, job_id)
        topics = [entity_topic("Job", str(job_id))]
        if job.project_id is not None:
            topics.append(entity_topic("Project", str(job.project_id)))

        def check(viewer: Viewer) -> Awaitable[Job]:
            return self.jobs.get(viewer, job_id)

        async with self._subscribe(follower, topics) as events:
            job = await check(follower.viewer)  # read after subscribing: nothing is missed
            yield job
            sent = _job_state(job)
            if job.status in TERMINAL:
                return
            async for _ in self._while_allowed(follower, events, check, lambda e: e.entity_type == "Job"):
                job = await check(follower.viewer)
                # Several events may find the same state (one read already saw the next change): send it once.
                if (state := _job_state(job)) != sent:
                    yield job
                    sent = state
                if job.status in TERMINAL:
                    return

    async def deployment(self, follower: Follower, deployment_id: uuid.UUID) -> AsyncIterator[Deployment]:
        """The deployment now, then as it is after each change."""
        deployment = await self.deployments.get(follower.viewer, deployment_id)
        topics = [entity_topic("Deployment", str(deployment_id)), entity_topic("Project", str(deployment.project_id))]

        def check(viewer: Viewer) -> Awaitable[Deployment]:
            return self.deployments.get(viewer, deployment_id)

        async with self._subscribe(follower, topics) as events:
            yield await check(follower.viewer)
            async for _ in self._while_allowed(follower, events, check, lambda e: e.entity_type == "Deployment"):
                yield await check(follower.viewer)

    async def pipeline_run(self, follower: Follower, run_id: uuid.UUID) -> AsyncIterator[PipelineRun]:
        """The pipeline run now, then as it is after each change of it or of one of its stages, until it ends."""
        run = await self.runs.get(follower.viewer, run_id)
        topics = [entity_topic("PipelineRun", str(run_id)), project_topic(str(run.project_id))]
        ours = str(run_id)

        def check(viewer: Viewer) -> Awaitable[PipelineRun]:
            return self.runs.get(viewer, run_id)

        def wanted(event: DomainEvent) -> bool:
            return event.entity_id == ours or event.data.get("runId") == ours

        async with self._subscribe(follower, topics) as events:
            run = await check(follower.viewer)
            yield run
            if run.status in RUN_TERMINAL:
                return
            async for _ in self._while_allowed(follower, events, check, wanted):
                run = await check(follower.viewer)
                yield run
                if run.status in RUN_TERMINAL:
                    return

    async def project_events(self, follower: Follower, project_id: uuid.UUID) -> AsyncIterator[DomainEvent]:
        """A snapshot event with the project's status, then every event in the project. One read, after
        subscribing, both authorizes and gives the snapshot (a refusal leaves the bus before anything is sent)."""

        def check(viewer: Viewer) -> Awaitable[Any]:
            # What the read answers depends on the user (membership) and role only.
            key = (viewer.user_id, viewer.role, project_id)
            return self._project_reads.read(key, lambda: self.projects.get(viewer, project_id))

        ours = str(project_id)

        def wanted(event: DomainEvent) -> bool:
            return event.project_id == ours

        direct = _direct_unless_recheck(follower, wanted)
        async with self._subscribe(follower, [project_topic(ours)], direct) as events:
            project = await check(follower.viewer)
            yield DomainEvent(
                entity_type="Project",
                entity_id=str(project.id),
                action="snapshot",
                at=self.deps.clock.now(),
                project_id=str(project.id),
                new_status=project.status.value,
            )
            async for event in self._while_allowed(follower, events, check, wanted):
                yield event

    @contextlib.asynccontextmanager
    async def follow(
        self, follower: Follower, topics: Sequence[str], check: CheckAccess, wanted: Callable[[DomainEvent], bool]
    ) -> AsyncIterator[AsyncIterator[DomainEvent]]:
        """The `wanted` events on `topics` while `check` still lets the viewer read what it follows (for other
        services' live streams); read the current state inside the block, after subscribing, so nothing is missed."""
        async with self._subscribe(follower, topics) as events:
            yield self._while_allowed(follower, events, check, wanted)

    def _subscribe(
        self, follower: Follower, topics: Sequence[str], direct: Callable[[DomainEvent], bool] | None = None
    ) -> AbstractAsyncContextManager[AsyncIterator[DomainEvent]]:
        """The topics and the viewer's own user (whose changes may end its sign-in)."""
        own = entity_topic("User", str(follower.viewer.user_id))
        if direct is None:
            return self.deps.bus.subscribe([*topics, own], on_overflow=follower.on_overflow)
        return self.deps.bus.subscribe([*topics, own], on_overflow=follower.on_overflow, direct=direct)

    async def _while_allowed(
        self,
        follower: Follower,
        events: AsyncIterator[DomainEvent],
        check: CheckAccess,
        wanted: Callable[[DomainEvent], bool],
    ) -> AsyncIterator[DomainEvent]:
        """The `wanted` events; grant changes (the viewer's user, the project's membership) re-check access first."""
        viewer_id = str(follower.viewer.user_id)
        async for event in events:
            if _needs_recheck(event, viewer_id):
                await _recheck(follower, event, check)
            if wanted(event):
                yield event


def _needs_recheck(event: DomainEvent, viewer_id: str) -> bool:
    """A change of the viewer's own user, or of the project's membership, may have ended its access."""
    return (event.entity_type == "User" and event.entity_id == viewer_id) or (
        event.entity_type == "Project" and event.action in PROJECT_GRANT_ACTIONS
    )


def _direct_unless_recheck(
    follower: Follower, wanted: Callable[[DomainEvent], bool]
) -> Callable[[DomainEvent], bool] | None:
    """The follower's direct delivery for events that need no re-check (those go through the stream, which
    re-checks first and holds every later event behind it); an unwanted event needs nothing sent."""
    if follower.direct is None:
        return None
    return _UnlessRecheck(follower.direct, str(follower.viewer.user_id), wanted).deliver


class _UnlessRecheck:
    # A bound method of a slotted object rather than a closure: the publisher calls it for each of thousands of
    # subscribers in turn, and a closure's cells are so many more objects to fetch from memory.
    __slots__ = ("send", "viewer_id", "wanted")

    def __init__(self, send: Callable[[DomainEvent], bool], viewer_id: str, wanted: Callable[[DomainEvent], bool]):
        self.send = send
        self.viewer_id = viewer_id
        self.wanted = wanted

    def deliver(self, event: DomainEvent) -> bool:
        if _needs_recheck(event, self.viewer_id):
            return False
        return self.send(event) if self.wanted(event) else True


async def _signed_in(follower: Follower) -> Viewer:
    """The viewer as its sign-in stands now (role included); Unauthenticated once it ended."""
    if follower.recheck_sign_in is None:  # no token to check again: fail closed
        raise Unauthenticated("your sign-in changed; sign in again")
    return await follower.recheck_sign_in()


async def _recheck(follower: Follower, event: DomainEvent, check: CheckAccess) -> None:
    """Raises AccessEnded when `event` ended the viewer's sign-in or its access to what it follows."""
    try:
        if event.entity_type == "User":
            viewer = await _signed_in(follower)
            try:
                await check(viewer)
            except (Forbidden, NotFound) as exc:  # a role change took the access away: sign in again
                raise Unauthenticated(f"your role changed: {exc.message}") from exc
        else:
            await check(follower.viewer)
    except Unauthenticated as exc:
        raise AccessEnded(AccessLost.SIGNED_OUT, exc.message) from exc
    except (Forbidden, NotFound) as exc:
        raise AccessEnded(AccessLost.REMOVED, exc.message) from exc
