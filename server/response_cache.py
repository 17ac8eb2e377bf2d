"""The response cache: error-free query responses per viewer scope, served only while the data version they were
computed under is still the current one.

Why a hit is never stale: a miss reads the version v0 BEFORE executing, so its reads (their transaction or
statements begin later) see every write committed before v0 was read; every write unit of work bumps the version
AFTER it commits and before its response or events go out. So a write the stored body may have missed committed
after v0 was read, and its bump came later still: the current version is no longer v0 and the entry is not served.
A bump that fails (Redis down after the commit) is logged and empties this process's cache; other processes' entries
then live until their TTL. Entries are bounded in bytes (least recently used first out) and in age (TTL)."""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Hashable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from domain.ports import DataVersion

log = logging.getLogger("rdflow.cache")

# Per entry, beside its key's strings and its body: the tuple, the entry and the dict slot.
OVERHEAD_BYTES = 300

# (user id or None, role or None, query, operation name, canonical variables JSON, canonical extensions JSON)
Key = tuple[str | None, str | None, str, str | None, bytes, bytes]


@dataclass(frozen=True, slots=True)
class _Entry:
    version: Hashable
    body: bytes
    size: int
    expires: float


class ResponseCache:
    def __init__(
        self,
        versions: DataVersion,
        max_bytes: int,
        ttl_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.versions = versions
        self.max_bytes = max_bytes
        self.ttl_s = ttl_s
        self.monotonic = monotonic
        self.bytes = 0
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()
        # Part of every version: moved when a bump failed, so a miss already in flight (it read the old version)
        # cannot store a body the failed bump should have invalidated.
        self._epoch = 0

    def version(self, reading: Awaitable[Hashable] | None = None) -> Coroutine[Any, Any, Hashable | None]:
        """The version to compare or store under: `reading` (the request's one read of DataVersion.current) or one
        asked now; None when it cannot be read (the request skips the cache)."""
        return self._read(self._epoch, reading if reading is not None else self.versions.current())

    async def _read(self, epoch: int, reading: Awaitable[Hashable]) -> Hashable | None:
        try:
            return epoch, await reading
        except Exception as exc:  # noqa: BLE001 - any failure: serve uncached, the normal outage rules apply
            log.warning("response cache skipped: the data version could not be read (%s)", exc.__class__.__name__)
            return None

    def get(self, key: Key, version: Hashable) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.version != version or entry.expires <= self.monotonic():
            self._drop(key)
            return None
        self._entries.move_to_end(key)
        return entry.body

    def put(self, key: Key, version: Hashable, body: bytes) -> None:
        size = len(body) + len(key[2]) + len(key[4]) + len(key[5]) + OVERHEAD_BYTES
        if size > self.max_bytes:
            return
        if key in self._entries:
            self._drop(key)
        self._entries[key] = _Entry(version, body, size, self.monotonic() + self.ttl_s)
        self.bytes += size
        while self.bytes > self.max_bytes:
            self._drop(next(iter(self._entries)))

    def _drop(self, key: Key) -> None:
        self.bytes -= self._entries.pop(key).size

    def clear(self) -> None:
        self._epoch += 1
        self._entries.clear()
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._entries)


class BumpOrForget:
    """The data version the write path bumps: a failed bump is logged and empties this process's response cache
    (the write is committed: failing its request would tell the client it was not)."""

    def __init__(self, versions: DataVersion, caches: list[ResponseCache]):
        self.versions = versions
        self.caches = caches

    def current(self) -> Awaitable[Hashable]:
        return self.versions.current()

    async def bump(self) -> None:
        try:
            await self.versions.bump()
        except Exception:
            log.exception(
                "the data version could not be bumped after a commit: this process's response cache is "
                "emptied; other processes may serve responses from before the write for up to their TTL"
            )
            for cache in self.caches:
                cache.clear()


def _canonical(value: object) -> bytes | None:
    """Sorted-keys JSON of a JSON object (b"" when absent or empty); None when it is not an object."""
    if value is None or value == {}:
        return b""
    if not isinstance(value, dict):
        return None
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _json_param(raw: str | None) -> object:
    if raw is None or raw == "":
        return None
    return orjson.loads(raw)


@dataclass(frozen=True, slots=True)
class SingleRequest:
    """One GraphQL request over HTTP in the cache key's form. Immutable, so that one parsed body serves every request
    that sends the same bytes: `variables` is a fresh object at each reading (parsed again from the canonical JSON,
    which holds the same values), never shared between executions. The extensions are kept only as their canonical
    JSON: a request that has any takes strawberry's path, which reads them from the body."""

    query: str
    operation_name: str | None
    canonical_variables: bytes
    canonical_extensions: bytes

    @property
    def key(self) -> tuple[str, str | None, bytes, bytes]:
        return self.query, self.operation_name or None, self.canonical_variables, self.canonical_extensions

    @property
    def variables(self) -> dict[str, Any] | None:
        return orjson.loads(self.canonical_variables) if self.canonical_variables else None


# POST bodies read once: a watched dashboard sends the same few bodies over and over (a refetch by id, the same few
# ids). Bounded in entries and body size.
REMEMBERED_BODIES = 1_000
REMEMBERED_BODY_BYTES = 4_096
_remembered: dict[bytes, SingleRequest] = {}


def single_request(method: str, content_type: str, body: bytes, params: Mapping[str, str]) -> SingleRequest | None:
    """A single GraphQL request over HTTP; None for anything else (a batch, a body that is not a JSON object, a form,
    a field of the wrong type): the normal path answers (or refuses) those."""
    if method == "POST":
        if content_type.split(";", 1)[0].strip().lower() != "application/json":
            return None
        single = _remembered.get(body)
        if single is None:
            single = _read(method, body, params)
            if single is not None:
                _remember(body, single)
        return single
    return _read(method, body, params)


def _remember(body: bytes, single: SingleRequest) -> None:
    if len(body) > REMEMBERED_BODY_BYTES:
        return
    if len(_remembered) >= REMEMBERED_BODIES:
        del _remembered[next(iter(_remembered))]  # the oldest
    _remembered[body] = single


def _read(method: str, body: bytes, params: Mapping[str, str]) -> SingleRequest | None:
    try:
        if method == "POST":
            data = orjson.loads(body)
            if not isinstance(data, dict):
                return None
            query, name = data.get("query"), data.get("operationName")
            variables, extensions = data.get("variables"), data.get("extensions")
        elif method == "GET":
            query, name = params.get("query"), params.get("operationName")
            variables, extensions = _json_param(params.get("variables")), _json_param(params.get("extensions"))
        else:
            return None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(query, str) or not query or not (name is None or isinstance(name, str)):
        return None
    canonical_variables, canonical_extensions = _canonical(variables), _canonical(extensions)
    if canonical_variables is None or canonical_extensions is None:
        return None
    return SingleRequest(query, name, canonical_variables, canonical_extensions)
