"""Creating and deleting leaves one trail whatever the entity: the row, an audit entry with the snapshot, an event."""

from __future__ import annotations

from domain.enums import (
    DeploymentStatus,
    Environment,
    RequirementStatus,
    ReviewStatus,
    Role,
    TaskType,
    TestRunStatus,
    TestType,
)
from domain.model import Requirement
from domain.repos import REQUIREMENTS
from domain.services.artifacts import ArtifactService
from domain.services.base import Tx, snapshot
from domain.services.deployments import DeploymentService
from domain.services.projects import ProjectService
from domain.services.requirements import RequirementService
from domain.services.tasks import TaskService
from domain.services.verification import TestResultService


def _trail(world, entity_id):
    """(audit action, entity type, before, after) rows and (action, old, new, project) events of one entity."""
    audits = [
        (a.action, a.entity_type, a.before, a.after) for a in world.db.rows("audit") if a.entity_id == str(entity_id)
    ]
    events = [
        (e.entity_type, e.action, e.old_status, e.new_status, e.project_id, e.data)
        for e in world.bus.published
        if e.entity_id == str(entity_id)
    ]
    return audits, events


async def test_tx_created_adds_audits_the_snapshot_and_announces_after_commit(world):
    project = world.project()
    viewer = world.user(Role.SUPER_ADMIN)
    req = Requirement(project_id=project.id, title="t", content="c", created_by=None, created_at=world.clock.now())
    async with Tx(world.deps, viewer) as tx:
        tx.created(REQUIREMENTS, req, "requirement.create", project_id=project.id, new_status=req.status)
        assert world.bus.published == []
    assert snapshot(world.row("requirements", req.id)) == snapshot(req)
    audits, events = _trail(world, req.id)
    assert audits == [("requirement.create", "Requirement", None, snapshot(req))]
    assert events == [("Requirement", "created", None, "DRAFT", str(project.id), {})]


async def test_tx_deleted_audits_the_last_snapshot_removes_and_announces(world):
    project = world.project()
    req = world.requirement(project)
    viewer = world.user(Role.SUPER_ADMIN)
    async with Tx(world.deps, viewer) as tx:
        row = await tx.uow.requirements.get(req.id)
        await tx.deleted(REQUIREMENTS, row, "requirement.delete", project_id=project.id, old_status=row.status)
    assert world.row("requirements", req.id) is None
    audits, events = _trail(world, req.id)
    assert audits == [("requirement.delete", "Requirement", snapshot(req), None)]
    assert events == [("Requirement", "deleted", "DRAFT", None, str(project.id), {})]


async def test_every_service_create_and_delete_keeps_its_audit_action_and_event(world):
    project = world.project()
    pm = world.user(Role.PROJECT_ADMIN, project)
    admin = world.user(Role.SUPER_ADMIN)
    pid = str(project.id)

    new_project = await ProjectService(world.deps).create(pm, name="Zeus")
    req = await RequirementService(world.deps).create(pm, project_id=project.id, title="Sign-in", content="c")
    task = await TaskService(world.deps).create(admin, requirement_id=req.id, name="API", task_type=TaskType.BACKEND)
    artifact = await ArtifactService(world.deps).submit(
        admin, task_id=task.id, file_path="app.py", content="x = 1\n", language="python"
    )
    result = await TestResultService(world.deps).record(
        admin, artifact_id=artifact.id, test_type=TestType.UNIT, status=TestRunStatus.PASSED, total=1, passed=1
    )
    deployment = await DeploymentService(world.deps).create(
        admin, project_id=project.id, environment=Environment.DEV, version="1.0"
    )
    created = [
        (new_project, "project.create", "Project", str(new_project.id), "PLANNING", {}),
        (req, "requirement.create", "Requirement", pid, RequirementStatus.DRAFT.value, {}),
        (task, "task.create", "Task", pid, "PENDING", {}),
        (artifact, "artifact.create", "CodeArtifact", pid, ReviewStatus.PENDING.value, {}),
        (result, "test_result.create", "TestResult", pid, "PASSED", {"artifactId": str(artifact.id)}),
        (deployment, "deployment.create", "Deployment", pid, DeploymentStatus.PENDING.value, {}),
    ]
    for entity, action, entity_type, project_id, status, data in created:
        audits, events = _trail(world, entity.id)
        assert audits == [(action, entity_type, None, snapshot(entity))]
        assert events == [(entity_type, "created", None, status, project_id, data)]

    await ArtifactService(world.deps).delete(admin, artifact.id)
    await TaskService(world.deps).delete(admin, task.id)
    await RequirementService(world.deps).delete(pm, req.id)
    await ProjectService(world.deps).delete(pm, new_project.id)
    deleted = [
        (artifact, "artifact.delete", "CodeArtifact", pid, None),
        (task, "task.delete", "Task", pid, "PENDING"),
        (req, "requirement.delete", "Requirement", pid, "DRAFT"),
        (new_project, "project.delete", "Project", str(new_project.id), "PLANNING"),
    ]
    for entity, action, entity_type, project_id, status in deleted:
        audits, events = _trail(world, entity.id)
        assert audits[-1] == (action, entity_type, snapshot(entity), None)
        assert events[-1] == (entity_type, "deleted", status, None, project_id, {})
        assert (
            world.row(
                {"Project": "projects", "Requirement": "requirements", "Task": "tasks"}.get(entity_type, "artifacts"),
                entity.id,
            )
            is None
        )


async def test_updates_leave_one_trail_per_entity(world):
    admin = world.user(Role.SUPER_ADMIN)
    project = world.project()
    req = world.requirement(project)
    task = world.task(req)
    world.clock.advance(60)
    await ProjectService(world.deps).update(admin, project.id, name="Renamed")
    await RequirementService(world.deps).update(admin, req.id, title="Retitled")
    await TaskService(world.deps).update(admin, task.id, name="Renamed task")
    for entity_type, entity_id, table, changed in (
        ("Project", project.id, "projects", ("name", "Renamed")),
        ("Requirement", req.id, "requirements", ("title", "Retitled")),
        ("Task", task.id, "tasks", ("name", "Renamed task")),
    ):
        row = world.row(table, entity_id)
        assert getattr(row, changed[0]) == changed[1]
        assert row.updated_at == world.clock.now()
        audits, events = _trail(world, entity_id)
        update = [a for a in audits if a[0] == f"{table[:-1]}.update"]
        assert len(update) == 1 and update[0][1] == entity_type
        assert update[0][2][changed[0]] != changed[1] and update[0][3][changed[0]] == changed[1]
        assert [e for e in events if e[1] == "updated"] == [
            (entity_type, "updated", None, row.status.value, str(row.project_id if table != "projects" else row.id), {})
        ]
