"""Planning a compiled read: whether a query's selection can be answered by one SQL statement, and what it asks for.

Fields are collected exactly as graphql-core collects them (fragments, aliases, @skip/@include, merging) and
arguments are converted exactly as strawberry converts them for the resolvers, so both paths read the same rows."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from graphql import GraphQLField, GraphQLObjectType, OperationType, get_named_type
from graphql.execution.collect_fields import FieldDetails, collect_subfields
from graphql.execution.values import get_argument_values
from strawberry.types.arguments import convert_arguments

from domain.compiled import (
    Cursor,
    EdgeNode,
    Edges,
    Field,
    Kind,
    Link,
    Listing,
    Literal,
    Lookup,
    Nodes,
    PageField,
    PageInfo,
    PageValue,
    ReadPlan,
    Total,
    Value,
)
from domain.errors import DomainError
from resolvers.ids import decode_id, from_global_id
from resolvers.listing import ConnectionArgs, to_list_query

K = Kind
_STAMPS = {"createdAt": ("created_at", K.TIMESTAMP), "updatedAt": ("updated_at", K.TIMESTAMP)}

# GraphQL field -> (column, presentation), per object type the compiled path covers.
COLUMNS: Mapping[str, Mapping[str, tuple[str, Kind]]] = {
    "Project": {
        "id": ("id", K.ID),
        "name": ("name", K.TEXT),
        "description": ("description", K.TEXT),
        "status": ("status", K.ENUM),
        "techStack": ("tech_stack", K.JSON_LIST),
        "startDate": ("start_date", K.DATE),
        "endDate": ("end_date", K.DATE),
        **_STAMPS,
    },
    "Requirement": {
        "id": ("id", K.ID),
        "title": ("title", K.TEXT),
        "content": ("content", K.TEXT),
        "priority": ("priority", K.ENUM),
        "status": ("status", K.ENUM),
        **_STAMPS,
    },
    "Task": {
        "id": ("id", K.ID),
        "name": ("name", K.TEXT),
        "description": ("description", K.TEXT),
        "taskType": ("task_type", K.ENUM),
        "status": ("status", K.ENUM),
        "priority": ("priority", K.ENUM),
        "estimatedHours": ("estimated_hours", K.DECIMAL),
        "actualHours": ("actual_hours", K.DECIMAL),
        "completedAt": ("completed_at", K.TIMESTAMP),
        **_STAMPS,
    },
    "User": {
        "id": ("id", K.ID),
        "username": ("username", K.TEXT),
        "email": ("email", K.TEXT),
        "role": ("role", K.ENUM),
        "department": ("department", K.TEXT),
        "status": ("status", K.ENUM),
        "createdAt": ("created_at", K.TIMESTAMP),
        "lastLoginAt": ("last_login_at", K.TIMESTAMP),
    },
}
ENTITIES = {"Project": "projects", "Requirement": "requirements", "Task": "tasks", "User": "users"}
# (type, field) -> the column holding the linked row's id
LINKS: Mapping[tuple[str, str], str] = {
    ("Project", "createdBy"): "created_by",
    ("Requirement", "project"): "project_id",
    ("Requirement", "createdBy"): "created_by",
    ("Requirement", "assignedTo"): "assigned_to",
    ("Task", "requirement"): "requirement_id",
    ("Task", "parent"): "parent_id",
    ("Task", "assignedTo"): "assigned_to",
}
# (type, field) -> the listed rows' column holding the parent's id; None: a root connection
LISTINGS: Mapping[tuple[str, str], str | None] = {
    ("Project", "requirements"): "project_id",
    ("Project", "tasks"): "project_id",
    ("Requirement", "tasks"): "requirement_id",
    ("Query", "projects"): None,
    ("Query", "tasks"): None,
    ("Query", "users"): None,
}
# Query fields reading one row by its global id -> the id's type (None: `node`, any type below)
LOOKUPS: Mapping[str, str | None] = {"node": None, "project": "Project", "requirement": "Requirement", "task": "Task"}
LOOKUP_TYPES = frozenset({"Project", "Requirement", "Task", "User"})
PAGE_FIELDS = {f.value: f for f in PageField}
# json_build_object takes at most 100 arguments: 50 keys.
MAX_KEYS = 50


class NotCompilable(Exception):
    """The selection needs the generic resolvers (or its arguments are refused, which they report)."""


class Planner:
    def __init__(self, executor: Any):
        self.ex = executor
        strawberry_schema = executor.schema.extensions["strawberry-definition"]
        self.scalars = strawberry_schema.schema_converter.scalar_registry
        self.config = strawberry_schema.config

    def _subfields(self, parent: GraphQLObjectType, details: Sequence[FieldDetails]) -> dict[str, list[FieldDetails]]:
        ex = self.ex
        collected = collect_subfields(
            ex.schema, ex.fragments, ex.variable_values, ex.operation, parent, list(details), ex.hide_suggestions
        )
        if collected.new_defer_usages:
            raise NotCompilable("@defer")
        fields = dict(collected.grouped_field_set)
        for group in fields.values():
            _check(group)
        if len(fields) > MAX_KEYS:
            raise NotCompilable("too many keys for one JSON object")
        return fields

    def roots(
        self, root_type: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]
    ) -> list[tuple[str, Listing | Lookup | str]]:
        """Each root key with its field's plan, or with the root's type name for `__typename`."""
        out: list[tuple[str, Listing | Lookup | str]] = []
        for key, details in grouped.items():
            _check(details)
            name = details[0].node.name.value
            if name == "__typename":
                out.append((key, root_type.name))
            elif ("Query", name) in LISTINGS:
                field_def = root_type.fields[name]
                entity = ENTITIES[_node_type(field_def).name]
                out.append((key, self._listing(key, field_def, details, entity, None)))
            elif name in LOOKUPS:
                out.append((key, self._lookup(key, root_type.fields[name], details, LOOKUPS[name])))
            elif name == "me":
                user = _object_type(root_type.fields[name])
                out.append((key, Lookup(key, ENTITIES[user.name], None, self._object(user, details))))
            else:
                raise NotCompilable(f"Query.{name}")
        return out

    def _lookup(
        self, key: str, field_def: GraphQLField, details: Sequence[FieldDetails], expected: str | None
    ) -> Lookup:
        """A row by id; an id the resolvers refuse (malformed, of another type) is theirs to answer."""
        global_id = get_argument_values(field_def, details[0].node, self.ex.variable_values).get("id")
        if not isinstance(global_id, str):
            raise NotCompilable("no id")
        try:
            type_name, raw = (
                from_global_id(global_id) if expected is None else (expected, decode_id(global_id, expected, "id"))
            )
        except DomainError as exc:
            raise NotCompilable("an id the resolvers refuse") from exc
        type_ = self.ex.schema.get_type(type_name)
        if type_name not in LOOKUP_TYPES or not isinstance(type_, GraphQLObjectType):
            raise NotCompilable(f"{type_name} by id")
        return Lookup(key, ENTITIES[type_name], raw, self._object(type_, details))

    def _object(self, type_: GraphQLObjectType, details: Sequence[FieldDetails]) -> tuple[Field, ...]:
        type_name = type_.name
        columns = COLUMNS.get(type_name)
        if columns is None:
            raise NotCompilable(type_name)
        out: list[Field] = []
        for key, group in self._subfields(type_, details).items():
            name = group[0].node.name.value
            field_def = type_.fields.get(name)
            if name == "__typename":
                out.append(Literal(key, type_name))
            elif name in columns:
                column, kind = columns[name]
                out.append(Value(key, column, kind, type_name if kind is K.ID else ""))
            elif (type_name, name) in LINKS and field_def is not None:
                target = _object_type(field_def)
                fields = self._object(target, group)
                out.append(Link(key, ENTITIES[target.name], LINKS[type_name, name], fields))
            elif (type_name, name) in LISTINGS and field_def is not None:
                node_type = _node_type(field_def)
                out.append(self._listing(key, field_def, group, ENTITIES[node_type.name], LISTINGS[type_name, name]))
            else:
                raise NotCompilable(f"{type_name}.{name}")
        return tuple(out)

    def _listing(
        self,
        key: str,
        field_def: GraphQLField,
        details: Sequence[FieldDetails],
        entity: str,
        parent_column: str | None,
    ) -> Listing:
        raw = get_argument_values(field_def, details[0].node, self.ex.variable_values)
        strawberry_field = field_def.extensions["strawberry-definition"]
        args = convert_arguments(raw, strawberry_field.arguments, self.scalars, self.config)
        try:
            query = to_list_query(
                ConnectionArgs(
                    args.get("first"),
                    args.get("after"),
                    args.get("last"),
                    args.get("before"),
                    args.get("filter"),
                    args.get("order_by"),
                )
            )
        except DomainError as exc:
            raise NotCompilable("arguments the resolvers refuse") from exc
        connection = _object_type(field_def)
        parts: list[Literal | Nodes | Edges | PageInfo | Total] = []
        for part_key, group in self._subfields(connection, details).items():
            name = group[0].node.name.value
            if name == "__typename":
                parts.append(Literal(part_key, connection.name))
            elif name == "nodes":
                parts.append(Nodes(part_key, self._object(_object_type(connection.fields[name]), group)))
            elif name == "edges":
                parts.append(Edges(part_key, self._edge(_object_type(connection.fields[name]), group)))
            elif name == "pageInfo":
                parts.append(PageInfo(part_key, self._page_info(_object_type(connection.fields[name]), group)))
            elif name == "totalCount":
                parts.append(Total(part_key))
            else:
                raise NotCompilable(f"{connection.name}.{name}")
        return Listing(key, entity, parent_column, query, tuple(parts))

    def _edge(
        self, edge: GraphQLObjectType, details: Sequence[FieldDetails]
    ) -> tuple[Literal | Cursor | EdgeNode, ...]:
        parts: list[Literal | Cursor | EdgeNode] = []
        for key, group in self._subfields(edge, details).items():
            name = group[0].node.name.value
            if name == "__typename":
                parts.append(Literal(key, edge.name))
            elif name == "cursor":
                parts.append(Cursor(key))
            elif name == "node":
                parts.append(EdgeNode(key, self._object(_object_type(edge.fields[name]), group)))
            else:
                raise NotCompilable(f"{edge.name}.{name}")
        return tuple(parts)

    def _page_info(self, info: GraphQLObjectType, details: Sequence[FieldDetails]) -> tuple[Literal | PageValue, ...]:
        parts: list[Literal | PageValue] = []
        for key, group in self._subfields(info, details).items():
            name = group[0].node.name.value
            if name == "__typename":
                parts.append(Literal(key, info.name))
            elif name in PAGE_FIELDS:
                parts.append(PageValue(key, PAGE_FIELDS[name]))
            else:
                raise NotCompilable(f"{info.name}.{name}")
        return tuple(parts)


def _check(details: Sequence[FieldDetails]) -> None:
    for detail in details:
        if detail.fragment_variable_values is not None:
            raise NotCompilable("fragment arguments")
        if any(d.name.value not in ("skip", "include") for d in detail.node.directives or ()):
            raise NotCompilable("a directive")


def _object_type(field_def: GraphQLField) -> GraphQLObjectType:
    named = get_named_type(field_def.type)
    if not isinstance(named, GraphQLObjectType):
        raise NotCompilable(f"{named.name} is not an object type")
    return named


def _node_type(field_def: GraphQLField) -> GraphQLObjectType:
    return _object_type(_object_type(field_def).fields["nodes"])


Planned = tuple[ReadPlan, list[tuple[str, Listing | Lookup | str]]]
PLAN_CACHE_SIZE = 1_000
_plans: OrderedDict[tuple[str, str | None, bytes], Planned | None] = OrderedDict()


def _cache_key(executor: Any) -> tuple[str, str | None, bytes] | None:
    """(document text, operation name, variables): what a plan depends on."""
    source = executor.operation.loc.source.body if executor.operation.loc else None
    if source is None:
        return None
    try:
        variables = orjson.dumps(executor.variable_values.coerced, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson cannot write: plan it afresh
        return None
    name = executor.operation.name.value if executor.operation.name else None
    return source, name, variables


def plan(executor: Any, root_type: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]) -> Planned | None:
    """The read plan of a query operation and its root keys in order (each with its Listing, or the root type's
    name for `__typename`); None when the generic resolvers must answer. Cached per document, operation and
    variables (the plan is the same for every viewer: the domain applies the viewer's scope)."""
    if executor.operation.operation is not OperationType.QUERY:
        return None
    key = _cache_key(executor)
    if key is not None and key in _plans:
        _plans.move_to_end(key)
        return _plans[key]
    planned = _plan(executor, root_type, grouped)
    if key is not None:
        _plans[key] = planned
        if len(_plans) > PLAN_CACHE_SIZE:
            _plans.popitem(last=False)
    return planned


def _plan(executor: Any, root_type: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]) -> Planned | None:
    try:
        roots = Planner(executor).roots(root_type, grouped)
    except NotCompilable:
        return None
    reads = tuple(r for _, r in roots if not isinstance(r, str))
    if not reads:
        return None
    return ReadPlan(reads), roots
