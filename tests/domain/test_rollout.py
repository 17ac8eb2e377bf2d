"""Rollouts in memory: the deploy.rollout job over the simulated cluster, rollback, logs, permissions."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest

from domain.enums import DeploymentStatus, Environment, JobStatus, Role
from domain.environments import DeploySpec, EnvironmentConfig
from domain.errors import Conflict, Forbidden, InvalidInput, RetryableError
from domain.services.deployments import ROLLOUT_KIND, DeploymentService
from domain.services.jobs import JobLifecycle, JobService
from domain.services.rollout import RolloutService, RolloutSettings
from integrations.cluster_simulated import SimulatedCluster
from jobs.executor import JobExecutor
from jobs.registry import deploy_handlers


class Rollouts:
    """The world's deployments with a simulated cluster, run by a real executor; time moves only when polled."""

    def __init__(self, world, timeout_s: float = 30.0):
        self.world = world
        self.cluster = SimulatedCluster(step_s=1.0, monotonic=world.clock.monotonic)
        self.deployments = DeploymentService(world.deps)
        self.rollout = RolloutService(
            world.deps,
            self.cluster,
            RolloutSettings(image="registry.test/{project}:{version}", timeout_s=timeout_s, poll_s=1.0),
            sleep=self._sleep,
            monotonic=world.clock.monotonic,
        )
        self.executor = JobExecutor(JobLifecycle(world.deps), deploy_handlers(self.rollout), heartbeat_s=3600)

    async def _sleep(self, seconds: float) -> None:
        self.world.clock.advance(seconds)

    def jobs_for(self, deployment_id: uuid.UUID):
        return [j for j in self.world.db.rows("jobs") if j.subject_id == deployment_id]

    async def run(self, deployment_id: uuid.UUID):
        (job,) = [j for j in self.jobs_for(deployment_id) if j.status is JobStatus.QUEUED]
        await self.executor.run(job.id)
        return self.world.row("deployments", deployment_id)

    async def deploy(self, viewer, project, version: str, environment: Environment = Environment.DEV):
        deployment = await self.deployments.request_deploy(viewer, project.id, environment, version)
        return await self.run(deployment.id)


@pytest.fixture
def setup(world):
    project = world.project("Shop")
    admin = world.user(Role.PROJECT_ADMIN, project)
    return Rollouts(world), project, admin


def log_lines(deployment) -> list[str]:
    """The log without its timestamps."""
    return [line.split(" ", 1)[1] for line in deployment.logs.splitlines()]


async def test_a_dev_deployment_is_queued_applied_watched_and_succeeds(world, setup):
    rollouts, project, admin = setup
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "1.0.0")
    assert deployment.status is DeploymentStatus.PENDING
    (job,) = rollouts.jobs_for(deployment.id)
    assert (job.kind, job.subject_type) == (ROLLOUT_KIND, "Deployment")
    assert (job.id, ROLLOUT_KIND) in world.queue.enqueued

    done = await rollouts.run(deployment.id)
    assert done.status is DeploymentStatus.SUCCEEDED and done.failure_reason is None
    assert done.started_at is not None and done.completed_at is not None
    lines = log_lines(done)
    assert lines[0] == "applying registry.test/shop:1.0.0 to namespace rdflow-dev"
    assert "Deployment/shop created" in lines and "HorizontalPodAutoscaler/shop-hpa created" in lines
    progress = [line for line in lines if line.startswith("rollout:")]
    assert progress == ["rollout: 0/1 available, 1/1 updated", "rollout: 1/1 available, 1/1 updated"]
    assert any("starting revision 1.0.0" in line for line in lines)
    assert lines[-1] == "rollout succeeded"
    assert await rollouts.cluster.live_revision("rdflow-dev", "shop") == "1.0.0"
    assert world.row("jobs", job.id).status is JobStatus.SUCCEEDED


async def test_each_step_is_published_as_it_happens(world, setup):
    rollouts, project, admin = setup
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.STAGING, "1.0.0")
    world.bus.published.clear()
    await rollouts.run(deployment.id)
    mine = [e for e in world.bus.published if e.entity_type == "Deployment" and e.entity_id == str(deployment.id)]
    kinds = [(e.action, e.new_status) for e in mine]
    assert kinds[0] == ("status_changed", "IN_PROGRESS") and kinds[-1] == ("status_changed", "SUCCEEDED")
    logged = [line.split(" ", 1)[1] for e in mine if e.action == "log" for line in e.data["lines"]]
    assert logged == log_lines(world.row("deployments", deployment.id))
    states = [line for line in logged if line.startswith("rollout:")]
    assert states[0] == "rollout: 0/3 available, 1/3 updated" and states[-1] == "rollout: 3/3 available, 3/3 updated"
    assert len(states) == 4, "one line per replica that became available"
    assert all(e.project_id == str(project.id) for e in mine)


