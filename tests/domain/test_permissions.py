"""The permission matrix of DESIGN.md, cell by cell: each role's permissions, and each rule that depends on the
subject (task type and assignee, artifact owner, test type, environment, who gets a task). A refusal names the
weakest permission that would have allowed the action."""

from __future__ import annotations

import itertools
import uuid

import pytest

from domain.enums import DeploymentStatus, Environment, Role, TaskType, TestType
from domain.errors import Forbidden, Unauthenticated
from domain.paging import ListQuery
from domain.permissions import (
    Permission,
    Viewer,
    permissions_of,
    require_assignment,
    require_code_access,
    require_deploy,
    require_task_execution,
    require_test_run,
)
from domain.services.deployments import DeploymentService
from domain.services.pipeline import PipelineService
from domain.services.projects import ProjectService

P = Permission
SA, PA, DEV, TESTER, GUEST = Role.SUPER_ADMIN, Role.PROJECT_ADMIN, Role.DEVELOPER, Role.TESTER, Role.GUEST
READ = {P.PROJECT_READ, P.REQUIREMENT_READ}

# DESIGN.md's table, row by row, as permissions per role.
EXPECTED: dict[Role, set[Permission]] = {
    SA: set(Permission),
    PA: READ | {P.PROJECT_WRITE, P.MEMBER_MANAGE, P.REQUIREMENT_WRITE, P.TASK_MANAGE, P.TASK_ASSIGN,
                P.TASK_EXECUTE_ANY, P.CODE_ANY, P.TEST_RUN_ANY, P.DEPLOY_ANY, P.DEPLOY_APPROVE,
                P.ENVIRONMENT_MANAGE},
    DEV: READ | {P.REQUIREMENT_WRITE, P.TASK_MANAGE, P.TASK_EXECUTE_ASSIGNED, P.CODE_OWN, P.TEST_RUN_UNIT,
                 P.DEPLOY_DEV},
    TESTER: READ | {P.TASK_EXECUTE_TESTING, P.TEST_RUN_ANY},
    GUEST: READ,
}  # fmt: skip
ONLY_SUPER_ADMIN = {P.USER_MANAGE, P.SYSTEM_CONFIG, P.AUDIT_READ}


def viewer(role: Role) -> Viewer:
    return Viewer(user_id=uuid.uuid4(), role=role)


ANONYMOUS = Viewer()


@pytest.mark.parametrize(
    ("role", "permission"),
    [pytest.param(r, p, id=f"{r.value}:{p.value}") for r, p in itertools.product(Role, Permission)],
)
def test_each_cell_of_the_matrix(role, permission):
    v = viewer(role)
    assert v.has(permission) is (permission in EXPECTED[role])
    if permission in EXPECTED[role]:
        v.require(permission)
    else:
        with pytest.raises(Forbidden) as refused:
            v.require(permission)
        assert refused.value.permission == permission.value
    assert permissions_of(role) == frozenset(EXPECTED[role])


def test_users_system_config_and_audit_belong_to_super_admins_alone():
    for permission in ONLY_SUPER_ADMIN:
        assert [r for r in Role if viewer(r).has(permission)] == [SA]


@pytest.mark.parametrize("permission", list(Permission))
def test_anonymous_viewers_are_unauthenticated_not_forbidden(permission):
    assert not ANONYMOUS.has(permission)
    with pytest.raises(Unauthenticated):
        ANONYMOUS.require(permission)


def refusal(call) -> str | None:
    """The permission a refusal names, or None when the call is allowed."""
    try:
        call()
    except Forbidden as exc:
        return exc.permission
    return None


# Task execution: (role, task type, assignee) -> the permission refused, None when allowed.
SELF, OTHER, NOBODY = "self", "other", "nobody"


def _execution_expected(role: Role, task_type: TaskType, assignee: str) -> str | None:
    if role in (SA, PA):
        return None
    if role is DEV and assignee == SELF:
        return None
    if role is TESTER and task_type is TaskType.TESTING:
        return None
    if task_type is TaskType.TESTING:
        return "task:execute:testing"
    return "task:execute:assigned" if assignee == SELF else "task:execute:any"


