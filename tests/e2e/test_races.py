"""Concurrent mutations over real HTTP, on embedded SQLite (one server process) and on PostgreSQL behind two
server processes: exactly one winner where only one may win, a serialisable committed history, never a 5xx."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import httpx
import pytest

from domain import status as machines
from domain.enums import ReviewStatus, TaskStatus
from persistence.migrations import upgrade
from resolvers.ids import from_global_id
from tests import services
from tests.integration.test_replicas import Process
from tests.jobstack import ALIASED, ROOT
from tests.live import free_port

pytestmark = [pytest.mark.slow]
PASSWORD = "race test passphrase"
GRACE_S = 2
N = 10


@dataclass
class Cluster:
    """API server processes sharing one database; `burst` spreads concurrent requests over them."""

    urls: list[str]
    client: httpx.AsyncClient
    token: str = ""

    async def post(self, query: str, variables: dict | None = None, *, token: str | None = None, server: int = 0):
        token = token if token is not None else self.token
        response = await self.client.post(
            f"{self.urls[server % len(self.urls)]}/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"authorization": f"Bearer {token}"} if token else {},
        )
        assert response.status_code < 500, (response.status_code, response.text)
        body = response.json()
        for error in body.get("errors") or []:
            assert error.get("extensions", {}).get("code") != "INTERNAL_SERVER_ERROR", error
        return body

    async def ok(self, query: str, variables: dict | None = None, **kw: Any) -> dict:
        body = await self.post(query, variables, **kw)
        assert not body.get("errors"), body
        return body["data"]

    async def burst(self, calls: list[tuple[str, dict]], *, token: str | None = None) -> list[dict]:
        """Send every (query, variables) at once, alternating servers; the bodies in call order."""
        return list(await asyncio.gather(*(self.post(q, v, token=token, server=i) for i, (q, v) in enumerate(calls))))


def _env(database_url: str, data_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RDFLOW_") and k not in ALIASED}
    env.update(
        {
            "DATABASE_URL": database_url,
            "RDFLOW_DATA_DIR": str(data_dir),
            "RDFLOW_LOG_LEVEL": "warning",
            "RDFLOW_LOGIN_MAX_PER_ACCOUNT": "1000",
            "RDFLOW_LOGIN_MAX_PER_ADDRESS": "1000",
            "RDFLOW_REFRESH_GRACE_S": str(GRACE_S),
        }
    )
    return env


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def cluster(request, tmp_path_factory) -> AsyncIterator[Cluster]:
    data_dir = tmp_path_factory.mktemp(f"races-{request.param}")
    database = None
    if request.param == "sqlite":
        url, replicas = f"sqlite:///{data_dir}/rdflow.db", 1
    else:
        (url, database), replicas = services.create_database(), 2
    upgrade(url)
    env = _env(url, data_dir)
    admin = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "-m", "server.cli", "create-admin", "--username", "admin", "--email", "admin@example.com"],
        cwd=ROOT,
        env={**env, "RDFLOW_ADMIN_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert admin.returncode == 0, admin.stderr
    ports = [free_port() for _ in range(replicas)]
    processes = [
        Process(["serve"], {**env, "RDFLOW_PORT": str(port)}, data_dir / f"server{i}.log")
        for i, port in enumerate(ports)
    ]
    try:
        for port, process in zip(ports, processes, strict=True):
            await wait_ready(port, process)
        async with httpx.AsyncClient(timeout=60) as client:
            made = Cluster([f"http://127.0.0.1:{port}" for port in ports], client)
            made.token = (await login(made, "admin"))["accessToken"]
            yield made
    finally:
        for process in processes:
            process.stop()
        if database:
            services.drop_database(database)


async def wait_ready(port: int, process: Process, timeout_s: float = 180) -> None:
    """Until the server answers /ready (start-up is slow on a loaded machine), or fail with its log."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    async with httpx.AsyncClient() as client:
        while asyncio.get_running_loop().time() < deadline:
            assert process.proc.poll() is None, process.log.read_text()[-3000:]
            try:
                if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"server on {port} never became ready: {process.log.read_text()[-3000:]}")


async def login(cluster: Cluster, username: str, password: str = PASSWORD) -> dict:
    query = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken } }"
    return (await cluster.ok(query, {"u": username, "p": password}, token=""))["login"]


def raw(global_id: str) -> str:
    return str(from_global_id(global_id)[1])


def codes(bodies: list[dict]) -> list[str | None]:
    """Per response: None for a success, else the first error's code."""
    return [b["errors"][0]["extensions"]["code"] if b.get("errors") else None for b in bodies]


async def audit(cluster: Cluster, action: str, entity_id: str) -> list[dict]:
    """The committed audit rows of one entity for one action, oldest first."""
    data = await cluster.ok(
        """query($a: String!, $e: String!) { auditLog(first: 100, filter: {action: $a, entityId: $e},
        orderBy: {field: AT, direction: ASC}) { nodes { before after at } } }""",
        {"a": action, "e": entity_id},
    )
    return data["auditLog"]["nodes"]


