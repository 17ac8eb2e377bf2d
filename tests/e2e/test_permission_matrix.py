"""The permission matrix of DESIGN.md, cell by cell, over real HTTP: every role x action is allowed or refused.

`TABLE` is the matrix. Each action below it does one request as the role's user and reports what an admin
sees before and after, and what an allowed call must leave behind. An allowed cell must succeed and show
its effect; a refused cell must fail with FORBIDDEN, name the missing permission, and change nothing.

One world (project, members of every role, requirement, tasks, artifacts) is built per module and database;
cells that change state first make their own target (a task, an artifact, a deployment), so cells stay
independent. A fresh database per cell would cost ~0.4 s each, over a minute for the matrix.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from domain.enums import Role
from resolvers.ids import to_global_id
from server.settings import Settings
from tests import services
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings

SA, PA, DEV, QA, GUEST = Role.SUPER_ADMIN, Role.PROJECT_ADMIN, Role.DEVELOPER, Role.TESTER, Role.GUEST
ROLES = (SA, PA, DEV, QA, GUEST)
USER_OF = {SA: "admin", PA: "pa", DEV: "dev", QA: "tester", GUEST: "guest"}
OK = "allowed"
MEMBER = "project:member"
MEMBER_MESSAGE = "not a member of project"

# A refused cell names the permission the error must carry: the weakest one that would have allowed the action.
#                               SUPER_ADMIN PROJECT_ADMIN  DEVELOPER                TESTER                   GUEST
TABLE: dict[str, tuple[str, str, str, str, str]] = {
    "create_project": (OK, OK, "project:write", "project:write", "project:write"),
    "update_project": (OK, OK, "project:write", "project:write", "project:write"),
    "delete_project": (OK, OK, "project:write", "project:write", "project:write"),
    "update_non_member_project": (OK, MEMBER, "project:write", "project:write", "project:write"),
    "add_member": (OK, OK, "project:members", "project:members", "project:members"),
    "read_member_project": (OK, OK, OK, OK, OK),
    "read_non_member_project": (OK, MEMBER, MEMBER, MEMBER, MEMBER),
    "create_requirement": (OK, OK, OK, "requirement:write", "requirement:write"),
    "update_requirement": (OK, OK, OK, "requirement:write", "requirement:write"),
    "delete_requirement": (OK, OK, OK, "requirement:write", "requirement:write"),
    "create_task": (OK, OK, OK, "task:manage", "task:manage"),
    "update_task": (OK, OK, OK, "task:manage", "task:manage"),
    "assign_task_to_another": (OK, OK, "task:assign", "task:manage", "task:manage"),
    "claim_unassigned_task": (OK, OK, OK, "task:manage", "task:manage"),
    "take_over_others_task": (OK, OK, "task:assign", "task:manage", "task:manage"),
    "start_own_task": (OK, OK, OK, "task:execute:assigned", "task:execute:assigned"),
    "start_others_task": (OK, OK, "task:execute:any", "task:execute:any", "task:execute:any"),
    "start_testing_task": (OK, OK, "task:execute:testing", OK, "task:execute:testing"),
    "generate_code_own_task": (OK, OK, OK, "task:execute:assigned", "task:execute:assigned"),
    "submit_artifact": (OK, OK, OK, "code:own", "code:own"),
    "submit_to_others_task": (OK, OK, "task:execute:any", "code:own", "code:own"),
    "review_own_artifact": (OK, OK, OK, "code:own", "code:own"),
    "review_others_artifact": (OK, OK, "code:any", "code:any", "code:any"),
    "run_unit_tests": (OK, OK, OK, OK, "test:run:unit"),
    "run_integration_tests": (OK, OK, "test:run:any", OK, "test:run:any"),
    "run_e2e_tests": (OK, OK, "test:run:any", OK, "test:run:any"),
    "deploy_dev": (OK, OK, OK, "deploy:dev", "deploy:dev"),
    "deploy_staging": (OK, OK, "deploy:any", "deploy:any", "deploy:any"),
    "deploy_prod": (OK, OK, "deploy:any", "deploy:any", "deploy:any"),
    "approve_prod_deployment": (OK, OK, "deploy:approve", "deploy:approve", "deploy:approve"),
    "retire_failed_dev_deployment": (OK, OK, OK, "deploy:dev", "deploy:dev"),
    "create_user": (OK, "user:manage", "user:manage", "user:manage", "user:manage"),
    "update_user_role": (OK, "user:manage", "user:manage", "user:manage", "user:manage"),
    "deactivate_user": (OK, "user:manage", "user:manage", "user:manage", "user:manage"),
    "list_users": (OK, "user:manage", "user:manage", "user:manage", "user:manage"),
    "create_ai_model": (OK, "system:config", "system:config", "system:config", "system:config"),
    "update_ai_model": (OK, "system:config", "system:config", "system:config", "system:config"),
    "delete_ai_model": (OK, "system:config", "system:config", "system:config", "system:config"),
    "save_prompt_template": (OK, "system:config", "system:config", "system:config", "system:config"),
    "read_audit_log": (OK, "audit:read", "audit:read", "audit:read", "audit:read"),
}

# Rollouts (a job per released deployment, on the simulated cluster) settle in moments, not seconds.
FAST_ROLLOUTS: dict[str, Any] = {"simulated_step_s": 0.01, "rollout_poll_s": 0.01}

POSTGRES_CELLS = [
    ("create_project", GUEST),
    ("start_testing_task", QA),
    ("review_others_artifact", DEV),
    ("deploy_prod", PA),
    ("approve_prod_deployment", DEV),
    ("read_non_member_project", DEV),
    ("create_user", SA),
]


@dataclass
class World:
    api: Api
    project: str = ""
    requirement: str = ""
    other_project: str = ""
    artifact: str = ""
    ai_model: str = ""
    serial: Any = field(default_factory=itertools.count)

    def uid(self, name: str) -> str:
        return to_global_id("User", self.api.users[name].id)

    def unique(self, prefix: str) -> str:
        return f"{prefix}-{next(self.serial)}"

    async def admin(self, query: str, variables: dict[str, Any] | None = None) -> dict:
        return await self.api.gql(query, variables)

    async def attempt(self, user: str, query: str, variables: dict[str, Any] | None = None) -> dict:
        """The actor's raw response body, success or not."""
        return (await self.api.post(query, variables, as_=user)).json()


