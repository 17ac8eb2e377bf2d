"""The GraphQL executor: one request context (and so one set of DataLoaders) per operation and per event."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import orjson
from graphql import GraphQLObjectType
from graphql.execution.executor import Executor
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from domain.compiled import Listing, Lookup, ReadPlan
from resolvers import compiled as compiled_reads
from resolvers.context import RequestContext
from schema.compiled import plan

log = logging.getLogger("rdflow.compiled")


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

    def execute_collected_root_fields(
        self,
        root_type: GraphQLObjectType,
        root_value: Any,
        grouped_field_set: Any,
        serially: bool,
        new_defer_usages: Any,
    ) -> Any:
        """A query the compiled path covers is answered by one SQL statement that builds its JSON; anything else
        (or a compiled read the domain declines) runs through the resolvers."""

        def generic() -> Any:
            return super(RdflowExecutionContext, self).execute_collected_root_fields(
                root_type, root_value, grouped_field_set, serially, new_defer_usages
            )

        planned = None
        if not serially and not new_defer_usages and isinstance(self.context_value, RequestContext):
            planned = plan(self, root_type, grouped_field_set)
        if planned is None:
            return generic()
        return self._compiled(*planned, generic)

    async def _compiled(
        self, read_plan: ReadPlan, roots: list[tuple[str, Listing | Lookup | str]], generic: Callable[[], Any]
    ) -> Mapping[str, Any]:
        try:
            texts = await compiled_reads.read(self.context_value, read_plan)
        except Exception:  # an outage or a bug: the resolvers answer, with their own error handling
            log.warning("compiled read failed; answering through the resolvers", exc_info=True)
            texts = None
        if texts is None:
            result = generic()
            return await result if self.is_awaitable(result) else result
        answers = iter(texts)
        # The database's JSON text goes into the response as it is (orjson splices a Fragment without decoding it).
        return {key: root if isinstance(root, str) else orjson.Fragment(next(answers)) for key, root in roots}
