"""Extra job kinds named by configuration (RDFLOW_JOB_MODULES): each module exposes `HANDLERS: dict[str, Handler]`."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

from jobs.registry import Handler


def load_handler_modules(names: Iterable[str], known: Iterable[str] = ()) -> dict[str, Handler]:
    """Handlers from each named module, refusing a missing module, a module without HANDLERS and a kind twice."""
    taken = set(known)
    handlers: dict[str, Handler] = {}
    for name in names:
        try:
            module = importlib.import_module(name)
        except ImportError as exc:
            raise ValueError(f"RDFLOW_JOB_MODULES: cannot import {name!r}: {exc}") from exc
        extra = getattr(module, "HANDLERS", None)
        if not isinstance(extra, dict):
            raise ValueError(f"RDFLOW_JOB_MODULES: module {name!r} has no HANDLERS dict")
        for kind, handler in extra.items():
            if kind in taken or kind in handlers:
                raise ValueError(f"RDFLOW_JOB_MODULES: module {name!r} redefines job kind {kind!r}")
            if not callable(handler):
                raise ValueError(f"RDFLOW_JOB_MODULES: {name}.HANDLERS[{kind!r}] is not callable")
            handlers[kind] = handler
    return handlers
