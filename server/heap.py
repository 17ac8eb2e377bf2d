"""The serving process's garbage collector: what startup built is frozen out of every collection, and young objects
are collected in larger batches.

A started server holds ~300,000 long-lived objects (the schema, SQLAlchemy's metadata, compiled statements, caches).
With CPython's default thresholds each request's allocations trigger a young collection every few hundred objects
and, every hundred or so of those, a pass over the older generations that walks all of them: measured on the D2
read (bench/asgi_cost.py), ~60 us of every request's ~550 us, and a full collection pauses every request in flight
for tens of milliseconds (with 10,000 WebSockets, longer). Freezing moves what exists after startup into the
permanent generation, which collections skip; reference counting still frees it."""

from __future__ import annotations

import gc

# Young objects per collection (CPython's default is 700); older generations after 20 of the younger each.
YOUNG_THRESHOLD = 5_000
OLDER_THRESHOLD = 20


def settle() -> None:
    """Called once, when startup is complete: collect the garbage startup left, then freeze the rest."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDER_THRESHOLD)
