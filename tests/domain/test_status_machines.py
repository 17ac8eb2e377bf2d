"""Every status pair of every machine, allowed or refused: first the rule, then through the services that apply it
(a refused move writes nothing: no row change, no audit, no event)."""

from __future__ import annotations

import itertools
from enum import Enum

import pytest

from domain import status as machines
from domain.enums import DeploymentStatus as D
from domain.enums import Environment, Role
from domain.enums import JobStatus as J
from domain.enums import ProjectStatus as P
from domain.enums import RequirementStatus as R
from domain.enums import ReviewStatus as V
from domain.enums import TaskStatus as T
from domain.errors import InvalidInput
from domain.model import Deployment
from domain.services.artifacts import ArtifactService
from domain.services.deployments import DeploymentService
from domain.services.projects import ProjectService
from domain.services.requirements import RequirementService
from domain.services.tasks import TaskService

# The specification, written out independently of domain/status.py: (from, to) pairs that are allowed.
ALLOWED: dict[str, set[tuple[Enum, Enum]]] = {
    "project": {
        (P.PLANNING, P.ACTIVE), (P.PLANNING, P.ON_HOLD), (P.PLANNING, P.ARCHIVED),
        (P.ACTIVE, P.ON_HOLD), (P.ACTIVE, P.COMPLETED), (P.ACTIVE, P.ARCHIVED),
        (P.ON_HOLD, P.ACTIVE), (P.ON_HOLD, P.ARCHIVED),
        (P.COMPLETED, P.ARCHIVED), (P.COMPLETED, P.ACTIVE),
    },
    "requirement": {
        (R.DRAFT, R.ANALYZING), (R.DRAFT, R.REJECTED),
        (R.ANALYZING, R.APPROVED), (R.ANALYZING, R.REJECTED), (R.ANALYZING, R.DRAFT),
        (R.APPROVED, R.IN_PROGRESS), (R.APPROVED, R.ANALYZING), (R.APPROVED, R.REJECTED),
        (R.IN_PROGRESS, R.DONE), (R.IN_PROGRESS, R.APPROVED),
        (R.DONE, R.IN_PROGRESS),
        (R.REJECTED, R.DRAFT),
    },
    "task": {
        (T.PENDING, T.IN_PROGRESS), (T.PENDING, T.BLOCKED), (T.PENDING, T.CANCELLED),
        (T.IN_PROGRESS, T.IN_REVIEW), (T.IN_PROGRESS, T.DONE), (T.IN_PROGRESS, T.BLOCKED),
        (T.IN_PROGRESS, T.CANCELLED), (T.IN_PROGRESS, T.PENDING),
        (T.IN_REVIEW, T.DONE), (T.IN_REVIEW, T.IN_PROGRESS), (T.IN_REVIEW, T.CANCELLED),
        (T.BLOCKED, T.PENDING), (T.BLOCKED, T.IN_PROGRESS), (T.BLOCKED, T.CANCELLED),
        (T.DONE, T.IN_PROGRESS),
        (T.CANCELLED, T.PENDING),
    },
    "review": {
        (V.PENDING, V.APPROVED), (V.PENDING, V.CHANGES_REQUESTED), (V.PENDING, V.REJECTED),
        (V.CHANGES_REQUESTED, V.APPROVED), (V.CHANGES_REQUESTED, V.REJECTED), (V.CHANGES_REQUESTED, V.PENDING),
        (V.APPROVED, V.CHANGES_REQUESTED), (V.APPROVED, V.REJECTED),
        (V.REJECTED, V.PENDING),
    },
    "deployment": {
        (D.PENDING, D.AWAITING_APPROVAL), (D.PENDING, D.IN_PROGRESS), (D.PENDING, D.FAILED),
        (D.AWAITING_APPROVAL, D.PENDING), (D.AWAITING_APPROVAL, D.FAILED),
        (D.IN_PROGRESS, D.SUCCEEDED), (D.IN_PROGRESS, D.FAILED),
        (D.SUCCEEDED, D.ROLLED_BACK),
        (D.FAILED, D.ROLLED_BACK),
    },
    "job": {
        (J.QUEUED, J.RUNNING), (J.QUEUED, J.CANCELLED), (J.QUEUED, J.FAILED), (J.QUEUED, J.SUCCEEDED),
        (J.RUNNING, J.SUCCEEDED), (J.RUNNING, J.FAILED), (J.RUNNING, J.CANCELLED), (J.RUNNING, J.QUEUED),
    },
}  # fmt: skip

