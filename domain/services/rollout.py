"""The `deploy.rollout` job: apply a PENDING deployment to the cluster, watch it, log its progress, settle it."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from domain.enums import DeploymentStatus, Environment
from domain.environments import Autoscaling, DeploySpec, EnvironmentConfig
from domain.errors import DomainError, RetryableError
from domain.model import Deployment, Job
from domain.permissions import Viewer
from domain.ports import Cluster, ClusterRefused, RolloutState
from domain.services.access import load
from domain.services.base import Deps, Tx
from domain.services.deployments import k8s_name, set_deployment_status
from domain.services.pipeline_steps import job_viewer

# How a deploy finds its environment (namespace, size, variables, secrets); None: the defaults below.
EnvironmentSource = Callable[[uuid.UUID, Environment], Awaitable[EnvironmentConfig]]


@dataclass(frozen=True)
class RolloutSettings:
    """`image` is a template over {project} (the Kubernetes name), {version} and {environment}."""

    image: str = "rdflow-apps/{project}:{version}"
    timeout_s: float = 240.0
    poll_s: float = 2.0
    log_tail_lines: int = 20


def default_environment(deployment: Deployment) -> EnvironmentConfig:
    """The environment before one is configured: `rdflow-<env>`, one replica in DEV and three elsewhere."""
    replicas = 1 if deployment.environment is Environment.DEV else 3
    return EnvironmentConfig(
        project_id=deployment.project_id,
        environment=deployment.environment,
        namespace=deployment.k8s_namespace or f"rdflow-{deployment.environment.value.lower()}",
        replicas=replicas,
        autoscaling=Autoscaling(min_replicas=replicas),
    )


def describe(state: RolloutState) -> str:
    return f"rollout: {state.available}/{state.desired} available, {state.updated}/{state.desired} updated"


class RolloutService:
    """Runs one deployment's rollout; every line it logs is committed and published as it happens."""

    def __init__(
        self,
        deps: Deps,
        cluster: Cluster,
        settings: RolloutSettings = RolloutSettings(),
        environments: EnvironmentSource | None = None,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.deps = deps
        self.cluster = cluster
        self.settings = settings
        self.environments = environments
        self.sleep = sleep
        self.monotonic = monotonic

    async def run(self, job: Job) -> dict[str, Any]:
        viewer = job_viewer(job)
        deployment = await self._start(viewer, job.subject_id)
        if deployment.status is not DeploymentStatus.IN_PROGRESS:
            return {"status": deployment.status.value, "skipped": True}
        try:
            spec = await self._spec(deployment)
            await self._record_namespace(viewer, deployment, spec.environment.namespace)
            await self._log(viewer, deployment.id, [f"applying {spec.image} to namespace {spec.environment.namespace}"])
            await self._log(viewer, deployment.id, await self.cluster.apply(spec))
            status, reason = await self._watch(viewer, spec)
        except ClusterRefused as exc:
            status, reason = DeploymentStatus.FAILED, exc.message
        except RetryableError as exc:
            if job.attempts < job.max_attempts:
                await self._log(viewer, deployment.id, [f"cluster unavailable, will retry: {exc.message}"])
                raise
            await self._finish(viewer, deployment.id, DeploymentStatus.FAILED, f"cluster unavailable: {exc.message}")
            raise
        except asyncio.CancelledError:
            await asyncio.shield(self._if_cancelled(viewer, job))
            raise
        except Exception as exc:
            await self._finish(viewer, deployment.id, DeploymentStatus.FAILED, f"rollout error: {type(exc).__name__}")
            raise
        await self._finish(viewer, deployment.id, status, reason)
        return {"status": status.value, "reason": reason, "revision": spec.revision, "image": spec.image}

    async def _start(self, viewer: Viewer, deployment_id: uuid.UUID) -> Deployment:
        """PENDING -> IN_PROGRESS; an IN_PROGRESS one (a retried or re-delivered job) is taken over as it is."""
        async with Tx(self.deps, viewer, "deployment.rollout") as tx:
            deployment = await load(tx.uow.deployments, "Deployment", deployment_id, for_update=True)
            if deployment.status is DeploymentStatus.PENDING:
                set_deployment_status(tx, deployment, DeploymentStatus.IN_PROGRESS)
            return deployment

    async def _record_namespace(self, viewer: Viewer, deployment: Deployment, namespace: str) -> None:
        """The deployment names the namespace it really went to (its environment's, which an admin may change)."""
        if deployment.k8s_namespace == namespace:
            return
        async with Tx(self.deps, viewer, "deployment.rollout") as tx:
            row = await load(tx.uow.deployments, "Deployment", deployment.id, for_update=True)
            row.k8s_namespace = deployment.k8s_namespace = namespace

    async def _spec(self, deployment: Deployment) -> DeploySpec:
        if self.environments is not None:
            environment = await self.environments(deployment.project_id, deployment.environment)
        else:
            environment = default_environment(deployment)
        # Named again: a name stored before names had to start with a letter is made one (rollbacks reuse it).
        name = k8s_name(deployment.k8s_deployment_name or str(deployment.project_id))
        image = self.settings.image.format(
            project=name, version=deployment.version, environment=deployment.environment.value.lower()
        )
        return DeploySpec(
            deployment_id=deployment.id, name=name, revision=deployment.version, image=image, environment=environment
        )

    async def _watch(self, viewer: Viewer, spec: DeploySpec) -> tuple[DeploymentStatus, str | None]:
        """Poll until every replica is available, the cluster names a failure, or the timeout passes."""
        namespace, deadline = spec.environment.namespace, self.monotonic() + self.settings.timeout_s
        seen_state: RolloutState | None = None
        seen_logs: set[str] = set()
        while True:
            state = await self.cluster.rollout(namespace, spec.name)
            if state.deployment_id not in (None, str(spec.deployment_id)):
                return DeploymentStatus.FAILED, f"superseded: deployment {state.deployment_id} was applied since"
            if state != seen_state:
                seen_state = state
                new_logs = [line for line in await self._pod_logs(spec) if line not in seen_logs]
                seen_logs.update(new_logs)
                await self._log(viewer, spec.deployment_id, [describe(state), *new_logs])
            if state.complete:
                return DeploymentStatus.SUCCEEDED, None
            if state.failure:
                return DeploymentStatus.FAILED, state.failure
            if self.monotonic() >= deadline:
                return DeploymentStatus.FAILED, (
                    f"rollout did not finish within {self.settings.timeout_s:g}s "
                    f"({state.available}/{state.desired} replicas available)"
                )
            await self.sleep(self.settings.poll_s)

    async def _pod_logs(self, spec: DeploySpec) -> list[str]:
        try:
            return await self.cluster.pod_logs(
                spec.environment.namespace, spec.name, tail_lines=self.settings.log_tail_lines
            )
        except DomainError as exc:  # logs are a courtesy: a rollout does not fail for want of them
            return [f"pod logs unavailable: {exc.message}"]

    async def _log(self, viewer: Viewer, deployment_id: uuid.UUID, lines: list[str]) -> None:
        """Append `lines` to the deployment's log and publish them (deploymentUpdated streams them)."""
        if not lines:
            return
        async with Tx(self.deps, viewer) as tx:
            deployment = await load(tx.uow.deployments, "Deployment", deployment_id, for_update=True)
            stamp = tx.now().strftime("%Y-%m-%dT%H:%M:%SZ")
            stamped = [f"{stamp} {line}" for line in lines]
            deployment.logs = "".join(f"{line}\n" for line in [*deployment.logs.splitlines(), *stamped])
            deployment.updated_at = tx.now()
            tx.emit(
                "Deployment",
                deployment.id,
                "log",
                project_id=deployment.project_id,
                new_status=deployment.status,
                data={"lines": stamped},
            )

    async def _finish(
        self, viewer: Viewer, deployment_id: uuid.UUID, status: DeploymentStatus, reason: str | None
    ) -> None:
        line = "rollout succeeded" if status is DeploymentStatus.SUCCEEDED else f"rollout failed: {reason}"
        await self._log(viewer, deployment_id, [line])
        async with Tx(self.deps, viewer, "deployment.rollout") as tx:
            deployment = await load(tx.uow.deployments, "Deployment", deployment_id, for_update=True)
            if deployment.status is DeploymentStatus.IN_PROGRESS:
                set_deployment_status(tx, deployment, status, failure_reason=reason)

    async def _if_cancelled(self, viewer: Viewer, job: Job) -> None:
        """A rollout whose job was cancelled ends FAILED; one stopped with its worker is taken over later."""
        async with self.deps.uow() as uow:
            row = await uow.jobs.get(job.id)
        if row is not None and row.cancel_requested:
            await self._finish(viewer, job.subject_id, DeploymentStatus.FAILED, "cancelled")
