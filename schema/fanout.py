"""Shared subscription results: an event's selection is executed and encoded once for every subscriber that selects
the same fields with the same visibility, and each subscriber's operation sends those bytes under its own id; over a
connection that can take frames directly, straight from the publisher's loop (no task wake-up, no ASGI layers)."""

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

# Writes one text message to the operation's connection now (False: closing, or its client is not keeping up);
# set with OPERATION when the server can (server/ws_protocol.py).
WriteText = Callable[[bytes], bool]
DIRECT_WRITER: ContextVar[WriteText | None] = ContextVar("rdflow_direct_writer", default=None)

# ProjectEvent fields whose values are the event's own, the same for every viewer.
VIEWER_INDEPENDENT = frozenset(
    {"__typename", "entityType", "entityId", "action", "oldStatus", "newStatus", "at", "data"}
)

# Results kept per (selection, visibility, event): enough for every group's recent events, bounded.
MEMO_SIZE = 4096

Send = Callable[[DomainEvent], Awaitable[bool]]
Direct = Callable[[DomainEvent], bool]


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
            self._bound()
        return future

    def now(self, key: str, event: DomainEvent, run: Callable[[DomainEvent], Any]) -> bytes | None:
        """The result when it is ready or can be made without waiting (the publisher cannot wait), else None.
        `run(event)` returns the bytes, None, or an awaitable (some resolver is async): then it becomes the shared
        future that subscribers' own tasks await."""
        memo_key = (key, event.id)
        future = self._memo.get(memo_key)
        if future is None:
            self.executions += 1
            try:
                result = run(event)
            except Exception:  # noqa: BLE001 - not shared, as in _safely
                result = None
            if isinstance(result, Awaitable):
                future = asyncio.ensure_future(_safely(lambda: result))
                self._memo[memo_key] = future
                self._bound()
                return None
            future = asyncio.get_running_loop().create_future()
            future.set_result(result)
            self._memo[memo_key] = future
            self._bound()
        return future.result() if future.done() else None

    def _bound(self) -> None:
        while len(self._memo) > self.size:
            self._memo.popitem(last=False)


async def _safely(run: Callable[[], Awaitable[bytes | None]]) -> bytes | None:
    try:
        return await run()
    except Exception:  # noqa: BLE001 - not shared: every subscriber runs it itself and reports its own error
        return None


SHARED = SharedResults()

# Printed operations and fragments by node: the document cache gives every subscriber of one query text the same
# nodes, and printing them was ~4 % of a subscriber's setup. The node is kept with its text (its id stays its own).
PRINTED_SIZE = 512
_PRINTED: OrderedDict[int, tuple[Any, str]] = OrderedDict()


def _printed(node: Any) -> str:
    entry = _PRINTED.get(id(node))
    if entry is not None and entry[0] is node:
        return entry[1]
    text = print_ast(node)
    _PRINTED[id(node)] = (node, text)
    while len(_PRINTED) > PRINTED_SIZE:
        _PRINTED.popitem(last=False)
    return text


def _viewer_independent(field: FieldNode) -> bool:
    selections = field.selection_set.selections if field.selection_set else ()
    return all(
        isinstance(s, FieldNode) and s.name.value in VIEWER_INDEPENDENT and not s.directives and not s.selection_set
        for s in selections
    )


class SharedSender:
    """`send` from the operation's task; `direct` from the publisher (None when the connection cannot)."""

    def __init__(self, send: Send, direct: Direct | None):
        self.send = send
        self.direct = direct


def shared_sender(info: GraphQLResolveInfo, viewer_key: str, context: Any) -> SharedSender | None:
    """How this subscription sends an event through the shared results, or None when its transport cannot (HTTP,
    legacy graphql-ws). `viewer_key` says whose view it is (user and role); selections that read only the event's
    own fields share across viewers."""
    operation = OPERATION.get()
    if operation is None or len(info.field_nodes) != 1:
        return None
    field = info.field_nodes[0]
    values = _coerced(info.variable_values)
    variables = orjson.dumps(values, option=orjson.OPT_SORT_KEYS, default=str).decode()
    fragments = "".join(_printed(f) for f in info.fragments.values())
    visibility = "" if (_viewer_independent(field) and not info.fragments) else viewer_key
    key = f"{_printed(info.operation)}\n{fragments}\n{variables}\n{visibility}"
    document = DocumentNode(definitions=(info.operation, *info.fragments.values()))
    execution_context_class = getattr(getattr(info.schema, "_strawberry_schema", None), "execution_context_class", None)

    def start(event: DomainEvent) -> Any:
        return execute(
            info.schema,
            document,
            root_value=event,
            context_value=context,
            variable_values=values,
            operation_name=info.operation.name.value if info.operation.name else None,
            **execution_context_class_kwargs(execution_context_class),
        )

    def encoded(result: Any) -> bytes | None:
        return None if result.errors else orjson.dumps({"data": result.data})

    async def run(event: DomainEvent) -> bytes | None:
        result = start(event)
        if isinstance(result, Awaitable):
            result = await result
        return encoded(result)

    def run_now(event: DomainEvent) -> Any:
        result = start(event)
        if isinstance(result, Awaitable):
            return _then(result, encoded)
        return encoded(result)

    async def send(event: DomainEvent) -> bool:
        payload = await SHARED.result(key, event, lambda: run(event))
        if payload is None:
            return False
        if not operation.completed:
            message = {"id": operation.id, "type": "next", "payload": orjson.Fragment(payload)}
            await operation.send_operation_message(message)
        return True

    write = DIRECT_WRITER.get()
    if write is None:
        return SharedSender(send, None)
    return SharedSender(send, _DirectWrite(operation, key, run_now, write).deliver)


class _DirectWrite:
    """One operation's direct delivery from the publisher: the shared result under the operation's id. A bound
    method of a slotted object rather than a closure: the publisher calls it for each of thousands of subscribers
    in turn, and a closure's cells are so many more objects to fetch from memory."""

    __slots__ = ("head", "key", "operation", "run_now", "write")

    def __init__(
        self, operation: StreamingOperation, key: str, run_now: Callable[[DomainEvent], Any], write: WriteText
    ):
        self.operation = operation
        self.key = key
        self.run_now = run_now
        self.write = write
        # The frame's text is `{"id":<id>,"type":"next","payload":<shared bytes>}`: only the id is this operation's.
        self.head = b'{"id":' + orjson.dumps(operation.id) + b',"type":"next","payload":'

    def deliver(self, event: DomainEvent) -> bool:
        if self.operation.completed:
            return True  # the client completed it: nothing more is sent (its task is ending)
        payload = SHARED.now(self.key, event, self.run_now)
        return payload is not None and self.write(self.head + payload + b"}")


async def _then(result: Awaitable[Any], then: Callable[[Any], bytes | None]) -> bytes | None:
    return then(await result)


def _coerced(values: Any) -> dict[str, Any]:
    """The operation's variables (graphql-core 3.3 keeps them with their sources; older versions as a dict)."""
    return dict(getattr(values, "coerced", values))
