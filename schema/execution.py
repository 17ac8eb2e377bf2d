"""The GraphQL executor: one request context (and so one set of DataLoaders) per operation and per event."""

from __future__ import annotations

import inspect
import logging
import weakref
from collections.abc import Callable, Mapping
from operator import attrgetter
from typing import Any

import orjson
from graphql import GraphQLField, GraphQLLeafType, GraphQLObjectType, GraphQLSchema, is_leaf_type, is_non_null_type
from graphql.execution.executor import Executor
from graphql.pyutils import Undefined
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.schema.schema_converter import GraphQLCoreConverter
from strawberry.types.field import StrawberryField
from strawberry.types.fields.resolver import PARENT_PARAMSPEC, ROOT_PARAMSPEC, StrawberryResolver

from domain.compiled import Listing, Lookup, ReadPlan
from resolvers import compiled as compiled_reads
from resolvers.context import RequestContext
from schema.compiled import plan

log = logging.getLogger("rdflow.compiled")


def _fresh(context: Any) -> Any:
    for_operation = getattr(context, "for_operation", None)
    return for_operation() if for_operation is not None else context


# Per schema: (type name, field name) -> (how to read it from its parent, its leaf type) for a plain leaf field,
# None for any other.
Read = Callable[[Any], Any]
PlainFields = dict[tuple[str, str], tuple[Read, GraphQLLeafType] | None]
_PLAIN_BY_SCHEMA: weakref.WeakKeyDictionary[GraphQLSchema, PlainFields] = weakref.WeakKeyDictionary()


def _takes_only_its_parent(resolver: StrawberryResolver[Any]) -> bool:
    parameters = list(resolver.signature.parameters.values())
    parents = [resolver.reserved_parameters.get(spec) for spec in (ROOT_PARAMSPEC, PARENT_PARAMSPEC)]
    return len(parameters) == 1 and parameters[0] in parents


def _plain_field(field: GraphQLField) -> tuple[Read, GraphQLLeafType] | None:
    """A scalar or enum field read from its parent alone: strawberry's basic field (an attribute) or a synchronous
    resolver whose one parameter is the parent (e.g. a global id), with no extension and no arguments."""
    definition = (field.extensions or {}).get(GraphQLCoreConverter.DEFINITION_BACKREF)
    leaf = field.type.of_type if is_non_null_type(field.type) else field.type
    if not isinstance(definition, StrawberryField) or definition.extensions or field.args or not is_leaf_type(leaf):
        return None
    resolver = definition.base_resolver
    if resolver is None:
        # Without a resolver strawberry's own is the attribute's getter (unless exception handlers wrap it).
        return (attrgetter(definition.python_name), leaf) if getattr(field.resolve, "_is_default", False) else None
    func = resolver.wrapped_func
    if not inspect.isfunction(func) or resolver.is_async or not _takes_only_its_parent(resolver):
        return None
    return func, leaf


def _plain_fields(schema: GraphQLSchema) -> PlainFields:
    return _PLAIN_BY_SCHEMA.setdefault(schema, {})


class RdflowExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """A WebSocket shares one context between all its operations; loaders cached on it would serve stale rows
    and grow for the connection's life, so every operation and every subscription event gets its own."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.context_value = _fresh(self.context_value)
        self.plain_fields = _plain_fields(self.schema)
        # Strawberry hands every operation a middleware manager, empty unless an extension wraps resolvers.
        self.resolvers_wrapped = self.middleware_manager is not None and bool(self.middleware_manager.middlewares)

    def execute_field(
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        """A plain leaf field (most of a response's fields) is its value read from its parent and coerced by its
        type, without a resolve info, strawberry's resolver wrapping and an awaitable check per field. Anything else,
        and any plain field whose value is null or does not coerce (its error is made the standard way), goes
        through graphql-core."""
        if not self.resolvers_wrapped:
            name = field_details_list[0].node.name.value
            plain_fields = self.plain_fields
            key = (parent_type.name, name)
            if key in plain_fields:
                plain = plain_fields[key]
            else:
                field = self.schema.get_field(parent_type, name)
                plain = plain_fields[key] = _plain_field(field) if field is not None else None
            if plain is not None:
                try:
                    value = plain[0](source)
                    coerced = None if value is None else plain[1].coerce_output_value(value)
                except Exception:  # noqa: BLE001 - reported by graphql-core's own path below
                    coerced = None
                if coerced is not None and coerced is not Undefined:
                    return coerced
        return super().execute_field(parent_type, source, field_details_list, path, position_context)

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