async def test_prod_waits_for_approval_before_any_rollout(world, setup):
    rollouts, project, admin = setup
    second = world.user(Role.PROJECT_ADMIN, project)
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.PROD, "1.0.0")
    assert deployment.status is DeploymentStatus.AWAITING_APPROVAL and not rollouts.jobs_for(deployment.id)
    await rollouts.deployments.approve(second, deployment.id)
    assert [j.kind for j in rollouts.jobs_for(deployment.id)] == [ROLLOUT_KIND]
    assert (await rollouts.run(deployment.id)).status is DeploymentStatus.SUCCEEDED
    assert await rollouts.cluster.live_revision("rdflow-prod", "shop") == "1.0.0"


async def test_a_crashing_revision_fails_with_the_clusters_reason(world, setup):
    rollouts, project, admin = setup
    done = await rollouts.deploy(admin, project, "2.0.0-crash")
    assert done.status is DeploymentStatus.FAILED
    assert done.failure_reason.startswith("CrashLoopBackOff: pod shop-")
    assert log_lines(done)[-1] == f"rollout failed: {done.failure_reason}"
    assert any("simulated crash" in line for line in log_lines(done))
    audit = [a for a in world.db.rows("audit") if a.entity_id == str(done.id) and a.after.get("status") == "FAILED"]
    assert audit[0].after["failureReason"] == done.failure_reason


async def test_a_rollout_that_never_finishes_fails_at_the_timeout(world):
    project = world.project("Shop")
    admin = world.user(Role.SUPER_ADMIN, project)
    rollouts = Rollouts(world, timeout_s=5.0)
    started = world.clock.monotonic()
    done = await rollouts.deploy(admin, project, "3.0.0-stuck")
    assert done.status is DeploymentStatus.FAILED
    assert done.failure_reason == "rollout did not finish within 5s (0/1 replicas available)"
    assert world.clock.monotonic() - started == 5.0


async def test_an_unreachable_cluster_is_retried_and_then_the_rollout_goes_on(world, setup):
    rollouts, project, admin = setup
    real_apply = rollouts.cluster.apply
    calls = []

    async def flaky_apply(spec: DeploySpec) -> list[str]:
        calls.append(spec)
        if len(calls) == 1:
            raise RetryableError("Kubernetes create Deployment/shop: 503 Service Unavailable")
        return await real_apply(spec)

    rollouts.cluster.apply = flaky_apply
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "1.0.0")
    half = await rollouts.run(deployment.id)
    assert half.status is DeploymentStatus.IN_PROGRESS
    assert "cluster unavailable, will retry: Kubernetes create Deployment/shop: 503" in log_lines(half)[-1]
    (job,) = rollouts.jobs_for(deployment.id)
    assert job.status is JobStatus.QUEUED and job.attempts == 1
    done = await rollouts.run(deployment.id)
    assert done.status is DeploymentStatus.SUCCEEDED and len(calls) == 2


async def test_a_cluster_down_through_every_attempt_fails_the_deployment(world, setup):
    rollouts, project, admin = setup

    async def down(spec: DeploySpec) -> list[str]:
        raise RetryableError("Kubernetes create Namespace/rdflow-dev: 500 Internal Server Error")

    rollouts.cluster.apply = down
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "1.0.0")
    for _ in range(3):
        done = await rollouts.run(deployment.id)
    assert done.status is DeploymentStatus.FAILED
    reason = "cluster unavailable: Kubernetes create Namespace/rdflow-dev: 500 Internal Server Error"
    assert done.failure_reason == reason
    assert rollouts.jobs_for(deployment.id)[0].status is JobStatus.FAILED


async def test_a_cancelled_rollout_fails_the_deployment(world, setup):
    rollouts, project, admin = setup
    release = asyncio.Event()

    async def slow_sleep(seconds: float) -> None:
        await release.wait()

    rollouts.rollout.sleep = slow_sleep
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.STAGING, "1.0.0")
    (job,) = rollouts.jobs_for(deployment.id)
    running = asyncio.create_task(rollouts.executor.run(job.id))
    while world.row("deployments", deployment.id).status is not DeploymentStatus.IN_PROGRESS or not (
        world.row("deployments", deployment.id).logs
    ):
        await asyncio.sleep(0)
    await JobService(world.deps).cancel(admin, job.id)
    running.cancel()  # what the worker does when it sees the request
    await running
    done = world.row("deployments", deployment.id)
    assert (done.status, done.failure_reason) == (DeploymentStatus.FAILED, "cancelled")
    assert world.row("jobs", job.id).status is JobStatus.CANCELLED


