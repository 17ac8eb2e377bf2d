"""The generic scoped reader, typed repository handles (domain.repos) and the update helper (apply_changes)."""

from __future__ import annotations

import dataclasses
import uuid
from decimal import Decimal

import pytest

from domain import model, repos
from domain import validation as v
from domain.enums import Role
from domain.errors import Forbidden, InvalidInput, NotFound
from domain.model import AuditEntry, Job
from domain.paging import ListQuery
from domain.permissions import Permission
from domain.ports import UnitOfWork
from domain.repos import Repo
from domain.services.access import EntityReads
from domain.services.changes import apply_changes
from domain.services.reads import ReadService
from domain.validation import UNSET
from tests.domain.fakes import FakeRepository

HANDLES = {name: h for name, h in vars(repos).items() if isinstance(h, Repo)}


def test_every_repository_handle_names_its_entity_and_reads_its_repository(world):
    assert len(HANDLES) == 21
    uow = world.db()
    for name, handle in HANDLES.items():
        repository = handle.of(uow)
        assert isinstance(repository, FakeRepository)
        assert repository is getattr(uow, repository.name)
        assert UnitOfWork.__annotations__[repository.name] == f"Repository[model.{handle.entity}]", name


async def test_batched_reads_take_typed_handles(world):
    project = world.project()
    req = world.requirement(project)
    tasks = [world.task(req, f"t{i}") for i in range(3)]
    admin = world.user(Role.PROJECT_ADMIN, project)
    reads = ReadService(world.deps)

    found = await reads.by_ids(admin, repos.TASKS, [t.id for t in tasks] + [uuid.uuid4()])
    assert set(found) == {t.id for t in tasks}
    assert all(isinstance(t, model.Task) for t in found.values())
    assert [r.id for r in await reads.find_in(admin, repos.TASKS, "requirement_id", [req.id])] == [t.id for t in tasks]
    pages = await reads.pages_by(admin, repos.TASKS, "requirement_id", [req.id], ListQuery())
    assert pages[req.id].total == 3


async def test_sums_are_per_key_and_zero_for_a_key_without_rows(world):
    project, other = world.project(), world.project("Other")
    admin = world.user(Role.PROJECT_ADMIN, project)
    for tokens in (10, 32):
        world.db.put(
            "jobs",
            Job(kind="ai.prd", subject_type="Requirement", subject_id=uuid.uuid4(), project_id=project.id,
                input_tokens=tokens, cost_usd=Decimal("0.5")),
        )  # fmt: skip
    totals = await ReadService(world.deps).sums(
        admin, repos.JOBS, "project_id", [project.id, other.id], ("input_tokens", "cost_usd")
    )
    assert totals == {
        project.id: {"input_tokens": 42, "cost_usd": Decimal("1.0")},
        other.id: {"input_tokens": 0, "cost_usd": 0},
    }


async def test_project_entity_reads_need_membership_and_list_only_the_viewers_projects(world):
    mine, theirs = world.project("Mine"), world.project("Theirs")
    req_mine, req_theirs = world.requirement(mine), world.requirement(theirs)
    dev = world.user(Role.DEVELOPER, mine)
    reads = EntityReads(world.deps, repos.REQUIREMENTS, Permission.REQUIREMENT_READ)

    assert (await reads.get(dev, req_mine.id)).id == req_mine.id
    with pytest.raises(Forbidden):
        await reads.get(dev, req_theirs.id)
    with pytest.raises(NotFound) as missing:
        await reads.get(dev, uuid.uuid4())
    assert "Requirement" in str(missing.value)
    assert [r.id for r in (await reads.list(dev, ListQuery())).items] == [req_mine.id]
    admin = world.user(Role.SUPER_ADMIN)
    assert {r.id for r in (await reads.list(admin, ListQuery())).items} == {req_mine.id, req_theirs.id}
    assert (await reads.get(admin, req_theirs.id)).id == req_theirs.id


async def test_system_record_reads_need_the_permission_only(world):
    entry = AuditEntry(action="project.create", entity_type="Project")
    world.db.put("audit", entry)
    reads = EntityReads(world.deps, repos.AUDIT, Permission.AUDIT_READ, in_project=False)
    admin = world.user(Role.SUPER_ADMIN)
    assert (await reads.get(admin, entry.id)).id == entry.id
    assert [e.id for e in (await reads.list(admin, ListQuery(order_by="at"))).items] == [entry.id]
    dev = world.user(Role.DEVELOPER)
    with pytest.raises(Forbidden):
        await reads.get(dev, entry.id)
    with pytest.raises(Forbidden):
        await reads.list(dev, ListQuery(order_by="at"))


@dataclasses.dataclass
class _Row:
    name: str = "old"
    note: str | None = "kept"
    hours: Decimal | None = Decimal(1)


def test_apply_changes_skips_unset_and_none_unless_nullable_and_checks_what_it_sets():
    checks = {"name": lambda x: v.text(x, "name", max_length=5), "hours": lambda x: v.hours(x, "estimatedHours")}
    row = _Row()
    apply_changes(row, {"name": None, "note": UNSET, "hours": UNSET}, checks, nullable={"note", "hours"})
    assert row == _Row()
    apply_changes(row, {"name": " new ", "note": None, "hours": None}, checks, nullable={"note", "hours"})
    assert (row.name, row.note, row.hours) == ("new", None, None)
    with pytest.raises(InvalidInput) as too_long:
        apply_changes(row, {"name": "toolong"}, checks)
    assert too_long.value.field == "name"
    assert row.name == "new"
