"""Typed handles on the unit of work's repositories, for code that chooses one at run time (readers, DataLoaders)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from domain import model
from domain.ports import Repository, UnitOfWork

T = TypeVar("T")


@dataclass(frozen=True)
class Repo(Generic[T]):
    """`of(uow)` is the repository, its entity type known to mypy (a misspelt one is a type error, not a 500);
    `entity` names the type in errors (NotFound). Hashable: a handle keys the per-request DataLoaders, so each is
    one module constant below."""

    entity: str
    of: Callable[[UnitOfWork], Repository[T]]


USERS = Repo[model.User]("User", lambda uow: uow.users)
PROJECTS = Repo[model.Project]("Project", lambda uow: uow.projects)
REQUIREMENTS = Repo[model.Requirement]("Requirement", lambda uow: uow.requirements)
PRDS = Repo[model.PrdDocument]("PrdDocument", lambda uow: uow.prds)
TASKS = Repo[model.Task]("Task", lambda uow: uow.tasks)
DEPENDENCIES = Repo[model.TaskDependency]("TaskDependency", lambda uow: uow.dependencies)
ARTIFACTS = Repo[model.CodeArtifact]("CodeArtifact", lambda uow: uow.artifacts)
TEST_RESULTS = Repo[model.TestResult]("TestResult", lambda uow: uow.test_results)
DEPLOYMENTS = Repo[model.Deployment]("Deployment", lambda uow: uow.deployments)
ENVIRONMENTS = Repo[model.ProjectEnvironment]("ProjectEnvironment", lambda uow: uow.environments)
ENVIRONMENT_SECRETS = Repo[model.EnvironmentSecret]("EnvironmentSecret", lambda uow: uow.environment_secrets)
JOBS = Repo[model.Job]("Job", lambda uow: uow.jobs)
AUDIT = Repo[model.AuditEntry]("AuditEntry", lambda uow: uow.audit)
AI_MODELS = Repo[model.AiModelConfig]("AiModelConfig", lambda uow: uow.ai_models)
PROMPTS = Repo[model.PromptTemplate]("PromptTemplate", lambda uow: uow.prompts)
CONVERSATIONS = Repo[model.Conversation]("Conversation", lambda uow: uow.conversations)
CHAT_MESSAGES = Repo[model.ChatMessage]("ChatMessage", lambda uow: uow.chat_messages)
PIPELINES = Repo[model.PipelineDefinition]("PipelineDefinition", lambda uow: uow.pipelines)
PIPELINE_RUNS = Repo[model.PipelineRun]("PipelineRun", lambda uow: uow.pipeline_runs)
PIPELINE_STAGES = Repo[model.PipelineStage]("PipelineStage", lambda uow: uow.pipeline_stages)
WEBHOOK_DELIVERIES = Repo[model.WebhookDelivery]("WebhookDelivery", lambda uow: uow.webhook_deliveries)