def assert_serial_history(rows: list[dict], key: str, machine: Mapping[Enum, frozenset], start: Enum) -> str:
    """Each committed change starts where the previous one ended and is a legal move; returns the last status."""
    current = start
    for row in rows:
        assert row["before"][key] == current.value, (rows, current)
        following = type(start)(row["after"][key])
        assert following in machine[current], (rows, current, following)
        current = following
    return current.value


async def new_project(cluster: Cluster) -> str:
    return (await cluster.ok('mutation { createProject(input: {name: "Races"}) { id } }'))["createProject"]["id"]


async def new_tasks(cluster: Cluster, project_id: str, count: int) -> list[str]:
    rid = (
        await cluster.ok(
            'mutation($p: ID!) { createRequirement(input: {projectId: $p, title: "Race", content: "Race"}) { id } }',
            {"p": project_id},
        )
    )["createRequirement"]["id"]
    create = (
        "mutation($r: ID!, $n: String!) { createTask(input: {requirementId: $r, name: $n, taskType: BACKEND}) { id } }"
    )
    return [(await cluster.ok(create, {"r": rid, "n": f"task {i}"}))["createTask"]["id"] for i in range(count)]


SUBMIT = """mutation($t: ID!, $c: String!) { submitArtifact(input: {taskId: $t, filePath: "src/app.py",
content: $c, language: "python"}) { id version } }"""


async def test_one_approval_of_a_prod_deployment_wins(cluster: Cluster):
    pid = await new_project(cluster)
    deployment = (
        await cluster.ok(
            'mutation($p: ID!) { createDeployment(input: {projectId: $p, environment: PROD, version: "1.0"}) { id } }',
            {"p": pid},
        )
    )["createDeployment"]["id"]
    bodies = await cluster.burst(
        [("mutation($d: ID!) { approveDeployment(id: $d) { status } }", {"d": deployment})] * N
    )
    assert Counter(codes(bodies)) == {None: 1, "BAD_USER_INPUT": N - 1}, bodies
    # The super admin approves their own request: a four-eyes override, audited as such.
    rows = await audit(cluster, "deployment.approve.override", raw(deployment))
    assert [(r["before"]["status"], r["after"]["status"]) for r in rows] == [("AWAITING_APPROVAL", "PENDING")]


async def test_concurrent_reviews_with_mixed_decisions_commit_a_legal_history(cluster: Cluster):
    pid = await new_project(cluster)
    (task,) = await new_tasks(cluster, pid, 1)
    artifact = (await cluster.ok(SUBMIT, {"t": task, "c": "print('hi')\n"}))["submitArtifact"]["id"]
    decisions = [ReviewStatus.APPROVED, ReviewStatus.CHANGES_REQUESTED, ReviewStatus.REJECTED]
    review = "mutation($a: ID!, $d: ReviewStatus!) { submitReview(artifactId: $a, decision: $d) { reviewStatus } }"
    bodies = await cluster.burst([(review, {"a": artifact, "d": decisions[i % 3].value}) for i in range(N)])
    rows = await audit(cluster, "artifact.review", raw(artifact))
    assert len(rows) == codes(bodies).count(None) >= 1, bodies
    assert set(codes(bodies)) <= {None, "BAD_USER_INPUT"}, bodies
    last = assert_serial_history(rows, "reviewStatus", machines.REVIEW, ReviewStatus.PENDING)
    node = await cluster.ok("query($a: ID!) { node(id: $a) { ... on CodeArtifact { reviewStatus } } }", {"a": artifact})
    assert node["node"]["reviewStatus"] == last


async def test_concurrent_task_status_changes_commit_a_legal_history(cluster: Cluster):
    pid = await new_project(cluster)
    (task,) = await new_tasks(cluster, pid, 1)
    change = "mutation($t: ID!, $s: TaskStatus!) { changeTaskStatus(id: $t, status: $s) { status } }"
    wanted = [TaskStatus.IN_PROGRESS, TaskStatus.BLOCKED]
    bodies = await cluster.burst([(change, {"t": task, "s": wanted[i % 2].value}) for i in range(2 * N)])
    assert set(codes(bodies)) <= {None, "BAD_USER_INPUT"}, bodies
    rows = await audit(cluster, "task.status", raw(task))
    assert len(rows) == codes(bodies).count(None) >= 1
    last = assert_serial_history(rows, "status", machines.TASK, TaskStatus.PENDING)
    node = await cluster.ok("query($t: ID!) { node(id: $t) { ... on Task { status } } }", {"t": task})
    assert node["node"]["status"] == last


