"""A pipeline in memory: services over the fake unit of work, the in-process bus, a settable clock, a fake queue."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from domain.enums import Role, TaskType
from domain.events import DomainEvent
from domain.model import CodeArtifact, Project, ProjectMember, Requirement, Task, User
from domain.permissions import Viewer
from domain.services.base import Deps
from integrations.events_memory import InProcessEventBus
from tests.domain.fakes import FakeDatabase, MemoryArtifactStore, RecordingJobQueue
from tests.fakes.clock import SettableClock


class RecordingEventBus(InProcessEventBus):
    """The in-process bus, also keeping every published event for assertions."""

    def __init__(self) -> None:
        super().__init__()
        self.published: list[DomainEvent] = []

    async def publish(self, event: DomainEvent) -> None:
        self.published.append(event)
        await super().publish(event)


@dataclass
class World:
    db: FakeDatabase = field(default_factory=FakeDatabase)
    clock: SettableClock = field(default_factory=SettableClock)
    bus: RecordingEventBus = field(default_factory=RecordingEventBus)
    queue: RecordingJobQueue = field(default_factory=RecordingJobQueue)
    store: MemoryArtifactStore = field(default_factory=MemoryArtifactStore)

    @property
    def deps(self) -> Deps:
        return Deps(uow=self.db, bus=self.bus, clock=self.clock, queue=self.queue, store=self.store)

    def user(self, role: Role, *projects: Project) -> Viewer:
        """A committed user of `role`, member of `projects`; returns the viewer acting as them."""
        user = User(
            username=f"{role.value.lower()}-{uuid.uuid4().hex[:6]}",
            email=f"{uuid.uuid4().hex}@x.test",
            password_hash="-",
            role=role,
        )
        self.db.put("users", user)
        for project in projects:
            self.db.put("members", ProjectMember(project_id=project.id, user_id=user.id))
        return Viewer(user_id=user.id, role=role, username=user.username)

    def project(self, name: str = "Apollo") -> Project:
        project = Project(name=name, created_by=None, created_at=self.clock.now())
        self.db.put("projects", project)
        return project

    def requirement(self, project: Project, title: str = "Sign-in") -> Requirement:
        req = Requirement(
            project_id=project.id,
            title=title,
            content=f"{title}: users sign in with email",
            created_by=None,
            created_at=self.clock.now(),
        )
        self.db.put("requirements", req)
        return req

    def task(self, req: Requirement, name: str = "API", task_type: TaskType = TaskType.BACKEND, **fields) -> Task:
        task = Task(
            requirement_id=req.id,
            project_id=req.project_id,
            name=name,
            task_type=task_type,
            created_at=self.clock.now(),
            **fields,
        )
        self.db.put("tasks", task)
        return task

    def artifact(self, task: Task, created_by: uuid.UUID | None, **fields) -> CodeArtifact:
        artifact = CodeArtifact(
            task_id=task.id,
            project_id=task.project_id,
            file_path="app.py",
            file_name="app.py",
            language="python",
            storage_key="sha256/00/" + "0" * 64,
            checksum="0" * 64,
            created_by=created_by,
            created_at=self.clock.now(),
            **fields,
        )
        self.db.put("artifacts", artifact)
        return artifact

    def row(self, repo: str, entity_id: uuid.UUID):
        """The committed row, as a copy (None when absent)."""
        return next((r for r in self.db.rows(repo) if r.id == entity_id), None)


@pytest.fixture
def world() -> World:
    return World()
