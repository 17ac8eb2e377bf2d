"""Test results: runs recorded from elsewhere, and runs rdflow makes itself in a sandbox (the tests.run job)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from domain import validation as v
from domain.enums import ReviewStatus, TestRunStatus, TestType
from domain.errors import InvalidInput, ServiceUnavailable
from domain.model import CodeArtifact, Job, TestResult
from domain.permissions import Permission, Viewer, require_test_run
from domain.ports import SourceFile, TestRunner, TestRunReport
from domain.repos import TEST_RESULTS
from domain.services.access import EntityReads, load, require_member
from domain.services.base import Deps, Tx
from domain.services.jobs import request_job
from domain.services.pipeline_steps import job_viewer


def check_counts(total: int, passed: int, failed: int, skipped: int, coverage: float | None) -> None:
    for name, value in (("total", total), ("passed", passed), ("failed", failed), ("skipped", skipped)):
        if value < 0:
            raise InvalidInput(f"{name} must not be negative", field=name)
    if passed + failed + skipped > total:
        raise InvalidInput(
            f"passed + failed + skipped ({passed + failed + skipped}) exceeds total ({total})", field="total"
        )
    if coverage is not None and not 0 <= coverage <= 100:
        raise InvalidInput("coveragePercent must be between 0 and 100", field="coveragePercent")


class TestResultService(EntityReads[TestResult]):
    def __init__(self, deps: Deps):
        super().__init__(deps, TEST_RESULTS, Permission.REQUIREMENT_READ)

    async def record(
        self,
        viewer: Viewer,
        *,
        artifact_id: uuid.UUID,
        test_type: TestType,
        status: TestRunStatus,
        framework: str = "pytest",
        total: int = 0,
        passed: int = 0,
        failed: int = 0,
        skipped: int = 0,
        coverage_percent: float | None = None,
        execution_time_ms: int = 0,
        error_message: str | None = None,
    ) -> TestResult:
        """Record a run made outside rdflow (CI, a tester's machine)."""
        async with Tx(self.deps, viewer, "test_result.create") as tx:
            require_test_run(viewer, test_type)
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact_id)
            await require_member(tx.uow, viewer, artifact.project_id)
            check_counts(total, passed, failed, skipped, coverage_percent)
            if execution_time_ms < 0:
                raise InvalidInput("executionTimeMs must not be negative", field="executionTimeMs")
            result = TestResult(
                artifact_id=artifact.id,
                project_id=artifact.project_id,
                test_type=test_type,
                status=status,
                framework=v.text(framework, "framework", max_length=50),
                total=total,
                passed=passed,
                failed=failed,
                skipped=skipped,
                coverage_percent=Decimal(str(coverage_percent)) if coverage_percent is not None else None,
                execution_time_ms=execution_time_ms,
                error_message=v.text(error_message, "errorMessage", max_length=20_000, required=False),
                executed_by=viewer.user_id,
                executed_at=tx.now(),
            )
            tx.created(
                TEST_RESULTS,
                result,
                "test_result.create",
                project_id=result.project_id,
                new_status=result.status,
                data={"artifactId": artifact.id},
            )
        return result


# --- Test runs: rdflow runs an artifact's tests itself (a job through the TestRunner port) ---

RUN_KIND = "tests.run"
MAX_SUMMARY = 2_000


@dataclass(frozen=True)
class CoverageSummary:
    """The latest result of each artifact of a project, summed; coverage weighs every statement alike."""

    project_id: uuid.UUID
    artifacts: int
    total: int
    passed: int
    failed: int
    skipped: int
    covered_lines: int
    num_statements: int
    coverage_percent: float | None
    results: list[TestResult]


def run_status(report: TestRunReport) -> TestRunStatus:
    if report.error is not None or report.total == 0:
        return TestRunStatus.ERROR
    return TestRunStatus.FAILED if report.failed else TestRunStatus.PASSED


def run_message(report: TestRunReport) -> str | None:
    """Why a run is ERROR, or which tests failed."""
    if report.error is not None:
        return report.error
    if report.total == 0:
        return "no tests ran"
    if report.failed:
        names = ", ".join(f.name for f in report.failures)
        return f"{report.failed} of {report.total} tests failed: {names}"[:MAX_SUMMARY]
    return None


def _report_json(report: TestRunReport, files: list[CodeArtifact], job: Job) -> dict[str, Any]:
    coverage = report.coverage
    return {
        "jobId": str(job.id),
        "exitCode": report.exit_code,
        "error": report.error,
        "failures": [{"name": f.name, "message": f.message} for f in report.failures],
        "coverage": None
        if coverage is None
        else {
            "coveredLines": coverage.covered_lines,
            "numStatements": coverage.num_statements,
            "percent": coverage.percent,
        },
        "files": [{"path": a.file_path, "version": a.version, "artifactId": str(a.id)} for a in files],
        "output": report.output,
        "sandbox": dict(report.details or {}),
    }


