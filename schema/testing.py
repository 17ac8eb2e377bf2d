"""Query and Mutation roots of test runs: `runTests` (a job) and `coverageReport`."""

import strawberry
from strawberry.types import Info

from resolvers import testing
from resolvers.context import RequestContext
from schema import enums as e
from schema.pipeline_types import JobNode
from schema.relay import ref_id
from schema.types import TestResultNode


@strawberry.type(description="The latest test result of each artifact of a project, summed.")
class CoverageReport:
    project_id: strawberry.ID = ref_id("Project", "project_id")
    artifacts: int = strawberry.field(description="Artifacts with at least one test result.")
    total: int
    passed: int
    failed: int
    skipped: int
    covered_lines: int
    num_statements: int
    coverage_percent: float | None = strawberry.field(
        description="Covered statements over all measured statements; null when no run measured coverage."
    )
    results: list[TestResultNode] = strawberry.field(description="The latest result of each artifact.")


@strawberry.type
class TestingQuery:
    @strawberry.field(description="Test totals and coverage of the project's artifacts (latest run of each).")
    async def coverage_report(self, info: Info[RequestContext, None], project_id: strawberry.ID) -> CoverageReport:
        return await testing.coverage_report(info.context, project_id)


@strawberry.type
class TestingMutation:
    @strawberry.mutation(
        description="Run the artifact's tests (with its task's other approved files) in a sandbox (a job); "
        "the job's result names the TestResult. Developers may run UNIT tests only."
    )
    async def run_tests(
        self, info: Info[RequestContext, None], artifact_id: strawberry.ID, test_type: e.TestType = e.TestType.UNIT
    ) -> JobNode:
        return await testing.run_tests(info.context, artifact_id, test_type)
