"""`make run` works for runTests out of the box: `rdflow migrate` then `rdflow serve` with default settings (SQLite
and the in-process queue under a fresh data dir, no RDFLOW_TEST_RUNNER_PYTHON), then over HTTP: generate code
offline, approve it, runTests, and the TestResult is PASSED."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from resolvers.ids import to_global_id
from tests.e2e.test_run_tests import REQUIREMENT
from tests.live import ServeProcess
from tests.reachable import reachable_dir

DONE = {"SUCCEEDED", "FAILED", "CANCELLED"}
GIVE_UP_S = 300  # a hung job fails the test instead of blocking the suite; not a speed check


class Client:
    def __init__(self, http: httpx.AsyncClient):
        self.http = http
        self.token: str | None = None

    async def gql(self, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
        headers = {"authorization": f"Bearer {self.token}"} if self.token else {}
        body = await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
        payload = body.json()
        assert "errors" not in payload, payload["errors"]
        return payload["data"]

    async def finished(self, job_id: str) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + GIVE_UP_S
        while True:
            job = (await self.gql("query($id: ID!) { job(id: $id) { status error result } }", {"id": job_id}))["job"]
            if job["status"] in DONE:
                return job
            assert asyncio.get_running_loop().time() < deadline, f"job {job_id} still {job['status']}"
            await asyncio.sleep(0.2)


@pytest.fixture
async def served():
    """`rdflow migrate`, `rdflow create-admin`, `rdflow serve`, as `make run` (and its admin) does."""
    with reachable_dir("rdflow-make-run-") as checkout:  # like a checkout's var/: the default data dir
        async with ServeProcess(checkout / "var", checkout / "serve.out") as server:
            yield server


async def test_make_run_then_generated_code_passes_run_tests(served: ServeProcess):
    server = served
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        api = Client(http)
        api.token = (
            await api.gql(
                'mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }',
                {"p": ServeProcess.ADMIN_PASSWORD},
            )
        )["login"]["accessToken"]
        pid = (await api.gql('mutation { createProject(input: {name: "Billing"}) { id } }'))["createProject"]["id"]
        rid = (
            await api.gql(
                "mutation($p: ID!, $c: String!) { createRequirement(input: {projectId: $p, title: "
                '"Invoices", content: $c}) { id } }',
                {"p": pid, "c": REQUIREMENT},
            )
        )["createRequirement"]["id"]
        tid = (
            await api.gql(
                "mutation($r: ID!) { createTask(input: {requirementId: $r, name: "
                '"[Backend] Implement the invoice API", taskType: BACKEND}) { id } }',
                {"r": rid},
            )
        )["createTask"]["id"]
        generated = await api.gql(
            """mutation($t: ID!) { generateCode(taskId: $t, language: "python", framework: "starlette",
            specifications: {includeTests: true}) { id } }""",
            {"t": tid},
        )
        job = await api.finished(generated["generateCode"]["id"])
        assert job["status"] == "SUCCEEDED", job
        files = (
            await api.gql(
                "query($t: ID!) { task(id: $t) { artifacts(first: 50) { nodes { id filePath } } } }",
                {"t": tid},
            )
        )["task"]["artifacts"]["nodes"]
        for f in files:
            await api.gql(
                "mutation($a: ID!) { submitReview(artifactId: $a, decision: APPROVED) { reviewStatus } }",
                {"a": f["id"]},
            )
        model = next(f for f in files if f["filePath"].endswith("/model.py"))

        run = await api.gql("mutation($a: ID!) { runTests(artifactId: $a, testType: UNIT) { id } }", {"a": model["id"]})
        job = await api.finished(run["runTests"]["id"])
        assert job["status"] == "SUCCEEDED", (job, server.log()[-4000:])
        result = (
            await api.gql(
                """query($id: ID!) { testResult(id: $id) { status total passed failed errorMessage report
                failures { name message } } }""",
                {"id": to_global_id("TestResult", job["result"]["testResultId"])},
            )
        )["testResult"]

    assert result["status"] == "PASSED", result["errorMessage"] or result["report"]["output"]
    assert result["total"] >= 15 and result["passed"] == result["total"] and result["failures"] == []
    assert result["report"]["sandbox"]["python"], result["report"]["sandbox"]