@dataclass
class Probe:
    body: dict  # the actor's response
    before: Any  # state an admin sees before the call
    after: Any  # ... and after it
    want: Any  # the state an allowed call must leave


Action = Callable[[World, str], Awaitable[Probe]]
ACTIONS: dict[str, Action] = {}


def action(fn: Action) -> Action:
    ACTIONS[fn.__name__] = fn
    return fn


CREATE_PROJECT = "mutation($n: String!) { createProject(input: {name: $n}) { id } }"
ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
CREATE_REQ = """mutation($p: ID!, $t: String!) {
  createRequirement(input: {projectId: $p, title: $t, content: "Users export invoices."}) { id } }"""
CREATE_TASK = "mutation($input: CreateTaskInput!) { createTask(input: $input) { id } }"
SUBMIT = """mutation($t: ID!, $path: String!) {
  submitArtifact(input: {taskId: $t, filePath: $path, content: "x = 1\\n", language: "python"}) { id } }"""
CREATE_DEPLOYMENT = """mutation($p: ID!, $e: Environment!, $v: String!) {
  createDeployment(input: {projectId: $p, environment: $e, version: $v}) { id status } }"""
CREATE_MODEL = """mutation($n: String!) { createAiModel(input: {name: $n, provider: "offline", model: "m"}) { id } }"""
PROJECT = "query($id: ID!) { project(id: $id) { name description requirements { totalCount } } }"
TASK = "query($id: ID!) { task(id: $id) { name status assignedTo { username } artifacts { totalCount } } }"
ARTIFACT = "query($id: ID!) { artifact(id: $id) { reviewStatus testResults { totalCount } } }"
DEPLOYMENT = "query($id: ID!) { deployment(id: $id) { status approvedBy { username } } }"
USER = "query($id: ID!) { node(id: $id) { ... on User { role status } } }"


