"""runTests in memory: who may start which run, which files a run gets, how a report becomes a TestResult, and
how coverageReport sums the latest result of each artifact."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

import pytest

from domain.enums import ReviewStatus, Role, TestRunStatus, TestType
from domain.errors import Forbidden
from domain.model import CodeArtifact, TestResult
from domain.ports import CoverageTotals, FailedTest, SourceFile, TestRunReport
from domain.services.verification import RUN_KIND, TestRunService


class RecordingRunner:
    """The TestRunner port answering with a prepared report, keeping the files of each run."""

    def __init__(self, report: TestRunReport):
        self.report = report
        self.runs: list[tuple[str, dict[str, bytes], TestType]] = []

    async def run(self, run_id: str, files: Sequence[SourceFile], test_type: TestType) -> TestRunReport:
        self.runs.append((run_id, {f.path: f.content for f in files}, test_type))
        return self.report


PASSING = TestRunReport(
    total=3, passed=3, duration_ms=40, coverage=CoverageTotals(covered_lines=8, num_statements=10, percent=80.0)
)


@pytest.fixture
def scene(world):
    project = world.project()
    task = world.task(world.requirement(project))
    return world, project, task


@pytest.mark.parametrize(
    ("role", "test_type", "refusal"),
    [
        (Role.DEVELOPER, TestType.UNIT, None),
        (Role.DEVELOPER, TestType.INTEGRATION, "test:run:any"),
        (Role.TESTER, TestType.INTEGRATION, None),
        (Role.TESTER, TestType.E2E, None),
        (Role.PROJECT_ADMIN, TestType.INTEGRATION, None),
        (Role.GUEST, TestType.UNIT, "test:run:unit"),
    ],
)
async def test_who_may_start_which_run(scene, role, test_type, refusal):
    world, project, task = scene
    artifact = world.artifact(task, None)
    viewer = world.user(role, project)
    service = TestRunService(world.deps, RecordingRunner(PASSING))
    if refusal is None:
        job = await service.start_test_run(viewer, artifact.id, test_type)
        assert world.queue.enqueued == [(job.id, RUN_KIND)]
        assert job.payload == {"testType": test_type.value} and job.subject_id == artifact.id
    else:
        with pytest.raises(Forbidden) as refused:
            await service.start_test_run(viewer, artifact.id, test_type)
        assert refused.value.permission == refusal
        assert world.queue.enqueued == [] and world.db.rows("jobs") == []
        assert [a.outcome for a in world.db.rows("audit")] == ["DENIED"]


async def test_a_non_member_may_not_run_the_tests(scene):
    world, _, task = scene
    artifact = world.artifact(task, None)
    outsider = world.user(Role.TESTER)
    with pytest.raises(Forbidden):
        await TestRunService(world.deps, RecordingRunner(PASSING)).start_test_run(outsider, artifact.id, TestType.UNIT)


async def put(world, task, path: str, content: bytes, version: int, review: ReviewStatus):
    artifact = CodeArtifact(
        task_id=task.id,
        project_id=task.project_id,
        file_path=path,
        file_name=path.rsplit("/", 1)[-1],
        language="python",
        storage_key=await world.store.put(content),
        checksum="0" * 64,
        version=version,
        review_status=review,
    )
    world.db.put("artifacts", artifact)
    return artifact


async def test_a_run_gets_the_artifact_with_the_tasks_approved_files_and_stores_its_result(scene):
    world, project, task = scene
    await put(world, task, "app.py", b"v1", 1, ReviewStatus.APPROVED)
    target = await put(world, task, "app.py", b"v2", 2, ReviewStatus.PENDING)
    await put(world, task, "tests/test_app.py", b"t1", 1, ReviewStatus.APPROVED)
    await put(world, task, "tests/test_app.py", b"t2", 2, ReviewStatus.CHANGES_REQUESTED)
    await put(world, task, "notes.py", b"n", 1, ReviewStatus.PENDING)
    runner = RecordingRunner(PASSING)
    service = TestRunService(world.deps, runner)
    viewer = world.user(Role.DEVELOPER, project)
    job = await service.start_test_run(viewer, target.id, TestType.UNIT)

    result = await service.run(world.row("jobs", job.id))
    assert runner.runs == [(str(job.id), {"app.py": b"v2", "tests/test_app.py": b"t1"}, TestType.UNIT)]
    (stored,) = world.db.rows("test_results")
    assert result["testResultId"] == str(stored.id) and result["status"] == "PASSED"
    assert stored.status is TestRunStatus.PASSED and (stored.total, stored.passed) == (3, 3)
    assert float(stored.coverage_percent) == 80.0 and stored.executed_by == viewer.user_id
    assert stored.report["coverage"] == {"coveredLines": 8, "numStatements": 10, "percent": 80.0}
    assert [e.entity_type for e in world.bus.published][-1] == "TestResult"


@pytest.mark.parametrize(
    ("report", "status", "message"),
    [
        (
            TestRunReport(total=2, passed=1, failed=1, failures=(FailedTest("t.py::test_x", "assert 1 == 2"),)),
            TestRunStatus.FAILED,
            "1 of 2 tests failed: t.py::test_x",
        ),
        (TestRunReport(error="killed at the wall-clock limit of 4 s"), TestRunStatus.ERROR, "killed at the wall"),
        (TestRunReport(), TestRunStatus.ERROR, "no tests ran"),
    ],
)
async def test_a_report_becomes_a_result(scene, report, status, message):
    world, project, task = scene
    target = await put(world, task, "app.py", b"x", 1, ReviewStatus.PENDING)
    service = TestRunService(world.deps, RecordingRunner(report))
    job = await service.start_test_run(world.user(Role.TESTER, project), target.id, TestType.INTEGRATION)
    await service.run(world.row("jobs", job.id))
    (stored,) = world.db.rows("test_results")
    assert stored.status is status and stored.error_message.startswith(message)
    assert stored.report["failures"] == [{"name": f.name, "message": f.message} for f in report.failures]


async def test_coverage_report_sums_the_latest_result_of_each_artifact(scene):
    world, project, task = scene
    a, b = world.artifact(task, None), world.artifact(task, None)
    now = world.clock.now()

    def result(artifact, minutes, total, failed, covered, statements):
        world.db.put(
            "test_results",
            TestResult(
                artifact_id=artifact.id,
                project_id=project.id,
                test_type=TestType.UNIT,
                status=TestRunStatus.FAILED if failed else TestRunStatus.PASSED,
                total=total,
                passed=total - failed,
                failed=failed,
                report={"coverage": {"coveredLines": covered, "numStatements": statements, "percent": 0}},
                executed_at=now + timedelta(minutes=minutes),
            ),
        )

    result(a, 0, 10, 5, 1, 10)  # superseded by the next run of a
    result(a, 1, 10, 0, 9, 10)
    result(b, 0, 4, 1, 15, 30)
    viewer = world.user(Role.GUEST, project)
    summary = await TestRunService(world.deps, None).coverage_report(viewer, project.id)
    assert (summary.artifacts, summary.total, summary.passed, summary.failed) == (2, 14, 13, 1)
    assert (summary.covered_lines, summary.num_statements, summary.coverage_percent) == (24, 40, 60.0)
    assert all(isinstance(r, TestResult) for r in summary.results) and len(summary.results) == 2
    with pytest.raises(Forbidden):
        await TestRunService(world.deps, None).coverage_report(world.user(Role.GUEST), project.id)
