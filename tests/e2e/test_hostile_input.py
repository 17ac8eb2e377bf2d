"""Hostile input over real HTTP: every one is a 4xx in the error contract, naming the field, and writes nothing."""

from __future__ import annotations

import json
import logging
import uuid

import pytest
import websockets

from tests.api import Api
from tests.e2e.test_crud_api import CREATE_PROJECT, project, requirement, task
from tests.e2e.test_errors import count
from tests.live import LegacyWs, LiveServer, TransportWs

LOGIN = 'mutation($u: String!) { login(username: $u, password: "long enough 123") { accessToken } }'
REGISTER = """mutation($u: String!, $e: String!, $p: String!) {
  register(username: $u, email: $e, password: $p) { accessToken } }"""
AUDIT_SINCE = "query($s: DateTime) { auditLog(filter: {since: $s}) { totalCount } }"
SUBMIT = "mutation($input: SubmitArtifactInput!) { submitArtifact(input: $input) { id fileName } }"


def assert_refused(response, field: str | None = None, status: int = 400) -> dict:
    body = response.json()
    assert response.status_code == status, body
    error = body["errors"][0]
    assert (error["extensions"]["code"], error["extensions"]["errorId"]) == ("BAD_USER_INPUT", "ERR_400_001"), body
    assert error["extensions"].get("field") == field, body
    assert "data" not in body or body["data"] is None
    return error


async def raw(api: Api, body: bytes, **headers: str):
    return await api.client.post("/graphql", content=body, headers={"content-type": "application/json", **headers})


@pytest.mark.parametrize(
    "body",
    [
        b"123",
        b"null",
        b'"x"',
        b"[" * 50_000 + b"]" * 50_000,
        b'{"query": "{ \xff\xfe }"}',
        b'{"query": "{ \xed\xa0\x80 }"}',
    ],
    ids=["number", "null", "string", "nested-50000", "invalid-utf8", "encoded-surrogate"],
)
async def test_a_body_that_is_not_a_json_object_is_refused(sqlite_api: Api, body: bytes):
    assert_refused(await raw(sqlite_api, body))


@pytest.mark.parametrize("bad", ["\ud800", "a\udfffb"], ids=["high", "low"])
async def test_a_lone_surrogate_in_a_variable_names_the_field(sqlite_api: Api, bad: str):
    import json

    body = json.dumps({"query": LOGIN, "variables": {"u": bad}}).encode()  # ensure_ascii: "\ud800" escapes
    assert_refused(await raw(sqlite_api, body), field="username")
    assert await count(sqlite_api, "audit_log") == 0


async def test_a_subscription_over_post_is_refused(sqlite_api: Api):
    response = await sqlite_api.post('subscription { jobUpdated(id: "x") { id } }')
    assert "WebSocket" in assert_refused(response)["message"]


async def test_a_subscription_over_get_is_refused(sqlite_api: Api):
    response = await sqlite_api.client.get("/graphql", params={"query": 'subscription { jobUpdated(id: "x") { id } }'})
    assert_refused(response)


@pytest.mark.parametrize(
    "query, variables, field",
    [
        (LOGIN, {"u": "adm\x00in"}, "username"),
        (REGISTER, {"u": "new\x00user", "e": "n@example.com", "p": "long enough 123"}, "username"),
        (REGISTER, {"u": "newuser", "e": "n@exam\x00ple.com", "p": "long enough 123"}, "email"),
        (CREATE_PROJECT, {"input": {"name": "Billing", "description": "a\x00b"}}, "description"),
        (CREATE_PROJECT, {"input": {"name": "Billing", "techStack": ["py\x00"]}}, "techStack"),
        ('mutation { login(username: "a\\u0000b", password: "long enough 123") { accessToken } }', {}, "username"),
        ('mutation { createProject(input: {name: "x\\u{0}"}) { id } }', {}, "name"),
    ],
    ids=["login", "register-username", "register-email", "nested", "list-item", "literal", "braced-literal"],
)
async def test_a_nul_byte_in_any_text_is_refused_naming_the_field(api: Api, query, variables, field):
    response = await api.post(query, variables, as_=None if "login" in query or "register" in query else "admin")
    assert_refused(response, field=field)
    assert await count(api, "projects") == 0 and await count(api, "audit_log") == 0
    assert await count(api, "users") == 1


async def test_a_file_name_longer_than_its_column_is_refused(api: Api):
    t = await task(api, await requirement(api, await project(api)), "Build")
    path = "src/" + "n" * 201 + ".py"
    response = await api.post(
        SUBMIT, {"input": {"taskId": t["id"], "filePath": path, "content": "x", "language": "py"}}
    )
    assert_refused(response, field="filePath", status=200)
    assert await count(api, "code_artifacts") == 0


