"""Every status move leaves one trail whatever the entity: the field and timestamps, an audit entry, an event."""

from __future__ import annotations

import pytest

from domain.enums import DeploymentStatus, Environment, ProjectStatus, RequirementStatus, ReviewStatus, Role, TaskStatus
from domain.errors import InvalidInput
from domain.model import Deployment
from domain.services.artifacts import ArtifactService
from domain.services.deployments import DeploymentService
from domain.services.projects import ProjectService
from domain.services.requirements import RequirementService
from domain.services.tasks import TaskService
from tests.domain.test_crud_trail import _trail


async def test_project_requirement_and_task_moves_audit_status_and_announce_status_changed(world):
    project = world.project()
    req = world.requirement(project)
    task = world.task(req)
    admin = world.user(Role.SUPER_ADMIN, project)
    pid = str(project.id)
    world.clock.advance(60)
    moved_at = world.clock.now()

    await ProjectService(world.deps).change_status(admin, project.id, ProjectStatus.ACTIVE)
    await RequirementService(world.deps).change_status(admin, req.id, RequirementStatus.ANALYZING)
    await TaskService(world.deps).change_status(admin, task.id, TaskStatus.IN_PROGRESS)

    for entity, action, entity_type, old, new in [
        (project, "project.status", "Project", "PLANNING", "ACTIVE"),
        (req, "requirement.status", "Requirement", "DRAFT", "ANALYZING"),
        (task, "task.status", "Task", "PENDING", "IN_PROGRESS"),
    ]:
        audits, events = _trail(world, entity.id)
        assert audits == [(action, entity_type, {"status": old}, {"status": new})]
        assert events == [(entity_type, "status_changed", old, new, pid, {})]
    assert world.row("projects", project.id).updated_at == moved_at
    assert world.row("requirements", req.id).updated_at == moved_at
    assert world.row("tasks", task.id).completed_at is None


async def test_a_task_done_is_completed_and_reopened_forgets_when(world):
    project = world.project()
    task = world.task(world.requirement(project), status=TaskStatus.IN_PROGRESS)
    admin = world.user(Role.SUPER_ADMIN, project)
    tasks = TaskService(world.deps)
    world.clock.advance(60)
    done_at = world.clock.now()

    await tasks.change_status(admin, task.id, TaskStatus.DONE)
    assert world.row("tasks", task.id).completed_at == done_at
    assert world.row("tasks", task.id).updated_at == done_at
    world.clock.advance(60)
    await tasks.change_status(admin, task.id, TaskStatus.IN_PROGRESS)
    assert world.row("tasks", task.id).completed_at is None
    assert world.row("tasks", task.id).updated_at == world.clock.now()


async def test_an_illegal_task_move_is_refused_by_the_machine_before_its_dependencies_are_read(world):
    project = world.project()
    req = world.requirement(project)
    cancelled, undone = world.task(req, status=TaskStatus.CANCELLED), world.task(req, name="DB")
    admin = world.user(Role.SUPER_ADMIN, project)
    tasks = TaskService(world.deps)
    await tasks.add_dependency(admin, cancelled.id, undone.id)

    with pytest.raises(InvalidInput) as refused:
        await tasks.change_status(admin, cancelled.id, TaskStatus.IN_PROGRESS)
    assert refused.value.details == {"currentStatus": "CANCELLED", "requestedStatus": "IN_PROGRESS"}


async def test_a_deployment_move_stamps_start_and_completion(world):
    project = world.project()
    admin = world.user(Role.SUPER_ADMIN, project)
    deployment = Deployment(project_id=project.id, environment=Environment.DEV, version="1.0")
    world.db.put("deployments", deployment)
    deployments = DeploymentService(world.deps)
    pid = str(project.id)

    world.clock.advance(60)
    started = world.clock.now()
    await deployments.change_status(admin, deployment.id, DeploymentStatus.IN_PROGRESS)
    world.clock.advance(60)
    await deployments.change_status(admin, deployment.id, DeploymentStatus.SUCCEEDED)

    row = world.row("deployments", deployment.id)
    assert (row.started_at, row.completed_at, row.updated_at) == (started, world.clock.now(), world.clock.now())
    audits, events = _trail(world, deployment.id)
    assert audits == [
        ("deployment.status", "Deployment", {"status": "PENDING"}, {"status": "IN_PROGRESS"}),
        ("deployment.status", "Deployment", {"status": "IN_PROGRESS"}, {"status": "SUCCEEDED"}),
    ]
    assert events == [
        ("Deployment", "status_changed", "PENDING", "IN_PROGRESS", pid, {}),
        ("Deployment", "status_changed", "IN_PROGRESS", "SUCCEEDED", pid, {}),
    ]


async def test_approving_a_deployment_is_audited_as_a_status_move(world):
    project = world.project()
    admin = world.user(Role.SUPER_ADMIN, project)
    deployment = Deployment(
        project_id=project.id,
        environment=Environment.PROD,
        version="1.0",
        status=DeploymentStatus.AWAITING_APPROVAL,
    )
    world.db.put("deployments", deployment)

    await DeploymentService(world.deps).approve(admin, deployment.id)

    row = world.row("deployments", deployment.id)
    assert (row.approved_by, row.started_at, row.completed_at) == (admin.user_id, None, None)
    audits, events = _trail(world, deployment.id)
    after = {"status": "PENDING", "approvedBy": str(admin.user_id), "requestedBy": None, "override": False}
    assert audits == [("deployment.approve", "Deployment", {"status": "AWAITING_APPROVAL"}, after)]
    assert events == [("Deployment", "status_changed", "AWAITING_APPROVAL", "PENDING", str(project.id), {})]


async def test_a_review_audits_review_status_with_comments_and_announces_reviewed(world):
    project = world.project()
    admin = world.user(Role.SUPER_ADMIN, project)
    artifact = world.artifact(world.task(world.requirement(project)), admin.user_id)
    world.clock.advance(60)

    await ArtifactService(world.deps).submit_review(admin, artifact.id, ReviewStatus.APPROVED, "ship it")

    row = world.row("artifacts", artifact.id)
    assert (row.review_status, row.review_comments, row.reviewed_by) == (
        ReviewStatus.APPROVED,
        "ship it",
        admin.user_id,
    )
    assert row.updated_at == world.clock.now()
    audits, events = _trail(world, artifact.id)
    assert audits == [
        (
            "artifact.review",
            "CodeArtifact",
            {"reviewStatus": "PENDING"},
            {"reviewStatus": "APPROVED", "comments": "ship it"},
        )
    ]
    assert events == [("CodeArtifact", "reviewed", "PENDING", "APPROVED", str(project.id), {})]
