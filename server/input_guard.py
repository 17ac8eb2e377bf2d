"""Refuses strings no database can store (NUL, lone surrogates) anywhere in a GraphQL request, naming the input."""

from __future__ import annotations

import contextlib
from typing import Any

from graphql import ArgumentNode, GraphQLError, GraphQLFormattedError, StringValueNode, VariableNode, parse, visit
from graphql.language import Visitor

from domain.errors import InvalidInput
from domain.validation import UNSTORABLE

# A GraphQL string literal can only carry NUL through an escape (the lexer refuses a raw one).
ESCAPE = "\\u"


def _bad_path(value: Any, path: tuple[str | int, ...] = ()) -> tuple[str | int, ...] | None:
    if isinstance(value, str):
        return path if UNSTORABLE.search(value) else None
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for key, item in items:
        if isinstance(key, str) and UNSTORABLE.search(key):
            return (*path, key)
        found = _bad_path(item, (*path, key))
        if found is not None:
            return found
    return None


class _Names(Visitor):
    """The input name (argument or input-object field) around each string literal and variable use."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self.bad_literal: str | None = None
        self.variables: dict[str, str] = {}

    def enter_argument(self, node: ArgumentNode, *_: Any) -> None:
        self.names.append(node.name.value)

    def leave_argument(self, *_: Any) -> None:
        self.names.pop()

    enter_object_field = enter_argument
    leave_object_field = leave_argument

    def enter_string_value(self, node: StringValueNode, *_: Any) -> None:
        if self.bad_literal is None and UNSTORABLE.search(node.value):
            self.bad_literal = self.names[-1] if self.names else "query"

    def enter_variable(self, node: VariableNode, *_: Any) -> None:
        if self.names:
            self.variables.setdefault(node.name.value, self.names[-1])


def _names(query: str | None) -> _Names:
    names = _Names()
    if query:
        with contextlib.suppress(GraphQLError):  # a syntax error is reported by the normal parse, with its location
            visit(parse(query), names)
    return names


def _refuse(field: str) -> InvalidInput:
    return InvalidInput(f"{field} contains a NUL character or a lone surrogate, which cannot be stored", field=field)


def check_request(query: str | None, variables: dict[str, Any] | None) -> None:
    """Raise InvalidInput naming the first unstorable string in the variables or the query's literals."""
    path = _bad_path(variables) if variables else None
    if path is not None:
        inner = [p for p in path[1:] if isinstance(p, str)]
        field = inner[-1] if inner else _names(query).variables.get(str(path[0]), str(path[0]))
        raise _refuse(field)
    if query and ESCAPE in query:
        literal = _names(query).bad_literal
        if literal is not None:
            raise _refuse(literal)


def operation_refusal(payload: Any) -> GraphQLFormattedError | None:
    """For a WebSocket operation (whose payload bypasses the HTTP checks): its error in the contract, or None."""
    if not isinstance(payload, dict):
        return None
    try:
        check_request(
            payload.get("query"), payload.get("variables") if isinstance(payload.get("variables"), dict) else None
        )
    except InvalidInput as error:
        return {
            "message": error.message,
            "extensions": {"code": error.code, "errorId": error.error_id, "field": error.field},
        }
    return None
