"""/metrics of a real `rdflow serve` with two worker processes, parsed with the Prometheus client's parser: the
counters move by what the test did (requests, errors, events, a job) whichever process answers the scrape."""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.live import ServeProcess, TransportWs

pytestmark = pytest.mark.slow

TOKEN = "scrape-token-for-tests"
PRD_JOB_KIND = "ai.prd"


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample (0 when the series does not exist yet)."""
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return s.value
    return 0.0


async def scrape(url: str) -> str:
    # A fresh connection each time: either worker process may answer.
    async with httpx.AsyncClient() as client:
        response = await client.get(f"{url}/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return response.text


async def settled(url: str, check, what: str) -> str:
    """Scrapes until `check(text)` holds, then four more times: every answer (from either process) must agree."""
    for _ in range(100):
        text = await scrape(url)
        if check(text):
            for _ in range(4):
                again = await scrape(url)
                assert check(again), f"{what}: another scrape disagrees:\n{again}"
            return text
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} never held:\n{text}")


def pids_with(directory: Path, kind: str) -> set[str]:
    return {m.group(1) for p in directory.glob(f"{kind}_*.db") if (m := re.search(r"_(\d+)\.db$", p.name))}


async def test_metrics_across_two_workers_move_with_requests_errors_events_and_jobs(tmp_path):
    metrics_dir = tmp_path / "metrics"
    metrics_dir.mkdir()
    # A previous run's leftovers: counted (or unreadable) unless `rdflow serve` empties the directory first.
    (metrics_dir / "counter_999999.db").write_bytes(b"\x00" * 4096 + b"not a metrics file")
    env = {"RDFLOW_WORKERS": "2", "RDFLOW_METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    async with ServeProcess(tmp_path, tmp_path / "serve.out", env) as server:
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"{server.url}/metrics")).status_code == 401
            wrong = await client.get(f"{server.url}/metrics", headers={"authorization": "Bearer nope"})
            assert wrong.status_code == 401
        before = await scrape(server.url)
        assert not (metrics_dir / "counter_999999.db").exists()

        sent: Counter[str] = Counter()  # requests by operation label
        seen_codes: Counter[str] = Counter()  # error codes the clients received

        async def post(body: dict | bytes, token: str | None = None, label: str = "anonymous") -> httpx.Response:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            async with httpx.AsyncClient(base_url=server.url) as fresh:
                if isinstance(body, bytes):
                    response = await fresh.post("/graphql", content=body, headers=headers)
                else:
                    response = await fresh.post("/graphql", json=body, headers=headers)
            sent[label] += 1
            seen_codes.update(e["extensions"]["code"] for e in response.json().get("errors", []))
            return response

        login = await post(
            {
                "query": 'mutation Login($p: String!) { login(username: "admin", password: $p) { accessToken } }',
                "operationName": "Login",
                "variables": {"p": ServeProcess.ADMIN_PASSWORD},
            },
            label="Login",
        )
        token = login.json()["data"]["login"]["accessToken"]
        project = await post(
            {"query": 'mutation CreateProject { createProject(input: {name: "Metrics"}) { id } }'},
            token,
            "anonymous",
        )
        pid = project.json()["data"]["createProject"]["id"]
        requirement = await post(
            {
                "query": """mutation CreateRequirement($p: ID!) { createRequirement(input: {projectId: $p,
                title: "Invoice export", content: "Managers export invoices as CSV."}) { id } }""",
                "operationName": "CreateRequirement",
                "variables": {"p": pid},
            },
            token,
            "CreateRequirement",
        )
        rid = requirement.json()["data"]["createRequirement"]["id"]

        # Fresh connections until both processes have answered some (the kernel picks which one accepts).
        me = {"query": "query Me { me { id } }", "operationName": "Me"}
        for _ in range(40):
            await asyncio.gather(*(post(me, token, "Me") for _ in range(6)))
            if len(pids_with(metrics_dir, "histogram")) >= 2:
                break
        assert len(pids_with(metrics_dir, "histogram")) >= 2, "one process answered every request"

        for _ in range(3):
            await post({"query": "query Broken { nope }", "operationName": "Broken"}, token, "Broken")
        await post(
            {"query": "query Anonymous { projects { totalCount } }", "operationName": "Anonymous"}, None, "Anonymous"
        )
        await post({"query": "query { me { id } }", "operationName": "not a name!"}, token, "other")
        await post(b"{not json", token)  # refused by the HTTP layer: 400
        await post(b'{"query": "' + b"x" * 1_100_000 + b'"}', token)  # refused by the body limit: 413
        assert {"BAD_USER_INPUT", "UNAUTHENTICATED"} <= seen_codes.keys(), seen_codes

        # A subscription, and a job requested over the same socket: both in the one process holding it, whose
        # in-process event bus and job queue they use.
        received = []
        async with TransportWs(server.ws_url) as ws:
            assert (await ws.init({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
            await ws.subscribe(
                "events",
                "subscription($p: ID!) { projectEvents(projectId: $p) { entityType action newStatus } }",
                {"p": pid},
            )
            received.append(await ws.next_payload())
            live = await settled(
                server.url,
                lambda t: sample(t, "rdflow_websockets_active") == 1 and sample(t, "rdflow_subscriptions_active") == 1,
                "one WebSocket and one subscription",
            )
            await ws.subscribe("prd", "mutation($r: ID!) { generatePrd(requirementId: $r) { id } }", {"r": rid})
            while True:
                message = await ws.recv(timeout=60)
                if message["id"] == "events":
                    event = message["payload"]["data"]["projectEvents"]
                    received.append(event)
                    if event["entityType"] == "Job" and event["newStatus"] == "SUCCEEDED":
                        break
            with pytest.raises(TimeoutError):  # nothing after the job's end
                while True:
                    message = await ws.recv(timeout=1)
                    if message["id"] == "events":
                        received.append(message["payload"]["data"]["projectEvents"])
        assert sample(live, "rdflow_db_pool_size") > 0

        delivered = len(received) - 1  # the first message is the project's snapshot, not an event

        def moved(name: str, **labels: str):
            return lambda after: sample(after, name, **labels) - sample(before, name, **labels)

        job_runs = moved("rdflow_job_duration_seconds_count", kind=PRD_JOB_KIND, outcome="succeeded")
        after = await settled(
            server.url,
            lambda t: (
                sample(t, "rdflow_websockets_active") == 0
                and sample(t, "rdflow_subscriptions_active") == 0
                and job_runs(t) == 1
                and moved("rdflow_events_delivered_total")(t) == delivered
            ),
            "the socket closed, the job counted and its events delivered",
        )
        for label, count in sent.items():
            assert moved("rdflow_graphql_request_duration_seconds_count", operation=label)(after) == count, label
        for code, count in seen_codes.items():
            assert moved("rdflow_graphql_errors_total", code=code)(after) == count, code
        assert moved("rdflow_graphql_errors_total", code="BAD_USER_INPUT")(after) >= 5  # 3 Broken + 2 refusals
        # Every event was published by some process: the project's and requirement's too, which nobody heard.
        assert moved("rdflow_events_published_total")(after) >= delivered + 2
        assert delivered >= 3  # at least the job's start, progress and end
        assert sample(after, "rdflow_job_duration_seconds_sum", kind=PRD_JOB_KIND, outcome="succeeded") > 0
        assert sample(after, "rdflow_db_pool_checked_out") >= 0

    # Development: the log is plain text, one access line per request and no uvicorn access lines.
    access = [line for line in server.stderr_lines() if "rdflow.access:" in line]
    assert len([line for line in access if "POST /graphql" in line]) == sum(sent.values())
    assert not [line for line in server.stderr_lines() if line.startswith("{")]
    assert not [line for line in server.stderr_lines() if '"GET /metrics HTTP/1.1"' in line]
