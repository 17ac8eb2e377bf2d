"""Abuse limits over HTTP: depth, aliases through fragments, tokens, connection cost, body size, introspection."""

from __future__ import annotations

import secrets

import pytest
from cryptography.fernet import Fernet

from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.unit.test_limits_fanout import fan_out

LIMITS = {"max_query_depth": 6, "max_aliases": 3, "max_tokens": 300, "max_cost": 1_000, "max_body_bytes": 4_000}


@pytest.fixture
async def limited(tmp_path):
    async with running_api(sqlite_settings(tmp_path, **LIMITS)) as api:
        yield api


async def project_count(api: Api) -> int:
    return (await api.gql("{ projects { totalCount } }"))["projects"]["totalCount"]


def refused(error: dict, *needles: str) -> None:
    assert error["extensions"]["code"] == "BAD_USER_INPUT", error
    for needle in needles:
        assert needle in error["message"], error


async def test_depth_at_the_limit_passes_and_beyond_it_is_refused(limited: Api):
    at_limit = "{ projects(first: 3) { nodes { requirements(first: 3) { nodes { project { createdBy { id } } } } } } }"
    await limited.gql(at_limit)
    too_deep = """{ projects(first: 3) { nodes { requirements(first: 3) { nodes {
      tasks(first: 3) { nodes { project { name } } } } } } } }"""
    refused(await limited.error(too_deep), "maximum operation depth of 6")


async def test_depth_is_counted_through_fragments(limited: Api):
    query = """{ projects(first: 3) { nodes { ...Deep } } }
      fragment Deep on Project {
        requirements(first: 3) { nodes { tasks(first: 3) { nodes { project { name } } } } }
      }"""
    refused(await limited.error(query), "maximum operation depth of 6")


async def test_aliases_are_counted_through_fragments_and_nothing_runs(limited: Api):
    await limited.gql("{ a: me { id } b: me { id } c: me { id } }")
    mutation = """mutation { a: createProject(input: {name: "a"}) { ...P } b: createProject(input: {name: "b"}) { id } }
      fragment P on Project { x: id y: name }"""
    refused(await limited.error(mutation), "4 aliases found. Allowed: 3")
    assert await project_count(limited) == 0


async def test_token_count_is_capped(limited: Api):
    fields = " ".join(["id"] * 400)
    refused(await limited.error(f"{{ me {{ {fields} }} }}"), "token", "300")


async def test_connection_cost_is_priced_with_first_and_nesting(limited: Api):
    # Cost 10 + 10 * 10 = 110: within the budget of 1,000.
    await limited.gql("{ projects(first: 10) { nodes { requirements(first: 10) { nodes { id } } } } }")
    # Without first, a connection is priced at the page cap (100): 100 + 100 * 100.
    error = await limited.error("{ projects { nodes { requirements { nodes { id } } } } }")
    refused(error, "query cost 10100 exceeds the limit of 1000")
    assert (error["extensions"]["cost"], error["extensions"]["maxCost"]) == (10100, 1000)


async def test_connection_cost_reads_variables_and_fragments(limited: Api):
    query = """query Q($n: Int = 5) { ...Root }
      fragment Root on Query {
        projects(first: $n) { edges { node { ... on Project { tasks(first: $n) { nodes { id } } } } } }
      }"""
    await limited.gql(query)  # 5 + 25
    await limited.gql(query, {"n": 30})  # 30 + 900
    refused(await limited.error(query, {"n": 40}), "query cost 1640 exceeds the limit of 1000")