async def build_world(api: Api) -> World:
    for name, role in (("pa", PA), ("dev", DEV), ("tester", QA), ("guest", GUEST), ("dev2", DEV)):
        await api.user(name, role)
    w = World(api)
    w.project = (await w.admin(CREATE_PROJECT, {"n": "Billing"}))["createProject"]["id"]
    w.other_project = (await w.admin(CREATE_PROJECT, {"n": "Secret"}))["createProject"]["id"]
    for name in ("pa", "dev", "tester", "guest", "dev2"):
        await w.admin(ADD_MEMBER, {"p": w.project, "u": w.uid(name)})
    w.requirement = (await w.admin(CREATE_REQ, {"p": w.project, "t": "Invoices"}))["createRequirement"]["id"]
    w.artifact = await artifact_of(w, "dev2")
    w.ai_model = (await w.admin(CREATE_MODEL, {"n": "shared"}))["createAiModel"]["id"]
    return w


async def new_task(w: World, name: str, task_type: str = "BACKEND", assignee: str | None = None) -> str:
    spec = {
        "requirementId": w.requirement,
        "name": name,
        "taskType": task_type,
        "assignedTo": w.uid(assignee) if assignee else None,
    }
    return (await w.admin(CREATE_TASK, {"input": spec}))["createTask"]["id"]


async def artifact_of(w: World, owner: str) -> str:
    task = await new_task(w, f"{owner}'s code", assignee=owner)
    data = await w.api.gql(SUBMIT, {"t": task, "path": f"src/{w.unique(owner)}.py"}, as_=owner)
    return data["submitArtifact"]["id"]


async def read(w: World, query: str, entity_id: str, *path: str) -> Any:
    value: Any = await w.admin(query, {"id": entity_id})
    for key in path:
        value = value[key]
    return value


async def total(w: World, query: str, variables: dict[str, Any] | None = None) -> int:
    """The one `totalCount` an admin query asks for."""
    value: Any = await w.admin(query, variables)
    while "totalCount" not in value:
        (value,) = value.values()
    return value["totalCount"]


# --- projects ---------------------------------------------------------------------------------------

PROJECT_COUNT = "{ projects { totalCount } }"


async def _adds_one(
    w: World,
    user: str,
    count_query: str,
    mutation: str,
    variables: dict[str, Any],
    count_variables: dict[str, Any] | None = None,
) -> Probe:
    """An allowed call adds exactly one to what `count_query` counts."""
    before = await total(w, count_query, count_variables)
    body = await w.attempt(user, mutation, variables)
    return Probe(body, before, await total(w, count_query, count_variables), before + 1)


@action
async def create_project(w: World, user: str) -> Probe:
    return await _adds_one(w, user, PROJECT_COUNT, CREATE_PROJECT, {"n": w.unique("new")})


async def _update_description(w: World, user: str, project_id: str) -> Probe:
    before = await read(w, PROJECT, project_id, "project", "description")
    text = w.unique(f"edited by {user}")
    body = await w.attempt(
        user,
        """mutation($id: ID!, $d: String!) {
        updateProject(id: $id, input: {description: $d}) { description } }""",
        {"id": project_id, "d": text},
    )
    return Probe(body, before, await read(w, PROJECT, project_id, "project", "description"), text)


@action
async def update_project(w: World, user: str) -> Probe:
    return await _update_description(w, user, w.project)


@action
async def update_non_member_project(w: World, user: str) -> Probe:
    return await _update_description(w, user, w.other_project)


@action
async def delete_project(w: World, user: str) -> Probe:
    doomed = (await w.admin(CREATE_PROJECT, {"n": w.unique("doomed")}))["createProject"]["id"]
    if user != "admin":
        await w.admin(ADD_MEMBER, {"p": doomed, "u": w.uid(user)})
    before = await total(w, PROJECT_COUNT)
    body = await w.attempt(user, "mutation($id: ID!) { deleteProject(id: $id) }", {"id": doomed})
    return Probe(body, before, await total(w, PROJECT_COUNT), before - 1)


@action
async def add_member(w: World, user: str) -> Probe:
    newcomer = w.unique("newcomer")
    await w.api.user(newcomer, DEV)
    members = "query($id: ID!) { project(id: $id) { members { username } } }"
    before = {m["username"] for m in await read(w, members, w.project, "project", "members")}
    body = await w.attempt(user, ADD_MEMBER, {"p": w.project, "u": w.uid(newcomer)})
    after = {m["username"] for m in await read(w, members, w.project, "project", "members")}
    return Probe(body, before, after, before | {newcomer})


@action
async def read_member_project(w: World, user: str) -> Probe:
    body = await w.attempt(user, PROJECT, {"id": w.project})
    return Probe(body, None, (body.get("data") or {}).get("project"), await read(w, PROJECT, w.project, "project"))


