"""runTests over GraphQL in embedded mode: the offline generator's code passes its own tests in the sandbox, a
broken version fails with its failing tests named, developers may not run integration tests, coverageReport sums."""

from __future__ import annotations

import pytest

from domain.enums import Role
from domain.events import project_topic
from resolvers.ids import from_global_id, to_global_id
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_REQ, project, requirement, task
from tests.reachable import reachable_dir

REQUIREMENT = (
    "Invoice approval\n\nAccountants create, edit and delete invoices. Managers approve or reject invoices. Each "
    "invoice has a customer name, an amount, a due date and a status."
)
JOB = "id kind status error result"
RESULT = """id status total passed failed skipped coveragePercent executionTimeMs errorMessage report testType
artifactId failures { name message }"""
RUN = "mutation($a: ID!, $t: TestType!) { runTests(artifactId: $a, testType: $t) { id kind status } }"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def runner_api(request):
    with reachable_dir("rdflow-e2e-") as data_dir:  # RDFLOW_TEST_RUNNER_PYTHON unset: the product finds one
        fields = {"test_timeout_s": 120}
        settings = (
            sqlite_settings(data_dir, **fields)
            if request.param == "sqlite"
            else Settings(database_url=request.getfixturevalue("fresh_postgres_url"), data_dir=data_dir, **fields)
        )
        async with running_api(settings) as api:
            yield api


async def run_tests(api: Api, artifact_id: str, test_type: str = "UNIT", as_: str = "admin") -> dict:
    job = (await api.gql(RUN, {"a": artifact_id, "t": test_type}, as_=as_))["runTests"]
    assert job["kind"] == "tests.run" and job["status"] == "QUEUED"
    await api.container.queue.join()
    done = (await api.gql(f"query($id: ID!) {{ job(id: $id) {{ {JOB} }} }}", {"id": job["id"]}))["job"]
    assert done["status"] == "SUCCEEDED", done
    result_id = to_global_id("TestResult", done["result"]["testResultId"])
    return (await api.gql(f"query($id: ID!) {{ testResult(id: $id) {{ {RESULT} }} }}", {"id": result_id}))["testResult"]


async def test_run_tests_on_generated_code_then_on_a_broken_version(runner_api: Api):
    api = runner_api
    pid = await project(api)
    rid = (await api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "Invoices", "content": REQUIREMENT}}))[
        "createRequirement"
    ]["id"]
    tid = (await task(api, rid, "[Backend] Implement the invoice API"))["id"]
    gen = await api.gql(
        """mutation($t: ID!) { generateCode(taskId: $t, language: "python", framework: "starlette",
        specifications: {includeTests: true}) { id } }""",
        {"t": tid},
    )
    assert gen["generateCode"]["id"]
    await api.container.queue.join()
    files = (
        await api.gql(
            "query($t: ID!) { task(id: $t) { artifacts(first: 50) { nodes { id filePath content } } } }", {"t": tid}
        )
    )["task"]["artifacts"]["nodes"]
    for f in files:
        await api.gql(
            "mutation($a: ID!) { submitReview(artifactId: $a, decision: APPROVED) { reviewStatus } }", {"a": f["id"]}
        )
    model = next(f for f in files if f["filePath"].endswith("/model.py"))

    events = []
    async with api.container.bus.subscribe([project_topic(from_global_id(pid)[1])]) as stream:
        passed = await run_tests(api, model["id"])
        while len(events) < 1 or events[-1].entity_type != "TestResult":
            events.append(await anext(stream))
    assert passed["status"] == "PASSED", passed["errorMessage"] or passed["report"]["output"]
    assert passed["total"] >= 15 and passed["passed"] == passed["total"] and passed["failed"] == 0
    assert passed["coveragePercent"] > 50 and passed["errorMessage"] is None and passed["failures"] == []
    assert {f["path"] for f in passed["report"]["files"]} == {f["filePath"] for f in files}
    assert passed["report"]["sandbox"]["network"] in ("isolated", "shared")
    created = events[-1]
    assert created.action == "created" and created.new_status == "PASSED"

    broken = model["content"].replace('raise ValidationError(field, "must not be negative")', "pass")
    assert broken != model["content"]
    v2 = (
        await api.gql(
            """mutation($t: ID!, $p: String!, $c: String!) { submitArtifact(input: {taskId: $t, filePath: $p,
            content: $c, language: "python"}) { id version } }""",
            {"t": tid, "p": model["filePath"], "c": broken},
        )
    )["submitArtifact"]
    assert v2["version"] == 2
    failed = await run_tests(api, v2["id"], "INTEGRATION")
    assert failed["status"] == "FAILED" and failed["testType"] == "INTEGRATION"
    names = [f["name"] for f in failed["failures"]]
    assert any("test_create_rejects_an_invalid_value[amount--1]" in n for n in names), names
    assert all(f["message"] for f in failed["failures"])
    assert failed["failures"] == failed["report"]["failures"]  # typed, read from the stored report
    assert failed["failed"] == len(names) and "tests failed" in failed["errorMessage"]

    report = (
        await api.gql(
            """query($p: ID!) { coverageReport(projectId: $p) { artifacts total passed failed coveragePercent
            results { id status } } }""",
            {"p": pid},
        )
    )["coverageReport"]
    assert report["artifacts"] == 2
    assert report["total"] == passed["total"] + failed["total"] and report["failed"] == failed["failed"]
    assert {r["status"] for r in report["results"]} == {"PASSED", "FAILED"}

    dev = await api.user("dev", Role.DEVELOPER)
    await api.gql(
        "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
        {"p": pid, "u": to_global_id("User", dev.id)},
    )
    refused = await api.error(RUN, {"a": model["id"], "t": "INTEGRATION"}, as_="dev")
    assert refused["extensions"]["code"] == "FORBIDDEN" and "test:run:any" in refused["message"]
    tester = await api.user("tester", Role.TESTER)
    await api.gql(
        "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
        {"p": pid, "u": to_global_id("User", tester.id)},
    )
    allowed = (await api.gql(RUN, {"a": model["id"], "t": "INTEGRATION"}, as_="tester"))["runTests"]
    assert allowed["status"] == "QUEUED"
    own = (await api.gql(RUN, {"a": model["id"], "t": "UNIT"}, as_="dev"))["runTests"]
    assert own["status"] == "QUEUED"
    await api.container.queue.join()


async def test_a_recorded_result_has_no_typed_failures(sqlite_api: Api):
    api = sqlite_api
    rid = await requirement(api, await project(api))
    tid = (await task(api, rid, "[Backend] Invoices"))["id"]
    art = (
        await api.gql(
            """mutation($t: ID!) { submitArtifact(input: {taskId: $t, filePath: "app/x.py", content: "x = 1\\n",
            language: "python"}) { id } }""",
            {"t": tid},
        )
    )["submitArtifact"]["id"]
    recorded = (
        await api.gql(
            """mutation($a: ID!) { recordTestResult(input: {artifactId: $a, testType: UNIT, status: FAILED, total: 2,
            failed: 1}) { status failed failures { name message } } }""",
            {"a": art},
        )
    )["recordTestResult"]
    assert recorded == {"status": "FAILED", "failed": 1, "failures": []}
