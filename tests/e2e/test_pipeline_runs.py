"""Pipeline runs over HTTP and WebSockets, with the real stages (tests in the sandbox, rollouts on the simulated
cluster): started by the signed webhook (bad signatures and replays refused), a failing test stage stopping the run,
the approval gate, a run cancelled midway, and stage transitions live."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import time
import uuid

import pytest

from domain.enums import Role
from domain.model import WebhookDelivery
from domain.services.pipeline_hooks import CLOCK_MARGIN_S
from resolvers.ids import from_global_id, to_global_id
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_crud_api import project, requirement, task
from tests.live import LiveServer, TransportWs
from tests.reachable import reachable_dir

RUN = """id status version trigger triggerRef message durationSeconds triggeredBy { username } artifactIds
  stages { name kind status message environment testType durationSeconds startedAt finishedAt deploymentId
  workJobId }"""
START = f"mutation($p: ID!, $v: String) {{ startPipelineRun(projectId: $p, version: $v) {{ {RUN} }} }}"
GET_RUN = f"query($id: ID!) {{ pipelineRun(id: $id) {{ {RUN} }} }}"
CANCEL = f"mutation($id: ID!) {{ cancelPipelineRun(id: $id) {{ {RUN} }} }}"
ROTATE = "mutation($p: ID!) { rotatePipelineWebhookSecret(projectId: $p) { secret urlPath } }"
SUBMIT = """mutation($t: ID!, $p: String!, $c: String!) { submitArtifact(input: {taskId: $t, filePath: $p,
  content: $c, language: "python"}) { id } }"""
REVIEW = "mutation($a: ID!) { submitReview(artifactId: $a, decision: APPROVED) { reviewStatus } }"
APPROVE = "mutation($id: ID!) { approveDeployment(id: $id) { id status approvedBy { username } } }"
DEFAULT_STAGES = ["test", "build", "deploy dev", "approval", "deploy prod"]


FAST = {"simulated_step_s": 0.02, "rollout_poll_s": 0.01, "job_backoff_base_s": 0.05, "test_timeout_s": 120}
SOURCE = "def total(items):\n    return sum(items)\n"
PASSING = "assert total([1, 2]) == 3"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def papi(request):
    with reachable_dir("rdflow-pipelines-") as data_dir:
        fields = FAST
        settings = (
            sqlite_settings(data_dir, **fields)
            if request.param == "sqlite"
            else Settings(database_url=request.getfixturevalue("fresh_postgres_url"), data_dir=data_dir, **fields)
        )
        async with running_api(settings) as api:
            await api.user("lead", Role.PROJECT_ADMIN)
            await api.user("lead2", Role.PROJECT_ADMIN)
            await api.user("dev", Role.DEVELOPER)
            yield api


async def approved_project(api: Api, test: str = PASSING) -> tuple[str, list[str]]:
    """A project whose members are lead, lead2 and dev, with an approved `cart.py` and its approved test file whose
    one test runs `test`: (project id, [cart.py's id, test_cart.py's id])."""
    pid = await project(api, f"Shop {uuid.uuid4().hex[:6]}")
    for name in ("lead", "lead2", "dev"):
        await api.gql(
            "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
            {"p": pid, "u": to_global_id("User", api.users[name].id)},
        )
    t = await task(api, await requirement(api, pid), "Cart")
    tests = f"from cart import total\n\n\ndef test_total():\n    {test}\n"
    ids = []
    for path, content in (("cart.py", SOURCE), ("test_cart.py", tests)):
        ids.append((await api.gql(SUBMIT, {"t": t["id"], "p": path, "c": content}))["submitArtifact"]["id"])
        await api.gql(REVIEW, {"a": ids[-1]})
    return pid, ids


async def settle(api: Api, run_id: str) -> dict:
    await api.container.queue.join()
    return (await api.gql(GET_RUN, {"id": run_id}, as_="lead"))["pipelineRun"]


def statuses(run: dict) -> list[str]:
    return [s["status"] for s in run["stages"]]


def signed(secret: str, body: bytes, *, delivery: str | None = None, at: int | None = None) -> dict[str, str]:
    """The headers the README tells a sender to compute: HMAC-SHA256 of `<timestamp>.<delivery>.<body>`."""
    delivery = delivery or uuid.uuid4().hex
    timestamp = str(int(time.time()) if at is None else at)
    digest = hmac.new(secret.encode(), f"{timestamp}.{delivery}.".encode() + body, hashlib.sha256).hexdigest()
    return {
        "content-type": "application/json",
        "x-rdflow-signature": f"sha256={digest}",
        "x-rdflow-timestamp": timestamp,
        "x-rdflow-delivery": delivery,
    }


async def test_a_webhook_delivery_starts_a_run_that_waits_for_approval_then_deploys_to_prod(papi: Api):
    pid, artifacts = await approved_project(papi)
    hook = (await papi.gql(ROTATE, {"p": pid}, as_="lead"))["rotatePipelineWebhookSecret"]
    assert hook["urlPath"] == f"/hooks/pipelines/{pid}" and hook["secret"].startswith("whsec_")
    body = json.dumps({"version": "1.4.0"}).encode()
    headers = signed(hook["secret"], body, delivery="gh-delivery-1")

    answer = await papi.client.post(hook["urlPath"], content=body, headers=headers)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["runId"]

    run = await settle(papi, run_id)
    assert (run["status"], run["trigger"], run["triggerRef"], run["version"]) == (
        "WAITING",
        "WEBHOOK",
        "gh-delivery-1",
        "1.4.0",
    )
    assert run["triggeredBy"] == {"username": "lead"} and run["artifactIds"] == artifacts
    assert [s["name"] for s in run["stages"]] == DEFAULT_STAGES
    assert statuses(run) == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "WAITING", "PENDING"]
    assert run["stages"][0]["message"].startswith("1 of 1 tests passed in cart.py, coverage ")
    assert run["stages"][1]["message"].startswith("built 1.4.0 from 2 files, digest sha256:")
    assert run["stages"][2]["message"] == "deployed 1.4.0 to DEV"
    assert all(s["durationSeconds"] >= 0 for s in run["stages"][:3])
    gate = run["stages"][3]
    assert gate["deploymentId"] and gate["deploymentId"] == run["stages"][4]["deploymentId"]
    prod = (
        await papi.gql(
            "query($id: ID!) { node(id: $id) { ... on Deployment { status environment version } } }",
            {"id": gate["deploymentId"]},
        )
    )["node"]
    assert prod == {"status": "AWAITING_APPROVAL", "environment": "PROD", "version": "1.4.0"}

    # The gate holds no worker: nothing is running while the run waits.
    assert not papi.container.queue._tasks

    approved = (await papi.gql(APPROVE, {"id": gate["deploymentId"]}, as_="lead2"))["approveDeployment"]
    assert approved["approvedBy"] == {"username": "lead2"}
    run = await settle(papi, run_id)
    assert run["status"] == "SUCCEEDED" and statuses(run) == ["SUCCEEDED"] * 5
    assert run["stages"][3]["message"] == "approved by lead2"
    assert run["stages"][4]["message"] == "deployed 1.4.0 to PROD"
    assert run["durationSeconds"] >= 0 and run["message"] == "1.4.0: every stage succeeded"


async def test_bad_signatures_stale_timestamps_and_replayed_deliveries_are_refused(papi: Api):
    pid, _ = await approved_project(papi)
    path = f"/hooks/pipelines/{pid}"
    unconfigured = await papi.client.post(path, content=b"{}", headers=signed("whsec_guess", b"{}"))
    assert unconfigured.status_code == 401
    assert unconfigured.json()["errors"][0]["message"] == "no pipeline webhook is configured for this project"

    secret = (await papi.gql(ROTATE, {"p": pid}, as_="lead"))["rotatePipelineWebhookSecret"]["secret"]
    body = b'{"version": "2.0.0"}'

    async def post(headers: dict[str, str], content: bytes = body) -> tuple[int, dict]:
        answer = await papi.client.post(path, content=content, headers=headers)
        return answer.status_code, answer.json()

    status, error = await post(signed("whsec_wrong", body))
    assert status == 401 and error["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert "X-Rdflow-Signature does not match" in error["errors"][0]["message"]

    tampered = signed(secret, body)
    status, error = await post(tampered, b'{"version": "6.6.6"}')
    assert status == 401 and "does not match" in error["errors"][0]["message"]

    status, error = await post(signed(secret, body, at=int(time.time()) - 301))
    assert status == 401 and error["errors"][0]["extensions"]["field"] == "X-Rdflow-Timestamp"

    missing = {k: v for k, v in signed(secret, body).items() if k != "x-rdflow-delivery"}
    status, error = await post(missing)
    assert status == 400 and error["errors"][0]["extensions"]["field"] == "X-Rdflow-Delivery"

    status, error = await post(signed(secret, b"[1, 2]"), b"[1, 2]")
    assert status == 400 and error["errors"][0]["extensions"]["field"] == "body"

    first = signed(secret, body, delivery="delivery-42")
    status, accepted = await post(first)
    assert status == 202, accepted
    status, error = await post(first)
    assert status == 409 and error["errors"][0]["extensions"] == {
        "code": "CONFLICT",
        "errorId": "ERR_409_001",
        "field": "X-Rdflow-Delivery",
    }
    assert "already received" in error["errors"][0]["message"]
    # A replay with a fresh timestamp is not signed by the secret's holder.
    refreshed = {**first, "x-rdflow-timestamp": str(int(time.time()) + 1)}
    status, _ = await post(refreshed)
    assert status == 401

    # Rotating the secret retires the old one.
    await papi.gql(ROTATE, {"p": pid}, as_="lead")
    status, _ = await post(signed(secret, body))
    assert status == 401
    await papi.container.queue.join()
    runs = await papi.gql(
        "query($p: ID!) { pipelineRuns(projectId: $p) { totalCount nodes { triggerRef } } }", {"p": pid}, as_="lead"
    )
    assert runs["pipelineRuns"] == {"totalCount": 1, "nodes": [{"triggerRef": "delivery-42"}]}


async def test_a_non_ascii_timestamp_is_refused_and_the_longest_delivery_id_starts_a_run(papi: Api):
    pid, _ = await approved_project(papi)
    path = f"/hooks/pipelines/{pid}"
    secret = (await papi.gql(ROTATE, {"p": pid}, as_="lead"))["rotatePipelineWebhookSecret"]["secret"]
    body = b'{"version": "2.1.0"}'

    superscript = {**signed(secret, body), "x-rdflow-timestamp": "\u00b2".encode("latin-1")}  # a digit to isdigit()
    answer = await papi.client.post(path, content=body, headers=superscript)
    assert answer.status_code == 400, answer.text
    assert answer.json()["errors"][0]["extensions"]["field"] == "X-Rdflow-Timestamp"

    longest = "d" * 100  # longer than the audit log's request id, once prefixed
    answer = await papi.client.post(path, content=body, headers=signed(secret, body, delivery=longest))
    assert answer.status_code == 202, answer.text
    run = await settle(papi, answer.json()["runId"])
    assert run["triggerRef"] == longest
    log = await papi.gql(
        """query($e: String!) { auditLog(first: 5, filter: {entityId: $e}) { nodes { action requestId } } }""",
        {"e": str(from_global_id(run["id"])[1])},
    )
    assert any((row["requestId"] or "").startswith("webhook-sha256-") for row in log["auditLog"]["nodes"]), log


async def test_a_failing_test_stage_stops_the_run(papi: Api):
    pid, _ = await approved_project(papi, "assert total([1, 2]) == 4")
    run = (await papi.gql(START, {"p": pid, "v": "3.0.0"}, as_="lead"))["startPipelineRun"]
    assert run["status"] == "RUNNING" and statuses(run) == ["RUNNING"] + ["PENDING"] * 4
    run = await settle(papi, run["id"])
    assert run["status"] == "FAILED"
    assert statuses(run) == ["FAILED", "SKIPPED", "SKIPPED", "SKIPPED", "SKIPPED"]
    failure = "FAILED in cart.py: 1 of 1 tests failed: test_cart.py::test_total"
    assert run["stages"][0]["message"] == failure and run["message"] == f"test failed: {failure}"
    assert all(s["startedAt"] is None for s in run["stages"][1:])
    deployments = await papi.gql("query($p: ID!) { project(id: $p) { deployments { totalCount } } }", {"p": pid})
    assert deployments["project"]["deployments"]["totalCount"] == 0


async def test_a_failed_rollout_fails_the_deploy_stage_with_the_reason(papi: Api):
    pid, _ = await approved_project(papi)
    # The simulated cluster crash-loops a revision named "crash..." (integrations/cluster_simulated.py).
    run = (await papi.gql(START, {"p": pid, "v": "crash-1"}, as_="lead"))["startPipelineRun"]
    run = await settle(papi, run["id"])
    assert run["status"] == "FAILED" and statuses(run) == ["SUCCEEDED", "SUCCEEDED", "FAILED", "SKIPPED", "SKIPPED"]
    assert run["stages"][2]["message"].startswith("deploying crash-1 to DEV FAILED: ")
    assert "CrashLoopBackOff" in run["stages"][2]["message"]


async def test_a_run_cancelled_midway_stops_its_job_and_starts_nothing_more(papi: Api):
    pid, _ = await approved_project(papi, "import time; time.sleep(60)")
    run = (await papi.gql(START, {"p": pid, "v": "4.0.0"}, as_="lead"))["startPipelineRun"]
    test_job = None
    for _ in range(200):  # until the stage's job has started the test run (a job of its own)
        current = (await papi.gql(GET_RUN, {"id": run["id"]}, as_="lead"))["pipelineRun"]
        if (test_job := current["stages"][0]["workJobId"]) is not None:
            break
        await asyncio.sleep(0.05)
    assert test_job is not None
    job = (await papi.gql("query($id: ID!) { job(id: $id) { status } }", {"id": test_job}))["job"]
    assert job["status"] in ("QUEUED", "RUNNING")

    refused = await papi.error(CANCEL, {"id": run["id"]}, as_="dev")
    assert refused["extensions"]["code"] == "FORBIDDEN" and refused["extensions"]["permission"] == "project:write"
    cancelled = (await papi.gql(CANCEL, {"id": run["id"]}, as_="lead2"))["cancelPipelineRun"]
    assert cancelled["status"] == "CANCELLED" and cancelled["message"] == "cancelled by lead2"
    assert statuses(cancelled) == ["CANCELLED", "SKIPPED", "SKIPPED", "SKIPPED", "SKIPPED"]
    run = await settle(papi, run["id"])  # returns at once: the test run's job was stopped, not waited for
    assert run["status"] == "CANCELLED" and statuses(run) == statuses(cancelled)
    job = (await papi.gql("query($id: ID!) { job(id: $id) { status } }", {"id": test_job}))["job"]
    assert job["status"] == "CANCELLED"
    again = await papi.error(CANCEL, {"id": run["id"]}, as_="lead")
    assert again["extensions"]["code"] == "BAD_USER_INPUT" and again["extensions"]["currentStatus"] == "CANCELLED"


async def test_cancelling_a_run_waiting_for_approval_fails_its_prod_deployment(papi: Api):
    pid, _ = await approved_project(papi)
    run = (await papi.gql(START, {"p": pid, "v": "5.0.0"}, as_="lead"))["startPipelineRun"]
    run = await settle(papi, run["id"])
    assert run["status"] == "WAITING"
    prod = run["stages"][3]["deploymentId"]
    run = (await papi.gql(CANCEL, {"id": run["id"]}, as_="lead"))["cancelPipelineRun"]
    assert statuses(run) == ["SUCCEEDED", "SUCCEEDED", "SUCCEEDED", "CANCELLED", "SKIPPED"]
    deployment = await papi.gql("query($id: ID!) { node(id: $id) { ... on Deployment { status } } }", {"id": prod})
    assert deployment["node"]["status"] == "FAILED"
    late = await papi.error(APPROVE, {"id": prod}, as_="lead2")
    assert late["extensions"]["code"] == "BAD_USER_INPUT"


async def test_stage_transitions_are_published_live(papi: Api):
    pid, _ = await approved_project(papi)
    events = """subscription($p: ID!) { projectEvents(projectId: $p) { entityType action oldStatus newStatus data } }"""
    updates = "subscription($id: ID!) { pipelineUpdated(id: $id) { status stages { name status } } }"
    async with LiveServer(papi.app) as live, TransportWs(live.ws_url) as ws:
        await ws.init({"authorization": f"Bearer {papi.tokens['lead']}"})
        await ws.subscribe("events", events, {"p": pid})
        assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "snapshot"
        run = (await papi.gql(START, {"p": pid, "v": "6.0.0"}, as_="lead"))["startPipelineRun"]
        await ws.subscribe("run", updates, {"id": run["id"]})
        await papi.container.queue.join()

        seen: list[tuple[str, str | None, str | None]] = []
        run_updates: list[dict] = []
        while ("run", "RUNNING", "WAITING") not in seen or not run_updates or run_updates[-1]["status"] != "WAITING":
            message = await ws.recv()
            data = message["payload"]["data"]
            if message["id"] == "run":
                run_updates.append(data["pipelineUpdated"])
                continue
            event = data["projectEvents"]
            if event["entityType"] == "PipelineStage":
                seen.append((event["data"]["name"], event["oldStatus"], event["newStatus"]))
            elif event["entityType"] == "PipelineRun":
                seen.append(("run", event["oldStatus"], event["newStatus"]))
    assert seen == [
        ("run", None, "RUNNING"),
        ("test", "PENDING", "RUNNING"),
        ("test", "RUNNING", "SUCCEEDED"),
        ("build", "PENDING", "RUNNING"),
        ("build", "RUNNING", "SUCCEEDED"),
        ("deploy dev", "PENDING", "RUNNING"),
        ("deploy dev", "RUNNING", "SUCCEEDED"),
        ("approval", "PENDING", "RUNNING"),
        ("approval", "RUNNING", "WAITING"),
        ("run", "RUNNING", "WAITING"),
    ]
    assert run_updates[-1] == {
        "status": "WAITING",
        "stages": [
            {"name": "test", "status": "SUCCEEDED"},
            {"name": "build", "status": "SUCCEEDED"},
            {"name": "deploy dev", "status": "SUCCEEDED"},
            {"name": "approval", "status": "WAITING"},
            {"name": "deploy prod", "status": "PENDING"},
        ],
    }


DEFINITION = "stages { name kind environment testType } triggerOnReview webhookConfigured webhookRotatedAt"
UPDATE = f"""mutation($input: UpdatePipelineInput!) {{ updatePipeline(input: $input) {{ {DEFINITION} }} }}"""


async def test_project_admins_configure_the_stages_and_the_webhook_secret_is_shown_once(papi: Api):
    pid, _ = await approved_project(papi)
    shown = await papi.gql(f"query($p: ID!) {{ pipeline(projectId: $p) {{ {DEFINITION} }} }}", {"p": pid}, as_="dev")
    assert [s["name"] for s in shown["pipeline"]["stages"]] == DEFAULT_STAGES
    assert shown["pipeline"]["webhookConfigured"] is False

    refused = await papi.error(UPDATE, {"input": {"projectId": pid, "triggerOnReview": True}}, as_="dev")
    assert refused["extensions"]["code"] == "FORBIDDEN" and refused["extensions"]["permission"] == "project:write"
    refused = await papi.error(ROTATE, {"p": pid}, as_="dev")
    assert refused["extensions"]["permission"] == "project:write"
    bad = await papi.error(
        UPDATE,
        {"input": {"projectId": pid, "stages": [{"name": "prod", "kind": "DEPLOY", "environment": "PROD"}]}},
        as_="lead",
    )
    assert bad["extensions"]["code"] == "BAD_USER_INPUT" and bad["extensions"]["field"] == "stages[0]"

    stages = [{"name": "unit", "kind": "TEST"}, {"name": "dev", "kind": "DEPLOY", "environment": "DEV"}]
    updated = (await papi.gql(UPDATE, {"input": {"projectId": pid, "stages": stages}}, as_="lead"))["updatePipeline"]
    assert updated["stages"] == [
        {"name": "unit", "kind": "TEST", "environment": None, "testType": "UNIT"},
        {"name": "dev", "kind": "DEPLOY", "environment": "DEV", "testType": None},
    ]
    secret = (await papi.gql(ROTATE, {"p": pid}, as_="lead"))["rotatePipelineWebhookSecret"]["secret"]
    shown = await papi.gql(f"query($p: ID!) {{ pipeline(projectId: $p) {{ {DEFINITION} }} }}", {"p": pid})
    assert shown["pipeline"]["webhookConfigured"] is True and shown["pipeline"]["webhookRotatedAt"]
    assert secret not in json.dumps(shown)
    async with papi.container.services.deps.uow() as uow:
        audit = json.dumps([(a.before, a.after) for a in await uow.audit.find()], default=str)
        definition = await uow.pipelines.find_one(project_id=from_global_id(pid)[1])
    assert "webhookConfigured" in audit and secret not in audit
    assert definition is not None and secret not in (definition.webhook_secret_encrypted or "")


async def test_starting_needs_every_stage_s_permission(papi: Api):
    pid, _ = await approved_project(papi)
    refused = await papi.error(START, {"p": pid, "v": "7.0.0"}, as_="dev")
    assert refused["extensions"]["code"] == "FORBIDDEN" and refused["extensions"]["permission"] == "deploy:any"
    stages = [{"name": "unit", "kind": "TEST"}, {"name": "dev", "kind": "DEPLOY", "environment": "DEV"}]
    await papi.gql(UPDATE, {"input": {"projectId": pid, "stages": stages}}, as_="lead")
    run = (await papi.gql(START, {"p": pid, "v": "7.0.0"}, as_="dev"))["startPipelineRun"]
    run = await settle(papi, run["id"])
    assert run["status"] == "SUCCEEDED" and run["triggeredBy"] == {"username": "dev"}
    assert statuses(run) == ["SUCCEEDED", "SUCCEEDED"]


async def test_an_approved_review_starts_a_run_where_the_project_asks_for_it(papi: Api):
    pid, _ = await approved_project(papi)
    await papi.container.queue.join()
    none = await papi.gql("query($p: ID!) { pipelineRuns(projectId: $p) { totalCount } }", {"p": pid})
    assert none["pipelineRuns"]["totalCount"] == 0  # off by default
    t = await task(papi, await requirement(papi, pid, "Checkout"), "Checkout")
    tests = "from pay import pay\n\n\ndef test_pay():\n    assert pay()\n"
    test_file = (await papi.gql(SUBMIT, {"t": t["id"], "p": "test_pay.py", "c": tests}))["submitArtifact"]["id"]
    await papi.gql(REVIEW, {"a": test_file}, as_="lead")  # before the project asks for runs on reviews
    stages = [{"name": "unit", "kind": "TEST"}, {"name": "build", "kind": "BUILD"}]
    await papi.gql(UPDATE, {"input": {"projectId": pid, "stages": stages, "triggerOnReview": True}}, as_="lead")
    source = "def pay():\n    return True\n"
    artifact = (await papi.gql(SUBMIT, {"t": t["id"], "p": "pay.py", "c": source}))["submitArtifact"]["id"]
    await papi.gql(REVIEW, {"a": artifact}, as_="lead")
    await papi.container.queue.join()
    runs = await papi.gql(
        f"query($p: ID!) {{ pipelineRuns(projectId: $p) {{ totalCount nodes {{ {RUN} }} }} }}", {"p": pid}
    )
    assert runs["pipelineRuns"]["totalCount"] == 1
    run = runs["pipelineRuns"]["nodes"][0]
    assert (run["trigger"], run["triggerRef"], run["artifactIds"]) == (
        "REVIEW",
        str(from_global_id(artifact)[1]),
        [artifact],
    )
    assert run["triggeredBy"] == {"username": "lead"} and run["status"] == "SUCCEEDED"
    assert run["version"].startswith("v1-") and run["stages"][0]["message"].startswith("1 of 1 tests passed")


async def test_approving_and_cancelling_at_once_leave_one_consistent_history(papi: Api):
    pid, _ = await approved_project(papi)
    for attempt in range(3):
        run = (await papi.gql(START, {"p": pid, "v": f"8.0.{attempt}"}, as_="lead"))["startPipelineRun"]
        run = await settle(papi, run["id"])
        prod = run["stages"][3]["deploymentId"]
        approve, cancel = await asyncio.gather(
            papi.post(APPROVE, {"id": prod}, as_="lead2"), papi.post(CANCEL, {"id": run["id"]}, as_="lead")
        )
        answers = [approve.json(), cancel.json()]
        codes = [e["extensions"]["code"] for a in answers for e in a.get("errors", [])]
        assert set(codes) <= {"BAD_USER_INPUT"}, answers
        final = await settle(papi, run["id"])
        deployment = await papi.gql("query($id: ID!) { node(id: $id) { ... on Deployment { status } } }", {"id": prod})
        if "errors" in answers[1]:  # the approval and the whole rollout came first
            assert final["status"] == "SUCCEEDED" and deployment["node"]["status"] == "SUCCEEDED"
        else:
            # Cancelled at the gate, or (approved first) while deploying to PROD.
            assert final["status"] == "CANCELLED"
            assert statuses(final)[3:] in (["CANCELLED", "SKIPPED"], ["SUCCEEDED", "CANCELLED"])
            # Refused (cancel first), stopped before its rollout, or already rolling out (which then finishes).
            assert deployment["node"]["status"] in ("FAILED", "SUCCEEDED")


async def test_a_rejected_prod_deployment_fails_the_approval_gate(papi: Api):
    pid, _ = await approved_project(papi)
    run = (await papi.gql(START, {"p": pid, "v": "9.0.0"}, as_="lead"))["startPipelineRun"]
    run = await settle(papi, run["id"])
    prod = run["stages"][3]["deploymentId"]
    await papi.gql(
        'mutation($id: ID!) { rejectDeployment(id: $id, reason: "not on a Friday") { status } }',
        {"id": prod},
        as_="lead2",
    )
    run = await settle(papi, run["id"])
    assert run["status"] == "FAILED" and statuses(run)[3:] == ["FAILED", "SKIPPED"]
    assert run["stages"][3]["message"] == "rejected by lead2: not on a Friday"


async def test_deliveries_no_replay_can_match_are_forgotten_when_the_next_one_arrives(papi: Api):
    """A delivery is remembered while a replay of it could still pass the timestamp check (twice the window, plus a
    margin for clocks), then dropped when the project's next delivery arrives: the table does not grow forever."""
    pid, _ = await approved_project(papi)
    raw_pid = from_global_id(pid)[1]
    secret = (await papi.gql(ROTATE, {"p": pid}, as_="lead"))["rotatePipelineWebhookSecret"]["secret"]
    hooks = papi.container.services.pipeline_webhooks
    assert hooks.remembered_for == dt.timedelta(seconds=2 * 300 + CLOCK_MARGIN_S)
    now = papi.container.services.deps.clock.now()
    async with papi.container.services.deps.uow() as uow:
        for name, age in (("ancient", hooks.remembered_for + dt.timedelta(seconds=5)), ("recent", dt.timedelta(0))):
            uow.webhook_deliveries.add(WebhookDelivery(project_id=raw_pid, delivery_id=name, received_at=now - age))
        await uow.commit()
    body = b'{"version": "3.0.0"}'
    answer = await papi.client.post(
        f"/hooks/pipelines/{pid}", content=body, headers=signed(secret, body, delivery="new")
    )
    assert answer.status_code == 202, answer.text
    async with papi.container.services.deps.uow() as uow:
        kept = {d.delivery_id for d in await uow.webhook_deliveries.find(project_id=raw_pid)}
    assert kept == {"recent", "new"}
    again = await papi.client.post(
        f"/hooks/pipelines/{pid}", content=body, headers=signed(secret, body, delivery="recent")
    )
    assert again.status_code == 409, again.text
    await papi.container.queue.join()