MACHINES = {
    "project": (machines.PROJECT, P),
    "requirement": (machines.REQUIREMENT, R),
    "task": (machines.TASK, T),
    "review": (machines.REVIEW, V),
    "deployment": (machines.DEPLOYMENT, D),
    "job": (machines.JOB, J),
}


def pairs(name: str) -> list:
    statuses = list(MACHINES[name][1])
    return [
        pytest.param(name, a, b, id=f"{name}:{a.value}->{b.value}") for a, b in itertools.product(statuses, statuses)
    ]


ALL_PAIRS = [p for name in MACHINES for p in pairs(name)]


@pytest.mark.parametrize(("name", "current", "requested"), ALL_PAIRS)
def test_the_rule_allows_exactly_the_specified_moves(name, current, requested):
    machine = MACHINES[name][0]
    if (current, requested) in ALLOWED[name]:
        machines.check_transition(machine, name, current, requested)
        return
    with pytest.raises(InvalidInput) as refused:
        machines.check_transition(machine, name, current, requested)
    assert refused.value.field == "status"
    assert refused.value.details == {"currentStatus": current.value, "requestedStatus": requested.value}
    assert f"from {current.value} to {requested.value}" in refused.value.message


def test_every_status_of_every_machine_has_a_row():
    for machine, statuses in MACHINES.values():
        assert set(machine) == set(statuses)


def test_terminal_statuses_name_no_allowed_move():
    with pytest.raises(InvalidInput, match=r"allowed: none"):
        machines.check_transition(machines.PROJECT, "project", P.ARCHIVED, P.ACTIVE)


async def _through_service(world, name, current, requested):
    """Seed an entity in `current`, ask its service for `requested`; returns (call, repo, id)."""
    project = world.project()
    admin = world.user(Role.SUPER_ADMIN, project)
    deps = world.deps
    if name == "project":
        project.status = current
        world.db.put("projects", project)
        return ProjectService(deps).change_status(admin, project.id, requested), "projects", project.id
    req = world.requirement(project)
    if name == "requirement":
        req.status = current
        world.db.put("requirements", req)
        return RequirementService(deps).change_status(admin, req.id, requested), "requirements", req.id
    if name == "task":
        task = world.task(req, status=current)
        return TaskService(deps).change_status(admin, task.id, requested), "tasks", task.id
    if name == "review":
        artifact = world.artifact(world.task(req), admin.user_id, review_status=current)
        return (
            ArtifactService(deps).submit_review(admin, artifact.id, requested, "looked at it"),
            "artifacts",
            artifact.id,
        )
    deployment = Deployment(project_id=project.id, environment=Environment.DEV, version="1.0", status=current)
    world.db.put("deployments", deployment)
    return DeploymentService(deps).change_status(admin, deployment.id, requested), "deployments", deployment.id


STATUS_FIELD = {"review": "review_status"}
# Moves the machine allows that the service still refuses, because another use case owns them.
OWNED_ELSEWHERE = {
    ("review", V.CHANGES_REQUESTED, V.PENDING): "a reviewer decides; PENDING is not a decision",
    ("review", V.REJECTED, V.PENDING): "a reviewer decides; PENDING is not a decision",
    ("deployment", D.AWAITING_APPROVAL, D.PENDING): "approveDeployment releases it",
    ("deployment", D.AWAITING_APPROVAL, D.FAILED): "rejectDeployment refuses it",
}
SERVICE_PAIRS = [p for p in ALL_PAIRS if p.values[0] != "job"]


@pytest.mark.parametrize(("name", "current", "requested"), SERVICE_PAIRS)
async def test_services_commit_allowed_moves_and_write_nothing_for_refused_ones(world, name, current, requested):
    call, repo, entity_id = await _through_service(world, name, current, requested)
    field = STATUS_FIELD.get(name, "status")
    before_audit = len(world.db.rows("audit"))
    if (current, requested) in ALLOWED[name] and (name, current, requested) not in OWNED_ELSEWHERE:
        await call
        assert getattr(world.row(repo, entity_id), field) is requested
        assert world.bus.published[-1].old_status == current.value
        assert world.bus.published[-1].new_status == requested.value
        assert len(world.db.rows("audit")) == before_audit + 1
        return
    with pytest.raises(InvalidInput):
        await call
    assert getattr(world.row(repo, entity_id), field) is current
    assert world.bus.published == []
    assert len(world.db.rows("audit")) == before_audit
