"""Logging: JSON lines in production (text in development), each carrying the request it was logged for."""

from __future__ import annotations

import contextvars
import logging
import logging.config
from dataclasses import dataclass, field
from typing import Any

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
JSON_FIELDS = "%(levelname)s %(name)s %(message)s"
RENAMED = {"levelname": "level", "name": "logger"}


@dataclass
class RequestLog:
    """What one request's log lines say about it; the GraphQL view fills in what only it knows."""

    request_id: str
    operation: str | None = None
    viewer_id: str | None = None
    error_codes: list[str] = field(default_factory=list)
    noted_errors: bool = False


_current: contextvars.ContextVar[RequestLog | None] = contextvars.ContextVar("rdflow_request", default=None)


def begin_request(request_id: str) -> contextvars.Token[RequestLog | None]:
    return _current.set(RequestLog(request_id))


def end_request(token: contextvars.Token[RequestLog | None]) -> None:
    _current.reset(token)


def current_request() -> RequestLog | None:
    return _current.get()


def note_operation(name: str | None) -> None:
    if (request := _current.get()) is not None:
        request.operation = name


def note_viewer(user_id: object) -> None:
    if (request := _current.get()) is not None and user_id is not None:
        request.viewer_id = str(user_id)


def note_errors(codes: list[str]) -> None:
    """The extensions.code of every error in an executed result (HTTP refusals are read from their body)."""
    if (request := _current.get()) is not None:
        request.error_codes.extend(codes)
        request.noted_errors = True


class RequestFields(logging.Filter):
    """Adds the current request's id, operation and viewer to every record logged while it runs."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = _current.get()
        if request is not None:
            record.request_id = request.request_id
            if request.operation:
                record.operation = request.operation
            if request.viewer_id:
                record.viewer_id = request.viewer_id
        return True


def json_formatter() -> logging.Formatter:
    from pythonjsonlogger.json import JsonFormatter

    # "time": ISO 8601 in UTC with microseconds.
    return JsonFormatter(JSON_FIELDS, rename_fields=RENAMED, timestamp="time")


def wants_json(env: str, log_format: str | None) -> bool:
    """RDFLOW_LOG_FORMAT decides when set; otherwise JSON in production, text in development."""
    return log_format == "json" if log_format else env == "production"


def logging_config(*, json: bool, level: str) -> dict[str, Any]:
    """A dictConfig for this process and uvicorn's (its workers apply it too): one stderr handler on the root;
    uvicorn's own access log is off, the GraphQL access line replaces it."""
    formatter = {"()": "server.logs.json_formatter"} if json else {"format": TEXT_FORMAT}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request": {"()": "server.logs.RequestFields"}},
        "formatters": {"rdflow": formatter},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "rdflow",
                "filters": ["request"],
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"handlers": [], "propagate": True},
            "uvicorn.access": {"handlers": [], "propagate": False, "level": "WARNING"},
            "alembic.runtime.plugins": {"level": "WARNING"},
            # Its DEBUG lines carry every statement's parameters: password hashes, encrypted secrets.
            "aiosqlite": {"level": "INFO"},
        },
    }


def configure(*, json: bool, level: str) -> dict[str, Any]:
    config = logging_config(json=json, level=level)
    logging.config.dictConfig(config)
    return config
