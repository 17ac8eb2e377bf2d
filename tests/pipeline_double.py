"""A test double of the StageActions port: it starts real job rows and real deployments through the same services
and transactions the real adapter uses, but its "test run" job reads a marker instead of running pytest and its
"rollout" job moves the deployment along by itself, so pipeline tests can steer each stage.

Steering: an artifact whose content holds `FAIL-TESTS` fails its tests; a run version containing `bad` fails its
rollouts; `test_seconds` makes each test run take that long (to cancel one midway).
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Any

from domain.enums import DeploymentStatus, Environment, TestType
from domain.events import DomainEvent
from domain.model import Job
from domain.permissions import Viewer, require_test_run
from domain.ports import StageOutcome, StageWork, UnitOfWork
from domain.services.access import load, require_member
from domain.services.base import Deps, Tx
from domain.services.deployments import DeploymentService, set_deployment_status
from domain.services.jobs import request_job
from jobs.registry import Handler, JobContext

TESTS_KIND, ROLLOUT_KIND = "double.tests", "double.rollout"


@dataclass
class StageActionsDouble:
    deps: Deps
    test_seconds: float = 0.0

    async def run_tests(self, viewer: Viewer, artifact_id: uuid.UUID, test_type: TestType) -> StageWork:
        async with Tx(self.deps, viewer, "tests.run") as tx:
            require_test_run(viewer, test_type)
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact_id)
            await require_member(tx.uow, viewer, artifact.project_id)
            job = await request_job(
                tx,
                kind=TESTS_KIND,
                subject_type="CodeArtifact",
                subject_id=artifact.id,
                project_id=artifact.project_id,
                payload={"seconds": self.test_seconds},
            )
        return StageWork(job_id=job.id)

    async def test_outcome(self, uow: UnitOfWork, job: Job) -> StageOutcome:
        result = job.result or {}
        return StageOutcome(bool(result.get("passed")), str(result.get("message", "")))

    async def deploy(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        environment: Environment,
        version: str,
        artifact_ids: list[uuid.UUID],
    ) -> StageWork:
        deployment = await DeploymentService(self.deps).create(
            viewer, project_id=project_id, environment=environment, version=version, artifact_ids=artifact_ids
        )
        return StageWork(deployment_id=deployment.id)

    async def react(self, tx: Tx, event: DomainEvent) -> None:
        """Like the rollout of the real system: a deployment that becomes PENDING gets a rollout job."""
        if event.entity_type == "Deployment" and event.new_status == "PENDING":
            await request_job(
                tx,
                kind=ROLLOUT_KIND,
                subject_type="Deployment",
                subject_id=uuid.UUID(event.entity_id),
                project_id=uuid.UUID(event.project_id) if event.project_id else None,
                payload={},
            )

    def handlers(self) -> dict[str, Handler]:
        return {TESTS_KIND: self._tests, ROLLOUT_KIND: self._rollout}

    async def _tests(self, ctx: JobContext) -> dict[str, Any]:
        await asyncio.sleep(float(ctx.job.payload.get("seconds", 0)))
        async with self.deps.uow() as uow:
            artifact = await load(uow.artifacts, "CodeArtifact", ctx.job.subject_id)
        assert self.deps.store is not None
        content = (await self.deps.store.get(artifact.storage_key)).decode()
        if "FAIL-TESTS" in content:
            return {"passed": False, "message": f"1 of 3 tests failed in {artifact.file_path}"}
        return {"passed": True, "message": f"3 of 3 tests passed in {artifact.file_path}"}

    async def _rollout(self, ctx: JobContext) -> dict[str, Any]:
        jobs = Viewer(request_id="double-rollout")
        async with Tx(self.deps, jobs) as tx:
            deployment = await load(tx.uow.deployments, "Deployment", ctx.job.subject_id, for_update=True)
            set_deployment_status(tx, deployment, DeploymentStatus.IN_PROGRESS)
        async with Tx(self.deps, jobs) as tx:
            deployment = await load(tx.uow.deployments, "Deployment", ctx.job.subject_id, for_update=True)
            failed = "bad" in deployment.version
            deployment.logs += "rollout: image pull failed\n" if failed else "rollout: 1 of 1 replicas available\n"
            set_deployment_status(tx, deployment, DeploymentStatus.FAILED if failed else DeploymentStatus.SUCCEEDED)
        return {"status": deployment.status.value}


def install(container: Any, test_seconds: float = 0.0) -> StageActionsDouble:
    """Wire the double into a running container: the pipeline's actions, its job kinds, its rollout reaction."""
    double = StageActionsDouble(container.services.deps, test_seconds)
    container.services.pipeline_runs.actions = double
    container.executor.handlers.update(double.handlers())
    container.services.deps.reactions.append(double.react)
    return double