def _has_cycle(edges: dict[str, set[str]]) -> bool:
    def reaches(start: str, target: str, seen: set[str]) -> bool:
        return any(
            n == target or (n not in seen and not seen.add(n) and reaches(n, target, seen)) for n in edges[start]
        )

    return any(reaches(node, node, set()) for node in edges)


async def test_opposite_dependencies_sent_together_never_make_a_cycle(cluster: Cluster):
    pid = await new_project(cluster)
    add = "mutation($t: ID!, $d: ID!) { addTaskDependency(taskId: $t, dependsOnId: $d) { id } }"
    for _ in range(3):
        a, b = await new_tasks(cluster, pid, 2)
        bodies = await cluster.burst([(add, {"t": a, "d": b}), (add, {"t": b, "d": a})])
        assert Counter(codes(bodies)) == {None: 1, "BAD_USER_INPUT": 1}, bodies
    a, b, c, d = await new_tasks(cluster, pid, 4)
    await cluster.ok(add, {"t": a, "d": b})
    await cluster.ok(add, {"t": c, "d": d})
    # B -> C and D -> A lock different task pairs but together close A -> B -> C -> D -> A.
    bodies = await cluster.burst([(add, {"t": b, "d": c}), (add, {"t": d, "d": a})] * 2)
    assert codes(bodies).count(None) == 1, bodies
    tasks = await cluster.ok(
        "query($p: ID!) { node(id: $p) { ... on Project { requirements(first: 50) { nodes { tasks(first: 50) "
        "{ nodes { id dependencies { id } } } } } } } }",
        {"p": pid},
    )
    edges = {
        t["id"]: {d["id"] for d in t["dependencies"]}
        for r in tasks["node"]["requirements"]["nodes"]
        for t in r["tasks"]["nodes"]
    }
    assert len(edges) == 10 and not _has_cycle(edges), edges


async def test_concurrent_submissions_of_one_file_get_consecutive_versions(cluster: Cluster):
    pid = await new_project(cluster)
    (task,) = await new_tasks(cluster, pid, 1)
    bodies = await cluster.burst([(SUBMIT, {"t": task, "c": f"print({i})\n"}) for i in range(N)])
    assert set(codes(bodies)) <= {None, "CONFLICT"}, bodies
    versions = sorted(b["data"]["submitArtifact"]["version"] for b in bodies if not b.get("errors"))
    assert versions == list(range(1, len(versions) + 1)) and len(versions) >= 1, bodies


async def test_adding_one_member_concurrently_succeeds_once_and_conflicts_otherwise(cluster: Cluster):
    pid = await new_project(cluster)
    name = f"m{uuid.uuid4().hex[:8]}"
    user = (
        await cluster.ok(
            "mutation($u: String!, $e: String!, $p: String!) { createUser(input: {username: $u, email: $e, "
            "password: $p, role: DEVELOPER}) { id } }",
            {"u": name, "e": f"{name}@example.com", "p": PASSWORD},
        )
    )["createUser"]["id"]
    add = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
    bodies = await cluster.burst([(add, {"p": pid, "u": user})] * N)
    assert Counter(codes(bodies)) == {None: 1, "CONFLICT": N - 1}, bodies
    assert {b["errors"][0]["extensions"]["errorId"] for b in bodies if b.get("errors")} == {"ERR_409_001"}


async def test_creating_one_username_concurrently_succeeds_once_and_names_the_field(cluster: Cluster):
    name = f"u{uuid.uuid4().hex[:8]}"
    create = (
        "mutation($u: String!, $e: String!, $p: String!) { createUser(input: {username: $u, email: $e, "
        "password: $p, role: DEVELOPER}) { id } }"
    )
    bodies = await cluster.burst(
        [(create, {"u": name, "e": f"{name}{i}@example.com", "p": PASSWORD}) for i in range(N)]
    )
    assert Counter(codes(bodies)) == {None: 1, "CONFLICT": N - 1}, bodies
    assert {b["errors"][0]["extensions"].get("field") for b in bodies if b.get("errors")} == {"username"}, bodies


async def test_changing_one_password_concurrently_from_the_same_current_one_succeeds_once(cluster: Cluster):
    name = f"p{uuid.uuid4().hex[:8]}"
    await cluster.ok(
        "mutation($u: String!, $e: String!, $p: String!) { createUser(input: {username: $u, email: $e, "
        "password: $p, role: DEVELOPER}) { id } }",
        {"u": name, "e": f"{name}@example.com", "p": PASSWORD},
    )
    token = (await login(cluster, name))["accessToken"]
    change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
    news = [f"{PASSWORD} {i}" for i in range(N)]
    bodies = await cluster.burst([(change, {"c": PASSWORD, "n": new}) for new in news], token=token)
    assert Counter(codes(bodies)) == {None: 1, "BAD_USER_INPUT": N - 1}, bodies
    assert {b["errors"][0]["extensions"].get("field") for b in bodies if b.get("errors")} == {"currentPassword"}
    (winner,) = [new for new, body in zip(news, bodies, strict=True) if not body.get("errors")]
    assert (await cluster.ok(ME, token=(await login(cluster, name, winner))["accessToken"]))["me"]["username"] == name


