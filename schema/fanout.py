"""Shared subscription results: an event's selection is executed and encoded once for every subscriber that selects
the same fields with the same visibility, and each subscriber's operation sends those bytes under its own id."""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, Protocol

import orjson
from graphql import DocumentNode, FieldNode, GraphQLResolveInfo, execute, print_ast
from strawberry.schema._graphql_core import execution_context_class_kwargs

from domain.events import DomainEvent


class StreamingOperation(Protocol):
    """A transport's running operation (strawberry's graphql-transport-ws Operation)."""

    id: str
    completed: bool

    async def send_operation_message(self, message: Any) -> None: ...


# Set by the graphql-transport-ws handler for the task that runs one operation; unset elsewhere (HTTP, legacy).
OPERATION: ContextVar[StreamingOperation | None] = ContextVar("rdflow_streaming_operation", default=None)

# ProjectEvent fields whose values are the event's own, the same for every viewer.
VIEWER_INDEPENDENT = frozenset(
    {"__typename", "entityType", "entityId", "action", "oldStatus", "newStatus", "at", "data"}
)

# Results kept per (selection, visibility, event): enough for every group's recent events, bounded.
MEMO_SIZE = 4096

Send = Callable[[DomainEvent], Awaitable[bool]]


class SharedResults:
    """One execution per (selection, visibility, event); concurrent subscribers await the first one's. A result with
    errors is not shared (None): each subscriber then runs its own, so error handling stays per operation."""

    def __init__(self, size: int = MEMO_SIZE):
        self.size = size
        self._memo: OrderedDict[tuple[str, str], asyncio.Future[bytes | None]] = OrderedDict()
        self.executions = 0

    def result(
        self, key: str, event: DomainEvent, run: Callable[[], Awaitable[bytes | None]]
    ) -> asyncio.Future[bytes | None]:
        memo_key = (key, event.id)
        future = self._memo.get(memo_key)
        if future is None:
            self.executions += 1
            future = asyncio.ensure_future(_safely(run))
            self._memo[memo_key] = future
            while len(self._memo) > self.size:
                self._memo.popitem(last=False)
        return future


async def _safely(run: Callable[[], Awaitable[bytes | None]]) -> bytes | None:
    try:
        return await run()
    except Exception:  # noqa: BLE001 - not shared: every subscriber runs it itself and reports its own error
        return None


SHARED = SharedResults()


def _viewer_independent(field: FieldNode) -> bool:
    selections = field.selection_set.selections if field.selection_set else ()
    return all(
        isinstance(s, FieldNode) and s.name.value in VIEWER_INDEPENDENT and not s.directives and not s.selection_set
        for s in selections
    )


def shared_sender(info: GraphQLResolveInfo, viewer_key: str, context: Any) -> Send | None:
    """How this subscription sends an event through the shared results, or None when its transport cannot (HTTP,
    legacy graphql-ws). `viewer_key` says whose view it is (user and role); selections that read only the event's
    own fields share across viewers."""
    operation = OPERATION.get()
    if operation is None or len(info.field_nodes) != 1:
        return None
    field = info.field_nodes[0]
    values = _coerced(info.variable_values)
    variables = orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str).decode()
    fragments = "".join(print_ast(f) for f in info.fragments.values())
    visibility = "" if (_viewer_independent(field) and not info.fragments) else viewer_key
    key = f"{print_ast(info.operation)}\n{fragments}\n{variables}\n{visibility}"
    document = DocumentNode(definitions=(info.operation, *info.fragments.values()))
    execution_context_class = getattr(getattr(info.schema, "_strawberry_schema", None), "execution_context_class", None)

    async def run(event: DomainEvent) -> bytes | None:
        result = execute(
            info.schema,
            document,
            root_value=event,
            context_value=context,
            variable_values=values,
            operation_name=info.operation.name.value if info.operation.name else None,
            **execution_context_class_kwargs(execution_context_class),
        )
        if isinstance(result, Awaitable):
            result = await result
        return None if result.errors else orjson.dumps({"data": result.data})

    async def send(event: DomainEvent) -> bool:
        payload = await SHARED.result(key, event, lambda: run(event))
        if payload is None:
            return False
        if not operation.completed:
            message = {"id": operation.id, "type": "next", "payload": orjson.Fragment(payload)}
            await operation.send_operation_message(message)
        return True

    return send


def _coerced(values: Any) -> dict[str, Any]:
    """The operation's variables (graphql-core 3.3 keeps them with their sources; older versions as a dict)."""
    return dict(getattr(values, "coerced", values))
