"""Planning a compiled read: whether a query's selection can be answered by one SQL statement, and what it asks for.

Fields are collected exactly as graphql-core collects them (fragments, aliases, @skip/@include, merging) and
arguments are converted exactly as strawberry converts them for the resolvers, so both paths read the same rows."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import orjson
from graphql import (
    DirectiveNode,
    FieldNode,
    GraphQLField,
    GraphQLObjectType,
    OperationType,
    VariableNode,
    get_named_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetails, collect_subfields
from graphql.execution.values import get_argument_values
from graphql.language import Visitor
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
from domain.paging import ListQuery
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
    """The selection needs the generic resolvers."""


class NotCompilableValues(NotCompilable):
    """These argument values need the generic resolvers (an id or arguments they refuse, a row of a type the path
    does not cover); other values of the same operation may not."""


@dataclass(frozen=True)
class Binding:
    """Where a plan took the operation's arguments: a lookup's id or a listing's page, filter and order. Another
    request's variables are bound here without planning the selection again."""

    field_def: GraphQLField
    node: FieldNode
    expected: str | None = None  # a lookup's id type (None: `node`, any type it covers)
    type_name: str | None = None  # a lookup's row type the fields were planned for


class Planner:
    def __init__(self, executor: Any):
        self.ex = executor
        strawberry_schema = executor.schema.extensions["strawberry-definition"]
        self.scalars = strawberry_schema.schema_converter.scalar_registry
        self.config = strawberry_schema.config
        # Each planned Listing and Lookup (by identity) -> where its values came from.
        self.bindings: dict[int, Binding] = {}

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

    def lookup_id(self, field_def: GraphQLField, node: FieldNode, expected: str | None) -> tuple[str, Any]:
        """(the row's type, its raw id) from the field's `id` argument; an id the resolvers refuse (malformed, of
        another type) is theirs to answer."""
        global_id = get_argument_values(field_def, node, self.ex.variable_values).get("id")
        if not isinstance(global_id, str):
            raise NotCompilableValues("no id")
        try:
            return from_global_id(global_id) if expected is None else (expected, decode_id(global_id, expected, "id"))
        except DomainError as exc:
            raise NotCompilableValues("an id the resolvers refuse") from exc

    def _lookup(
        self, key: str, field_def: GraphQLField, details: Sequence[FieldDetails], expected: str | None
    ) -> Lookup:
        """A row by id."""
        node = details[0].node
        type_name, raw = self.lookup_id(field_def, node, expected)
        type_ = self.ex.schema.get_type(type_name)
        if type_name not in LOOKUP_TYPES or not isinstance(type_, GraphQLObjectType):
            raise NotCompilableValues(f"{type_name} by id")
        lookup = Lookup(key, ENTITIES[type_name], raw, self._object(type_, details))
        self.bindings[id(lookup)] = Binding(field_def, node, expected, type_name)
        return lookup

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
        query = self.list_query(field_def, details[0].node)
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
        listing = Listing(key, entity, parent_column, query, tuple(parts))
        self.bindings[id(listing)] = Binding(field_def, details[0].node)
        return listing

    def list_query(self, field_def: GraphQLField, node: FieldNode) -> ListQuery:
        """A connection's page, filter and order, converted as strawberry converts them for the resolvers."""
        raw = get_argument_values(field_def, node, self.ex.variable_values)
        strawberry_field = field_def.extensions["strawberry-definition"]
        args = convert_arguments(raw, strawberry_field.arguments, self.scalars, self.config)
        try:
            return to_list_query(
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
            raise NotCompilableValues("arguments the resolvers refuse") from exc

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
# Plans per (document, operation, variables): a repeated request is not planned again.
_plans: OrderedDict[tuple[str, str | None, bytes], Planned | None] = OrderedDict()
# Per (document, operation, the variables its @skip/@include read): the plan's shape and where its values came from,
# so a request with other variables (another id, page or filter) binds its values without planning the selection.
_templates: OrderedDict[tuple[str, str | None, bytes], _Template] = OrderedDict()
# Per (document, operation): the names of the variables its @skip/@include directives read.
_directive_variables: OrderedDict[tuple[str, str | None], tuple[str, ...]] = OrderedDict()


@dataclass(frozen=True)
class _Template:
    planned: Planned | None  # None: the selection itself needs the resolvers, whatever the values
    bindings: Mapping[int, Binding]
    # The plan's links, node lists and edges (by identity) with a listing below them: only these are rebuilt.
    above_listings: frozenset[int] = frozenset()


def _above_listings(roots: Sequence[Listing | Lookup]) -> frozenset[int]:
    found: set[int] = set()

    def walk(node: Any) -> bool:
        children = getattr(node, "fields", None) or getattr(node, "parts", None) or ()
        below = False
        for child in children:  # every child: each may hold listings of its own
            below = walk(child) or below
        if below:
            found.add(id(node))
        return below or isinstance(node, Listing)

    for root in roots:
        walk(root)
    return frozenset(found)


class _OtherType(Exception):
    """A lookup's id now names a row of another type than the plan's: its fields must be planned again."""


def _remember(cache: OrderedDict[Any, Any], key: Any, value: Any) -> None:
    cache[key] = value
    if len(cache) > PLAN_CACHE_SIZE:
        cache.popitem(last=False)


def _variables(values: Mapping[str, Any]) -> bytes | None:
    try:
        return orjson.dumps(values, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # a value orjson cannot write: plan it afresh
        return None


def _names_in_directives(executor: Any) -> tuple[str, ...]:
    names: set[str] = set()

    class Collect(Visitor):
        def enter_directive(self, node: DirectiveNode, *_: Any) -> None:
            names.update(a.value.name.value for a in node.arguments or () if isinstance(a.value, VariableNode))

    for node in (executor.operation, *(f.definition for f in executor.fragments.values())):
        visit(node, Collect())
    return tuple(sorted(names))


def _cache_keys(executor: Any) -> tuple[Any, Any] | None:
    """(the exact key: document text, operation name, variables; the template key: the same with only the
    variables @skip/@include read)."""
    source = executor.operation.loc.source.body if executor.operation.loc else None
    if source is None:
        return None
    name = executor.operation.name.value if executor.operation.name else None
    coerced = executor.variable_values.coerced
    variables = _variables(coerced)
    if variables is None:
        return None
    names = _directive_variables.get((source, name))
    if names is None:
        names = _names_in_directives(executor)
        _remember(_directive_variables, (source, name), names)
    shaping = _variables({n: coerced.get(n) for n in names}) if names else b""
    if shaping is None:
        return None
    return (source, name, variables), (source, name, shaping)


def plan(executor: Any, root_type: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]) -> Planned | None:
    """The read plan of a query operation and its root keys in order (each with its Listing, or the root type's
    name for `__typename`); None when the generic resolvers must answer. Cached per document, operation and
    variables (the plan is the same for every viewer: the domain applies the viewer's scope); with other variables,
    the cached plan's shape takes the new values."""
    if executor.operation.operation is not OperationType.QUERY:
        return None
    keys = _cache_keys(executor)
    if keys is None:
        return _plan(Planner(executor), root_type, grouped)[0]
    exact, shape = keys
    if exact in _plans:
        _plans.move_to_end(exact)
        return _plans[exact]
    found, planned = _from_template(executor, shape)
    if not found:
        planned, template = _plan(Planner(executor), root_type, grouped)
        if template is not None:
            _remember(_templates, shape, template)
    _remember(_plans, exact, planned)
    return planned


def _from_template(executor: Any, shape: tuple[str, str | None, bytes]) -> tuple[bool, Planned | None]:
    """(whether the operation's template answers these values, the plan it gives them: None when the resolvers
    must answer)."""
    template = _templates.get(shape)
    if template is None:
        return False, None
    _templates.move_to_end(shape)
    if template.planned is None:
        return True, None
    try:
        return True, _bind(Planner(executor), template)
    except _OtherType:
        return False, None
    except NotCompilableValues:
        return True, None


def _plan(
    planner: Planner, root_type: GraphQLObjectType, grouped: Mapping[str, list[FieldDetails]]
) -> tuple[Planned | None, _Template | None]:
    """The plan, and its template (None when only these values need the resolvers)."""
    try:
        roots = planner.roots(root_type, grouped)
    except NotCompilableValues:
        return None, None
    except NotCompilable:
        return None, _Template(None, {})
    reads = tuple(r for _, r in roots if not isinstance(r, str))
    if not reads:
        return None, _Template(None, {})
    planned: Planned = (ReadPlan(reads), roots)
    return planned, _Template(planned, planner.bindings, _above_listings(reads))


def _bind(planner: Planner, template: _Template) -> Planned:
    """The template's plan with this request's argument values (raises _OtherType when a lookup's id names
    another type, NotCompilableValues when the resolvers must answer these values)."""
    assert template.planned is not None  # the caller's check
    _, roots = template.planned
    bindings = template.bindings

    above = template.above_listings  # any other subtree is the template's own (frozen, shared)

    def fields(of: tuple[Field, ...]) -> tuple[Field, ...]:
        return tuple(field(f) for f in of)

    def field(f: Field) -> Field:
        if isinstance(f, Listing):
            return listing(f)
        return replace(f, fields=fields(f.fields)) if id(f) in above and isinstance(f, Link) else f

    def part(p: Any) -> Any:
        if id(p) not in above:
            return p
        if isinstance(p, Edges):
            return replace(p, parts=tuple(part(x) for x in p.parts))
        return replace(p, fields=fields(p.fields))

    def listing(e: Listing) -> Listing:
        binding = bindings[id(e)]
        query = planner.list_query(binding.field_def, binding.node)
        return replace(e, query=query, parts=tuple(part(p) for p in e.parts))

    def lookup(e: Lookup) -> Lookup:
        inner = fields(e.fields) if id(e) in above else e.fields
        binding = bindings.get(id(e))
        if binding is None:  # `me`: no argument
            return e if inner is e.fields else replace(e, fields=inner)
        type_name, raw = planner.lookup_id(binding.field_def, binding.node, binding.expected)
        if type_name != binding.type_name:
            raise _OtherType
        return replace(e, id=raw, fields=inner)

    def root(e: Listing | Lookup) -> Listing | Lookup:
        return listing(e) if isinstance(e, Listing) else lookup(e)

    bound = [(key, r if isinstance(r, str) else root(r)) for key, r in roots]
    return ReadPlan(tuple(r for _, r in bound if not isinstance(r, str))), bound
