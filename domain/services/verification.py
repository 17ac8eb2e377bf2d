"""Test results: the outcome of running an artifact's tests."""

from __future__ import annotations

import uuid
from decimal import Decimal

from domain import validation as v
from domain.enums import TestRunStatus, TestType
from domain.errors import InvalidInput
from domain.model import TestResult
from domain.permissions import Permission, Viewer, require_test_run
from domain.repos import TEST_RESULTS
from domain.services.access import EntityReads, load, require_member
from domain.services.base import Deps, Tx


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