async def test_super_admins_demoting_each_other_at_once_leave_one_of_each_pair(cluster: Cluster):
    create = (
        "mutation($u: String!, $e: String!, $p: String!) { createUser(input: {username: $u, email: $e, "
        "password: $p, role: SUPER_ADMIN}) { id } }"
    )
    pairs = []
    for _ in range(N // 2):
        pair = []
        for _ in range(2):
            name = f"a{uuid.uuid4().hex[:8]}"
            made = await cluster.ok(create, {"u": name, "e": f"{name}@example.com", "p": PASSWORD})
            pair.append((made["createUser"]["id"], (await login(cluster, name))["accessToken"]))
        pairs.append(pair)
    demote = "mutation($u: ID!) { updateUserRole(userId: $u, role: DEVELOPER) { role } }"
    calls = [(me[1], other[0]) for a, b in pairs for me, other in ((a, b), (b, a))]
    bodies = await asyncio.gather(
        *(cluster.post(demote, {"u": other}, token=token, server=i) for i, (token, other) in enumerate(calls))
    )
    for i in range(0, len(bodies), 2):  # each pair: one demoted the other, who was refused
        assert sorted(codes(list(bodies[i : i + 2])), key=str) == ["FORBIDDEN", None], bodies[i : i + 2]
    roles = await cluster.ok("{ users(first: 100) { nodes { id role } } }")
    role_of = {u["id"]: u["role"] for u in roles["users"]["nodes"]}
    assert all({role_of[a[0]], role_of[b[0]]} == {"SUPER_ADMIN", "DEVELOPER"} for a, b in pairs), role_of


async def test_concurrent_default_models_leave_exactly_one_default(cluster: Cluster):
    create = (
        'mutation($n: String!) { createAiModel(input: {name: $n, provider: "offline", model: "offline", '
        "isDefault: true}) { id } }"
    )
    tag = uuid.uuid4().hex[:6]
    bodies = await cluster.burst([(create, {"n": f"model {tag} {i}"}) for i in range(N)])
    assert codes(bodies) == [None] * N, bodies
    models = await cluster.ok("{ aiModels(first: 100) { nodes { name isDefault } } }")
    assert sum(m["isDefault"] for m in models["aiModels"]["nodes"]) == 1, models


async def test_saving_one_prompt_template_concurrently_keeps_one_row(cluster: Cluster):
    save = (
        'mutation($c: String!) { savePromptTemplate(input: {identifier: "review.race", category: "review", '
        "content: $c, variables: []}) { id } }"
    )
    bodies = await cluster.burst([(save, {"c": f"Review version {i}."}) for i in range(N)])
    assert codes(bodies) == [None] * N, bodies
    assert len({b["data"]["savePromptTemplate"]["id"] for b in bodies}) == 1, bodies


def _claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


ME = "{ me { username } }"
REFRESH = "mutation($r: String!) { refreshToken(refreshToken: $r) { accessToken refreshToken } }"


async def test_retried_refreshes_within_the_grace_window_get_the_same_session(cluster: Cluster):
    session = await login(cluster, "admin")
    bodies = await cluster.burst([(REFRESH, {"r": session["refreshToken"]})] * N, token="")
    assert codes(bodies) == [None] * N, bodies
    pairs = [b["data"]["refreshToken"] for b in bodies]
    assert len({_claims(p["refreshToken"])["jti"] for p in pairs}) == 1, "one new refresh token, however often retried"
    assert len({_claims(p["accessToken"])["jti"] for p in pairs}) == 1
    assert (await cluster.ok(ME, token=pairs[0]["accessToken"]))["me"]["username"] == "admin"
    newer = (await cluster.ok(REFRESH, {"r": pairs[-1]["refreshToken"]}, token=""))["refreshToken"]
    assert (await cluster.ok(ME, token=newer["accessToken"]))["me"]["username"] == "admin"


async def test_reuse_after_the_grace_window_still_revokes_the_sign_in(cluster: Cluster):
    session = await login(cluster, "admin")
    rotated = (await cluster.ok(REFRESH, {"r": session["refreshToken"]}, token=""))["refreshToken"]
    await asyncio.sleep(GRACE_S + 1)
    reused = await cluster.post(REFRESH, {"r": session["refreshToken"]}, token="", server=1)
    assert codes([reused]) == ["UNAUTHENTICATED"], reused
    refused = await cluster.post(ME, token=rotated["accessToken"])
    assert codes([refused]) == ["UNAUTHENTICATED"], refused
