"""Plain leaf fields skip graphql-core's per-field machinery (schema/execution.py): same answers and same errors as
the standard path, for values, nulls, unknown enum values and fields with resolvers."""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

import pytest
import strawberry
from graphql.execution.executor import Executor
from strawberry.extensions import FieldExtension

from schema.execution import RdflowExecutionContext


@strawberry.enum
class Color(enum.Enum):
    RED = "red"


class Upper(FieldExtension):
    """A field extension on a field without a resolver: the field is not plain, the extension must run."""

    def resolve(self, next_, source, info, **kwargs):
        return next_(source, info, **kwargs).upper()


def _loud(root: strawberry.Parent[Any]) -> str:
    """A resolver of the parent alone (as the global ids are): plain, called directly."""
    return root.name.upper()


@strawberry.type
class Item:
    name: str
    color: Color
    note: str | None
    at: datetime
    code: str = strawberry.field(extensions=[Upper()])
    loud: str = strawberry.field(resolver=_loud)

    @strawberry.field
    def shout(self) -> str:
        return self.name.upper()


def _items() -> list[Item]:
    at = datetime(2026, 11, 29, tzinfo=UTC)
    return [
        Item(name="a", color=Color.RED, note=None, at=at, code="a"),
        Item(name=None, color=Color.RED, note="x", at=at, code="b"),  # type: ignore[arg-type]  # a null for a non-null field
        Item(name="c", color="MELTED", note="y", at=at, code="c"),  # type: ignore[arg-type]  # a value the enum does not know
    ]


@strawberry.type
class Query:
    @strawberry.field
    def items(self) -> list[Item | None]:
        return _items()


QUERY = "{ items { name color note at shout code loud } }"


def _answer(execution_context_class: type | None) -> tuple[object, list[tuple[str, object]]]:
    schema = strawberry.Schema(Query, execution_context_class=execution_context_class)
    result = schema.execute_sync(QUERY)
    return result.data, sorted((e.message, e.path) for e in result.errors or [])


def test_answers_and_errors_are_the_standard_paths(monkeypatch: pytest.MonkeyPatch):
    calls = {"n": 0}
    standard_execute_field = Executor.execute_field

    def counted(self, *args, **kwargs):
        calls["n"] += 1
        return standard_execute_field(self, *args, **kwargs)

    monkeypatch.setattr(Executor, "execute_field", counted)
    standard = _answer(None)
    standard_calls, calls["n"] = calls["n"], 0
    fast = _answer(RdflowExecutionContext)
    assert fast == standard
    data, errors = fast
    assert data == {
        "items": [
            {
                "name": "a",
                "color": "RED",
                "note": None,
                "at": "2026-11-29T00:00:00+00:00",
                "shout": "A",
                "code": "A",
                "loud": "A",
            },
            None,
            None,
        ]
    }
    assert errors == [
        ("Cannot return null for non-nullable field Item.name.", ["items", 1, "name"]),
        ("Enum 'Color' cannot represent value: 'MELTED'", ["items", 2, "color"]),
    ]
    # graphql-core stops an object's fields at the first error that nulls it: 1 root + 7 + 1 + 2 (name, color).
    assert standard_calls == 11
    # The fast path leaves graphql-core the root, item 1's null note, method resolver and extended field, item 2's
    # null name and item 3's color that does not coerce.
    assert calls["n"] == 6
