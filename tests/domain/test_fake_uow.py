"""The fake unit of work behaves like a transaction, or the domain tests built on it would prove nothing."""

from __future__ import annotations

import asyncio

import pytest

from domain.enums import ProjectStatus, Role, SortDirection
from domain.errors import Conflict, Forbidden, InvalidInput
from domain.model import Project, ProjectMember
from domain.paging import ListQuery, PageRequest
from domain.ports import Repository, UnitOfWork
from domain.services.base import Tx
from tests.domain.fakes import REPOSITORIES, FakeDatabase, FakeRepository, FakeUnitOfWork


async def test_rollback_and_leaving_without_commit_leave_the_database_as_it_was():
    db = FakeDatabase()
    async with db() as uow:
        uow.projects.add(Project(name="kept", created_by=None))
        await uow.commit()
    async with db() as uow:
        (kept,) = await uow.projects.find(name="kept")
        kept.name = "renamed"
        uow.projects.add(Project(name="added", created_by=None))
        await uow.projects.delete(kept)
        await uow.rollback()
    async with db() as uow:
        uow.projects.add(Project(name="never committed", created_by=None))
    assert [p.name for p in db.rows("projects")] == ["kept"]


async def test_uncommitted_changes_are_invisible_to_other_transactions_and_copies_are_private():
    db = FakeDatabase()
    project = Project(name="p", created_by=None)
    db.put("projects", project)
    async with db() as writer, db() as reader:
        mine = await writer.projects.get(project.id)
        mine.status = ProjectStatus.ACTIVE
        assert (await reader.projects.get(project.id)).status is ProjectStatus.PLANNING
        assert await writer.projects.get(project.id) is mine  # one identity per transaction
        await writer.commit()
    project.name = "changed outside"
    assert db.rows("projects")[0].status is ProjectStatus.ACTIVE
    assert db.rows("projects")[0].name == "p"


async def test_a_commit_writes_only_the_fields_it_changed():
    db = FakeDatabase()
    project = Project(name="p", created_by=None)
    db.put("projects", project)
    async with db() as first, db() as second:
        (await first.projects.get(project.id)).name = "renamed"
        (await second.projects.get(project.id)).status = ProjectStatus.ON_HOLD
        await first.commit()
        await second.commit()
    (row,) = db.rows("projects")
    assert (row.name, row.status) == ("renamed", ProjectStatus.ON_HOLD)


async def test_get_for_update_makes_a_second_writer_wait_and_then_see_the_committed_row():
    db = FakeDatabase()
    project = Project(name="p", created_by=None)
    db.put("projects", project)
    order: list[str] = []

    async def writer(name: str, pause: float) -> None:
        async with db() as uow:
            row = await uow.projects.get_for_update(project.id)
            order.append(f"{name} read {row.name}")
            await asyncio.sleep(pause)
            row.name = f"{row.name}+{name}"
            await uow.commit()

    await asyncio.gather(writer("a", 0.01), writer("b", 0))
    assert order == ["a read p", "b read p+a"]
    assert db.rows("projects")[0].name == "p+a+b"


async def test_a_refused_action_rolls_back_its_writes_but_keeps_its_denied_audit_row(world):
    project = world.project()
    with pytest.raises(Forbidden):
        async with Tx(world.deps, world.user(Role.GUEST), "x.y") as tx:
            tx.uow.projects.add(Project(name="half-written", created_by=None))
            raise Forbidden("project:write")
    assert [p.name for p in world.db.rows("projects")] == [project.name]
    assert [(a.action, a.outcome) for a in world.db.rows("audit")] == [("x.y", "DENIED")]
    assert world.bus.published == []


async def test_listing_filters_orders_and_pages_like_the_sql_repository():
    db = FakeDatabase()
    for i in range(5):
        db.put(
            "projects",
            Project(name=f"p{i}", created_by=None, status=ProjectStatus.ACTIVE if i % 2 else ProjectStatus.PLANNING),
        )
    async with db() as uow:
        page = await uow.projects.list(ListQuery(order_by="name", page=PageRequest(first=2, after=0)))
        assert ([p.name for p in page.items], page.offsets, page.total) == (["p1", "p2"], [1, 2], 5)
        assert (page.has_previous, page.has_next) == (True, True)
        last = await uow.projects.list(
            ListQuery(order_by="name", direction=SortDirection.DESC, page=PageRequest(last=2))
        )
        assert [p.name for p in last.items] == ["p1", "p0"]
        active = await uow.projects.list(ListQuery(filters=(("status", ProjectStatus.ACTIVE),), order_by="name"))
        assert [p.name for p in active.items] == ["p1", "p3"]
        with pytest.raises(InvalidInput, match="cannot filter by colour"):
            await uow.projects.list(ListQuery(filters=(("colour", "red"),)))


async def test_inserting_an_existing_key_is_a_conflict_and_writes_nothing():
    db = FakeDatabase()
    project = Project(name="p", created_by=None)
    member = ProjectMember(project_id=project.id, user_id=project.id)
    db.put("members", member)
    async with db() as uow:
        uow.projects.add(project)
        uow.members.add(ProjectMember(project_id=member.project_id, user_id=member.user_id))
        with pytest.raises(Conflict):
            await uow.commit()
    assert db.rows("projects") == []


async def test_a_named_lock_serialises_two_transactions_until_the_first_ends():
    db = FakeDatabase()
    order: list[str] = []

    async def writer(name: str) -> None:
        async with db() as uow:
            uow.begin_write()
            await uow.lock("default-model")
            order.append(f"{name} in")
            await asyncio.sleep(0.01)
            order.append(f"{name} out")
            await uow.commit()

    await asyncio.gather(writer("a"), writer("b"))
    assert order == ["a in", "a out", "b in", "b out"]


def _methods(cls: type) -> set[str]:
    return {
        n for n, v in vars(cls).items() if callable(v) and (not n.startswith("_") or n in {"__aenter__", "__aexit__"})
    }


def test_the_fakes_implement_every_port_method_and_repository():
    assert _methods(Repository) <= _methods(FakeRepository)
    assert _methods(UnitOfWork) <= _methods(FakeUnitOfWork)
    assert len(REPOSITORIES) == 22
    uow = FakeDatabase()()
    assert all(isinstance(getattr(uow, name), FakeRepository) for name in REPOSITORIES)
