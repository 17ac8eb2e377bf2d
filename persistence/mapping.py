"""Classical (imperative) mapping of the domain dataclasses onto the tables; no relationships, loaders batch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table
from sqlalchemy.orm import registry

from domain import model
from persistence import tables

T = TypeVar("T")

mapper_registry = registry(metadata=tables.metadata)

ENTITY_TABLES = {
    model.User: tables.users,
    model.Project: tables.projects,
    model.ProjectMember: tables.project_members,
    model.Requirement: tables.requirements,
    model.PrdDocument: tables.prd_documents,
    model.Task: tables.tasks,
    model.TaskDependency: tables.task_dependencies,
    model.CodeArtifact: tables.code_artifacts,
    model.TestResult: tables.test_results,
    model.Deployment: tables.deployments,
    model.ProjectEnvironment: tables.environments,
    model.EnvironmentSecret: tables.environment_secrets,
    model.Job: tables.jobs,
    model.AuditEntry: tables.audit_log,
    model.AiModelConfig: tables.ai_model_configs,
    model.PromptTemplate: tables.prompt_templates,
    model.Conversation: tables.conversations,
    model.ChatMessage: tables.chat_messages,
    model.PipelineDefinition: tables.pipeline_definitions,
    model.PipelineRun: tables.pipeline_runs,
    model.PipelineStage: tables.pipeline_stages,
    model.WebhookDelivery: tables.webhook_deliveries,
}


def start_mappers() -> None:
    """Map every entity once per process (idempotent), configured at once: the light reads build instances without
    an ORM query, and an attribute of a mapper not yet configured (no ORM query has run) cannot be read."""
    for cls, table in ENTITY_TABLES.items():
        if not hasattr(cls, "__mapper__"):
            mapper_registry.map_imperatively(cls, table)
    mapper_registry.configure()


def light_reader(cls: type[T], table: Table) -> Callable[[Sequence[Any]], T]:
    """Builds an entity from a Core row (its columns first, in table order) without the ORM's instance state or
    identity map: for reads that neither change nor add what they read. Mapped attributes read from the
    instance's __dict__, so the object reads like a loaded one; changing it raises (it belongs to no session)."""
    names = tuple(c.key for c in table.c)
    new = object.__new__

    def read(row: Sequence[Any]) -> T:
        entity = new(cls)
        entity.__dict__.update(zip(names, row, strict=False))
        return entity

    return read
