"""The response cache's own rules: a version mismatch or an expired entry is never served, memory stays within its
bytes (least recently used out first), a failed bump empties the cache and outdates misses already in flight, and
an unreadable version skips the cache; request keys are canonical."""

from __future__ import annotations

import logging

import orjson
import pytest

from server import response_cache
from server.response_cache import OVERHEAD_BYTES, BumpOrForget, ResponseCache, single_request


class Versions:
    def __init__(self) -> None:
        self.value = 0
        self.fail_current = False
        self.fail_bump = False

    async def current(self) -> int:
        if self.fail_current:
            raise ConnectionError("redis is down")
        return self.value

    async def bump(self) -> None:
        if self.fail_bump:
            raise ConnectionError("redis is down")
        self.value += 1


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def key(name: str) -> tuple:
    return ("user", "ADMIN", "{ projects { totalCount } }", name, b"", b"")


async def test_an_entry_is_served_only_under_the_version_it_was_stored_with():
    versions = Versions()
    cache = ResponseCache(versions, 10_000, 60)
    v0 = await cache.version()
    cache.put(key("a"), v0, b"body")
    assert cache.get(key("a"), await cache.version()) == b"body"
    await versions.bump()
    assert cache.get(key("a"), await cache.version()) is None
    assert len(cache) == 0 and cache.bytes == 0  # a stale entry is dropped when found


async def test_an_entry_expires_after_its_ttl():
    clock = Clock()
    cache = ResponseCache(Versions(), 10_000, 60, monotonic=clock)
    version = await cache.version()
    cache.put(key("a"), version, b"body")
    clock.now += 59.9
    assert cache.get(key("a"), version) == b"body"
    clock.now += 0.2
    assert cache.get(key("a"), version) is None


async def test_memory_stays_within_its_bytes_least_recently_used_out_first():
    body = b"x" * 1000
    size = len(body) + len(key("a")[2]) + OVERHEAD_BYTES
    cache = ResponseCache(Versions(), 3 * size, 60)
    version = await cache.version()
    for name in "abc":
        cache.put(key(name), version, body)
    assert cache.get(key("a"), version) == body  # now the most recently used
    cache.put(key("d"), version, body)
    assert cache.bytes <= 3 * size and len(cache) == 3
    assert cache.get(key("b"), version) is None
    assert all(cache.get(key(n), version) == body for n in "acd")
    cache.put(key("huge"), version, b"x" * (3 * size))  # larger than the whole cache: not kept, nothing evicted
    assert cache.get(key("huge"), version) is None and len(cache) == 3


async def test_a_failed_bump_is_logged_empties_the_cache_and_outdates_misses_in_flight(caplog):
    versions = Versions()
    cache = ResponseCache(versions, 10_000, 60)
    bumper = BumpOrForget(versions, [cache])
    cache.put(key("a"), await cache.version(), b"before the write")
    in_flight = await cache.version()  # a miss read its version before the write committed
    versions.fail_bump = True
    with caplog.at_level(logging.ERROR, logger="rdflow.cache"):
        await bumper.bump()  # does not raise: the write is committed
    assert "could not be bumped" in caplog.text
    assert len(cache) == 0
    cache.put(key("b"), in_flight, b"computed before the write")
    assert cache.get(key("b"), await cache.version()) is None


async def test_an_unreadable_version_skips_the_cache(caplog):
    versions = Versions()
    cache = ResponseCache(versions, 10_000, 60)
    versions.fail_current = True
    with caplog.at_level(logging.WARNING, logger="rdflow.cache"):
        assert await cache.version() is None
    assert "could not be read" in caplog.text


@pytest.mark.parametrize(
    ("method", "content_type", "body", "params", "expected"),
    [
        (
            "POST",
            "application/json",
            b'{"query": "{ a }", "variables": {"b": 1, "a": 2}}',
            {},
            ("{ a }", None, b'{"a":2,"b":1}', b""),
        ),
        (
            "POST",
            "application/json; charset=utf-8",
            b'{"query": "{ a }", "variables": {}}',
            {},
            ("{ a }", None, b"", b""),
        ),
        (
            "GET",
            "",
            b"",
            {"query": "{ a }", "variables": '{"a": 2, "b": 1}', "operationName": "Q"},
            ("{ a }", "Q", b'{"a":2,"b":1}', b""),
        ),
        ("POST", "application/json", b'[{"query": "{ a }"}]', {}, None),  # a batch
        ("POST", "application/json", b"not json", {}, None),
        ("POST", "application/json", b'{"query": "{ a }", "variables": [1]}', {}, None),
        ("POST", "application/json", b'{"query": 1}', {}, None),
        ("POST", "multipart/form-data", b"", {}, None),
        ("GET", "", b"", {"query": "{ a }", "variables": "{"}, None),
        ("GET", "", b"", {}, None),
    ],
)
def test_request_keys_are_canonical_and_only_for_single_json_requests(method, content_type, body, params, expected):
    single = single_request(method, content_type, body, params)
    assert (single.key if single is not None else None) == expected


def test_a_body_is_read_once_and_its_variables_are_never_shared():
    plain = b'{"query": "{ remembered }"}'
    assert single_request("POST", "application/json", plain, {}) is single_request(
        "POST", "application/json", plain, {}
    )
    # The same bytes as a form are still not a single JSON request.
    assert single_request("POST", "multipart/form-data", plain, {}) is None
    with_variables = b'{"query": "query Q($a: In) { a(a: $a) }", "variables": {"b": {"c": [1, 2.5, "x"]}, "a": 1}}'
    first = single_request("POST", "application/json", with_variables, {})
    second = single_request("POST", "application/json", with_variables, {})
    assert first is not None and first is second
    given = first.variables
    assert given == {"a": 1, "b": {"c": [1, 2.5, "x"]}}
    given["b"]["c"].append("changed by an execution")
    assert first.variables == {"a": 1, "b": {"c": [1, 2.5, "x"]}}  # each reading is its own, whatever was done
    assert first.variables is not first.variables
    with_extensions = single_request("POST", "application/json", b'{"query": "{ a }", "extensions": {"k": [1]}}', {})
    assert with_extensions is not None and orjson.loads(with_extensions.canonical_extensions) == {"k": [1]}


def test_remembered_bodies_are_bounded(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(response_cache, "REMEMBERED_BODIES", 2)
    monkeypatch.setattr(response_cache, "_remembered", {})
    bodies = [b'{"query": "{ a%d }"}' % i for i in range(3)] + [b'{"query": "{ %s }"}' % (b"b" * 5_000)]
    for body in bodies:
        assert single_request("POST", "application/json", body, {}) is not None
    assert list(response_cache._remembered) == bodies[1:3]  # the oldest out; a long body not kept
