"""A row that refers to one a concurrent request deleted is a Conflict, never a 500, also where PostgreSQL finds it:
its foreign keys are deferred, so the insert's flush passes and the COMMIT fails."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import delete

from domain.errors import Conflict
from domain.model import Project, ProjectMember, User
from persistence.conflicts import GONE
from persistence.engine import create_engine, session_factory
from persistence.migrations import upgrade
from persistence.tables import projects
from persistence.uow import SqlUnitOfWorkFactory

pytestmark = pytest.mark.postgres


@pytest.fixture
async def uows(fresh_postgres_url):
    upgrade(fresh_postgres_url)
    engine = create_engine(fresh_postgres_url)
    yield SqlUnitOfWorkFactory(session_factory(engine))
    await engine.dispose()


async def test_a_member_added_to_a_project_deleted_meanwhile_is_a_conflict_at_commit(uows):
    now = datetime.now(UTC)
    user = User("member", "member@example.com", "x", created_at=now, updated_at=now)
    project = Project("doomed", created_by=None, created_at=now, updated_at=now)
    async with uows() as seeding:
        seeding.begin_write()
        seeding.users.add(user)
        seeding.projects.add(project)
        await seeding.commit()

    async with uows() as adding:
        adding.begin_write()
        adding.members.add(ProjectMember(project.id, user.id, added_at=now))
        await adding.flush()  # the project is still there, and the deferred key is not checked yet
        async with uows() as deleting:
            deleting.begin_write()
            await deleting.session.execute(delete(projects).where(projects.c.id == project.id))
            await deleting.commit()
        with pytest.raises(Conflict) as refused:
            await adding.commit()
    assert refused.value.message == GONE

    async with uows() as reading:
        assert await reading.members.find(project_id=project.id, user_id=user.id) == []
