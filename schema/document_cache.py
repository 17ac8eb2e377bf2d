"""Parsed and validated documents cached by their text; the query cost, which depends on the variables, is priced
per request outside validation and its refusal is placed where the former validation rule reported it."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import DocumentNode, GraphQLError, GraphQLSchema, ValidationRule
from strawberry.schema.schema import validate_document

from schema.limits import page_variables_of

# A hostile client sends a new text every time: entries are few and small, so the cache stays bounded in memory.
MAX_ENTRIES = 512
MAX_CACHED_QUERY_CHARS = 20_000
# Costs remembered per document, by operation and page-size variables (a client may vary `first` freely).
MAX_PRICED = 64
_ABSENT = object()


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
    # The variables the cost can read (those given as first/last anywhere in the document).
    page_variables: tuple[str, ...] = ()
    _costs: dict[Any, list[GraphQLError]] = field(default_factory=dict, compare=False, repr=False)

    def priced(
        self, operation_name: str | None, variables: dict[str, Any], price: Callable[[], list[GraphQLError]]
    ) -> list[GraphQLError]:
        """The cost refusals of the operation with these variables, priced once per operation and page sizes."""
        try:
            key = (operation_name, tuple(_typed(variables.get(n, _ABSENT)) for n in self.page_variables))
            found = self._costs.get(key)
        except TypeError:  # a list or object where a number belongs: priced each time (and refused when it runs)
            return price()
        if found is None:
            found = price()
            if len(self._costs) >= MAX_PRICED:
                self._costs.clear()
            self._costs[key] = found
        return list(found)


def _typed(value: Any) -> tuple[type, Any]:
    # 1, 1.0 and True are equal keys, but only an int is a page size to the cost.
    return type(value), value


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
        checked = Checked(document, tuple(errors[:mark]), tuple(errors[mark + 1 :]), page_variables_of(document))
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
