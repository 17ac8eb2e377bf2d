"""The SQLAlchemy unit of work: one AsyncSession, every repository, commit/rollback, write transactions and locks;
inside a read scope (one GraphQL request) the reads share one session: one connection, one read transaction."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from contextvars import ContextVar

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import model
from domain.ports import DataVersion, Repository
from persistence.engine import WRITE
from persistence.mapping import ENTITY_TABLES
from persistence.repository import SqlRepository

REPOSITORIES = {
    "users": model.User,
    "projects": model.Project,
    "members": model.ProjectMember,
    "requirements": model.Requirement,
    "prds": model.PrdDocument,
    "tasks": model.Task,
    "dependencies": model.TaskDependency,
    "artifacts": model.CodeArtifact,
    "test_results": model.TestResult,
    "deployments": model.Deployment,
    "environments": model.ProjectEnvironment,
    "environment_secrets": model.EnvironmentSecret,
    "jobs": model.Job,
    "audit": model.AuditEntry,
    "ai_models": model.AiModelConfig,
    "prompts": model.PromptTemplate,
    "conversations": model.Conversation,
    "chat_messages": model.ChatMessage,
    "pipelines": model.PipelineDefinition,
    "pipeline_runs": model.PipelineRun,
    "pipeline_stages": model.PipelineStage,
    "webhook_deliveries": model.WebhookDelivery,
}


class ReadScope:
    """The session the reads of one request share. One statement runs on a connection at a time: a read that finds
    the session busy (a sibling DataLoader batch) takes a session of its own; a write leaves it for a session of its
    own, and the reads after a write start a new transaction (on SQLite a read transaction would still see the old
    snapshot)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()
        self._stale = False
        self._closing: set[asyncio.Future[None]] = set()
        # Tasks started during the request (an in-process job) inherit the scope: once the request is over, they
        # open sessions of their own.
        self.closed = False

    async def acquire(self) -> AsyncSession | None:
        """The shared session, held until `release`; None when it is busy or the request is over."""
        if self.closed or self._lock.locked():
            # Busy (a sibling batch, or this very task in a nested unit of work): a session of its own rather than a
            # wait, which could deadlock when the holder itself awaits a DataLoader batch that needs a session.
            return None
        await self._lock.acquire()  # free, so this takes it without suspending
        if self._stale and self._session is not None:
            await asyncio.shield(self._session.close())
            self._session = None
        self._stale = False
        if self._session is None:
            self._session = self._sessions()
        return self._session

    def release(self, *, wrote: bool = False) -> None:
        self._stale = self._stale or wrote
        self._lock.release()
        if self.closed and self._session is not None:  # the request ended while this held the session
            session, self._session = self._session, None
            closing = asyncio.ensure_future(session.close())
            self._closing.add(closing)
            closing.add_done_callback(self._closing.discard)

    async def close(self) -> None:
        """End the scope. A task the request started (an in-process job) may hold the session right now: closing it
        under that task's statement would break the connection, so the holder closes it when it lets go."""
        self.closed = True
        if self._lock.locked() or self._session is None:
            return
        session, self._session = self._session, None
        await asyncio.shield(session.close())


_read_scope: ContextVar[ReadScope | None] = ContextVar("rdflow_read_scope", default=None)