@action
async def read_non_member_project(w: World, user: str) -> Probe:
    body = await w.attempt(user, PROJECT, {"id": w.other_project})
    listed = await w.api.gql("{ projects { nodes { id } } }", as_=user)
    seen = (
        (body.get("data") or {}).get("project", {}).get("name"),
        w.other_project in {p["id"] for p in listed["projects"]["nodes"]},
    )
    return Probe(body, (None, False), seen, ("Secret", True))


# --- requirements -----------------------------------------------------------------------------------

REQ_COUNT = "query($id: ID!) { project(id: $id) { requirements { totalCount } } }"


@action
async def create_requirement(w: World, user: str) -> Probe:
    return await _adds_one(w, user, REQ_COUNT, CREATE_REQ, {"p": w.project, "t": w.unique("ask")}, {"id": w.project})


@action
async def update_requirement(w: World, user: str) -> Probe:
    title_of = "query($id: ID!) { requirement(id: $id) { title } }"
    before = await read(w, title_of, w.requirement, "requirement", "title")
    title = w.unique(f"retitled by {user}")
    body = await w.attempt(
        user,
        "mutation($id: ID!, $t: String!) { updateRequirement(id: $id, input: {title: $t}) { title } }",
        {"id": w.requirement, "t": title},
    )
    return Probe(body, before, await read(w, title_of, w.requirement, "requirement", "title"), title)


@action
async def delete_requirement(w: World, user: str) -> Probe:
    doomed = (await w.admin(CREATE_REQ, {"p": w.project, "t": w.unique("doomed")}))["createRequirement"]["id"]
    before = await total(w, REQ_COUNT, {"id": w.project})
    body = await w.attempt(user, "mutation($id: ID!) { deleteRequirement(id: $id) }", {"id": doomed})
    return Probe(body, before, await total(w, REQ_COUNT, {"id": w.project}), before - 1)


# --- tasks ------------------------------------------------------------------------------------------

TASK_COUNT = "query($id: ID!) { requirement(id: $id) { tasks { totalCount } } }"


@action
async def create_task(w: World, user: str) -> Probe:
    spec = {"requirementId": w.requirement, "name": w.unique("work"), "taskType": "BACKEND"}
    return await _adds_one(w, user, TASK_COUNT, CREATE_TASK, {"input": spec}, {"id": w.requirement})


@action
async def update_task(w: World, user: str) -> Probe:
    task = await new_task(w, "Rename me")
    name = w.unique(f"renamed by {user}")
    body = await w.attempt(
        user,
        "mutation($id: ID!, $n: String!) { updateTask(id: $id, input: {name: $n}) { name } }",
        {"id": task, "n": name},
    )
    return Probe(body, "Rename me", await read(w, TASK, task, "task", "name"), name)


@action
async def assign_task_to_another(w: World, user: str) -> Probe:
    return await _assign(w, user, await new_task(w, "Assign me"), "dev2")


@action
async def claim_unassigned_task(w: World, user: str) -> Probe:
    return await _assign(w, user, await new_task(w, "Anyone?"), user)


@action
async def take_over_others_task(w: World, user: str) -> Probe:
    """Reassigning would widen "tasks assigned to them"; only task:assign may."""
    task = await new_task(w, "dev2's", assignee="dev2")
    body = await w.attempt(user, ASSIGN, {"id": task, "u": w.uid(user)})
    return Probe(body, {"username": "dev2"}, await read(w, TASK, task, "task", "assignedTo"), {"username": user})


ASSIGN = "mutation($id: ID!, $u: ID) { assignTask(id: $id, userId: $u) { id } }"


async def _assign(w: World, user: str, task: str, assignee: str) -> Probe:
    body = await w.attempt(user, ASSIGN, {"id": task, "u": w.uid(assignee)})
    return Probe(body, None, await read(w, TASK, task, "task", "assignedTo"), {"username": assignee})


async def _start(w: World, user: str, task: str) -> Probe:
    body = await w.attempt(
        user, "mutation($id: ID!) { changeTaskStatus(id: $id, status: IN_PROGRESS) { status } }", {"id": task}
    )
    return Probe(body, "PENDING", await read(w, TASK, task, "task", "status"), "IN_PROGRESS")


@action
async def start_own_task(w: World, user: str) -> Probe:
    return await _start(w, user, await new_task(w, f"{user}'s job", assignee=user))


