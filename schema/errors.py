"""Error presentation: domain errors get their code and error id; outages are SERVICE_UNAVAILABLE; anything else
unexpected is masked and logged."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable

from graphql import GraphQLError

from domain.errors import DomainError, InvalidInput

log = logging.getLogger("rdflow.errors")

# Given by the composition root: the SERVICE_UNAVAILABLE error when an exception means a dependency is down.
Outage = Callable[[BaseException], DomainError | None]


def no_outage(_: BaseException) -> None:
    return None


def present(error: GraphQLError, outage: Outage = no_outage) -> GraphQLError:
    original = error.original_error
    if original is not None and not isinstance(original, DomainError):
        original = outage(original) or original
    if isinstance(original, DomainError):
        extensions = {"code": original.code, "errorId": original.error_id, **original.details}
        if original.field:
            extensions["field"] = original.field
        return GraphQLError(original.message, error.nodes, error.source, error.positions, error.path, None, extensions)
    if original is None or error.path is None:
        # Parse, validation and variable-coercion failures: the client's input, described by graphql-core.
        bad = InvalidInput(error.message)
        return GraphQLError(
            error.message,
            error.nodes,
            error.source,
            error.positions,
            error.path,
            None,
            {"code": bad.code, "errorId": bad.error_id, **(error.extensions or {})},
        )
    incident = uuid.uuid4().hex
    log.error("unexpected error, incident %s, path %s", incident, error.path, exc_info=original)
    return GraphQLError(
        f"Internal server error (incident {incident})",
        error.nodes,
        error.source,
        error.positions,
        error.path,
        None,
        {"code": "INTERNAL_SERVER_ERROR", "errorId": "ERR_500_001", "incident": incident},
    )
