"""Two API replicas and one worker over shared PostgreSQL and Redis: a subscriber on replica B sees, in order,
the events of a job requested through replica A and run by the worker."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from persistence.migrations import upgrade
from tests.jobstack import ALIASED, ROOT
from tests.live import TransportWs, free_port

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.slow]
PASSWORD = "replica test passphrase"


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path):
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", *args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def wait_healthy(port: int, proc: Process) -> None:
    async with httpx.AsyncClient() as client:
        for _ in range(300):
            if proc.proc.poll() is not None:
                raise AssertionError(f"server exited: {proc.log.read_text()[-3000:]}")
            try:
                if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise AssertionError(f"server on {port} never became ready: {proc.log.read_text()[-3000:]}")


async def test_a_subscriber_on_one_replica_sees_work_requested_on_another(
    fresh_postgres_url, redis_url, redis_prefix, tmp_path
):
    upgrade(fresh_postgres_url)
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDFLOW_") and k not in ALIASED}
    env.update(
        {
            "DATABASE_URL": fresh_postgres_url,
            "REDIS_URL": redis_url,
            "RDFLOW_REDIS_PREFIX": redis_prefix,
            "RDFLOW_DATA_DIR": str(tmp_path),
            "RDFLOW_LOG_LEVEL": "warning",
            "RDFLOW_JOB_HEARTBEAT_S": "0.5",
        }
    )
    admin = subprocess.run(
        [sys.executable, "-m", "server.cli", "create-admin", "--username", "admin", "--email", "admin@example.com"],
        cwd=ROOT,
        env={**env, "RDFLOW_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert admin.returncode == 0, admin.stderr
    port_a, port_b = free_port(), free_port()
    processes = [
        Process(["serve"], {**env, "RDFLOW_PORT": str(port_a)}, tmp_path / "a.log"),
        Process(["serve"], {**env, "RDFLOW_PORT": str(port_b)}, tmp_path / "b.log"),
        Process(["worker"], env, tmp_path / "worker.log"),
    ]
    try:
        await wait_healthy(port_a, processes[0])
        await wait_healthy(port_b, processes[1])
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port_a}") as a:

            async def gql(query: str, variables: dict | None = None, token: str | None = None) -> dict:
                headers = {"authorization": f"Bearer {token}"} if token else {}
                body = (
                    await a.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)
                ).json()
                assert not body.get("errors"), body
                return body["data"]

            token = (
                await gql(
                    'mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }', {"p": PASSWORD}
                )
            )["login"]["accessToken"]
            pid = (await gql('mutation { createProject(input: {name: "Replicas"}) { id } }', token=token))[
                "createProject"
            ]["id"]
            rid = (
                await gql(
                    """mutation($p: ID!) { createRequirement(input: {projectId: $p, title: "Invoice export",
                content: "Managers export invoices as CSV."}) { id } }""",
                    {"p": pid},
                    token,
                )
            )["createRequirement"]["id"]

            async with TransportWs(f"ws://127.0.0.1:{port_b}/graphql") as b:
                assert (await b.init({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
                await b.subscribe(
                    "1",
                    """subscription($p: ID!) { projectEvents(projectId: $p) {
                    entityType action newStatus } }""",
                    {"p": pid},
                )
                assert (await b.next_payload())["data"]["projectEvents"]["action"] == "snapshot"
                job = (
                    await gql("mutation($r: ID!) { generatePrd(requirementId: $r) { id status } }", {"r": rid}, token)
                )["generatePrd"]
                seen = []
                while not seen or seen[-1] != ("Job", "succeeded", "SUCCEEDED"):
                    event = (await b.next_payload(timeout=60))["data"]["projectEvents"]
                    seen.append((event["entityType"], event["action"], event["newStatus"]))
        assert seen[0] == ("Requirement", "status_changed", "ANALYZING")
        assert seen[1] == ("Job", "queued", "QUEUED")
        assert ("Job", "started", "RUNNING") in seen and ("PrdDocument", "created", None) in seen
        order = [s for s in seen if s[0] in ("Job", "PrdDocument")]
        assert (
            order.index(("Job", "started", "RUNNING"))
            < order.index(("PrdDocument", "created", None))
            < order.index(("Job", "succeeded", "SUCCEEDED"))
        )
        worker_log = (tmp_path / "worker.log").read_text()
        assert job["status"] == "QUEUED" and "Traceback" not in worker_log
    finally:
        for p in processes:
            p.stop()