async def test_oversize_bodies_get_413_whether_declared_or_streamed(limited: Api, caplog):
    caplog.set_level("INFO", logger="rdflow.access")
    headers = {"authorization": f"Bearer {limited.tokens['admin']}", "content-type": "application/json"}
    padding = "x" * LIMITS["max_body_bytes"]
    body = f'{{"query": "mutation {{ createProject(input: {{name: \\"{padding}\\"}}) {{ id }} }}"}}'.encode()

    declared = await limited.client.post("/graphql", content=body, headers=headers)

    async def chunks():
        for start in range(0, len(body), 1_000):
            yield body[start : start + 1_000]

    streamed = await limited.client.post("/graphql", content=chunks(), headers=headers)
    for response in (declared, streamed):
        assert response.status_code == 413
        error = response.json()["errors"][0]
        assert "request body exceeds 4000 bytes" in error["message"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert response.headers["x-request-id"]
    access = [r for r in caplog.records if r.name == "rdflow.access"]
    assert [(r.status, r.outcome, r.error_codes) for r in access] == [(413, "refused", ["BAD_USER_INPUT"])] * 2
    assert await project_count(limited) == 0


async def test_the_body_cap_covers_the_routes_beside_graphql(limited: Api):
    """The GraphQL endpoint reads its body within the cap itself; every other route keeps the middleware's."""
    project = (await limited.gql('mutation { createProject(input: {name: "hooked"}) { id } }'))["createProject"]
    oversize = b'{"version": "' + b"9" * LIMITS["max_body_bytes"] + b'"}'
    answer = await limited.client.post(f"/hooks/pipelines/{project['id']}", content=oversize)
    assert answer.status_code == 413
    assert answer.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


INTROSPECTION = "{ __schema { queryType { name } } }"


def production(tmp_path):
    return sqlite_settings(
        tmp_path,
        "prod",
        env="production",
        jwt_secret=secrets.token_urlsafe(48),
        fernet_key=Fernet.generate_key().decode(),
    )


async def test_introspection_is_off_in_production_and_on_in_development(tmp_path, limited: Api):
    assert (await limited.gql(INTROSPECTION))["__schema"]["queryType"]["name"] == "Query"
    async with running_api(production(tmp_path)) as api:
        refused(await api.error(INTROSPECTION), "introspection")
        assert (await api.gql("{ me { username } }"))["me"]["username"] == "admin"
        ide = await api.client.get("/graphql", headers={"accept": "text/html"})
        assert "graphiql" not in ide.text.lower()


async def test_introspection_can_be_turned_off_explicitly(tmp_path):
    async with running_api(sqlite_settings(tmp_path, introspection=False)) as api:
        refused(await api.error('{ __type(name: "Project") { name } }'), "introspection")


async def test_fragment_fan_out_is_counted_once_per_fragment_for_anonymous_clients(sqlite_api: Api):
    aliases = await sqlite_api.error(fan_out(25, "a: __typename"), as_=None)
    refused(aliases, f"{2**25} aliases found. Allowed: 30")
    cost = await sqlite_api.error(fan_out(25, "projects(first: 1) { totalCount }"), as_=None)
    assert cost["extensions"]["cost"] == 2**25
    assert await sqlite_api.gql(fan_out(25, "__typename"), as_=None) == {"__typename": "Query"}


SEVERAL = """query A { projects(first: 100) { nodes { requirements(first: 100) { nodes {
  tasks(first: 100) { nodes { id } } } } } } }
query B { __typename }"""


async def test_a_document_with_several_operations_must_name_the_one_to_run_and_that_one_is_priced(sqlite_api: Api):
    error = await sqlite_api.error(SEVERAL)
    refused(error, "operationName is required")
    assert error["extensions"]["field"] == "operationName"

    async def run(name: str) -> dict:
        return (await sqlite_api.client.post("/graphql", json={"query": SEVERAL, "operationName": name})).json()

    refused((await run("A"))["errors"][0], "query cost 1010100 exceeds the limit of 50000")
    assert await run("B") == {"data": {"__typename": "Query"}}


MISSPELT = [
    ("{ projectz { totalCount } }", None, "projects"),  # field
    ("{ projects(frist: 1) { totalCount } }", None, "first"),  # argument
    ("query($o: ProjectOrdr) { projects(orderBy: $o) { totalCount } }", None, "ProjectOrder"),  # type
    ('mutation { createProject(input: {name: "x", techStak: ["a"]}) { id } }', None, "techStack"),  # input field
    ("{ projects(orderBy: {field: NAM}) { totalCount } }", None, "NAME"),  # enum value
    ("query($o: ProjectOrder) { projects(orderBy: $o) { totalCount } }", {"o": {"field": "NAM"}}, "NAME"),  # variable
]


async def test_production_does_not_suggest_schema_names_for_misspellings(tmp_path):
    async with running_api(sqlite_settings(tmp_path)) as development:
        hinted = [(await development.error(query, variables))["message"] for query, variables, _ in MISSPELT]
    assert all("Did you mean" in m and name in m for m, (_, _, name) in zip(hinted, MISSPELT, strict=True)), hinted
    async with running_api(production(tmp_path)) as api:
        for query, variables, name in MISSPELT:
            response = (await api.post(query, variables)).json()
            for error in response["errors"]:
                assert error["extensions"]["code"] == "BAD_USER_INPUT", error
                assert "Did you mean" not in error["message"] and name not in error["message"], error