@action
async def start_others_task(w: World, user: str) -> Probe:
    return await _start(w, user, await new_task(w, "dev2's job", assignee="dev2"))


@action
async def start_testing_task(w: World, user: str) -> Probe:
    return await _start(w, user, await new_task(w, "Test the API", task_type="TESTING"))


@action
async def generate_code_own_task(w: World, user: str) -> Probe:
    task = await new_task(w, f"{user}'s feature", assignee=user)
    jobs = "query($id: ID!) { project(id: $id) { jobs { totalCount } } }"
    return await _adds_one(
        w,
        user,
        jobs,
        'mutation($id: ID!) { generateCode(taskId: $id, language: "python") { id } }',
        {"id": task},
        {"id": w.project},
    )


# --- code -------------------------------------------------------------------------------------------


@action
async def submit_artifact(w: World, user: str) -> Probe:
    return await _submit(w, user, await new_task(w, f"{user} codes", assignee=user))


@action
async def submit_to_others_task(w: World, user: str) -> Probe:
    return await _submit(w, user, await new_task(w, "dev2 codes", assignee="dev2"))


async def _submit(w: World, user: str, task: str) -> Probe:
    body = await w.attempt(user, SUBMIT, {"t": task, "path": f"src/{w.unique(user)}.py"})
    return Probe(body, 0, await read(w, TASK, task, "task", "artifacts", "totalCount"), 1)


async def _approve(w: World, user: str, artifact: str) -> Probe:
    body = await w.attempt(
        user,
        "mutation($id: ID!) { submitReview(artifactId: $id, decision: APPROVED) { reviewStatus } }",
        {"id": artifact},
    )
    return Probe(body, "PENDING", await read(w, ARTIFACT, artifact, "artifact", "reviewStatus"), "APPROVED")


@action
async def review_own_artifact(w: World, user: str) -> Probe:
    """The author wrote it as a developer; an admin then gave them the cell's role."""
    author = w.unique(f"author-{user}")
    await w.api.user(author, DEV)
    await w.admin(ADD_MEMBER, {"p": w.project, "u": w.uid(author)})
    artifact = await artifact_of(w, author)
    role = w.api.users[user].role.value
    await w.admin(
        "mutation($id: ID!, $r: Role!) { updateUserRole(userId: $id, role: $r) { id } }",
        {"id": w.uid(author), "r": role},
    )
    return await _approve(w, author, artifact)


@action
async def review_others_artifact(w: World, user: str) -> Probe:
    return await _approve(w, user, await artifact_of(w, "dev2"))


# --- test runs --------------------------------------------------------------------------------------


async def _record(w: World, user: str, test_type: str) -> Probe:
    before = await read(w, ARTIFACT, w.artifact, "artifact", "testResults", "totalCount")
    body = await w.attempt(
        user,
        """mutation($a: ID!, $t: TestType!) { recordTestResult(input: {artifactId: $a,
        testType: $t, status: PASSED, total: 1, passed: 1}) { id } }""",
        {"a": w.artifact, "t": test_type},
    )
    after = await read(w, ARTIFACT, w.artifact, "artifact", "testResults", "totalCount")
    return Probe(body, before, after, before + 1)


@action
async def run_unit_tests(w: World, user: str) -> Probe:
    return await _record(w, user, "UNIT")


@action
async def run_integration_tests(w: World, user: str) -> Probe:
    return await _record(w, user, "INTEGRATION")


@action
async def run_e2e_tests(w: World, user: str) -> Probe:
    return await _record(w, user, "E2E")


# --- deployments ------------------------------------------------------------------------------------

DEPLOY_COUNT = """query($id: ID!, $e: Environment!, $s: [DeploymentStatus!]!) {
  project(id: $id) { deployments(filter: {environment: [$e], status: $s}) { totalCount } } }"""
# A released deployment is rolled out by a job at once: counted whatever its rollout has reached.
RELEASED = ["PENDING", "IN_PROGRESS", "SUCCEEDED", "FAILED"]


async def _deploy(w: World, user: str, environment: str, statuses: list[str]) -> Probe:
    where = {"id": w.project, "e": environment, "s": statuses}
    return await _adds_one(
        w, user, DEPLOY_COUNT, CREATE_DEPLOYMENT, {"p": w.project, "e": environment, "v": w.unique("1.0")}, where
    )


