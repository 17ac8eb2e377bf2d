"""Hypothesis strategies: operations generated from the schema by hypothesis-graphql, with hostile scalar values,
long lists and (half the time) arguments sent as variables, which graphql-core coerces by another path."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, timedelta, timezone
from typing import Any

import graphql
from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    IntValueNode,
    ListValueNode,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    StringValueNode,
    VariableDefinitionNode,
    VariableNode,
)
from hypothesis import strategies as st
from hypothesis_graphql import Mode, from_schema, mutations, queries

from resolvers.ids import from_global_id, to_global_id

NODE_TYPES = (
    "Project",
    "Requirement",
    "Task",
    "CodeArtifact",
    "TestResult",
    "Deployment",
    "Job",
    "User",
    "PrdDocument",
)
NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "x\udfffy",
    "\u202egnp.exe",
    "\ufeff",
    "🚀" * 40,
    "Z̴̡̛a̷l̶g̸o̵",
    "\n\r\t\x0b\x1b[31m",
    "../../../../etc/passwd",
    "/etc/shadow",
    "C:\\Windows\\system32",
    "app/../../secret.py",
    "{0}{1}%s%n%x",
    "${jndi:ldap://x/a}",
    "<script>alert(1)</script>",
    "' OR '1'='1",
    "'; DROP TABLE users; --",
    '" OR 1=1 --',
    "%_%",
    "\\",
    "null",
    "NaN",
    "-1",
    "1e309",
]
PLAUSIBLE_TEXT = [
    "python",
    "fastapi",
    "fuzz@example.com",
    "Fuzz-pass-word-9",
    "app/main.py",
    "prd",
    "prd.default",
    "code.default",
    "offline",
    "anthropic",
    "pytest",
    "1.0.0",
    "ACTIVE",
    "http://127.0.0.1:9/v1",
]
EXTREME_INTS = [0, -1, 1, 2**31 - 1, -(2**31), 2**31, -(2**31) - 1, 2**53 + 1, 2**63, -(2**63) - 1, 10**40]
EXTREME_FLOATS = ["0.0", "-0.0", "1e308", "-1e308", "5e-324", "1e-320", "123456789012345678901234567890.5"]
ZONES = [None, UTC, timezone(timedelta(hours=14)), timezone(timedelta(hours=-14)), timezone(timedelta(minutes=-1))]
ODD_DATETIMES = [
    "0001-01-01T00:00:00+14:00",
    "9999-12-31T23:59:59-14:00",
    "0001-01-01T00:00:00",
    "9999-12-31T23:59:59.999999",
    "2024-02-30T00:00:00Z",
    "2024-13-45T99:99:99",
    "2024-05-01",
    "2024-05-01T12:00:00Z",
    "+275760-09-13T00:00:00Z",
    "now",
    "",
    "1714564800",
]
ODD_DATES = [
    "0001-01-01",
    "9999-12-31",
    "0000-00-00",
    "2024-02-30",
    "2024-05-01T12:00:00",
    "-0001-01-01",
    "tomorrow",
    "",
]
KINDS = ("query", "mutation", "mutation", "negative")
# Which node type an ID argument or input field names, so most ids drawn for it exist and have the right type.
ID_TYPES = {
    "projectId": "Project",
    "requirementId": "Requirement",
    "taskId": "Task",
    "dependsOnId": "Task",
    "parentId": "Task",
    "dependencyIds": "Task",
    "artifactId": "CodeArtifact",
    "artifactIds": "CodeArtifact",
    "prdId": "PrdDocument",
    "userId": "User",
    "assignedTo": "User",
    "actorId": "User",
}
# For an `id` argument: the type its field name mentions (first match wins).
FIELD_TYPES = (
    ("aimodel", "AiModelConfig"),
    ("prd", "PrdDocument"),
    ("project", "Project"),
    ("requirement", "Requirement"),
    ("task", "Task"),
    ("artifact", "CodeArtifact"),
    ("testresult", "TestResult"),
    ("deployment", "Deployment"),
    ("job", "Job"),
    ("user", "User"),
)
PAGE_SIZES = ("first", "last")
LIST_FACTORS = (None, None, None, 50, 2_000)
MAX_LIST_CHARS = 1_500_000  # past the 1 MB body cap (413) is far enough


@dataclasses.dataclass(frozen=True)
class Operation:
    query: str
    variables: dict[str, Any]
    root_keys: tuple[str, ...]
    is_mutation: bool

    def body(self) -> dict[str, Any]:
        return {"query": self.query, "variables": self.variables}


def _string(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[graphql.ValueNode]:
    return strategy.map(lambda value: StringValueNode(value=value))


def hostile_text() -> st.SearchStrategy[str]:
    surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
    return st.one_of(
        st.sampled_from(NASTY_TEXT),
        st.sampled_from(PLAUSIBLE_TEXT),
        st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1, max_size=24),
        st.text(max_size=40),
        st.text(st.one_of(st.characters(), surrogates), max_size=20),
        st.integers(1_000, 300_000).map(lambda n: "é" * n),
        st.text(min_size=1, max_size=8).map(lambda s: f"fuzz-{s}@example.com"),
    )


def hostile_ids(seeded: list[str]) -> st.SearchStrategy[str]:
    raw = [from_global_id(global_id)[1] for global_id in seeded]
    return st.one_of(
        st.sampled_from(seeded),
        st.tuples(st.sampled_from(NODE_TYPES), st.sampled_from(raw)).map(lambda t: to_global_id(*t)),
        st.tuples(st.sampled_from([*NODE_TYPES, "Nope", ""]), st.uuids()).map(lambda t: to_global_id(*t)),
        st.sampled_from(["", "====", "UHJvamVjdDpub3QtYS11dWlk", "//79", str(uuid.UUID(int=0))]),
        hostile_text(),
    )


def hostile_scalars(seeded: list[str]) -> dict[str, st.SearchStrategy[graphql.ValueNode]]:
    """Value nodes per scalar name; hypothesis-graphql consults these before its built-in scalars."""
    ints = st.one_of(st.integers(-(2**31), 2**31 - 1), st.integers(0, 200), st.sampled_from(EXTREME_INTS))
    floats = st.one_of(st.floats(allow_nan=False, allow_infinity=False).map(repr), st.sampled_from(EXTREME_FLOATS))
    datetimes = st.datetimes(timezones=st.sampled_from(ZONES)).map(lambda d: d.isoformat())
    return {
        "ID": st.one_of(_string(hostile_ids(seeded)), ints.map(lambda n: IntValueNode(value=str(n)))),
        "String": _string(hostile_text()),
        "Int": ints.map(lambda n: IntValueNode(value=str(n))),
        "Float": floats.map(lambda f: FloatValueNode(value=f)),
        "DateTime": _string(st.one_of(datetimes, st.sampled_from(ODD_DATETIMES), hostile_text())),
        "Date": _string(st.one_of(st.dates().map(lambda d: d.isoformat()), st.sampled_from(ODD_DATES))),
    }


def _document(document: DocumentNode) -> DocumentNode:
    return document


def _copy(node: graphql.Node, **changes: Any) -> Any:
    fields = {key: getattr(node, key) for key in node.keys if key != "loc"}
    return type(node)(**{**fields, **changes})


class _LongLists(graphql.Visitor):
    """Repeats the items of the first list `factor` times, unless that would pass MAX_LIST_CHARS of query text."""

    def __init__(self, factor: int):
        super().__init__()
        self.factor = factor
        self.done = False

    def leave_list_value(self, node: ListValueNode, *_: Any) -> ListValueNode:
        if self.done or not node.values or len(graphql.print_ast(node)) * self.factor > MAX_LIST_CHARS:
            return node
        self.done = True
        return _copy(node, values=tuple(node.values) * self.factor)


def _id_type(field: str, argument: str) -> str | None:
    if argument in ID_TYPES:
        return ID_TYPES[argument]
    if argument != "id":
        return None
    return next((type_name for key, type_name in FIELD_TYPES if key in field.lower()), "any")


class _Retarget:
    """Most values of ID arguments become seeded ids of the type they name, and most page sizes small, so
    operations get past validation into the services (the rest stay hostile)."""

    def __init__(self, draw: st.DrawFn, by_type: dict[str, list[str]]):
        self.draw = draw
        self.by_type = {**by_type, "any": [i for ids in by_type.values() for i in ids]}

    def value(self, node: graphql.ValueNode, type_name: str | None) -> graphql.ValueNode:
        if isinstance(node, ListValueNode):
            return _copy(node, values=tuple(self.value(v, type_name) for v in node.values))
        if isinstance(node, graphql.ObjectValueNode):
            fields = tuple(_copy(f, value=self.value(f.value, ID_TYPES.get(f.name.value))) for f in node.fields)
            return _copy(node, fields=fields)
        ids = self.by_type.get(type_name or "")
        if ids and isinstance(node, StringValueNode | IntValueNode) and self.draw(st.integers(0, 9)) < 8:
            return StringValueNode(value=self.draw(st.sampled_from(ids)))
        return node

    def selections(self, selections: tuple[graphql.SelectionNode, ...]) -> tuple[graphql.SelectionNode, ...]:
        result = []
        for selection in selections:
            if isinstance(selection, FieldNode):
                selection = _copy(selection, arguments=tuple(self.argument(selection, a) for a in selection.arguments))
            if selection.selection_set is not None:
                children = self.selections(selection.selection_set.selections)
                selection = _copy(selection, selection_set=_copy(selection.selection_set, selections=children))
            result.append(selection)
        return tuple(result)

    def argument(self, field: FieldNode, argument: ArgumentNode) -> ArgumentNode:
        name = argument.name.value
        if name in PAGE_SIZES and isinstance(argument.value, IntValueNode) and self.draw(st.booleans()):
            return _copy(argument, value=IntValueNode(value=str(self.draw(st.integers(0, 20)))))
        return _copy(argument, value=self.value(argument.value, _id_type(field.name.value, name)))

    def document(self, document: DocumentNode) -> DocumentNode:
        op = document.definitions[0]
        selections = self.selections(op.selection_set.selections)
        return DocumentNode(definitions=(_copy(op, selection_set=_copy(op.selection_set, selections=selections)),))


def _hoist(document: DocumentNode, schema: graphql.GraphQLSchema) -> tuple[DocumentNode, dict[str, Any]]:
    """The root fields' arguments moved into variables of the argument's declared type."""
    op: OperationDefinitionNode = document.definitions[0]
    root = schema.mutation_type if op.operation is OperationType.MUTATION else schema.query_type
    variables: dict[str, Any] = {}
    definitions: list[VariableDefinitionNode] = []
    selections = []
    for selection in op.selection_set.selections:
        field = root.fields.get(selection.name.value) if isinstance(selection, FieldNode) else None
        if field is None:
            selections.append(selection)
            continue
        arguments = []
        for argument in selection.arguments:
            declared = field.args.get(argument.name.value)
            if declared is None:
                arguments.append(argument)
                continue
            name = f"v{len(definitions)}"
            variables[name] = graphql.value_from_ast_untyped(argument.value)
            variable = VariableNode(name=NameNode(value=name))
            definitions.append(
                VariableDefinitionNode(variable=variable, type=graphql.parse_type(str(declared.type)), directives=())
            )
            arguments.append(ArgumentNode(name=argument.name, value=variable))
        selections.append(_copy(selection, arguments=tuple(arguments)))
    op = _copy(
        op,
        variable_definitions=tuple(definitions),
        selection_set=_copy(op.selection_set, selections=tuple(selections)),
    )
    return DocumentNode(definitions=(op,)), variables


def operations(schema: graphql.GraphQLSchema, seeded: list[str]) -> st.SearchStrategy[Operation]:
    """Queries (several root fields), mutations (one root field, so a refusal is all-or-nothing) and operations with
    one schema violation, with hostile values inline or as variables."""
    scalars = hostile_scalars(seeded)
    by_type: dict[str, list[str]] = {}
    for global_id in seeded:
        by_type.setdefault(from_global_id(global_id)[0], []).append(global_id)
    options = {"custom_scalars": scalars, "print_ast": _document}
    per_mutation = {name: mutations(schema, fields=[name], **options) for name in schema.mutation_type.fields}
    documents = {
        "query": queries(schema, **options),
        "mutation": st.sampled_from(sorted(per_mutation)).flatmap(per_mutation.__getitem__),
        "negative": from_schema(schema, mode=Mode.NEGATIVE, **options),
    }

    @st.composite
    def build(draw: st.DrawFn) -> Operation:
        document = _Retarget(draw, by_type).document(draw(documents[draw(st.sampled_from(KINDS))]))
        factor = draw(st.sampled_from(LIST_FACTORS))
        if factor:
            document = graphql.visit(document, _LongLists(factor))
        variables: dict[str, Any] = {}
        if draw(st.booleans()):
            document, variables = _hoist(document, schema)
        op = document.definitions[0]
        keys = tuple((s.alias or s.name).value for s in op.selection_set.selections if isinstance(s, FieldNode))
        return Operation(graphql.print_ast(document), variables, keys, op.operation is OperationType.MUTATION)

    return build()
