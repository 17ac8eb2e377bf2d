"""The connection cost limit: refuses operations that could return more nodes than the configured budget."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from graphql import (
    DocumentNode,
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
    VariableNode,
    get_named_type,
)

from domain.paging import MAX_PAGE_SIZE
from schema.fragments import fragments_of, summarise

# An unpaginated list of objects (members, subtasks, dependencies) is assumed to hold this many; a connection's
# own edges/nodes are its page and cost nothing more.
UNPAGED_LIST_ESTIMATE = 10
# The largest integer a JSON client reads exactly (2**53 - 1); a higher cost is reported as this.
MAX_REPORTED_COST = 2**53 - 1


class _Cost:
    """Potential nodes of one operation: each connection counts `first`/`last` (default the page cap) times the
    pages around it. Cost is linear in the pages around, so each fragment is priced once (for one page, on the type
    it applies to) and multiplied wherever it is spread."""

    def __init__(
        self,
        schema: GraphQLSchema,
        document: DocumentNode,
        variables: Mapping[str, Any],
        defaults: Mapping[str, Any],
    ):
        self.schema, self.variables, self.defaults = schema, variables, defaults
        self.fragments: dict[str, int] = {}
        summarise(
            fragments_of(document), lambda f: self._selection(f.selection_set, self._condition(f, None)), self.fragments
        )

    def of_operation(self, operation: OperationDefinitionNode) -> int:
        return self._selection(operation.selection_set, self.schema.get_root_type(operation.operation))

    def _selection(self, selection_set: SelectionSetNode | None, parent: Any) -> int:
        cost = 0
        for node in selection_set.selections if selection_set else ():
            if isinstance(node, FieldNode):
                cost += self._field(node, parent)
            elif isinstance(node, InlineFragmentNode):
                cost += self._selection(node.selection_set, self._condition(node, parent))
            elif isinstance(node, FragmentSpreadNode):
                cost += self.fragments.get(node.name.value, 0)
        return cost

    def _condition(self, node: InlineFragmentNode | FragmentDefinitionNode, parent: Any) -> Any:
        if node.type_condition is None:
            return parent
        return self.schema.get_type(node.type_condition.name.value) or parent

    def _field(self, node: FieldNode, parent: Any) -> int:
        definition = getattr(parent, "fields", {}).get(node.name.value)
        if definition is None or node.selection_set is None:
            return 0  # scalars and unknown fields (refused by validation) cost nothing here
        inner = self._selection(node.selection_set, get_named_type(definition.type))
        if "first" in definition.args or "last" in definition.args:
            pages = self._page(node)
        elif _is_list(definition.type) and not getattr(parent, "name", "").endswith("Connection"):
            pages = UNPAGED_LIST_ESTIMATE
        else:
            return inner
        return pages + pages * inner

    def _page(self, node: FieldNode) -> int:
        for argument in node.arguments or ():
            if argument.name.value in ("first", "last"):
                value = self._value(argument.value)
                if isinstance(value, int) and value >= 0:
                    # No page holds more than the cap (a larger first/last is refused when it runs).
                    return min(value, MAX_PAGE_SIZE)
        return MAX_PAGE_SIZE

    def _value(self, value: Any) -> Any:
        if isinstance(value, IntValueNode):
            return int(value.value)
        if isinstance(value, VariableNode):
            name = value.name.value
            return self.variables.get(name, self.defaults.get(name))
        return None


def page_variables_of(document: DocumentNode) -> tuple[str, ...]:
    """The variables given as `first` or `last` anywhere in the document: all the cost reads of the variables."""
    names: dict[str, None] = {}
    stack = [
        d.selection_set for d in document.definitions if isinstance(d, OperationDefinitionNode | FragmentDefinitionNode)
    ]
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FieldNode):
                for argument in node.arguments or ():
                    if argument.name.value in ("first", "last") and isinstance(argument.value, VariableNode):
                        names[argument.value.name.value] = None
            if (nested := getattr(node, "selection_set", None)) is not None:
                stack.append(nested)
    return tuple(names)


def _is_list(type_: Any) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)


def operations_of(document: DocumentNode) -> list[OperationDefinitionNode]:
    return [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]


def operation_to_run(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    """The named operation, or the only one; None when there is no such operation or several and no name (strawberry
    refuses an unknown name before validation; cost_check refuses the missing name)."""
    operations = operations_of(document)
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((d for d in operations if d.name and d.name.value == operation_name), None)


def operation_cost(
    schema: GraphQLSchema, document: DocumentNode, operation: OperationDefinitionNode, variables: Mapping[str, Any]
) -> int:
    """The cost of `operation` with the request's variables (or the operation's defaults)."""
    defaults = {
        d.variable.name.value: _literal(d.default_value)
        for d in operation.variable_definitions or ()
        if d.default_value is not None
    }
    return _Cost(schema, document, variables, defaults).of_operation(operation)


def _literal(value: Any) -> Any:
    return int(value.value) if isinstance(value, IntValueNode) else None


CostRefusals = Callable[[GraphQLSchema, DocumentNode, str | None, Mapping[str, Any]], list[GraphQLError]]


def cost_check(max_cost: int) -> CostRefusals:
    """Prices the operation that runs with the request's variables (outside validation, so validation is cached);
    a document with several operations must name the one to run."""

    def refusals(
        schema: GraphQLSchema, document: DocumentNode, operation_name: str | None, variables: Mapping[str, Any]
    ) -> list[GraphQLError]:
        if operation_name is None and len(operations_of(document)) > 1:
            return [
                GraphQLError(
                    "operationName is required: the document has several operations",
                    operations_of(document),
                    extensions={"field": "operationName"},
                )
            ]
        operation = operation_to_run(document, operation_name)
        if operation is None:
            return []
        cost = operation_cost(schema, document, operation, variables)
        if cost <= max_cost:
            return []
        shown = min(cost, MAX_REPORTED_COST)  # fragment fan-out can exceed what JSON numbers carry
        return [
            GraphQLError(
                f"query cost {'over ' if cost > shown else ''}{shown} exceeds the limit of {max_cost}: "
                f"each connection costs its first/last (default {MAX_PAGE_SIZE}) times the pages it is "
                "nested in; ask for smaller pages",
                extensions={"cost": shown, "maxCost": max_cost},
            )
        ]

    return refusals
