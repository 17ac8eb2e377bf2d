"""Acceptance 6 in embedded mode: the AI pipeline's approved code goes through a pipeline run (its generated tests
pass in the sandbox, DEV is deployed on the simulated cluster, a second admin approves PROD, PROD is deployed), a
second release follows, and a rollback puts the previous revision back live, while a `projectEvents` subscriber
sees every step in order."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from domain.enums import Role
from resolvers.ids import to_global_id
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ
from tests.live import LiveServer, TransportWs
from tests.reachable import reachable_dir

REQUIREMENT = (
    "Invoice approval\n\nAccountants create, edit and delete invoices. Managers approve or reject invoices. Each "
    "invoice has a customer name, an amount, a due date and a status."
)
FAST = {"simulated_step_s": 0.02, "rollout_poll_s": 0.01, "test_timeout_s": 120}
RUN = """id status version trigger message stages { name status message deploymentId }"""
EVENTS = """subscription($p: ID!) { projectEvents(projectId: $p) { entityType entityId action oldStatus newStatus
  data } }"""
DEPLOYMENT = "query($id: ID!) { deployment(id: $id) { id version status environment k8sNamespace k8sDeploymentName } }"


@pytest.fixture
async def embedded():
    with reachable_dir("rdflow-pipeline-") as data_dir:
        async with running_api(sqlite_settings(data_dir, **FAST)) as api:
            yield api


async def job_done(api: Api, mutation: str, variables: dict, field: str) -> dict:
    job = (await api.gql(mutation, variables))[field]
    await api.container.queue.join()
    done = (await api.gql("query($id: ID!) { job(id: $id) { status error } }", {"id": job["id"]}))["job"]
    assert done["status"] == "SUCCEEDED", done
    return done


async def run_until(api: Api, run_id: str, status: str) -> dict:
    """The run once it reaches `status` (bounded: a stuck run fails the test, not the suite)."""

    async def poll() -> dict:
        while True:
            run = (await api.gql(f"query($id: ID!) {{ pipelineRun(id: $id) {{ {RUN} }} }}", {"id": run_id}))[
                "pipelineRun"
            ]
            assert run["status"] in (status, "RUNNING", "WAITING"), run
            if run["status"] == status:
                return run
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(poll(), 120)


def step(event: dict[str, Any], deployments: dict[str, str]) -> str | None:
    """A pipeline step an event shows, in words (None for the events between)."""
    kind, new = event["entityType"], event["newStatus"]
    if kind == "PipelineRun":
        return f"run {new}"
    if kind == "PipelineStage":
        return f"{event['data']['name']} {new}"
    if kind == "TestResult" and event["action"] == "created":
        return f"tests {new}"
    if kind == "Deployment" and event["entityId"] in deployments and event["action"] in ("created", "status_changed"):
        return f"{deployments[event['entityId']]} {new}"
    return None


async def test_approved_code_goes_to_prod_through_a_pipeline_and_rolls_back(embedded: Api):
    api = embedded
    for name in ("lead", "lead2"):
        await api.user(name, Role.PROJECT_ADMIN)
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": "Invoices", "techStack": ["python"]}}))["createProject"][
        "id"
    ]
    for name in ("lead", "lead2"):
        await api.gql(
            "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
            {"p": pid, "u": to_global_id("User", api.users[name].id)},
        )

    # The AI pipeline, as far as code with its tests (tests/e2e/test_pipeline_embedded.py follows it in detail).
    rid = (await api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "Invoices", "content": REQUIREMENT}}))[
        "createRequirement"
    ]["id"]
    tid = (
        await api.gql(
            """mutation($r: ID!) { createTask(input: {requirementId: $r, name: "[Backend] Invoice API",
            taskType: BACKEND}) { id } }""",
            {"r": rid},
        )
    )["createTask"]["id"]
    await job_done(
        api,
        """mutation($t: ID!) { generateCode(taskId: $t, language: "python", framework: "starlette",
        specifications: {includeTests: true}) { id } }""",
        {"t": tid},
        "generateCode",
    )
    files = (
        await api.gql("query($t: ID!) { task(id: $t) { artifacts(first: 50) { nodes { id filePath } } } }", {"t": tid})
    )["task"]["artifacts"]["nodes"]
    model = next(f for f in files if f["filePath"].endswith("/model.py"))
    review = "mutation($a: ID!) { submitReview(artifactId: $a, decision: APPROVED) { reviewStatus } }"
    for f in files:
        if f is not model:
            await api.gql(review, {"a": f["id"]}, as_="lead")
    # Approved reviews start runs from now on; the model's approval is the one that does.
    await api.gql(
        "mutation($p: ID!) { updatePipeline(input: {projectId: $p, triggerOnReview: true}) { triggerOnReview } }",
        {"p": pid},
        as_="lead",
    )

    async with LiveServer(api.app) as live, TransportWs(live.ws_url) as ws:
        await ws.init({"authorization": f"Bearer {api.tokens['lead2']}"})
        await ws.subscribe("events", EVENTS, {"p": pid})
        assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "snapshot"

        await api.gql(review, {"a": model["id"]}, as_="lead")
        await api.container.queue.join()
        runs = await api.gql(
            f"query($p: ID!) {{ pipelineRuns(projectId: $p) {{ nodes {{ {RUN} triggeredBy {{ username }} }} }} }}",
            {"p": pid},
        )
        first = runs["pipelineRuns"]["nodes"][0]
        assert first["trigger"] == "REVIEW" and first["triggeredBy"] == {"username": "lead"}
        first = await run_until(api, first["id"], "WAITING")
        assert [s["status"] for s in first["stages"]] == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "WAITING", "PENDING"]
        assert "tests passed" in first["stages"][0]["message"]
        dev, prod = first["stages"][2]["deploymentId"], first["stages"][3]["deploymentId"]

        # Four eyes: the run acts as lead, who may not approve its own PROD deployment.
        refused = await api.error("mutation($id: ID!) { approveDeployment(id: $id) { id } }", {"id": prod}, as_="lead")
        assert refused["extensions"]["code"] == "FORBIDDEN"
        await api.gql("mutation($id: ID!) { approveDeployment(id: $id) { id } }", {"id": prod}, as_="lead2")
        first = await run_until(api, first["id"], "SUCCEEDED")
        assert first["stages"][3]["message"] == "approved by lead2"

        # A second release through the same gate.
        second = (
            await api.gql(
                f'mutation($p: ID!) {{ startPipelineRun(projectId: $p, version: "2.0.0") {{ {RUN} }} }}',
                {"p": pid},
                as_="lead",
            )
        )["startPipelineRun"]
        second = await run_until(api, second["id"], "WAITING")
        prod2 = second["stages"][3]["deploymentId"]
        await api.gql("mutation($id: ID!) { approveDeployment(id: $id) { id } }", {"id": prod2}, as_="lead2")
        second = await run_until(api, second["id"], "SUCCEEDED")

        live_prod = (await api.gql(DEPLOYMENT, {"id": prod2}))["deployment"]
        environments = (
            await api.gql("query($p: ID!) { environments(projectId: $p) { environment namespace } }", {"p": pid})
        )["environments"]
        namespace = next(e["namespace"] for e in environments if e["environment"] == "PROD")
        cluster = api.container.cluster
        where = (namespace, live_prod["k8sDeploymentName"])
        assert await cluster.live_revision(*where) == "2.0.0"

        back = (
            await api.gql(
                "mutation($id: ID!) { rollbackDeployment(id: $id) { id version rollbackTo } }",
                {"id": prod2},
                as_="lead",
            )
        )["rollbackDeployment"]
        assert back["version"] == first["version"] and back["rollbackTo"] == prod
        await api.container.queue.join()
        assert (await api.gql(DEPLOYMENT, {"id": back["id"]}))["deployment"]["status"] == "SUCCEEDED"
        assert await cluster.live_revision(*where) == first["version"]
        assert (await api.gql(DEPLOYMENT, {"id": prod2}))["deployment"]["status"] == "ROLLED_BACK"

        names = {dev: "DEV", prod: "PROD", prod2: "PROD 2", back["id"]: "rollback"}
        seen: list[str] = []
        while "rollback SUCCEEDED" not in seen:
            event = (await ws.next_payload())["data"]["projectEvents"]
            if (words := step(event, names)) is not None:
                seen.append(words)

    expected = [
        "run RUNNING",
        "test RUNNING",
        "tests PASSED",
        "test SUCCEEDED",
        "build RUNNING",
        "build SUCCEEDED",
        "deploy dev RUNNING",
        "DEV PENDING",
        "DEV IN_PROGRESS",
        "DEV SUCCEEDED",
        "deploy dev SUCCEEDED",
        "approval RUNNING",
        "PROD AWAITING_APPROVAL",
        "approval WAITING",
        "run WAITING",
        "PROD PENDING",
        "approval SUCCEEDED",
        "run RUNNING",
        "deploy prod RUNNING",
        "PROD IN_PROGRESS",
        "PROD SUCCEEDED",
        "deploy prod SUCCEEDED",
        "run SUCCEEDED",
        "PROD 2 AWAITING_APPROVAL",
        "PROD 2 PENDING",
        "PROD 2 SUCCEEDED",
        "PROD 2 ROLLED_BACK",
        "rollback PENDING",
        "rollback IN_PROGRESS",
        "rollback SUCCEEDED",
    ]
    it = iter(seen)
    missing = [s for s in expected if s not in it]  # `in` on an iterator: each step after the one before it
    assert not missing, (missing, seen)
