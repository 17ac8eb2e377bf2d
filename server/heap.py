"""The serving process's garbage collector: what startup built is frozen out of every collection, and young objects
are collected in larger batches; full collections are rarer.

A started server holds ~300,000 long-lived objects (the schema, SQLAlchemy's metadata, compiled statements, caches).
With CPython's default thresholds each request's allocations trigger a young collection every few hundred objects
and, every hundred or so of those, a pass over the older generations that walks all of them: measured on the D2
read (bench/asgi_cost.py), ~60 us of every request's ~550 us, and a full collection pauses every request in flight
for tens of milliseconds (with 10,000 WebSockets, longer). Freezing moves what exists after startup into the
permanent generation, which collections skip; reference counting still frees it."""

from __future__ import annotations

import gc

# Young objects per collection (CPython's default is 700); the middle generation after 20 young collections.
YOUNG_THRESHOLD = 5_000
OLDER_THRESHOLD = 20
# A full collection after at least 100 middle ones (about 10 million allocations; CPython's own rule also waits for
# the objects promoted since the last one to reach a quarter of the old generation). A full collection walks every
# live object: with 10,000 WebSockets open (~10 million objects) that is a ~1.1 s pause for every connection and
# every delivery; with 20 it came every ~2 million allocations, several times while 10,000 clients connected.
OLDEST_THRESHOLD = 100


def settle() -> None:
    """Called once, when startup is complete: collect the garbage startup left, then freeze the rest."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, OLDER_THRESHOLD, OLDEST_THRESHOLD)
