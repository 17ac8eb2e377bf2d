"""Known queries (schema/known_queries.py): a query whose document was parsed and validated before runs without
strawberry's per-operation layers, and answers exactly as strawberry's path does, errors and status codes included.
Each request is sent twice (no response cache): the first takes strawberry's path, the second the known one."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from domain.enums import Role
from resolvers.ids import to_global_id
from schema import build, operation_hooks
from tests.api import Api

NO_CACHE = {"cache-control": "no-cache"}
GRAPHQL_RESPONSE = {"accept": "application/graphql-response+json", **NO_CACHE}


@pytest.fixture
def operations(monkeypatch) -> list[int]:
    """Counts the operations strawberry's path runs (it builds one OperationHooks per operation)."""
    seen: list[int] = []

    class Counting(operation_hooks.OperationHooks):
        def __init__(self, rules: operation_hooks.OperationRules):
            seen.append(1)
            super().__init__(rules)

    monkeypatch.setattr(build, "OperationHooks", Counting)
    return seen


async def _twice(api: Api, body: dict[str, Any], headers: dict[str, str]) -> tuple[httpx.Response, httpx.Response]:
    first = await api.client.post("/graphql", json=body, headers=headers)
    second = await api.client.post("/graphql", json=body, headers=headers)
    return first, second


def _signed_in(api: Api, name: str = "admin", **headers: str) -> dict[str, str]:
    return {"authorization": f"Bearer {api.tokens[name]}", **NO_CACHE, **headers}


async def test_a_query_seen_before_skips_strawberrys_operation_layers_and_answers_the_same(api: Api, operations):
    await api.gql('mutation { createProject(input: {name: "known"}) { id } }')
    body = {"query": "query P($n: Int) { projects(first: $n) { totalCount nodes { name status } } }"}
    for first_n in (5, 7):  # new variables: still the known document, priced for its page size
        operations.clear()
        first, second = await _twice(api, {**body, "variables": {"n": first_n}}, _signed_in(api))
        assert first.status_code == second.status_code == 200
        assert first.content == second.content
        assert first.json()["data"]["projects"]["nodes"] == [{"name": "known", "status": "PLANNING"}]
        assert len(operations) == (1 if first_n == 5 else 0)  # parsed and validated once, then known


CASES = {
    # A resolver's refusal: data with a null and the error contract's code.
    "not found": (
        {"query": "query N($id: ID!) { node(id: $id) { id } }", "variables": {"id": to_global_id("Task", "x")}},
        None,
    ),
    # Variables that do not coerce: a request error, 400 with graphql-response+json, no data.
    "bad variable": (
        {"query": "query P($n: Int) { projects(first: $n) { totalCount } }", "variables": {"n": "x"}},
        None,
    ),
    # A field the viewer's role may not read.
    "forbidden": ({"query": "{ users(first: 5) { nodes { username } } }"}, "dev"),
    # A string no database can store: refused before execution (input guard), naming the variable.
    "unstorable input": (
        {"query": "query S($q: String!) { search(query: $q) { totalCount } }", "variables": {"q": "a\u0000b"}},
        None,
    ),
    # Two operations: the name picks one.
    "named operation": (
        {
            "query": "query A { projects { totalCount } } query B { me { username } }",
            "operationName": "B",
        },
        None,
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("accept", ["json", "graphql-response"])
async def test_the_known_path_keeps_every_answer_and_status(api: Api, operations, case: str, accept: str):
    await api.user("dev", Role.DEVELOPER)
    body, viewer = CASES[case]
    headers = _signed_in(api, viewer or "admin", **(GRAPHQL_RESPONSE if accept == "graphql-response" else {}))
    first, second = await _twice(api, body, headers)
    assert (second.status_code, second.headers["content-type"]) == (first.status_code, first.headers["content-type"])
    assert _without_error_ids(second.json()) == _without_error_ids(first.json())
    assert len(operations) <= 1, "the second request must not take strawberry's path"


async def test_a_bad_token_is_refused_before_a_known_query_runs(api: Api, operations):
    query = {"query": "{ projects { totalCount } }"}
    await api.client.post("/graphql", json=query, headers=_signed_in(api))
    refused = await api.client.post("/graphql", json=query, headers={"authorization": "Bearer nope", **NO_CACHE})
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_known_mutation_document_still_takes_strawberrys_path(api: Api, operations):
    mutation = {"query": 'mutation { createProject(input: {name: "twice"}) { name } }'}
    first, second = await _twice(api, mutation, _signed_in(api))
    assert first.status_code == second.status_code == 200
    assert len(operations) == 2


async def test_a_cost_refusal_of_a_known_document_is_still_refused(api: Api, operations):
    query = (
        "query P($n: Int) { projects(first: $n) { nodes { requirements(first: $n) { nodes { tasks(first: $n) "
        "{ nodes { id } } } } } } }"
    )
    ok = await api.client.post("/graphql", json={"query": query, "variables": {"n": 2}}, headers=_signed_in(api))
    assert ok.status_code == 200 and "errors" not in ok.json()
    refused = await api.client.post("/graphql", json={"query": query, "variables": {"n": 100}}, headers=_signed_in(api))
    assert "data" not in refused.json() or refused.json()["data"] is None
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def _without_error_ids(body: dict[str, Any]) -> dict[str, Any]:
    for error in body.get("errors", ()):
        error.get("extensions", {}).pop("errorId", None)
    return body
