"""Assembling the Schema with its validation limits and error presentation."""

from __future__ import annotations

from dataclasses import dataclass

import strawberry
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types

from schema.auth import AuthMutation, AuthQuery
from schema.chat import ChatMessageNode, ChatMutation, ChatQuery, ChatSubscription, ConversationNode
from schema.deploy import DeployMutation, DeployQuery
from schema.document_cache import DocumentCache
from schema.environments import EnvironmentMutation, EnvironmentQuery
from schema.errors import Outage, no_outage
from schema.execution import RdflowExecutionContext
from schema.known_queries import KnownQueries
from schema.limits import cost_check
from schema.mutation import Mutation
from schema.operation_hooks import OperationHooks, OperationRules
from schema.pipeline import PipelineMutation, PipelineQuery
from schema.pipeline_runs import (
    PipelineRunMutation,
    PipelineRunNode,
    PipelineRunQuery,
    PipelineRunSubscription,
    PipelineStageNode,
)
from schema.pipeline_types import JobNode, PrdNode
from schema.query import Query
from schema.search import SearchQuery
from schema.shape_limits import max_aliases_rule, max_depth_rule
from schema.subscriptions import Subscription
from schema.testing import TestingMutation, TestingQuery
from schema.types import ArtifactNode, DeploymentNode, ProjectNode, RequirementNode, TaskNode, TestResultNode, UserNode

# Each area contributes its own root classes; they are merged into one Query and one Mutation.
QUERIES: tuple[type, ...] = (
    Query,
    PipelineQuery,
    AuthQuery,
    TestingQuery,
    EnvironmentQuery,
    SearchQuery,
    DeployQuery,
    ChatQuery,
    PipelineRunQuery,
)
MUTATIONS: tuple[type, ...] = (
    Mutation,
    PipelineMutation,
    AuthMutation,
    TestingMutation,
    EnvironmentMutation,
    DeployMutation,
    ChatMutation,
    PipelineRunMutation,
)
SUBSCRIPTIONS: tuple[type, ...] = (Subscription, ChatSubscription, PipelineRunSubscription)


@dataclass(frozen=True)
class SchemaLimits:
    max_depth: int = 12
    max_aliases: int = 30
    max_tokens: int = 5_000
    max_cost: int = 50_000
    introspection: bool = True


class RdflowSchema(strawberry.Schema):
    # The parsed documents, shared with the HTTP view (which asks an executed operation's type of them).
    documents: DocumentCache | None = None
    # Queries seen before, which the HTTP view executes without strawberry's per-operation machinery.
    known: KnownQueries | None = None

    def process_errors(self, errors, execution_context=None) -> None:
        """Logged by OperationHooks (unexpected ones only); client errors are not server faults."""


def build_schema(limits: SchemaLimits = SchemaLimits(), outage: Outage = no_outage) -> strawberry.Schema:
    rules: list[type[ASTValidationRule]] = [] if limits.introspection else [NoSchemaIntrospectionCustomRule]
    rules += [max_depth_rule(limits.max_depth), max_aliases_rule(limits.max_aliases)]
    documents = DocumentCache()
    operation_rules = OperationRules(
        validation_rules=tuple(rules),
        max_tokens=limits.max_tokens,
        documents=documents,
        cost_check=cost_check(limits.max_cost),
        outage=outage,
        # With introspection off the schema is not public: errors must not spell out its names.
        hide_suggestions=not limits.introspection,
    )
    schema = RdflowSchema(
        query=merge_types("Query", QUERIES),
        mutation=merge_types("Mutation", MUTATIONS),
        subscription=merge_types("Subscription", SUBSCRIPTIONS) if SUBSCRIPTIONS else None,
        extensions=[lambda: OperationHooks(operation_rules)],
        types=[
            ProjectNode,
            RequirementNode,
            TaskNode,
            ArtifactNode,
            TestResultNode,
            DeploymentNode,
            UserNode,
            JobNode,
            PrdNode,
            ConversationNode,
            ChatMessageNode,
            PipelineRunNode,
            PipelineStageNode,
        ],
        config=StrawberryConfig(auto_camel_case=True),
        execution_context_class=RdflowExecutionContext,
    )
    schema.documents = documents
    schema.known = KnownQueries(schema._schema, operation_rules)
    return schema
