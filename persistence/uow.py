"""The SQLAlchemy unit of work: one AsyncSession, every repository, commit/rollback, write transactions and locks."""

from __future__ import annotations

import asyncio
import hashlib

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from domain import model
from domain.ports import Repository
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

    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self._sessions = sessions
        self.session: AsyncSession

    async def __aenter__(self) -> SqlUnitOfWork:
        self.session = self._sessions()
        for name, cls in REPOSITORIES.items():
            setattr(self, name, SqlRepository(self.session, cls, ENTITY_TABLES[cls]))
        return self

    async def __aexit__(self, *exc: object) -> None:
        # Shielded: a sibling field's error cancels this read mid-way, and an interrupted close would leave
        # the pooled connection's rollback half done (SQLAlchemy logs it as an ERROR).
        await asyncio.shield(self.session.close())

    def begin_write(self) -> None:
        """Make the transaction (begun lazily, at the first statement) a write transaction: on SQLite
        `BEGIN IMMEDIATE`, so its reads already hold the database's one write lock."""
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
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def flush(self) -> None:
        await self.session.flush()


class SqlUnitOfWorkFactory:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]):
        self.sessions = sessions

    def __call__(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)