async def test_rollback_redeploys_the_last_good_revision_and_links_it(world, setup):
    rollouts, project, admin = setup
    first = await rollouts.deploy(admin, project, "1.0.0")
    world.clock.advance(60)
    await rollouts.deploy(admin, project, "1.1.0-crash")  # a failed one between is skipped
    world.clock.advance(60)
    second = await rollouts.deploy(admin, project, "2.0.0")
    assert await rollouts.cluster.live_revision("rdflow-dev", "shop") == "2.0.0"

    replacement = await rollouts.deployments.rollback(admin, second.id)
    assert (replacement.version, replacement.rollback_to, replacement.status) == (
        "1.0.0",
        first.id,
        DeploymentStatus.PENDING,
    )
    assert world.row("deployments", second.id).status is DeploymentStatus.ROLLED_BACK
    done = await rollouts.run(replacement.id)
    assert done.status is DeploymentStatus.SUCCEEDED
    assert await rollouts.cluster.live_revision("rdflow-dev", "shop") == "1.0.0"
    actions = [a.action for a in world.db.rows("audit") if a.entity_id in (str(second.id), str(replacement.id))]
    assert "deployment.rollback" in actions


async def test_rollback_refusals(world, setup):
    rollouts, project, admin = setup
    only = await rollouts.deploy(admin, project, "1.0.0")
    with pytest.raises(InvalidInput, match="no SUCCEEDED deployment of DEV before this one"):
        await rollouts.deployments.rollback(admin, only.id)

    world.clock.advance(60)
    second = await rollouts.deploy(admin, project, "2.0.0")
    with pytest.raises(InvalidInput, match=r"a newer deployment \(2.0.0\) is live"):
        await rollouts.deployments.rollback(admin, only.id)

    world.clock.advance(60)
    pending = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "3.0.0")
    with pytest.raises(Conflict, match="is PENDING"):
        await rollouts.deployments.rollback(admin, second.id)
    with pytest.raises(InvalidInput) as refused:
        await rollouts.deployments.rollback(admin, pending.id)
    assert refused.value.details == {"currentStatus": "PENDING", "requestedStatus": "ROLLED_BACK"}
    await rollouts.run(pending.id)
    again = await rollouts.deployments.rollback(admin, pending.id)
    with pytest.raises(InvalidInput) as twice:
        await rollouts.deployments.rollback(admin, pending.id)
    assert twice.value.details == {"currentStatus": "ROLLED_BACK", "requestedStatus": "ROLLED_BACK"}
    assert again.rollback_to == second.id


async def test_a_developer_may_roll_back_dev_but_not_prod(world, setup):
    rollouts, project, admin = setup
    developer = world.user(Role.DEVELOPER, project)
    second_admin = world.user(Role.PROJECT_ADMIN, project)
    for version in ("1.0.0", "2.0.0"):
        world.clock.advance(60)
        await rollouts.deploy(developer, project, version)
    prod = []
    for version in ("1.0.0", "2.0.0"):
        world.clock.advance(60)
        requested = await rollouts.deployments.request_deploy(admin, project.id, Environment.PROD, version)
        await rollouts.deployments.approve(second_admin, requested.id)
        prod.append(await rollouts.run(requested.id))
    dev_latest = max(
        (d for d in world.db.rows("deployments") if d.environment is Environment.DEV), key=lambda d: d.created_at
    )
    assert (await rollouts.deployments.rollback(developer, dev_latest.id)).environment is Environment.DEV
    with pytest.raises(Forbidden) as refused:
        await rollouts.deployments.rollback(developer, prod[-1].id)
    assert refused.value.permission == "deploy:any"
    assert world.row("deployments", prod[-1].id).status is DeploymentStatus.SUCCEEDED


async def test_logs_are_read_in_windows_and_say_when_they_are_complete(world, setup):
    rollouts, project, admin = setup
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.STAGING, "1.0.0")
    before = await rollouts.deployments.logs(admin, deployment.id)
    assert (before.lines, before.total, before.complete) == ([], 0, False)
    await rollouts.run(deployment.id)
    whole = await rollouts.deployments.logs(admin, deployment.id)
    assert whole.complete and whole.total == len(whole.lines) > 5
    window = await rollouts.deployments.logs(admin, deployment.id, offset=2, limit=3)
    assert (window.lines, window.offset, window.total) == (whole.lines[2:5], 2, whole.total)
    with pytest.raises(InvalidInput) as bad:
        await rollouts.deployments.logs(admin, deployment.id, limit=5000)
    assert bad.value.field == "limit"
    stranger = world.user(Role.DEVELOPER)
    with pytest.raises(Forbidden):
        await rollouts.deployments.logs(stranger, deployment.id)


