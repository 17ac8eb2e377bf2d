"""The plan of a compiled read: the rows, columns, links and pages one query asks for, in response-key order."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any, Union

from domain.paging import ListQuery


class Kind(str, Enum):
    """How a column is presented in the response (the same text the GraphQL scalar or enum would give)."""

    TEXT = "text"
    ENUM = "enum"
    ID = "id"  # the row's global id: arg is the type name
    TIMESTAMP = "timestamp"
    DATE = "date"
    DECIMAL = "decimal"  # presented as a GraphQL Float
    JSON_LIST = "json_list"  # a JSON column holding a list of strings


@dataclass(frozen=True)
class Value:
    key: str
    column: str
    kind: Kind
    arg: str = ""


@dataclass(frozen=True)
class Literal:
    """A constant string, e.g. `__typename`."""

    key: str
    text: str


@dataclass(frozen=True)
class Link:
    """The row (or null) whose id is this row's `column`, e.g. task.requirement."""

    key: str
    entity: str
    column: str
    fields: tuple[Field, ...]


class PageField(str, Enum):
    HAS_NEXT = "hasNextPage"
    HAS_PREVIOUS = "hasPreviousPage"
    START_CURSOR = "startCursor"
    END_CURSOR = "endCursor"


@dataclass(frozen=True)
class PageValue:
    key: str
    field: PageField


@dataclass(frozen=True)
class Cursor:
    key: str


@dataclass(frozen=True)
class EdgeNode:
    key: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Nodes:
    key: str
    fields: tuple[Field, ...]


@dataclass(frozen=True)
class Edges:
    key: str
    parts: tuple[Literal | Cursor | EdgeNode, ...]


@dataclass(frozen=True)
class PageInfo:
    key: str
    parts: tuple[Literal | PageValue, ...]


@dataclass(frozen=True)
class Total:
    key: str


@dataclass(frozen=True)
class Listing:
    """A connection: `entity` rows matching `query`, below the parent row's id through `parent_column` (None at
    the root, where the query carries the viewer's scope)."""

    key: str
    entity: str
    parent_column: str | None
    query: ListQuery
    parts: tuple[Literal | Nodes | Edges | PageInfo | Total, ...]

    def scoped(self, query: ListQuery) -> Listing:
        return replace(self, query=query)


@dataclass(frozen=True)
class Lookup:
    """A root row by id (`node(id:)`, `project(id:)`...; no id: the viewer's own user, `me`), restricted to
    `member_id`'s projects when set; no row (missing, or outside the scope) reads as null and the resolvers answer
    instead, with their error."""

    key: str
    entity: str
    id: uuid.UUID | None
    fields: tuple[Field, ...]
    member_id: Any = None

    def scoped_to(self, member_id: Any) -> Lookup:
        return replace(self, member_id=member_id)

    def of(self, row_id: uuid.UUID) -> Lookup:
        return replace(self, id=row_id)


Field = Union[Value, Literal, Link, Listing]  # noqa: UP007  # a runtime alias the dataclasses above refer to


@dataclass(frozen=True)
class ReadPlan:
    """The root connections and rows of one query operation, each answered as one JSON text."""

    roots: tuple[Listing | Lookup, ...]
