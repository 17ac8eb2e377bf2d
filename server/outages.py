"""Outages: which failures mean a dependency is down, and how the API answers them (503 + Retry-After, close 1013)."""

from __future__ import annotations

import logging
import socket

from asyncpg.exceptions import (
    InsufficientResourcesError,
    OperatorInterventionError,
    PostgresConnectionError,
    ReadOnlySQLTransactionError,
)
from asyncpg.exceptions import InterfaceError as AsyncpgInterfaceError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from domain.errors import ServiceUnavailable

log = logging.getLogger("rdflow.outages")

RETRY_AFTER_S = 2
WS_TRY_AGAIN_LATER = 1013

# What is down, by the exception a client library raises; OperationalError also covers a locked or read-only SQLite.
_DOWN: tuple[tuple[tuple[type[BaseException], ...], str], ...] = (
    ((OperationalError, InterfaceError, PoolTimeout), "the database"),
    # Under SQLAlchemy's generic DBAPIError: "the database system is shutting down", "... is starting up", ...; too
    # many connections, a full disk, out of memory (class 53); a server that became a read-only standby (25006).
    (
        (
            PostgresConnectionError,
            OperatorInterventionError,
            AsyncpgInterfaceError,
            InsufficientResourcesError,
            ReadOnlySQLTransactionError,
        ),
        "the database",
    ),
    ((RedisConnectionError, RedisTimeoutError), "Redis"),
    ((ConnectionError, TimeoutError, socket.gaierror), "a dependency"),
)


def _down(exc: BaseException) -> str | None:
    for types, what in _DOWN:
        if isinstance(exc, types):
            return what
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return "the database"
    return None


def unavailable(exc: BaseException) -> ServiceUnavailable | None:
    """The SERVICE_UNAVAILABLE answer when `exc` (or an exception it was raised from) means a dependency is down."""
    seen: BaseException | None = exc
    for _ in range(8):
        if seen is None:
            return None
        what = _down(seen)
        if what is not None:
            log.warning("%s is unavailable: %s: %s", what, type(seen).__name__, seen)
            return ServiceUnavailable(f"{what} is unavailable; retry in a few seconds")
        seen = seen.__cause__
    return None
