"""The GraphQL executor: one request context (and so one set of DataLoaders) per operation and per event."""

from __future__ import annotations

from typing import Any

from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


def _fresh(context: Any) -> Any:
    for_operation = getattr(context, "for_operation", None)
    return for_operation() if for_operation is not None else context


class RdflowExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """A WebSocket shares one context between all its operations; loaders cached on it would serve stale rows
    and grow for the connection's life, so every operation and every subscription event gets its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context_value = _fresh(self.context_value)

    def build_per_event_executor(self, payload: Any) -> Executor:
        executor = super().build_per_event_executor(payload)
        # graphql-core 3.3.2 shares the sub-field memo between a subscription's events, keyed by the identity
        # of each event's new field lists: it gains an entry per event and is never released.
        executor._relevant_sub_fields = {}
        executor.context_value = _fresh(self.context_value)
        return executor
