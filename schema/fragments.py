"""Summarising a document's fragments once each, in dependency order, so limit rules never walk the spread tree."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import TypeVar

from graphql import DocumentNode, FragmentDefinitionNode, FragmentSpreadNode, SelectionSetNode

T = TypeVar("T")


def fragments_of(document: DocumentNode) -> dict[str, FragmentDefinitionNode]:
    return {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}


def summarise(
    fragments: Mapping[str, FragmentDefinitionNode], summary: Callable[[FragmentDefinitionNode], T], done: dict[str, T]
) -> None:
    """Fills `done` with the `summary` of each fragment, called once per fragment and only after the fragments it
    spreads are in `done`. A spread that closes a cycle finds nothing there (graphql-core's own rules refuse cycles)."""
    for name in _dependency_order(fragments):
        done[name] = summary(fragments[name])


def _dependency_order(fragments: Mapping[str, FragmentDefinitionNode]) -> Iterator[str]:
    """Post-order over spreads without recursion: a chain of hundreds of fragments must not exhaust the stack."""
    spreads = {name: _spreads(fragment.selection_set) for name, fragment in fragments.items()}
    finished: set[str] = set()
    for root in fragments:
        if root in finished:
            continue
        path, on_path = [(root, iter(spreads[root]))], {root}
        while path:
            name, pending = path[-1]
            for spread in pending:
                if spread in spreads and spread not in finished and spread not in on_path:
                    path.append((spread, iter(spreads[spread])))
                    on_path.add(spread)
                    break
            else:
                path.pop()
                on_path.discard(name)
                finished.add(name)
                yield name


def _spreads(selection_set: SelectionSetNode) -> list[str]:
    """Names of the fragments spread anywhere inside one definition (not following them)."""
    names, stack = [], [selection_set]
    while stack:
        for node in stack.pop().selections:
            if isinstance(node, FragmentSpreadNode):
                names.append(node.name.value)
            elif (nested := getattr(node, "selection_set", None)) is not None:
                stack.append(nested)
    return names
