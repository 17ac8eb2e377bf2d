"""runTests on a submitted test that overwrites its run's coverage report with values PostgreSQL refuses (a
percentage beyond NUMERIC(5,2), a NUL in a JSON key): the TestResult is stored with the report noted unreadable."""

from __future__ import annotations

import pytest

from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api
from tests.e2e.test_crud_api import project, requirement, task
from tests.e2e.test_run_tests import run_tests
from tests.reachable import reachable_dir

pytestmark = pytest.mark.postgres

FORGE = r"""
import json, os, sys


def test_forges_its_coverage_report():
    summary = {"covered_lines": 1, "num_statements": 1, "percent_covered": 1e9}
    with open(os.path.join(sys.argv[1], "coverage.json"), "w") as f:  # the driver's argv: the reports' directory
        json.dump({"totals": summary, "files": {"\u0000": {"summary": summary}}}, f)
    os._exit(0)  # before the driver writes the genuine report
"""


@pytest.fixture
async def postgres_api(fresh_postgres_url):
    with reachable_dir("rdflow-e2e-") as data_dir:
        async with running_api(Settings(database_url=fresh_postgres_url, data_dir=data_dir, test_timeout_s=120)) as api:
            yield api


async def test_a_forged_coverage_report_is_noted_not_stored(postgres_api: Api):
    api = postgres_api
    tid = (await task(api, await requirement(api, await project(api)), "[Backend] Invoices"))["id"]
    art = (
        await api.gql(
            """mutation($t: ID!, $c: String!) { submitArtifact(input: {taskId: $t, filePath: "tests/test_forge.py",
            content: $c, language: "python"}) { id } }""",
            {"t": tid, "c": FORGE},
        )
    )["submitArtifact"]["id"]
    result = await run_tests(api, art)
    assert result["status"] == "ERROR" and result["coveragePercent"] is None
    assert result["errorMessage"] == "pytest wrote no JUnit report"
    problems = result["report"]["sandbox"]["problems"]
    assert [p.split(":")[0] for p in problems] == ["unreadable coverage report"], problems
    assert result["report"]["coverage"] is None and result["report"]["sandbox"]["coverageFiles"] == {}