@action
async def deploy_dev(w: World, user: str) -> Probe:
    return await _deploy(w, user, "DEV", RELEASED)


@action
async def deploy_staging(w: World, user: str) -> Probe:
    return await _deploy(w, user, "STAGING", RELEASED)


@action
async def deploy_prod(w: World, user: str) -> Probe:
    return await _deploy(w, user, "PROD", ["AWAITING_APPROVAL"])


async def _admin_deployment(w: World, environment: str, version: str = "2.0") -> str:
    data = await w.admin(CREATE_DEPLOYMENT, {"p": w.project, "e": environment, "v": w.unique(version)})
    return data["createDeployment"]["id"]


def _released(deployment: dict[str, Any]) -> dict[str, Any]:
    """An approval's effect: the deployment left AWAITING_APPROVAL (its rollout job moves it on) and names who."""
    return {"released": deployment["status"] != "AWAITING_APPROVAL", "approvedBy": deployment["approvedBy"]}


@action
async def approve_prod_deployment(w: World, user: str) -> Probe:
    deployment = await _admin_deployment(w, "PROD")
    body = await w.attempt(user, "mutation($id: ID!) { approveDeployment(id: $id) { status } }", {"id": deployment})
    return Probe(
        body,
        {"released": False, "approvedBy": None},
        _released(await read(w, DEPLOYMENT, deployment, "deployment")),
        {"released": True, "approvedBy": {"username": user}},
    )


async def _failed(w: World, deployment: str) -> str:
    """The status once the simulated cluster has failed the rollout (its revision asks to crash)."""

    async def settled() -> str:
        while (status := await read(w, DEPLOYMENT, deployment, "deployment", "status")) != "FAILED":
            await asyncio.sleep(0.01)
        return status

    return await asyncio.wait_for(settled(), 30)


@action
async def retire_failed_dev_deployment(w: World, user: str) -> Probe:
    deployment = await _admin_deployment(w, "DEV", "2.0-crash")
    before = await _failed(w, deployment)
    body = await w.attempt(
        user,
        "mutation($id: ID!) { changeDeploymentStatus(id: $id, status: ROLLED_BACK) { status } }",
        {"id": deployment},
    )
    return Probe(body, before, await read(w, DEPLOYMENT, deployment, "deployment", "status"), "ROLLED_BACK")


# --- users ------------------------------------------------------------------------------------------

USER_COUNT = "{ users { totalCount } }"


@action
async def create_user(w: World, user: str) -> Probe:
    name = w.unique("hire").replace("-", "_")
    return await _adds_one(
        w,
        user,
        USER_COUNT,
        """mutation($u: String!, $e: String!) { createUser(input: {
        username: $u, email: $e, password: "Correct-Horse-9", role: DEVELOPER}) { id } }""",
        {"u": name, "e": f"{name}@example.com"},
    )


@action
async def update_user_role(w: World, user: str) -> Probe:
    target = w.uid((await w.api.user(w.unique("promotee"), DEV)).username)
    body = await w.attempt(
        user, "mutation($id: ID!) { updateUserRole(userId: $id, role: TESTER) { role } }", {"id": target}
    )
    return Probe(body, "DEVELOPER", await read(w, USER, target, "node", "role"), "TESTER")


@action
async def deactivate_user(w: World, user: str) -> Probe:
    target = w.uid((await w.api.user(w.unique("leaver"), DEV)).username)
    body = await w.attempt(user, "mutation($id: ID!) { deactivateUser(userId: $id) { status } }", {"id": target})
    return Probe(body, "ACTIVE", await read(w, USER, target, "node", "status"), "INACTIVE")


@action
async def list_users(w: World, user: str) -> Probe:
    body = await w.attempt(user, USER_COUNT)
    seen = (body.get("data") or {}).get("users", {}).get("totalCount")
    return Probe(body, None, seen, await total(w, USER_COUNT))


# --- system configuration and audit -----------------------------------------------------------------

MODEL_COUNT = "{ aiModels { totalCount } }"


@action
async def create_ai_model(w: World, user: str) -> Probe:
    return await _adds_one(w, user, MODEL_COUNT, CREATE_MODEL, {"n": w.unique("model")})


