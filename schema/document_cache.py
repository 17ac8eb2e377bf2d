"""Parsed and validated documents cached by their text; the query cost, which depends on the variables, is priced
per request outside validation and its refusal is placed where the former validation rule reported it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, ValidationRule
from strawberry.schema.schema import validate_document

# A hostile client sends a new text every time: entries are few and small, so the cache stays bounded in memory.
MAX_ENTRIES = 512
MAX_CACHED_QUERY_CHARS = 20_000


class _Mark(ValidationRule):
    """Reports a placeholder on entering the document, after the rules before it reported theirs: the cost errors
    go there, as when the cost was a validation rule (the last one)."""

    def enter_document(self, *_args: Any) -> None:
        self.report_error(GraphQLError(_MARK_MESSAGE))


_MARK_MESSAGE = "rdflow: the query cost is reported here"


@dataclass(frozen=True)
class Checked:
    document: DocumentNode
    before: tuple[GraphQLError, ...]
    after: tuple[GraphQLError, ...]


class DocumentCache:
    """An LRU of query text (and validation rules) -> its document and validation errors, shared by all requests."""

    def __init__(self, max_entries: int = MAX_ENTRIES, max_query_chars: int = MAX_CACHED_QUERY_CHARS):
        self.max_entries = max_entries
        self.max_query_chars = max_query_chars
        self._entries: OrderedDict[tuple[str, tuple[type, ...]], Checked] = OrderedDict()
        self._documents: OrderedDict[str, DocumentNode] = OrderedDict()

    def document(self, query: str | None) -> DocumentNode | None:
        found = self._documents.get(query) if query else None
        if found is not None:
            self._documents.move_to_end(query)  # type: ignore[arg-type]  # found implies a query
        return found

    def checked(
        self, schema: GraphQLSchema, query: str | None, document: DocumentNode, rules: tuple[type, ...]
    ) -> Checked:
        key = (query or "", rules)
        found = self._entries.get(key) if query else None
        if found is not None and found.document is document:
            self._entries.move_to_end(key)
            return found
        errors = validate_document(schema, document, (*rules, _Mark))
        mark = next((i for i, e in enumerate(errors) if e.message == _MARK_MESSAGE), len(errors))
        checked = Checked(document, tuple(errors[:mark]), tuple(errors[mark + 1 :]))
        if query and len(query) <= self.max_query_chars:
            self._remember(self._entries, key, checked)
            self._remember(self._documents, query, document)
        return checked

    def _remember(self, entries: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        entries[key] = value
        entries.move_to_end(key)
        while len(entries) > self.max_entries:
            entries.popitem(last=False)


# What prices an operation: (schema, document, operation name, variables) -> its refusals (none when within limits).
CostCheck = Callable[[GraphQLSchema, DocumentNode, str | None, dict[str, Any]], list[GraphQLError]]
