"""Task dependencies: no self-, cross-project, duplicate or cyclic edges, and no start before every dependency is DONE.
A refused change writes nothing."""

from __future__ import annotations

import itertools

import pytest

from domain.enums import Role, TaskStatus, TaskType
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.services.tasks import TaskService


@pytest.fixture
def setup(world):
    project = world.project()
    req = world.requirement(project)
    admin = world.user(Role.PROJECT_ADMIN, project)
    a, b, c = (world.task(req, name) for name in "abc")
    return world, TaskService(world.deps), admin, req, (a, b, c)


def edges(world) -> set[tuple]:
    return {(d.task_id, d.depends_on_id) for d in world.db.rows("dependencies")}


async def test_a_task_cannot_depend_on_itself(setup):
    world, tasks, admin, _, (a, _, _) = setup
    with pytest.raises(InvalidInput, match="itself") as refused:
        await tasks.add_dependency(admin, a.id, a.id)
    assert refused.value.field == "dependsOnId"
    assert edges(world) == set()


async def test_a_task_cannot_depend_on_another_projects_task(setup):
    world, tasks, admin, _, (a, _, _) = setup
    elsewhere = world.project("Other")
    foreign = world.task(world.requirement(elsewhere))
    with pytest.raises(InvalidInput, match="another project"):
        await tasks.add_dependency(admin, a.id, foreign.id)
    assert edges(world) == set()


async def test_the_same_edge_twice_is_a_conflict(setup):
    world, tasks, admin, _, (a, b, _) = setup
    await tasks.add_dependency(admin, a.id, b.id)
    with pytest.raises(Conflict):
        await tasks.add_dependency(admin, a.id, b.id)
    assert edges(world) == {(a.id, b.id)}


@pytest.mark.parametrize("length", [2, 3])
async def test_an_edge_closing_a_cycle_is_refused(setup, length):
    world, tasks, admin, _, chain = setup
    chain = chain[:length]
    for first, then in itertools.pairwise(chain):
        await tasks.add_dependency(admin, first.id, then.id)
    before = edges(world)
    with pytest.raises(InvalidInput, match="cycle"):
        await tasks.add_dependency(admin, chain[-1].id, chain[0].id)
    assert edges(world) == before
    assert len(before) == length - 1


async def test_a_task_created_with_a_refused_dependency_is_not_written(setup):
    world, tasks, admin, req, (a, b, _) = setup
    await tasks.add_dependency(admin, a.id, b.id)
    with pytest.raises(InvalidInput, match="another project"):
        await tasks.create(
            admin,
            requirement_id=req.id,
            name="d",
            task_type=TaskType.DOCS,
            dependency_ids=[a.id, world.task(world.requirement(world.project("x"))).id],
        )
    assert {t.name for t in world.db.rows("tasks")} == {"a", "b", "c", "API"}
    assert edges(world) == {(a.id, b.id)}


async def test_a_task_starts_only_when_every_dependency_is_done(setup):
    world, tasks, admin, _, (a, b, c) = setup
    await tasks.add_dependency(admin, a.id, b.id)
    await tasks.add_dependency(admin, a.id, c.id)
    for status in (TaskStatus.IN_PROGRESS, TaskStatus.DONE):
        await tasks.change_status(admin, b.id, status)
    with pytest.raises(InvalidInput) as blocked:
        await tasks.change_status(admin, a.id, TaskStatus.IN_PROGRESS)
    assert blocked.value.details == {"blockingTaskIds": [str(c.id)]}
    assert world.row("tasks", a.id).status is TaskStatus.PENDING
    await tasks.change_status(admin, c.id, TaskStatus.CANCELLED)
    with pytest.raises(InvalidInput, match=r"c \(CANCELLED\)"):
        await tasks.change_status(admin, a.id, TaskStatus.IN_PROGRESS)
    await tasks.change_status(admin, c.id, TaskStatus.PENDING)
    await tasks.change_status(admin, c.id, TaskStatus.IN_PROGRESS)
    await tasks.change_status(admin, c.id, TaskStatus.DONE)
    await tasks.change_status(admin, a.id, TaskStatus.IN_PROGRESS)
    assert world.row("tasks", a.id).status is TaskStatus.IN_PROGRESS


async def test_done_stamps_completion_and_leaving_done_clears_it(setup):
    world, tasks, admin, _, (a, _, _) = setup
    await tasks.change_status(admin, a.id, TaskStatus.IN_PROGRESS)
    world.clock.advance(90)
    await tasks.change_status(admin, a.id, TaskStatus.DONE)
    assert world.row("tasks", a.id).completed_at == world.clock.now()
    await tasks.change_status(admin, a.id, TaskStatus.IN_PROGRESS)
    assert world.row("tasks", a.id).completed_at is None


async def test_removing_a_dependency_unblocks_and_removing_a_missing_one_is_bad_input(setup):
    world, tasks, admin, _, (a, b, _) = setup
    await tasks.add_dependency(admin, a.id, b.id)
    await tasks.remove_dependency(admin, a.id, b.id)
    assert edges(world) == set()
    with pytest.raises(InvalidInput, match="does not depend"):
        await tasks.remove_dependency(admin, a.id, b.id)
    await tasks.change_status(admin, a.id, TaskStatus.IN_PROGRESS)


async def test_developers_change_only_their_own_tasks_and_only_in_their_projects(setup):
    world, tasks, _, _, (a, b, _) = setup
    project = world.db.rows("projects")[0]
    dev = world.user(Role.DEVELOPER, project)
    outsider = world.user(Role.DEVELOPER)
    await tasks.assign(dev, a.id, dev.user_id)
    await tasks.change_status(dev, a.id, TaskStatus.IN_PROGRESS)
    with pytest.raises(Forbidden, match="task:execute:any"):
        await tasks.change_status(dev, b.id, TaskStatus.IN_PROGRESS)
    with pytest.raises(Forbidden, match="not a member"):
        await tasks.add_dependency(outsider, a.id, b.id)
    assert world.row("tasks", b.id).status is TaskStatus.PENDING
    assert world.row("tasks", a.id).assigned_to == dev.user_id
