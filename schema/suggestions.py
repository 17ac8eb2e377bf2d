"""Hiding graphql-core's "Did you mean ...?" hints, which name schema fields, arguments, types and values: with
introspection off the schema is not public, so validation and variable errors must not spell it out.
Post-processing the messages works whatever graphql-core version strawberry runs on."""

from __future__ import annotations

import re

from graphql import GraphQLError

# graphql-core's did_you_mean(): " Did you mean " [sub-message] quoted names "?"; GraphQL names never hold "?".
SUGGESTION = re.compile(r" Did you mean [^?]*\?")


def without_suggestions(error: GraphQLError) -> GraphQLError:
    message = SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message, error.nodes, error.source, error.positions, error.path, error.original_error, error.extensions
    )