@pytest.mark.parametrize(
    ("role", "task_type", "assignee"),
    list(itertools.product(Role, TaskType, (SELF, OTHER, NOBODY))),
    ids=lambda x: getattr(x, "value", x),
)
def test_task_execution(role, task_type, assignee):
    v = viewer(role)
    assigned_to = {SELF: v.user_id, OTHER: uuid.uuid4(), NOBODY: None}[assignee]
    assert refusal(lambda: require_task_execution(v, task_type, assigned_to)) == _execution_expected(
        role, task_type, assignee
    )


CODE = {  # role -> refusal for (own or new artifact, someone else's artifact)
    SA: (None, None),
    PA: (None, None),
    DEV: (None, "code:any"),
    TESTER: ("code:own", "code:any"),
    GUEST: ("code:own", "code:any"),
}


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_code_submission_and_review(role):
    v = viewer(role)
    own, others = CODE[role]
    assert refusal(lambda: require_code_access(v, None)) == own
    assert refusal(lambda: require_code_access(v, v.user_id)) == own
    assert refusal(lambda: require_code_access(v, uuid.uuid4())) == others


TESTS = {  # role -> refusal per test type
    SA: {TestType.UNIT: None, TestType.INTEGRATION: None, TestType.E2E: None},
    PA: {TestType.UNIT: None, TestType.INTEGRATION: None, TestType.E2E: None},
    DEV: {TestType.UNIT: None, TestType.INTEGRATION: "test:run:any", TestType.E2E: "test:run:any"},
    TESTER: {TestType.UNIT: None, TestType.INTEGRATION: None, TestType.E2E: None},
    GUEST: {TestType.UNIT: "test:run:unit", TestType.INTEGRATION: "test:run:any", TestType.E2E: "test:run:any"},
}


@pytest.mark.parametrize(("role", "test_type"), list(itertools.product(Role, TestType)), ids=lambda x: x.value)
def test_test_execution(role, test_type):
    assert refusal(lambda: require_test_run(viewer(role), test_type)) == TESTS[role][test_type]


DEPLOY = {  # role -> refusal per environment
    SA: {Environment.DEV: None, Environment.STAGING: None, Environment.PROD: None},
    PA: {Environment.DEV: None, Environment.STAGING: None, Environment.PROD: None},
    DEV: {Environment.DEV: None, Environment.STAGING: "deploy:any", Environment.PROD: "deploy:any"},
    TESTER: {Environment.DEV: "deploy:dev", Environment.STAGING: "deploy:any", Environment.PROD: "deploy:any"},
    GUEST: {Environment.DEV: "deploy:dev", Environment.STAGING: "deploy:any", Environment.PROD: "deploy:any"},
}


@pytest.mark.parametrize(("role", "env"), list(itertools.product(Role, Environment)), ids=lambda x: x.value)
def test_deploy_rule(role, env):
    assert refusal(lambda: require_deploy(viewer(role), env)) == DEPLOY[role][env]


@pytest.mark.parametrize(("role", "env"), list(itertools.product(Role, Environment)), ids=lambda x: x.value)
async def test_deployments_through_the_service_prod_waits_for_approval(world, role, env):
    project = world.project()
    v = world.user(role, project)
    create = DeploymentService(world.deps).create(v, project_id=project.id, environment=env, version="1.2.3")
    if DEPLOY[role][env] is not None:
        with pytest.raises(Forbidden):
            await create
        assert world.db.rows("deployments") == []
        return
    deployment = await create
    expected = DeploymentStatus.AWAITING_APPROVAL if env is Environment.PROD else DeploymentStatus.PENDING
    assert world.row("deployments", deployment.id).status is expected


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_approving_a_prod_deployment_needs_deploy_approve(world, role):
    project = world.project()
    admin = world.user(SA, project)
    deployment = await DeploymentService(world.deps).create(
        admin, project_id=project.id, environment=Environment.PROD, version="2.0"
    )
    approve = DeploymentService(world.deps).approve(world.user(role, project), deployment.id)
    if role in (SA, PA):
        await approve
        assert world.row("deployments", deployment.id).status is DeploymentStatus.PENDING
    else:
        with pytest.raises(Forbidden, match="deploy:approve"):
            await approve
        assert world.row("deployments", deployment.id).status is DeploymentStatus.AWAITING_APPROVAL


