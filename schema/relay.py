"""Relay conventions: the Node interface, global id fields, cursor connections and their field factories."""

from collections.abc import Awaitable, Callable, Iterable, Iterator, Mapping
from typing import Any, Generic, TypeVar

import strawberry
from graphql import FieldNode, FragmentSpreadNode
from strawberry.types import Info

from domain.paging import Page
from domain.repos import Repo
from resolvers import relations
from resolvers.context import RequestContext
from resolvers.ids import encode_cursor, to_global_id
from resolvers.listing import ConnectionArgs

T = TypeVar("T")


@strawberry.interface(description="An object with a global id (Relay).")
class Node:
    id: strawberry.ID


def node_id(type_name: str) -> Any:
    def resolve(root: strawberry.Parent[Any]) -> strawberry.ID:
        return strawberry.ID(to_global_id(type_name, root.id))

    return strawberry.field(resolver=resolve, description=f"Global id of this {type_name}.")


def ref_id(type_name: str, attribute: str) -> Any:
    """The global id of a referenced entity without loading it."""

    def resolve(root: strawberry.Parent[Any]) -> strawberry.ID | None:
        raw = getattr(root, attribute)
        return None if raw is None else strawberry.ID(to_global_id(type_name, raw))

    return strawberry.field(resolver=resolve)


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of a list, with cursors and the total count.")
class Connection(Generic[T]):
    @strawberry.field
    def edges(self, root: strawberry.Parent[Page[T]]) -> list[Edge[T]]:
        return [Edge(cursor=encode_cursor(o), node=item) for item, o in zip(root.items, root.offsets, strict=True)]

    @strawberry.field
    def nodes(self, root: strawberry.Parent[Page[T]]) -> list[T]:
        return list(root.items)

    @strawberry.field
    def page_info(self, root: strawberry.Parent[Page[T]]) -> PageInfo:
        return PageInfo(
            has_next_page=root.has_next,
            has_previous_page=root.has_previous,
            start_cursor=encode_cursor(root.offsets[0]) if root.offsets else None,
            end_cursor=encode_cursor(root.offsets[-1]) if root.offsets else None,
        )

    @strawberry.field
    def total_count(self, root: strawberry.Parent[Page[T]]) -> int:
        return root.total


TOTAL_ONLY = frozenset({"totalCount", "__typename"})
COUNTED = frozenset({"totalCount", "pageInfo"})  # the fields of a connection that need its COUNT


def _names(selections: Iterable[Any], fragments: Mapping[str, Any]) -> Iterator[str]:
    """The field names a selection set asks for at its own level, fragments included ("" for an unknown one)."""
    for selection in selections:
        if isinstance(selection, FieldNode):
            yield selection.name.value
        else:
            fragment = fragments.get(selection.name.value) if isinstance(selection, FragmentSpreadNode) else selection
            if fragment is None:
                yield ""
            else:
                yield from _names(fragment.selection_set.selections, fragments)


def connection_fields(info: Info[RequestContext, None]) -> frozenset[str]:
    """What the connection being resolved is asked for, read from the query's own nodes: strawberry's
    `selected_fields` converts the whole subtree, per parent row."""
    raw = info._raw_info
    return frozenset(
        name
        for node in raw.field_nodes
        if node.selection_set is not None
        for name in _names(node.selection_set.selections, raw.fragments)
    )


def rows_only(info: Info[RequestContext, None]) -> bool:
    """Whether the connection being resolved reads its rows (or cursors) only: its listing may skip the COUNT."""
    return not connection_fields(info) & COUNTED


def child_connection(
    node: type,
    repo: Repo[Any],
    parent_field: str,
    filter_type: type,
    order_type: type,
    default_order: str = "created_at",
) -> Any:
    """A connection field listing `repo` rows whose `parent_field` is the parent's id, via a DataLoader."""

    async def resolve(
        root: strawberry.Parent[Any],
        info: Info[RequestContext, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: filter_type | None = None,  # type: ignore[valid-type]  # strawberry reads types built at run time
        order_by: order_type | None = None,  # type: ignore[valid-type]  # a type built at run time
    ) -> Connection[node]:  # type: ignore[valid-type]  # a type built at run time
        args = ConnectionArgs(first, after, last, before, filter, order_by, default_order)
        # A Connection is served from a Page: its fields read the Page as their root.
        read = relations.total if connection_fields(info) <= TOTAL_ONLY else relations.page
        return await read(info.context, repo, parent_field, root.id, args)  # type: ignore[return-value]  # a Page (see above)

    return strawberry.field(resolver=resolve)


def root_connection(
    node: type, list_fn: Callable[..., Awaitable[Page]], filter_type: type, order_type: type, description: str
) -> Any:
    """A top-level connection field backed by a service's `list`."""

    async def resolve(
        info: Info[RequestContext, None],
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
        filter: filter_type | None = None,  # type: ignore[valid-type]  # strawberry reads types built at run time
        order_by: order_type | None = None,  # type: ignore[valid-type]  # a type built at run time
    ) -> Connection[node]:  # type: ignore[valid-type]  # a type built at run time
        args = ConnectionArgs(first, after, last, before, filter, order_by, rows_only=rows_only(info))
        page = await list_fn(info.context, args)
        return page  # type: ignore[return-value]  # a Connection is served from a Page (its fields' root)

    return strawberry.field(resolver=resolve, description=description)