async def test_until_settled_returns_the_deployment_as_it_ended(world, setup):
    rollouts, project, admin = setup
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "1.0.0")
    waiting = asyncio.create_task(rollouts.deployments.until_settled(admin, deployment.id))
    await asyncio.sleep(0)
    assert not waiting.done()
    await rollouts.run(deployment.id)
    settled = await asyncio.wait_for(waiting, 10)
    assert settled.status is DeploymentStatus.SUCCEEDED
    assert (await rollouts.deployments.until_settled(admin, deployment.id)).status is DeploymentStatus.SUCCEEDED


async def test_a_rollout_stopped_with_its_worker_is_taken_over_by_the_next_attempt(world, setup):
    rollouts, project, admin = setup
    started = asyncio.Event()

    async def stop_here(seconds: float) -> None:
        started.set()
        await asyncio.Event().wait()  # the worker stops while the rollout waits

    rollouts.rollout.sleep = stop_here
    deployment = await rollouts.deployments.request_deploy(admin, project.id, Environment.STAGING, "1.0.0")
    (job,) = rollouts.jobs_for(deployment.id)
    running = asyncio.create_task(rollouts.executor.run(job.id))
    await started.wait()
    running.cancel()  # no cancellation was asked for: the row stays RUNNING for the reconciler
    with pytest.raises(asyncio.CancelledError):
        await running
    assert world.row("deployments", deployment.id).status is DeploymentStatus.IN_PROGRESS
    world.clock.advance(120)
    assert [j.id for j in await JobLifecycle(world.deps).reconcile(timedelta(seconds=60))] == [job.id]

    rollouts.rollout.sleep = rollouts._sleep
    done = await rollouts.run(deployment.id)
    assert done.status is DeploymentStatus.SUCCEEDED
    assert log_lines(done).count("applying registry.test/shop:1.0.0 to namespace rdflow-staging") == 2


async def test_secrets_reach_the_cluster_but_no_log_event_or_audit_entry(world, monkeypatch):
    project = world.project("Shop")
    admin = world.user(Role.PROJECT_ADMIN, project)
    canary = "canary-7f3a9d-never-printed"
    rollouts = Rollouts(world)

    async def configured(project_id: uuid.UUID, environment: Environment) -> EnvironmentConfig:
        return EnvironmentConfig(
            project_id=project_id,
            environment=environment,
            namespace="shop-dev",
            replicas=2,
            variables={"LOG_LEVEL": "debug"},
            secrets={"API_TOKEN": canary},
        )

    rollouts.rollout.environments = configured
    specs: list[DeploySpec] = []
    apply = rollouts.cluster.apply

    async def recorded(spec: DeploySpec) -> list[str]:
        specs.append(spec)
        return await apply(spec)

    monkeypatch.setattr(rollouts.cluster, "apply", recorded)
    done = await rollouts.deploy(admin, project, "1.0.0")
    assert done.status is DeploymentStatus.SUCCEEDED
    assert "applying registry.test/shop:1.0.0 to namespace shop-dev" in log_lines(done)
    (applied,) = specs
    assert applied.environment.secrets == {"API_TOKEN": canary} and applied.environment.replicas == 2
    assert canary not in done.logs
    assert all(canary not in repr(event) for event in world.bus.published)
    assert all(canary not in repr((a.before, a.after)) for a in world.db.rows("audit"))
    assert all(canary not in repr(j.result) + repr(j.payload) for j in world.db.rows("jobs"))


async def test_a_rollout_overtaken_by_a_newer_apply_fails_as_superseded(world, setup):
    rollouts, project, admin = setup
    first = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "1.0.0")
    second = await rollouts.deployments.request_deploy(admin, project.id, Environment.DEV, "2.0.0")
    (first_job,) = rollouts.jobs_for(first.id)

    async def newer_applied_meanwhile(seconds: float) -> None:
        rollouts.rollout.sleep = rollouts._sleep
        assert (await rollouts.run(second.id)).status is DeploymentStatus.SUCCEEDED

    rollouts.rollout.sleep = newer_applied_meanwhile
    await rollouts.executor.run(first_job.id)
    done = world.row("deployments", first.id)
    assert done.status is DeploymentStatus.FAILED
    assert done.failure_reason == f"superseded: deployment {second.id} was applied since"
    assert await rollouts.cluster.live_revision("rdflow-dev", "shop") == "2.0.0"