def _assignment_expected(role: Role, current: str, new: str) -> str | None:
    if role in (TESTER, GUEST):
        return "task:manage"
    if role in (SA, PA) or current == new:
        return None
    return None if (current, new) in ((NOBODY, SELF), (SELF, NOBODY)) else "task:assign"


@pytest.mark.parametrize(
    ("role", "current", "new"),
    list(itertools.product(Role, (SELF, OTHER, NOBODY), (SELF, OTHER, NOBODY))),
    ids=lambda x: getattr(x, "value", x),
)
def test_assignment(role, current, new):
    v = viewer(role)
    other = uuid.uuid4()
    ids = {SELF: v.user_id, OTHER: other, NOBODY: None}
    assert refusal(lambda: require_assignment(v, ids[current], ids[new])) == _assignment_expected(role, current, new)


@pytest.mark.parametrize(
    "rule",
    [
        lambda v: require_task_execution(v, TaskType.BACKEND, None),
        lambda v: require_code_access(v, None),
        lambda v: require_test_run(v, TestType.UNIT),
        lambda v: require_deploy(v, Environment.DEV),
        lambda v: require_assignment(v, None, None),
    ],
)
def test_every_rule_asks_anonymous_viewers_to_sign_in(rule):
    with pytest.raises(Unauthenticated):
        rule(ANONYMOUS)


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_projects_are_seen_by_members_and_super_admins_only(world, role):
    project = world.project()
    member, outsider = world.user(role, project), world.user(role)
    projects = ProjectService(world.deps)
    assert (await projects.get(member, project.id)).id == project.id
    if role is SA:
        assert (await projects.get(outsider, project.id)).id == project.id
    else:
        with pytest.raises(Forbidden, match="not a member"):
            await projects.get(outsider, project.id)
    listed = await projects.list(outsider, ListQuery())
    assert [p.id for p in listed.items] == ([project.id] if role is SA else [])


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
async def test_code_generation_follows_task_execution_and_code_rules(world, role):
    project = world.project()
    v = world.user(role, project)
    req = world.requirement(project)
    own, others = world.task(req, assigned_to=v.user_id), world.task(req, assigned_to=uuid.uuid4())
    pipeline = PipelineService(world.deps)
    allowed = {SA: (True, True), PA: (True, True), DEV: (True, False), TESTER: (False, False), GUEST: (False, False)}
    for task, may in zip((own, others), allowed[role], strict=True):
        request = pipeline.generate_code(v, task.id, language="python", framework=None)
        if may:
            await request
        else:
            with pytest.raises(Forbidden):
                await request
    assert len(world.queue.enqueued) == sum(allowed[role])


@pytest.mark.parametrize(
    "rule",
    [
        lambda v: v.require(P.PROJECT_READ),
        lambda v: require_task_execution(v, TaskType.BACKEND, None),
        lambda v: require_code_access(v, None),
        lambda v: require_test_run(v, TestType.UNIT),
        lambda v: require_deploy(v, Environment.DEV),
        lambda v: require_assignment(v, None, uuid.uuid4()),
    ],
)
def test_a_signed_in_viewer_without_a_role_is_forbidden_not_a_crash(rule):
    # A job acts for its requester with no role (pipeline_steps.job_viewer): a refusal must still be a 403.
    with pytest.raises(Forbidden, match="role NONE"):
        rule(Viewer(user_id=uuid.uuid4()))