class SqlUnitOfWork:
    # Set on entering, one per entry of REPOSITORIES.
    users: Repository[model.User]
    projects: Repository[model.Project]
    members: Repository[model.ProjectMember]
    requirements: Repository[model.Requirement]
    prds: Repository[model.PrdDocument]
    tasks: Repository[model.Task]
    dependencies: Repository[model.TaskDependency]
    artifacts: Repository[model.CodeArtifact]
    test_results: Repository[model.TestResult]
    deployments: Repository[model.Deployment]
    environments: Repository[model.ProjectEnvironment]
    environment_secrets: Repository[model.EnvironmentSecret]
    jobs: Repository[model.Job]
    audit: Repository[model.AuditEntry]
    ai_models: Repository[model.AiModelConfig]
    prompts: Repository[model.PromptTemplate]
    conversations: Repository[model.Conversation]
    chat_messages: Repository[model.ChatMessage]
    pipelines: Repository[model.PipelineDefinition]
    pipeline_runs: Repository[model.PipelineRun]
    pipeline_stages: Repository[model.PipelineStage]
    webhook_deliveries: Repository[model.WebhookDelivery]

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        scope: ReadScope | None = None,
        versions: DataVersion | None = None,
    ):
        self._sessions = sessions
        self._scope = scope
        self._versions = versions
        self._shared = False
        self.session: AsyncSession

    async def __aenter__(self) -> SqlUnitOfWork:
        shared = await self._scope.acquire() if self._scope is not None else None
        self._shared = shared is not None
        self._use(shared or self._sessions())
        return self

    def _use(self, session: AsyncSession) -> None:
        self.session = session
        # The shared read session never writes: its reads skip the ORM's instance state and identity map.
        for name, cls in REPOSITORIES.items():
            setattr(self, name, SqlRepository(self.session, cls, ENTITY_TABLES[cls], light=self._shared))

    def _leave_shared(self, *, wrote: bool) -> None:
        if self._shared and self._scope is not None:
            self._shared = False
            self._scope.release(wrote=wrote)

    async def __aexit__(self, *exc: object) -> None:
        if self._shared:
            # After an error the transaction may be aborted or the statement interrupted: the next read starts anew.
            self._leave_shared(wrote=bool(exc) and exc[0] is not None)
            return
        # Shielded: a sibling field's error cancels this read mid-way, and an interrupted close would leave
        # the pooled connection's rollback half done (SQLAlchemy logs it as an ERROR).
        await asyncio.shield(self.session.close())

    def begin_write(self) -> None:
        """Make the transaction (begun lazily, at the first statement) a write transaction: on SQLite
        `BEGIN IMMEDIATE`, so its reads already hold the database's one write lock. A write never runs in the
        request's shared read session: it gets its own, and the reads after it a new transaction."""
        if self._shared:
            self._leave_shared(wrote=True)
            self._use(self._sessions())
        sync = self.session.sync_session
        sync.execution_options = sync.execution_options.union({WRITE: True})

    async def lock(self, name: str) -> None:
        """Hold a lock on `name` until the transaction ends, for checks no single row can guard.

        PostgreSQL: a transaction-scoped advisory lock; SQLite: the write transaction already serialises writers.
        """
        if self.session.get_bind().dialect.name == "postgresql":
            key = int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)
            await self.session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})

    async def commit(self) -> None:
        if self._shared:  # a write without begin_write: the reads after it start afresh
            self._scope._stale = True  # type: ignore[union-attr]  # shared implies a scope
        await self.session.commit()
        if self._versions is not None:
            # After the commit and before the caller can tell anyone (its response, its events): a cached response
            # computed before this write stops matching (server/response_cache.py).
            await self._versions.bump()

    async def rollback(self) -> None:
        if self._shared:
            self._scope._stale = True  # type: ignore[union-attr]  # shared implies a scope
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()


class SqlUnitOfWorkFactory:
    """`versions`: the data version every commit bumps (None: nothing caches responses)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], versions: DataVersion | None = None):
        self.sessions = sessions
        self.versions = versions

    def __call__(self) -> SqlUnitOfWork:
        scope = _read_scope.get()
        return SqlUnitOfWork(self.sessions, scope if scope is not None and not scope.closed else None, self.versions)

    @contextlib.asynccontextmanager
    async def read_scope(self) -> AsyncIterator[ReadScope]:
        """Within it (and the tasks it starts), units of work share one session for their reads."""
        scope = ReadScope(self.sessions)
        token = _read_scope.set(scope)
        try:
            yield scope
        finally:
            _read_scope.reset(token)
            await scope.close()