@action
async def update_ai_model(w: World, user: str) -> Probe:
    async def max_tokens() -> int:
        nodes = (await w.admin("{ aiModels(first: 100) { nodes { id maxTokens } } }"))["aiModels"]["nodes"]
        return next(n["maxTokens"] for n in nodes if n["id"] == w.ai_model)

    before = await max_tokens()
    wanted = before + 1
    body = await w.attempt(
        user,
        "mutation($id: ID!, $t: Int!) { updateAiModel(id: $id, input: {maxTokens: $t}) { maxTokens } }",
        {"id": w.ai_model, "t": wanted},
    )
    return Probe(body, before, await max_tokens(), wanted)


@action
async def delete_ai_model(w: World, user: str) -> Probe:
    doomed = (await w.admin(CREATE_MODEL, {"n": w.unique("doomed")}))["createAiModel"]["id"]
    before = await total(w, MODEL_COUNT)
    body = await w.attempt(user, "mutation($id: ID!) { deleteAiModel(id: $id) }", {"id": doomed})
    return Probe(body, before, await total(w, MODEL_COUNT), before - 1)


@action
async def save_prompt_template(w: World, user: str) -> Probe:
    return await _adds_one(
        w,
        user,
        "{ promptTemplates { totalCount } }",
        """mutation($i: String!) {
        savePromptTemplate(input: {identifier: $i, category: "prd", content: "Draft a PRD for {title}",
        variables: ["title"]}) { id } }""",
        {"i": w.unique("matrix")},
    )


@action
async def read_audit_log(w: World, user: str) -> Probe:
    query = '{ auditLog(filter: {action: "project.create"}) { totalCount } }'
    body = await w.attempt(user, query)
    seen = (body.get("data") or {}).get("auditLog", {}).get("totalCount")
    return Probe(body, None, seen, await total(w, query))


# --- the matrix -------------------------------------------------------------------------------------


def expectation(name: str, role: Role) -> str:
    return TABLE[name][ROLES.index(role)]


def cell(name: str, role: Role) -> Any:
    verdict = "allowed" if expectation(name, role) == OK else "refused"
    return pytest.param(name, role, id=f"{name}-{role.value}-{verdict}")


async def check_cell(w: World, name: str, role: Role) -> None:
    expected = expectation(name, role)
    probe = await ACTIONS[name](w, USER_OF[role])
    errors = probe.body.get("errors")
    if expected == OK:
        assert not errors, probe.body
        assert probe.want != probe.before, "an allowed cell must observe a change"
        assert probe.after == probe.want, f"{name} as {role.value}: {probe.after!r}, wanted {probe.want!r}"
        return
    assert errors, f"{name} as {role.value} was not refused: {probe.body}"
    error = errors[0]
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert error["extensions"]["errorId"] == "ERR_403_001", error
    assert probe.body.get("data") is None, probe.body
    assert probe.after == probe.before, (
        f"refused {name} as {role.value} still changed {probe.before!r} to {probe.after!r}"
    )
    assert error["extensions"].get("permission") == expected, f"{name} as {role.value}: wanted {expected!r}: {error}"
    assert (MEMBER_MESSAGE if expected == MEMBER else expected) in error["message"], error


def test_the_table_covers_every_action_and_role():
    assert set(TABLE) == set(ACTIONS)
    for name, row in TABLE.items():
        assert len(row) == len(ROLES), name


@pytest.fixture(scope="module")
async def sqlite_world(tmp_path_factory):
    async with running_api(sqlite_settings(tmp_path_factory.mktemp("matrix"), **FAST_ROLLOUTS)) as api:
        yield await build_world(api)


@pytest.fixture(scope="module")
async def postgres_world(tmp_path_factory):
    url, name = services.create_database()
    try:
        settings = Settings(database_url=url, data_dir=tmp_path_factory.mktemp("matrix_pg"), **FAST_ROLLOUTS)
        async with running_api(settings) as api:
            yield await build_world(api)
    finally:
        services.drop_database(name)


@pytest.mark.parametrize(("name", "role"), [cell(n, r) for n in TABLE for r in ROLES])
async def test_matrix(sqlite_world: World, name: str, role: Role):
    await check_cell(sqlite_world, name, role)


@pytest.mark.postgres
@pytest.mark.parametrize(("name", "role"), [cell(n, r) for n, r in POSTGRES_CELLS])
async def test_matrix_on_postgres(postgres_world: World, name: str, role: Role):
    await check_cell(postgres_world, name, role)
