"""The StageActions adapter: a pipeline stage calls the same use cases a person would (runTests, a deployment
request), acting as who started the run, and reads how a test run went from the TestResult it stored."""

from __future__ import annotations

import uuid

from domain.enums import Environment, TestRunStatus, TestType
from domain.model import Job
from domain.permissions import Viewer
from domain.ports import StageOutcome, StageWork, UnitOfWork
from domain.services.deployments import DeploymentService
from domain.services.verification import TestRunService


class UseCaseStageActions:
    def __init__(self, test_runs: TestRunService, deployments: DeploymentService):
        self.test_runs = test_runs
        self.deployments = deployments

    async def run_tests(self, viewer: Viewer, artifact_id: uuid.UUID, test_type: TestType) -> StageWork:
        job = await self.test_runs.start_test_run(viewer, artifact_id, test_type)
        return StageWork(job_id=job.id)

    async def test_outcome(self, uow: UnitOfWork, job: Job) -> StageOutcome:
        result_id = (job.result or {}).get("testResultId")
        result = await uow.test_results.get(uuid.UUID(result_id)) if result_id else None
        if result is None:
            return StageOutcome(False, "the test run stored no result")
        artifact = await uow.artifacts.get(result.artifact_id)
        where = f" in {artifact.file_path}" if artifact else ""
        if result.status is TestRunStatus.PASSED:
            coverage = f", coverage {result.coverage_percent}%" if result.coverage_percent is not None else ""
            return StageOutcome(True, f"{result.passed} of {result.total} tests passed{where}{coverage}")
        why = result.error_message or f"{result.failed} of {result.total} tests failed"
        return StageOutcome(False, f"{result.status.value}{where}: {why}")

    async def deploy(
        self,
        viewer: Viewer,
        project_id: uuid.UUID,
        environment: Environment,
        version: str,
        artifact_ids: list[uuid.UUID],
    ) -> StageWork:
        deployment = await self.deployments.request_deploy(viewer, project_id, environment, version, artifact_ids)
        return StageWork(deployment_id=deployment.id)
