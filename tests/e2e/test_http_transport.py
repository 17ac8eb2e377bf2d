"""GraphQL over HTTP: methods, media types, malformed requests, health and readiness."""

from __future__ import annotations

import pytest

from tests.api import Api


def auth(api: Api) -> dict[str, str]:
    return {"authorization": f"Bearer {api.tokens['admin']}"}


async def test_get_runs_queries(sqlite_api: Api):
    r = await sqlite_api.client.get("/graphql", params={"query": "{ me { username role } }"}, headers=auth(sqlite_api))
    assert r.status_code == 200
    assert r.json() == {"data": {"me": {"username": "admin", "role": "SUPER_ADMIN"}}}


async def test_get_refuses_mutations_with_405(sqlite_api: Api):
    r = await sqlite_api.client.get(
        "/graphql", params={"query": 'mutation { createProject(input: {name: "x"}) { id } }'}, headers=auth(sqlite_api)
    )
    assert r.status_code == 405
    assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    projects = await sqlite_api.gql("{ projects { totalCount } }")
    assert projects["projects"]["totalCount"] == 0


async def test_graphql_response_media_type(sqlite_api: Api):
    headers = auth(sqlite_api) | {"accept": "application/graphql-response+json"}
    ok = await sqlite_api.client.post("/graphql", json={"query": "{ me { username } }"}, headers=headers)
    assert ok.status_code == 200 and ok.headers["content-type"].startswith("application/graphql-response+json")
    bad = await sqlite_api.client.post("/graphql", json={"query": "{ nope }"}, headers=headers)
    assert bad.status_code == 400 and "data" not in bad.json()
    assert bad.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    plain = await sqlite_api.client.post("/graphql", json={"query": "{ nope }"}, headers=auth(sqlite_api))
    assert plain.status_code == 200 and plain.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    "body, content_type, fragment",
    [
        (b"{not json", "application/json", "JSON"),
        (b'{"variables": {}}', "application/json", "query"),
        (b"[1, 2]", "application/json", "not an array"),
    ],
)
async def test_malformed_requests_get_400_with_error_body(sqlite_api: Api, body, content_type, fragment):
    r = await sqlite_api.client.post(
        "/graphql", content=body, headers=auth(sqlite_api) | {"content-type": content_type}
    )
    assert r.status_code == 400
    error = r.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and fragment.lower() in error["message"].lower()


async def test_health_and_ready(sqlite_api: Api):
    health = await sqlite_api.client.get("/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = await sqlite_api.client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"] == "ok"


async def test_ready_reports_a_dead_database(sqlite_api: Api):
    await sqlite_api.container.engine.dispose()
    sqlite_api.container.engine.url  # noqa: B018 - same engine, file removed below
    import os

    os.remove(sqlite_api.container.engine.url.database)
    os.makedirs(sqlite_api.container.engine.url.database)  # a directory where the file was: cannot open
    ready = await sqlite_api.client.get("/ready")
    assert ready.status_code == 503 and ready.json()["checks"]["database"].startswith("error")


async def test_request_id_is_echoed(sqlite_api: Api):
    r = await sqlite_api.client.post(
        "/graphql", json={"query": "{ me { username } }"}, headers=auth(sqlite_api) | {"x-request-id": "req-123"}
    )
    assert r.headers["x-request-id"] == "req-123"


async def test_a_client_gone_before_its_body_is_read_is_one_info_line_not_a_server_error(sqlite_api: Api, caplog):
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"100")],
        "client": ("127.0.0.1", 1234),
        "server": ("rdflow.test", 80),
    }
    messages = iter([{"type": "http.request", "body": b'{"query": "{ __type', "more_body": True}])

    async def receive() -> dict:
        return next(messages, {"type": "http.disconnect"})

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    caplog.set_level("INFO")
    await sqlite_api.app(scope, receive, send)
    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelname == "ERROR"], caplog.records
    access = [r for r in caplog.records if r.name == "rdflow.access"]
    assert [(r.status, r.outcome, r.error_codes) for r in access] == [(499, "gone", [])]
