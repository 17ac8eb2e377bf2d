"""The response cache's front in the HTTP protocol (server/http_protocol.py), over real sockets: a hit is answered
without entering the ASGI app, exactly as the app answers it; whatever the front does not take (a miss, a refused
token, a chunked or oversized body, Expect: 100-continue) the app answers as before; keep-alive, pipelining and
Connection: close hold."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest

from server.logs import RequestFields
from tests.api import Api
from tests.e2e.conftest import running_api
from tests.e2e.test_response_cache import BACKENDS, CREATE, PROJECTS, backend_settings, outcome
from tests.live import LiveServer

BODY = orjson.dumps({"query": PROJECTS})


class Entered:
    """The app, counting the HTTP requests that reach it (uvicorn wraps this; the front finds the app through it)."""

    def __init__(self, app: Any):
        self.app = app
        self.http = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            self.http += 1
        await self.app(scope, receive, send)


@pytest.fixture(params=BACKENDS)
async def served(request, tmp_path) -> AsyncIterator[tuple[Api, Entered, httpx.AsyncClient]]:
    async with running_api(backend_settings(request, tmp_path)) as api:
        entered = Entered(api.app)
        live = LiveServer(entered)
        async with live, httpx.AsyncClient(base_url=f"http://127.0.0.1:{live.port}") as client:
            await api.gql(CREATE, {"n": "watched"})
            yield api, entered, client


def signed(api: Api, **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api.tokens['admin']}", "content-type": "application/json", **headers}


async def test_a_hit_never_enters_the_app_and_is_answered_as_the_app_answers_it(served, caplog):
    api, entered, client = served
    caplog.set_level("INFO", logger="rdflow.access")
    caplog.handler.addFilter(RequestFields())
    miss = await client.post("/graphql", content=BODY, headers=signed(api, **{"x-request-id": "front-miss"}))
    assert (outcome(miss), entered.http) == ("miss", 1)
    accept = {"accept": "application/graphql-response+json", "x-request-id": "front-hit"}
    hit = await client.post("/graphql", content=BODY, headers=signed(api, **accept))
    plain = await client.post("/graphql", content=BODY, headers=signed(api))
    assert (outcome(hit), outcome(plain), entered.http) == ("hit", "hit", 1)
    in_app = await api.client.post("/graphql", content=BODY, headers=signed(api, **accept))  # the app's own hit
    assert outcome(in_app) == "hit"
    assert hit.status_code == plain.status_code == 200
    assert hit.content == plain.content == miss.content == in_app.content
    assert hit.headers["content-type"] == in_app.headers["content-type"] == "application/graphql-response+json"
    assert plain.headers["content-type"] == "application/json"
    assert int(hit.headers["content-length"]) == len(hit.content)
    assert hit.headers["x-request-id"] == "front-hit"
    assert plain.headers["x-request-id"] not in ("", "front-hit", "front-miss")
    assert {"date", "server"} <= set(hit.headers) and hit.headers["server"] == miss.headers["server"]
    lines = [r for r in caplog.records if r.name == "rdflow.access"]
    assert [(r.method, r.status, r.outcome) for r in lines] == [("POST", 200, "ok")] * 4
    assert [r.request_id for r in lines[:2]] == ["front-miss", "front-hit"]
    assert [r.viewer_id for r in lines] == [str(api.users["admin"].id)] * 4


async def test_a_write_is_seen_by_the_next_read_through_the_front(served):
    api, _, client = served
    assert outcome(await client.post("/graphql", content=BODY, headers=signed(api))) == "miss"
    assert outcome(await client.post("/graphql", content=BODY, headers=signed(api))) == "hit"
    created = await client.post(
        "/graphql", content=orjson.dumps({"query": CREATE, "variables": {"n": "second"}}), headers=signed(api)
    )
    assert created.status_code == 200 and "errors" not in created.json()
    after = await client.post("/graphql", content=BODY, headers=signed(api))
    assert outcome(after) == "miss"
    assert after.json()["data"]["projects"]["totalCount"] == 2


async def test_a_get_hit_is_answered_by_the_front_too(served):
    api, entered, client = served
    params = {"query": PROJECTS}
    first = await client.get("/graphql", params=params, headers=signed(api))
    second = await client.get("/graphql", params=params, headers=signed(api))
    assert (outcome(first), outcome(second), entered.http) == ("miss", "hit", 1)
    assert first.content == second.content


async def test_what_the_front_does_not_take_the_app_answers(served):
    api, entered, client = served
    stored = await client.post("/graphql", content=BODY, headers=signed(api))
    entered.http = 0

    async def chunked() -> AsyncIterator[bytes]:
        yield BODY[:10]
        yield BODY[10:]

    streamed = await client.post("/graphql", content=chunked(), headers=signed(api))
    assert (streamed.headers.get("transfer-encoding"), outcome(streamed)) == (None, "hit")
    refused = await client.post("/graphql", content=BODY, headers=signed(api, authorization="Bearer not-a-token"))
    assert refused.status_code == 401 and refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    anonymous = await client.post("/graphql", content=BODY, headers={"content-type": "application/json"})
    assert outcome(anonymous) == "miss" and anonymous.content != stored.content  # the anonymous scope's own
    huge = b'{"query": "' + b" " * (api.container.settings.max_body_bytes + 10) + b'{ __typename }"}'
    too_large = await client.post("/graphql", content=huge, headers=signed(api))
    assert too_large.status_code == 413
    bypass = await client.post("/graphql", content=BODY, headers=signed(api, **{"cache-control": "no-cache"}))
    assert outcome(bypass) == "bypass"
    assert entered.http == 5  # each of them reached the app; none was answered by the front


Response = tuple[int, dict[bytes, bytes], bytes]


async def exchange(port: int, raw: bytes, responses: int) -> tuple[list[Response], bool]:
    """Writes `raw` (one or more requests) on one connection and reads `responses` responses (status, headers, body;
    each with a content-length); also says whether the server then closed the connection."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    got: list[Response] = []
    try:
        for _ in range(responses):
            head = (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).decode("latin-1").split("\r\n")
            fields = {}
            for line in head[1:]:
                if line:
                    name, value = line.split(":", 1)
                    fields[name.strip().lower().encode()] = value.strip().encode()
            body = await asyncio.wait_for(reader.readexactly(int(fields[b"content-length"])), 10)
            got.append((int(head[0].split()[1]), fields, body))
        try:
            closed = await asyncio.wait_for(reader.read(1), 0.5) == b""
        except TimeoutError:
            closed = False
    finally:
        writer.close()
    return got, closed


