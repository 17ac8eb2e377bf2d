"""The LiveUpdates use case: the current state read after subscribing, then each change, until access, the bus or
the followed job ends the stream."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest

from domain.enums import DeploymentStatus, Environment, JobStatus, Role
from domain.errors import Forbidden, Unauthenticated
from domain.events import (
    AccessEnded,
    AccessLost,
    DomainEvent,
    EventsMissed,
    SubscriberOverflow,
    entity_topic,
)
from domain.model import Deployment, Job, Project
from domain.permissions import Viewer
from domain.services.deployments import DeploymentService
from domain.services.jobs import JobLifecycle, JobService
from domain.services.live import Follower, LiveUpdates
from domain.services.pipeline_runs import PipelineRunService
from domain.services.projects import ProjectService
from tests.domain.conftest import World


def live_updates(world: World) -> LiveUpdates:
    deps = world.deps
    return LiveUpdates(deps, JobService(deps), DeploymentService(deps), ProjectService(deps), PipelineRunService(deps))


def running_job(world: World, project: Project | None, **fields: Any) -> Job:
    job = Job(
        kind="test.none",
        subject_type="Project",
        subject_id=project.id if project else uuid.uuid4(),
        project_id=project.id if project else None,
        created_at=world.clock.now(),
        **fields,
    )
    world.db.put("jobs", job)
    return job


def deployment(world: World, project: Project) -> Deployment:
    found = Deployment(project_id=project.id, environment=Environment.DEV, version="1.0.0")
    world.db.put("deployments", found)
    return found


async def next_of(stream: AsyncIterator[Any]) -> Any:
    return await asyncio.wait_for(anext(stream), 2)


async def quiet(stream: AsyncIterator[Any]) -> asyncio.Future:
    """Asserts the stream sends nothing for now; returns its read, still waiting for the next change."""
    waiting = asyncio.ensure_future(anext(stream))
    await asyncio.sleep(0.05)
    assert not waiting.done(), waiting.result()
    return waiting


async def publish(world: World, entity_type: str, entity_id: Any, action: str, project: Project | None) -> None:
    await world.bus.publish(
        DomainEvent(
            entity_type=entity_type,
            entity_id=str(entity_id),
            action=action,
            at=world.clock.now(),
            project_id=str(project.id) if project else None,
        )
    )


async def test_a_job_is_sent_as_it_is_then_after_each_change_until_it_ends(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    job = running_job(world, project)
    lifecycle = JobLifecycle(world.deps)

    async with contextlib.aclosing(live_updates(world).job(Follower(viewer), job.id)) as stream:
        assert (await next_of(stream)).status is JobStatus.QUEUED
        await lifecycle.claim(job.id)
        assert (await next_of(stream)).status is JobStatus.RUNNING
        await lifecycle.progress(job.id, 40, "halfway")
        sent = await next_of(stream)
        assert (sent.progress, sent.message) == (40, "halfway")
        await lifecycle.succeed(job.id, {"ok": True})
        assert (await next_of(stream)).status is JobStatus.SUCCEEDED
        with pytest.raises(StopAsyncIteration):
            await next_of(stream)
    assert world.bus.subscriber_count() == 0


async def test_a_job_that_already_ended_is_sent_once(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    job = running_job(world, project, status=JobStatus.FAILED)

    stream = live_updates(world).job(Follower(viewer), job.id)
    assert (await next_of(stream)).status is JobStatus.FAILED
    with pytest.raises(StopAsyncIteration):
        await next_of(stream)
    assert world.bus.subscriber_count() == 0


async def test_the_state_is_read_after_subscribing_so_a_change_meanwhile_is_sent_once(world, monkeypatch):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    job = running_job(world, project)
    lifecycle = JobLifecycle(world.deps)
    real_subscribe = world.bus.subscribe

    @contextlib.asynccontextmanager
    async def subscribe_then_change(topics, on_overflow=None):
        """The job starts right after the subscription exists, before its state is read."""
        async with real_subscribe(topics, on_overflow) as events:
            await lifecycle.claim(job.id)
            yield events

    monkeypatch.setattr(world.bus, "subscribe", subscribe_then_change)
    async with contextlib.aclosing(live_updates(world).job(Follower(viewer), job.id)) as stream:
        assert (await next_of(stream)).status is JobStatus.RUNNING
        waiting = await quiet(stream)  # the "started" event finds the state already sent
        beat = world.row("jobs", job.id)
        beat.heartbeat_at = world.clock.now() + timedelta(seconds=5)
        world.db.put("jobs", beat)
        await publish(world, "Job", job.id, "heartbeat", project)
        await asyncio.sleep(0.05)
        assert not waiting.done(), "a heartbeat alone changes nothing visible"
        await lifecycle.progress(job.id, 10, "going")
        assert (await asyncio.wait_for(waiting, 2)).progress == 10


async def test_a_deployment_is_sent_as_it_is_then_after_each_change(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    found = deployment(world, project)

    async with contextlib.aclosing(live_updates(world).deployment(Follower(viewer), found.id)) as stream:
        assert (await next_of(stream)).status is DeploymentStatus.PENDING
        found.status = DeploymentStatus.IN_PROGRESS
        world.db.put("deployments", found)
        await publish(world, "Deployment", found.id, "status_changed", project)
        assert (await next_of(stream)).status is DeploymentStatus.IN_PROGRESS
        # Other events of the project re-read nothing.
        await publish(world, "Requirement", uuid.uuid4(), "created", project)
        waiting = await quiet(stream)
        found.status = DeploymentStatus.SUCCEEDED
        world.db.put("deployments", found)
        await publish(world, "Deployment", found.id, "status_changed", project)
        assert (await asyncio.wait_for(waiting, 2)).status is DeploymentStatus.SUCCEEDED


async def test_project_events_start_with_a_snapshot_then_every_event_in_the_project(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    other = world.user(Role.DEVELOPER, project)
    admin = world.user(Role.PROJECT_ADMIN, project)

    async with contextlib.aclosing(live_updates(world).project_events(Follower(viewer), project.id)) as stream:
        snapshot = await next_of(stream)
        assert (snapshot.entity_type, snapshot.entity_id, snapshot.action) == ("Project", str(project.id), "snapshot")
        assert (snapshot.new_status, snapshot.at) == (project.status.value, world.clock.now())
        await publish(world, "Requirement", uuid.uuid4(), "created", project)
        assert (await next_of(stream)).action == "created"
        # Someone else's removal re-checks access, which the viewer keeps: the event is sent.
        await ProjectService(world.deps).remove_member(admin, project.id, other.user_id)
        assert (await next_of(stream)).action == "member_removed"


@pytest.mark.parametrize("follow", ["job", "deployment", "project_events"])
async def test_removing_the_viewer_from_the_project_ends_the_stream(world, follow):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    admin = world.user(Role.PROJECT_ADMIN, project)
    followed = {
        "job": lambda: running_job(world, project).id,
        "deployment": lambda: deployment(world, project).id,
        "project_events": lambda: project.id,
    }[follow]()

    stream = getattr(live_updates(world), follow)(Follower(viewer), followed)
    await next_of(stream)
    await ProjectService(world.deps).remove_member(admin, project.id, viewer.user_id)
    with pytest.raises(AccessEnded) as ended:
        await next_of(stream)
    assert ended.value.why is AccessLost.REMOVED
    assert ended.value.reason == f"you are not a member of project {project.id}"
    assert world.bus.subscriber_count() == 0


async def test_deleting_the_project_ends_the_stream(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    admin = world.user(Role.PROJECT_ADMIN, project)

    stream = live_updates(world).project_events(Follower(viewer), project.id)
    await next_of(stream)
    await ProjectService(world.deps).delete(admin, project.id)
    with pytest.raises(AccessEnded) as ended:
        await next_of(stream)
    assert ended.value.why is AccessLost.REMOVED and "not found" in ended.value.reason


async def test_an_event_of_the_viewer_ends_the_stream_once_its_sign_in_did(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)

    async def signed_out() -> Viewer:
        raise Unauthenticated("your session has ended")

    stream = live_updates(world).project_events(Follower(viewer, signed_out), project.id)
    await next_of(stream)
    await publish(world, "User", viewer.user_id, "logged_out", None)
    with pytest.raises(AccessEnded) as ended:
        await next_of(stream)
    assert (ended.value.why, ended.value.reason) == (AccessLost.SIGNED_OUT, "your session has ended")


async def test_an_event_of_the_viewer_ends_the_stream_when_its_sign_in_cannot_be_checked_again(world):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)

    stream = live_updates(world).project_events(Follower(viewer), project.id)
    await next_of(stream)
    await publish(world, "User", viewer.user_id, "updated", None)
    with pytest.raises(AccessEnded) as ended:
        await next_of(stream)
    assert ended.value.why is AccessLost.SIGNED_OUT


async def test_a_role_change_that_removes_access_ends_the_stream_and_one_that_keeps_it_does_not(world):
    project = world.project()
    admin = world.user(Role.SUPER_ADMIN)  # not a member: the role alone grants the project
    now: list[Viewer] = [admin]

    async def recheck() -> Viewer:
        return now[0]

    stream = live_updates(world).project_events(Follower(admin, recheck), project.id)
    await next_of(stream)
    await publish(world, "User", admin.user_id, "updated", None)
    await publish(world, "Requirement", uuid.uuid4(), "created", project)
    assert (await next_of(stream)).action == "created"

    now[0] = Viewer(user_id=admin.user_id, role=Role.GUEST, username=admin.username)
    await publish(world, "User", admin.user_id, "role_changed", None)
    with pytest.raises(AccessEnded) as ended:
        await next_of(stream)
    assert ended.value.why is AccessLost.SIGNED_OUT
    assert ended.value.reason == f"your role changed: you are not a member of project {project.id}"


async def test_a_viewer_without_access_is_refused_before_subscribing(world):
    project = world.project()
    stranger = world.user(Role.DEVELOPER)
    job = running_job(world, project)

    with pytest.raises(Forbidden):
        await next_of(live_updates(world).job(Follower(stranger), job.id))
    assert world.bus.subscriber_count() == 0


async def test_a_follower_that_falls_behind_is_told_at_once_and_its_stream_ends(world):
    world.bus.max_pending = 2
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    told: list[SubscriberOverflow] = []

    stream = live_updates(world).project_events(Follower(viewer, on_overflow=told.append), project.id)
    await next_of(stream)
    for _ in range(3):
        await publish(world, "Requirement", uuid.uuid4(), "updated", project)
    assert [exc.pending for exc in told] == [2]
    assert [(await next_of(stream)).action for _ in range(2)] == ["updated", "updated"]
    with pytest.raises(SubscriberOverflow):
        await next_of(stream)
    assert world.bus.subscriber_count() == 0


async def test_missed_events_end_the_stream(world, monkeypatch):
    project = world.project()
    viewer = world.user(Role.DEVELOPER, project)
    job = running_job(world, project)
    lost = asyncio.Event()
    real_subscribe = world.bus.subscribe
    subscribed: list[list[str]] = []

    @contextlib.asynccontextmanager
    async def losing_subscribe(topics, on_overflow=None):
        """A subscription whose broker connection drops once `lost` is set."""
        subscribed.append(list(topics))
        async with real_subscribe(topics, on_overflow):

            async def until_lost():
                await lost.wait()
                raise EventsMissed()
                yield

            yield until_lost()

    monkeypatch.setattr(world.bus, "subscribe", losing_subscribe)
    stream = live_updates(world).job(Follower(viewer), job.id)
    await next_of(stream)
    assert subscribed == [
        [entity_topic("Job", str(job.id)), entity_topic("Project", str(project.id)), f"User:{viewer.user_id}"]
    ]
    lost.set()
    with pytest.raises(EventsMissed):
        await next_of(stream)
    assert world.bus.subscriber_count() == 0
