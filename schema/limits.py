"""The connection cost limit: refuses operations that could return more nodes than the configured budget."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
    get_named_type,
)
from strawberry.extensions import SchemaExtension

from domain.paging import MAX_PAGE_SIZE

# An unpaginated list of objects (members, subtasks, dependencies) is assumed to hold this many; a connection's
# own edges/nodes are its page and cost nothing more.
UNPAGED_LIST_ESTIMATE = 10


class _Cost:
    """Potential nodes of one operation: each connection counts `first`/`last` (default the page cap) times the
    pages around it; fragments are followed with the type they apply to."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ):
        self.schema, self.fragments, self.variables, self.defaults = schema, fragments, variables, defaults

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        root = self.schema.get_root_type(operation.operation)
        return self._selection(operation.selection_set, root, 1, frozenset()) if root else 0

    def _selection(
        self, selection_set: SelectionSetNode | None, parent: Any, multiplier: int, seen: frozenset[str]
    ) -> int:
        return sum(
            self._field(node, type_, multiplier, seen)
            for node, type_, seen in self._fields(selection_set, parent, seen)
        )

    def _fields(
        self, selection_set: SelectionSetNode | None, parent: Any, seen: frozenset[str]
    ) -> Iterator[tuple[FieldNode, Any, frozenset[str]]]:
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                yield node, parent, seen
            elif isinstance(node, InlineFragmentNode):
                yield from self._fields(node.selection_set, self._condition(node, parent), seen)
            elif isinstance(node, FragmentSpreadNode):
                fragment = self.fragments.get(node.name.value)
                if fragment is not None and fragment.name.value not in seen:  # cycles are refused elsewhere
                    yield from self._fields(
                        fragment.selection_set, self._condition(fragment, parent), seen | {fragment.name.value}
                    )

    def _condition(self, node: InlineFragmentNode | FragmentDefinitionNode, parent: Any) -> Any:
        if node.type_condition is None:
            return parent
        return self.schema.get_type(node.type_condition.name.value) or parent

    def _field(self, node: FieldNode, parent: Any, multiplier: int, seen: frozenset[str]) -> int:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0  # scalars and unknown fields (refused by validation) cost nothing here
        if "first" in definition.args or "last" in definition.args:
            inner = cost = multiplier * self._page(node)
        elif _is_list(definition.type) and not getattr(parent, "name", "").endswith("Connection"):
            inner = cost = multiplier * UNPAGED_LIST_ESTIMATE
        else:
            inner, cost = multiplier, 0
        return cost + self._selection(node.selection_set, get_named_type(definition.type), inner, seen)

    def _page(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = self._value(argument.value)
                if isinstance(value, int) and value >= 0:
                    return value
        return MAX_PAGE_SIZE

    def _value(self, value: Any) -> Any:
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            name = value.name.value
            return self.variables.get(name, self.defaults.get(name))
        return None


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def operation_cost(
    schema: GraphQLSchema, document: Any, operation_name: str | None, variables: Mapping[str, Any] | None
) -> int:
    """The cost of the operation the request runs (the named one, or the only one)."""
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    operations = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name and d.name.value == operation_name))
    ]
    if len(operations) != 1:
        return 0  # graphql-core reports the missing or ambiguous operation itself
    operation = operations[0]
    defaults = {
        d.variable.name.value: _literal(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    return _Cost(schema, fragments, variables or {}, defaults).of_operation(operation)


def _literal(value: Any) -> Any:
    return int(value.value) if isinstance(value, IntValueNode) else None


class MaxCostLimiter(SchemaExtension):
    """Adds a validation rule, built per request so that `first: $n` is priced with the request's variables."""

    def __init__(self, max_cost: int):
        self.max_cost = max_cost

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        limit, variables, operation_name = self.max_cost, context.variables, context.operation_name

        class MaxCostRule(ValidationRule):
            def __init__(self, validation_context: ValidationContext) -> None:
                super().__init__(validation_context)
                cost = operation_cost(validation_context.schema, validation_context.document, operation_name, variables)
                if cost > limit:
                    validation_context.report_error(
                        GraphQLError(
                            f"query cost {cost} exceeds the limit of {limit}: each connection costs its first/last "
                            f"(default {MAX_PAGE_SIZE}) times the pages it is nested in; ask for smaller pages",
                            extensions={"cost": cost, "maxCost": limit},
                        )
                    )

        context.validation_rules = (*context.validation_rules, MaxCostRule)
        yield