async def test_an_email_that_lengthens_when_lowercased_is_refused_naming_the_field(api: Api):
    email = "\u0130" * 90 + "@ex.com"  # 97 characters; lowercased, each "İ" becomes two: 187, past the column's 100
    response = await api.post(REGISTER, {"u": "newcomer", "e": email, "p": "long enough 123"}, as_=None)
    assert "100" in assert_refused(response, field="email", status=200)["message"]
    assert await count(api, "users") == 1


@pytest.mark.parametrize("name", ["A" * 128 + "\n", "TOKEN\n"], ids=["past-the-column", "short"])
async def test_an_environment_secret_name_ending_in_a_newline_is_refused(api: Api, name: str):
    from tests.e2e.test_environments_api import SET_SECRET

    pid = await project(api)
    response = await api.post(SET_SECRET, {"p": pid, "e": "DEV", "n": name, "v": "s3cret value"})
    assert_refused(response, field="name", status=200)
    assert await count(api, "environment_secrets") == 0


@pytest.mark.parametrize(
    "content",
    ["Reply as {} JSON for {title}", "Draft {title!z}", "Draft {title:d}", "Draft {title!r}", "Draft {title:>{title}}"],
    ids=["empty", "bad-conversion", "bad-format", "conversion", "nested-format"],
)
async def test_a_prompt_template_that_could_not_render_is_refused_when_saved(api: Api, content: str):
    save = """mutation($c: String!) { savePromptTemplate(input: {identifier: "prd.default", category: "prd",
      content: $c, variables: ["title"]}) { id } }"""
    assert "{{" in assert_refused(await api.post(save, {"c": content}), field="content", status=200)["message"]
    assert await count(api, "prompt_templates") == 0


async def test_a_filter_list_is_capped(api: Api):
    query = "query($s: [ProjectStatus!]) { projects(filter: {status: $s}) { totalCount } }"
    response = await api.post(query, {"s": ["ACTIVE"] * 32_768})
    assert "1000" in assert_refused(response, field="filter.status", status=200)["message"]
    assert (await api.gql(query, {"s": ["ACTIVE"] * 1_000}))["projects"]["totalCount"] == 0


async def test_deployment_artifact_lists_are_capped(api: Api):
    from resolvers.ids import to_global_id

    pid = await project(api)
    ids = [to_global_id("CodeArtifact", uuid.uuid4()) for _ in range(1_001)]
    deploy = "mutation($input: CreateDeploymentInput!) { createDeployment(input: $input) { id } }"
    response = await api.post(
        deploy, {"input": {"projectId": pid, "environment": "DEV", "version": "1", "artifactIds": ids}}
    )
    assert "at most 1000" in assert_refused(response, field="artifactIds", status=200)["message"]
    assert await count(api, "deployments") == 0


@pytest.mark.parametrize(
    "since",
    ["2026-01-01T00:00:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00-05:00"],
    ids=["naive", "before-year-1", "after-year-9999"],
)
async def test_date_time_filters_need_a_zone_and_a_storable_range(api: Api, since: str):
    assert_refused(await api.post(AUDIT_SINCE, {"s": since}), field="since", status=200)
    assert (await api.gql(AUDIT_SINCE, {"s": "2026-01-01T00:00:00Z"}))["auditLog"]["totalCount"] >= 0


@pytest.mark.parametrize("header", ["r" * 65, "has space", "ünïcode".encode(), "a\tb", ""])
async def test_an_unusable_request_id_is_replaced_and_audited_writes_still_work(api: Api, header: str | bytes):
    headers = {"x-request-id": header} if header else {}
    response = await api.post(
        'mutation { login(username: "nobody", password: "long enough 123") { accessToken } }', as_=None, headers=headers
    )
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", response.json()
    used = response.headers["x-request-id"]
    assert used != header and 1 <= len(used) <= 64
    await project(api)
    async with api.container.engine.connect() as conn:
        from sqlalchemy import text

        rows = (await conn.execute(text("SELECT outcome, request_id FROM audit_log ORDER BY at"))).all()
    assert [r.outcome for r in rows] == ["DENIED", "OK"] and rows[0].request_id == used