def raw_post(api: Api, body: bytes = BODY, *extra: str) -> bytes:
    lines = [
        "POST /graphql HTTP/1.1",
        "host: rdflow.test",
        "content-type: application/json",
        f"authorization: Bearer {api.tokens['admin']}",
        f"content-length: {len(body)}",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def test_pipelined_requests_are_answered_in_their_order(served):
    api, entered, client = served
    port = client.base_url.port
    other = orjson.dumps({"query": "{ projects { totalCount } }"})
    raw = raw_post(api) + raw_post(api) + raw_post(api, other) + raw_post(api)
    got, closed = await exchange(port, raw, 4)
    assert [status for status, _, _ in got] == [200] * 4
    assert [fields[b"x-rdflow-cache"] for _, fields, _ in got] == [b"miss", b"hit", b"miss", b"hit"]
    assert got[0][2] == got[1][2] == got[3][2] and orjson.loads(got[2][2]) == {"data": {"projects": {"totalCount": 1}}}
    assert not closed  # kept alive
    assert entered.http == 2  # the two misses


async def test_a_hit_asked_with_connection_close_is_sent_then_the_connection_closed(served):
    api, entered, client = served
    await client.post("/graphql", content=BODY, headers=signed(api))  # stored
    got, closed = await exchange(client.base_url.port, raw_post(api, BODY, "connection: close"), 1)
    ((status, fields, body),) = got
    assert (status, fields[b"x-rdflow-cache"], fields[b"connection"]) == (200, b"hit", b"close")
    assert orjson.loads(body)["data"]["projects"]["totalCount"] == 1
    assert closed
    assert entered.http == 1


async def test_expect_continue_and_a_client_that_leaves_mid_body_go_to_the_app(served, caplog):
    api, entered, client = served
    await client.post("/graphql", content=BODY, headers=signed(api))  # stored
    entered.http = 0
    reader, writer = await asyncio.open_connection("127.0.0.1", client.base_url.port)
    writer.write(raw_post(api, BODY, "expect: 100-continue")[: -len(BODY)])
    assert (await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)).startswith(b"HTTP/1.1 100")
    writer.write(BODY)
    assert b"x-rdflow-cache: hit" in await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    assert entered.http == 1
    caplog.set_level("INFO", logger="rdflow.access")
    _, leaving = await asyncio.open_connection("127.0.0.1", client.base_url.port)
    leaving.write(raw_post(api)[:-5])  # the body's end never comes
    await leaving.drain()
    await asyncio.sleep(0.2)
    leaving.close()
    for _ in range(100):
        if any(r.name == "rdflow.access" for r in caplog.records):
            break
        await asyncio.sleep(0.05)
    assert [(r.status, r.outcome) for r in caplog.records if r.name == "rdflow.access"] == [(499, "gone")]
    after = await client.post("/graphql", content=BODY, headers=signed(api))
    assert outcome(after) == "hit"
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
