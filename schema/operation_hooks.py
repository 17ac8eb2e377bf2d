"""rdflow's per-operation hooks as one schema extension: validation rules and the token limit, cached parsing and
validation with the request's cost check, and error presentation (with suggestions hidden when asked).

Strawberry builds a context manager for every hook of every extension on every operation, so the six extensions
these were (AddValidationRules twice, MaxTokensLimiter, HideSuggestions, ErrorPresenter, CachedValidation) cost a
request several times what one extension with the same hooks does."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError
from graphql.validation import ASTValidationRule
from strawberry.extensions import MaskErrors
from strawberry.types import ExecutionResult

from schema.document_cache import CostCheck, DocumentCache
from schema.errors import Outage, present
from schema.suggestions import without_suggestions


@dataclass(frozen=True)
class OperationRules:
    """What every operation is held to; shared by all requests."""

    validation_rules: tuple[type[ASTValidationRule], ...]
    max_tokens: int
    documents: DocumentCache
    cost_check: CostCheck
    outage: Outage
    hide_suggestions: bool


class OperationHooks(MaskErrors):
    """Runs around every operation (queries, mutations and each subscription event). Subclasses MaskErrors for its
    streamed-result hook, which presents each subscription event's errors."""

    def __init__(self, rules: OperationRules):
        super().__init__()
        self.rules = rules

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.validation_rules = context.validation_rules + self.rules.validation_rules
        context.parse_options["max_tokens"] = self.rules.max_tokens
        self._stream_result_processed = False
        yield
        if self._stream_result_processed:  # a streamed result was presented as it went out
            return
        result = context.result
        if isinstance(result, GraphQLExecutionResult | ExecutionResult):
            self._process_result(result)
        elif initial_result := getattr(result, "initial_result", None):
            self._process_result(initial_result)

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None:
            context.graphql_document = self.rules.documents.document(context.query)
        yield

    def on_validate(self) -> Iterator[None]:
        """Validation from the cache (its rules were read when validation started: all of them are added by now),
        then the request's own cost check, its refusals where the former last validation rule put them."""
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            schema = context.schema._schema
            checked = self.rules.documents.checked(schema, context.query, document, tuple(context.validation_rules))
            # The name the client gave: `operation_name` falls back to the document's first operation.
            given = context._provided_operation_name
            variables = context.variables or {}
            cost = checked.priced(given, variables, lambda: self.rules.cost_check(schema, document, given, variables))
            context.pre_execution_errors = [*checked.before, *cost, *checked.after]
        yield

    def _process_result(self, result: object) -> None:
        # MaskErrors tests a runtime Protocol here, which costs more than the rest of this hook.
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]  # it has errors: it is a result

    def _process_errors(self, errors: list[GraphQLError]) -> list[GraphQLError]:
        return present_errors(self.rules, errors)


def present_errors(rules: OperationRules, errors: list[GraphQLError]) -> list[GraphQLError]:
    """The error contract's form of an operation's errors (logged when unexpected), suggestions hidden when asked."""
    presented = [present(e, rules.outage) for e in errors]
    return [without_suggestions(e) for e in presented] if rules.hide_suggestions else presented