async def test_a_client_address_longer_than_its_column_is_cut_to_fit(api: Api):
    """Behind a proxy trusted for every address, the client's address is what its X-Forwarded-For says."""
    import httpx

    forwarded = "f" * 70
    transport = httpx.ASGITransport(app=api.app, client=(forwarded, 4242))
    async with httpx.AsyncClient(transport=transport, base_url="http://rdflow.test") as client:
        response = await client.post(
            "/graphql",
            json={"query": CREATE_PROJECT, "variables": {"input": {"name": "Forwarded"}}},
            headers={"authorization": f"Bearer {api.tokens['admin']}"},
        )
    assert not response.json().get("errors"), response.json()
    async with api.container.engine.connect() as conn:
        from sqlalchemy import text

        stored = (await conn.execute(text("SELECT client_address FROM audit_log"))).scalars().all()
    assert stored == [forwarded[:64]]


async def test_a_well_formed_request_id_is_kept_and_echoed(sqlite_api: Api):
    response = await sqlite_api.post("{ __typename }", headers={"x-request-id": "abc.DEF_123-" + "x" * 52})
    assert response.headers["x-request-id"] == "abc.DEF_123-" + "x" * 52


@pytest.fixture
async def live(sqlite_api: Api):
    async with LiveServer(sqlite_api.app) as server:
        yield server


@pytest.fixture
def server_log():
    """Every record any logger emits while the test runs (uvicorn's loggers do not propagate to caplog)."""
    records: list[logging.LogRecord] = []
    handler = logging.Handler(logging.DEBUG)
    handler.emit = records.append  # type: ignore[method-assign]  # a Handler that only keeps its records
    loggers = [logging.getLogger(name) for name in ("", "uvicorn", "uvicorn.error", "strawberry", "rdflow")]
    for logger in loggers:
        logger.addHandler(handler)
    yield records
    for logger in loggers:
        logger.removeHandler(handler)


async def closed_with(ws: TransportWs, message: object) -> websockets.frames.Close:
    await ws.ws.send(json.dumps(message))
    with pytest.raises(websockets.ConnectionClosed) as closed:
        answer = await ws.recv()
        pytest.fail(f"the socket stayed open and answered {answer}")
    assert closed.value.rcvd is not None, "closed without a close frame (1006)"
    return closed.value.rcvd


def assert_quiet(records: list[logging.LogRecord], capfd) -> None:
    loud = [r for r in records if r.levelno > logging.INFO or r.exc_info]
    assert not loud, [r.getMessage() for r in loud]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
@pytest.mark.parametrize("authorization", [["Bearer x"], 5, {"a": 1}], ids=["list", "number", "object"])
async def test_a_malformed_authorization_closes_with_4400(live, client, authorization, server_log, capfd):
    async with client(live.ws_url) as ws:
        close = await closed_with(ws, {"type": "connection_init", "payload": {"authorization": authorization}})
    assert close.code == 4400 and "authorization" in close.reason
    assert_quiet(server_log, capfd)


@pytest.mark.parametrize(
    "message", [[1, 2], 7, "connection_init", {"payload": {}}], ids=["array", "number", "string", "no-type"]
)
async def test_a_message_that_is_not_an_object_closes_with_4400(live, message, server_log, capfd):
    async with TransportWs(live.ws_url) as ws:
        close = await closed_with(ws, message)
    assert close.code == 4400
    assert_quiet(server_log, capfd)


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
@pytest.mark.parametrize("payload", [{}, {"authorization": "Bearer not-a-jwt"}, {"authorization": "Basic abc"}])
async def test_refused_tokens_close_once_with_4401_and_log_one_info_line_at_most(
    live, client, payload, server_log, capfd
):
    async with client(live.ws_url) as ws:
        close = await closed_with(ws, {"type": "connection_init", "payload": payload})
    assert close.code == 4401
    assert_quiet(server_log, capfd)
    assert len([r for r in server_log if r.name.startswith("rdflow")]) <= 1


@pytest.mark.parametrize("client", [TransportWs, LegacyWs])
async def test_a_nul_byte_in_an_operation_over_websocket_is_refused(sqlite_api: Api, live, client, server_log, capfd):
    async with client(live.ws_url) as ws:
        assert (await ws.init({"authorization": f"Bearer {sqlite_api.tokens['admin']}"}))["type"] == "connection_ack"
        await ws.subscribe("1", CREATE_PROJECT, {"input": {"name": "Bill\x00ing"}})
        answer = await ws.recv()
    assert (answer["type"], answer["id"]) == ("error", "1"), answer
    error = answer["payload"][0] if isinstance(answer["payload"], list) else answer["payload"]
    assert error["extensions"] == {"code": "BAD_USER_INPUT", "errorId": "ERR_400_001", "field": "name"}
    assert await count(sqlite_api, "projects") == 0
    assert_quiet(server_log, capfd)
