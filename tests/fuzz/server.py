"""A real `rdflow serve` process on a free port with its log in a file, seeded with every role and a project graph."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from auth.tokens import ACCESS, TokenCodec, TokenConfig
from domain.enums import Role
from domain.model import User
from resolvers.ids import from_global_id, to_global_id
from server.settings import Settings
from tests.fuzz.fingerprint import DatabaseReader
from tests.jobstack import ALIASED, ROOT
from tests.live import free_port, migrate_with_admin

ADMIN_PASSWORD = "fuzz-Admin-pass-1"
JWT_SECRET = f"fuzz-{uuid.uuid4().hex}-{uuid.uuid4().hex}"
# A log record at ERROR or worse (the CLI's and uvicorn's formats) or any traceback.
ERROR_LINE = re.compile(
    r"^(\S+ \S+ (ERROR|CRITICAL) |(ERROR|CRITICAL):)|Traceback \(most recent call last\)", re.MULTILINE
)


class ServerProcess:
    """`python -m server.cli serve` configured through RDFLOW_* variables, stdout and stderr in `log_path`."""

    def __init__(self, database_url: str, data_dir: Path, log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.database_url = database_url
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("RDFLOW_") and k not in ALIASED}
        self.env.update(
            {
                "DATABASE_URL": database_url,
                "RDFLOW_DATA_DIR": str(data_dir),
                "RDFLOW_PORT": str(self.port),
                "RDFLOW_LOG_LEVEL": "info",
                "JWT_SECRET": JWT_SECRET,
            }
        )
        self.log_path = log_path
        self.log_offset = 0
        self.proc: subprocess.Popen | None = None

    def start(self) -> ServerProcess:
        migrate_with_admin(self.env, ADMIN_PASSWORD)
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "server.cli", "serve"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        deadline = time.monotonic() + 180  # a loaded 2-core machine imports slowly
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"server never answered /health:\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def log(self) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace") if self.log_path.exists() else ""

    def new_error_lines(self) -> str:
        """ERROR records and tracebacks logged since the last call (with the text after them for context)."""
        text = self.log()
        fresh, self.log_offset = text[self.log_offset :], len(text)
        match = ERROR_LINE.search(fresh)
        return "" if match is None else fresh[match.start() : match.start() + 6000]

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


@dataclasses.dataclass
class Seed:
    """The actors (one per role) and the global ids of everything seeded, to feed the fuzzer."""

    actors: dict[Role, User]
    ids: list[str]
    codec: TokenCodec

    def token(self, role: Role) -> str:
        """A fresh access token, so a fuzzed logout of one example never signs the next one out."""
        return self.codec.issue(self.actors[role], ACCESS, datetime.now(UTC))[0]


def _gql(client: httpx.Client, token: str | None, query: str, **variables: Any) -> dict:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    response = client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
    body = response.json()
    assert response.status_code == 200 and not body.get("errors"), body
    return body["data"]


def _user(node: dict, role: Role, db: DatabaseReader) -> User:
    user_id = from_global_id(node["id"])[1]
    return User(
        id=user_id, username=node["username"], email=node["email"], password_hash=db.password_hash(user_id), role=role
    )


def seed(server: ServerProcess, db: DatabaseReader) -> Seed:
    """Users of every role (actors send the requests; the fuzzer may change the others), two projects, members, a
    requirement with a PRD, tasks, an artifact, a test result, a deployment, an AI model and a prompt template."""
    settings = Settings.model_construct(jwt_secret=JWT_SECRET)  # the server's defaults: its env has no RDFLOW_*
    codec = TokenCodec(
        TokenConfig(
            secret=JWT_SECRET,
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            access_ttl=timedelta(minutes=settings.access_token_minutes),
            refresh_ttl=timedelta(days=settings.refresh_token_days),
        )
    )
    with httpx.Client(base_url=server.url, timeout=60) as client:
        login = _gql(
            client,
            None,
            'mutation($p: String!) { login(username: "admin", password: $p) { user { id username email } } }',
            p=ADMIN_PASSWORD,
        )
        actors = {Role.SUPER_ADMIN: _user(login["login"]["user"], Role.SUPER_ADMIN, db)}
        admin = codec.issue(actors[Role.SUPER_ADMIN], ACCESS, datetime.now(UTC))[0]

        def run(query: str, **variables: Any) -> dict:
            return _gql(client, admin, query, **variables)

        def user(name: str, role: Role) -> User:
            created = run(
                "mutation($i: CreateUserInput!) { createUser(input: $i) { id username email } }",
                i={"username": name, "email": f"{name}@example.com", "password": "fuzz-User-pass-1", "role": role.name},
            )
            return _user(created["createUser"], role, db)

        for role in (Role.PROJECT_ADMIN, Role.DEVELOPER, Role.TESTER, Role.GUEST):
            actors[role] = user(f"actor_{role.name.lower()}", role)
        others = [user(f"other_{role.name.lower()}", role) for role in Role]
        ids = [to_global_id("User", u.id) for u in others]

        def create(field: str, input_type: str, **fields: Any) -> str:
            new_id = run(f"mutation($i: {input_type}!) {{ {field}(input: $i) {{ id }} }}", i=fields)[field]["id"]
            ids.append(new_id)
            return new_id

        project = create("createProject", "CreateProjectInput", name="Fuzzed", techStack=["python"])
        create("createProject", "CreateProjectInput", name="Nobody's")
        for member in [*(u for r, u in actors.items() if r is not Role.SUPER_ADMIN), *others[1:3]]:
            run(
                "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }",
                p=project,
                u=to_global_id("User", member.id),
            )
        requirement = create(
            "createRequirement", "CreateRequirementInput", projectId=project, title="Login", content="Users sign in."
        )
        task = create(
            "createTask",
            "CreateTaskInput",
            requirementId=requirement,
            name="API",
            taskType="BACKEND",
            assignedTo=to_global_id("User", actors[Role.DEVELOPER].id),
        )
        create(
            "createTask",
            "CreateTaskInput",
            requirementId=requirement,
            name="Tests",
            taskType="TESTING",
            dependencyIds=[task],
        )
        artifact = create(
            "submitArtifact",
            "SubmitArtifactInput",
            taskId=task,
            filePath="app/main.py",
            content="print(1)\n",
            language="python",
        )
        create(
            "recordTestResult",
            "RecordTestResultInput",
            artifactId=artifact,
            testType="UNIT",
            status="PASSED",
            total=1,
            passed=1,
        )
        create(
            "createDeployment",
            "CreateDeploymentInput",
            projectId=project,
            environment="DEV",
            version="1.0.0",
            artifactIds=[artifact],
        )
        create("createAiModel", "CreateAiModelInput", name="offline", provider="offline", model="offline")
        create(
            "savePromptTemplate",
            "SavePromptTemplateInput",
            identifier="fuzz.custom",
            category="prd",
            content="{title}",
            variables=["title"],
        )
        job = run("mutation($r: ID!) { generatePrd(requirementId: $r) { id } }", r=requirement)["generatePrd"]["id"]
        ids.append(job)
        deadline = time.monotonic() + 60
        while run("query($j: ID!) { job(id: $j) { status } }", j=job)["job"]["status"] not in ("SUCCEEDED", "FAILED"):
            assert time.monotonic() < deadline, "the seeded PRD job never finished"
            time.sleep(0.1)
        prd = run("query($r: ID!) { requirement(id: $r) { prd { id } } }", r=requirement)["requirement"]["prd"]
        if prd:
            ids.append(prd["id"])
    return Seed(actors=actors, ids=ids, codec=codec)
