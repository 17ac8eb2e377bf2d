"""Hostile input over real HTTP: every one is a 4xx in the error contract, naming the field, and writes nothing."""

from __future__ import annotations

import uuid

import pytest

from tests.api import Api
from tests.e2e.test_crud_api import CREATE_PROJECT, project, requirement, task
from tests.e2e.test_errors import count

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
    assert_refused(response, field="artifactIds", status=200)
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


async def test_a_well_formed_request_id_is_kept_and_echoed(sqlite_api: Api):
    response = await sqlite_api.post("{ __typename }", headers={"x-request-id": "abc.DEF_123-" + "x" * 52})
    assert response.headers["x-request-id"] == "abc.DEF_123-" + "x" * 52