def _latest(results: list[TestResult]) -> list[TestResult]:
    latest: dict[uuid.UUID, TestResult] = {}
    for r in results:
        seen = latest.get(r.artifact_id)
        if seen is None or (r.executed_at, str(r.id)) > (seen.executed_at, str(seen.id)):
            latest[r.artifact_id] = r
    return sorted(latest.values(), key=lambda r: str(r.artifact_id))


def summarise(project_id: uuid.UUID, results: list[TestResult]) -> CoverageSummary:
    latest = _latest(results)
    covered = statements = 0
    percents = []
    for r in latest:
        cov = r.report.get("coverage") if isinstance(r.report, dict) else None
        if isinstance(cov, dict) and isinstance(cov.get("numStatements"), int):
            covered += int(cov["coveredLines"])
            statements += int(cov["numStatements"])
        elif r.coverage_percent is not None:
            percents.append(float(r.coverage_percent))
    if statements:
        percent: float | None = round(100.0 * covered / statements, 2)
    else:
        percent = round(sum(percents) / len(percents), 2) if percents else None
    return CoverageSummary(
        project_id=project_id,
        artifacts=len(latest),
        total=sum(r.total for r in latest),
        passed=sum(r.passed for r in latest),
        failed=sum(r.failed for r in latest),
        skipped=sum(r.skipped for r in latest),
        covered_lines=covered,
        num_statements=statements,
        coverage_percent=percent,
        results=latest,
    )


class TestRunService:
    """`runTests`: queue a run of an artifact's tests; the job materialises its files and runs them sandboxed."""

    def __init__(self, deps: Deps, runner: TestRunner | None):
        self.deps = deps
        self.runner = runner

    async def start_test_run(self, viewer: Viewer, artifact_id: uuid.UUID, test_type: TestType) -> Job:
        """Queue a run (developers UNIT only, testers and admins all); pipelines call this for their test stage."""
        async with Tx(self.deps, viewer, "test_run.request") as tx:
            require_test_run(viewer, test_type)
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact_id)
            await require_member(tx.uow, viewer, artifact.project_id)
            return await request_job(
                tx,
                kind=RUN_KIND,
                subject_type="CodeArtifact",
                subject_id=artifact.id,
                project_id=artifact.project_id,
                payload={"testType": test_type.value},
                max_attempts=2,
            )

    async def _files(self, job: Job) -> tuple[CodeArtifact, list[CodeArtifact]]:
        """The artifact at its version, with the latest APPROVED version of each other file of its task."""
        async with self.deps.uow() as uow:
            artifact = await load(uow.artifacts, "CodeArtifact", job.subject_id)
            siblings = await uow.artifacts.find(task_id=artifact.task_id)
        chosen: dict[str, CodeArtifact] = {}
        for a in sorted(siblings, key=lambda a: a.version):
            if a.review_status is ReviewStatus.APPROVED and a.file_path != artifact.file_path:
                chosen[a.file_path] = a
        chosen[artifact.file_path] = artifact
        return artifact, sorted(chosen.values(), key=lambda a: a.file_path)

    async def run(self, job: Job) -> dict[str, Any]:
        """The job: run the tests outside any transaction, then store the TestResult and announce it."""
        store, runner = self.deps.store, self.runner
        if store is None or runner is None:
            raise ServiceUnavailable("no artifact store or test runner is configured")
        artifact, files = await self._files(job)
        sources = [SourceFile(a.file_path, await store.get(a.storage_key)) for a in files]
        test_type = TestType(job.payload["testType"])
        report = await runner.run(str(job.id), sources, test_type)
        status = run_status(report)
        async with Tx(self.deps, job_viewer(job), "test_result.run") as tx:
            artifact = await load(tx.uow.artifacts, "CodeArtifact", artifact.id)
            result = TestResult(
                artifact_id=artifact.id,
                project_id=artifact.project_id,
                test_type=test_type,
                status=status,
                framework="pytest",
                total=report.total,
                passed=report.passed,
                failed=report.failed,
                skipped=report.skipped,
                coverage_percent=Decimal(str(report.coverage.percent)) if report.coverage else None,
                execution_time_ms=report.duration_ms,
                error_message=run_message(report),
                report=_report_json(report, files, job),
                executed_by=job.requested_by,
                executed_at=tx.now(),
            )
            tx.created(
                TEST_RESULTS,
                result,
                "test_result.run",
                project_id=result.project_id,
                new_status=result.status,
                data={"artifactId": artifact.id, "jobId": job.id, "testType": test_type},
            )
        return {
            "testResultId": str(result.id),
            "status": status.value,
            "total": result.total,
            "passed": result.passed,
            "failed": result.failed,
            "coveragePercent": report.coverage.percent if report.coverage else None,
        }

    async def coverage_report(self, viewer: Viewer, project_id: uuid.UUID) -> CoverageSummary:
        async with self.deps.uow() as uow:
            viewer.require(Permission.REQUIREMENT_READ)
            await load(uow.projects, "Project", project_id)
            await require_member(uow, viewer, project_id)
            results = await uow.test_results.find(project_id=project_id)
        return summarise(project_id, results)
