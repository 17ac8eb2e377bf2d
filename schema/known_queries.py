"""Queries whose document is already parsed and validated, executed without strawberry's per-operation machinery.

For every operation strawberry builds an execution context, instantiates the schema extensions and enters a context
manager per hook (operation, parsing, validation, execution) around graphql-core: on a small read that was a third
of the server's CPU. A query seen before needs none of it: its document and validation errors are in the document
cache, and its cost is priced per page sizes. So a known, valid query within its cost is executed here by
graphql-core with rdflow's execution context, and its errors are presented as OperationHooks presents them. Anything
else (a new or invalid document, a mutation, a cost refusal) returns None and takes strawberry's path, which
reports it as before."""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLSchema, OperationType, execute, get_operation_ast, specified_rules
from strawberry.execution import optimized_is_awaitable
from strawberry.types import ExecutionResult

from schema.execution import RdflowExecutionContext
from schema.operation_hooks import OperationRules, present_errors


@dataclass(frozen=True)
class KnownQueries:
    schema: GraphQLSchema
    rules: OperationRules
    # What OperationHooks validates with: strawberry's default rules, then rdflow's (built once, not per request).
    validation_rules: tuple[type, ...] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "validation_rules", (*specified_rules, *self.rules.validation_rules))

    def prepare(self, query: str, operation_name: str | None, variables: dict[str, Any]) -> DocumentNode | None:
        """The document of a query operation that was parsed before, validates, and is within its cost; else None."""
        documents = self.rules.documents
        document = documents.document(query)
        if document is None:
            return None
        operation = get_operation_ast(document, operation_name)
        if operation is None or operation.operation is not OperationType.QUERY:
            return None
        checked = documents.checked(self.schema, query, document, self.validation_rules)
        if checked.before or checked.after:
            return None
        cost = checked.priced(
            operation_name, variables, lambda: self.rules.cost_check(self.schema, document, operation_name, variables)
        )
        return None if cost else document

    async def execute(
        self, document: DocumentNode, operation_name: str | None, variables: dict[str, Any] | None, context: Any
    ) -> ExecutionResult:
        outcome = execute(
            self.schema,
            document,
            context_value=context,
            variable_values=variables,
            operation_name=operation_name,
            executor_class=RdflowExecutionContext,
            is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]  # strawberry's, as strawberry passes it
            operation_extensions=None,
        )
        result = await outcome if isinstance(outcome, Awaitable) else outcome
        errors = present_errors(self.rules, result.errors) if result.errors else None
        return ExecutionResult(data=result.data, errors=errors)
