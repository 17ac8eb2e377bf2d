"""Depth and alias limits counted through fragments, each fragment walked once (strawberry's walk every path)."""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
)

from schema.fragments import fragments_of, summarise


def depth(selection_set: SelectionSetNode | None, fragments: Mapping[str, int]) -> int:
    """Fields with a selection set on the longest path; introspection fields (`__schema`, ...) count nothing."""
    deepest = 0
    for node in selection_set.selections if selection_set else ():
        if isinstance(node, FieldNode):
            nested = node.selection_set and not node.name.value.startswith("__")
            here = 1 + depth(node.selection_set, fragments) if nested else 0
        elif isinstance(node, InlineFragmentNode):
            here = depth(node.selection_set, fragments)
        elif isinstance(node, FragmentSpreadNode):
            here = fragments.get(node.name.value, 0)
        deepest = max(deepest, here)
    return deepest


def aliases(selection_set: SelectionSetNode | None, fragments: Mapping[str, int]) -> int:
    """Aliased fields on every path: a fragment spread twice counts twice."""
    count = 0
    for node in selection_set.selections if selection_set else ():
        if isinstance(node, FragmentSpreadNode):
            count += fragments.get(node.name.value, 0)
        elif isinstance(node, FieldNode | InlineFragmentNode):
            count += isinstance(node, FieldNode) and node.alias is not None
            count += aliases(node.selection_set, fragments) if node.selection_set else 0
    return count


def max_depth_rule(max_depth: int) -> type[ValidationRule]:
    class MaxDepthRule(ValidationRule):
        def enter_document(self, node, *_args) -> None:
            fragments: dict[str, int] = {}
            summarise(fragments_of(node), lambda f: depth(f.selection_set, fragments), fragments)
            for operation in node.definitions:
                if (
                    isinstance(operation, OperationDefinitionNode)
                    and depth(operation.selection_set, fragments) > max_depth
                ):
                    name = operation.name.value if operation.name else "anonymous"
                    self.report_error(
                        GraphQLError(f"'{name}' exceeds maximum operation depth of {max_depth}", operation)
                    )

    return MaxDepthRule


def max_aliases_rule(max_aliases: int) -> type[ValidationRule]:
    class MaxAliasesRule(ValidationRule):
        def enter_document(self, node, *_args) -> None:
            fragments: dict[str, int] = {}
            summarise(fragments_of(node), lambda f: aliases(f.selection_set, fragments), fragments)
            found = sum(
                aliases(operation.selection_set, fragments)
                for operation in node.definitions
                if isinstance(operation, OperationDefinitionNode)
            )
            if found > max_aliases:
                self.report_error(GraphQLError(f"{found} aliases found. Allowed: {max_aliases}"))

    return MaxAliasesRule
