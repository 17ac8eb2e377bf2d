"""Failures the API fuzzer found, each pinned by a focused test: no 500, nothing written by a refusal, no ERROR log."""

from __future__ import annotations

import logging

import pytest

from tests.api import Api
from tests.e2e.test_crud_api import project, requirement, task


async def test_a_page_size_beyond_64_bits_is_bad_input_not_a_500(sqlite_api: Api):
    response = await sqlite_api.post("{ projects(first: 10000000000000000000000000000000000000000) { totalCount } }")
    assert response.status_code < 500, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_nested_page_sizes_whose_product_overflows_64_bits_are_bad_input(sqlite_api: Api):
    query = """{ projects(last: 3451850) { nodes { requirements(last: 3451850) { nodes {
        tasks(last: 3451850) { nodes { artifacts(last: 3451850) { totalCount } } } } } } } }"""
    response = await sqlite_api.post(query)
    assert response.status_code < 500, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


async def test_a_cost_beyond_json_integers_is_reported_capped(sqlite_api: Api):
    depth = 70
    fragments = "\n".join(f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(depth))
    query = f"query {{ ...F0 }}\n{fragments}\nfragment F{depth} on Query {{ projects(first: 1) {{ totalCount }} }}"
    response = await sqlite_api.post(query)
    assert response.status_code < 500, response.text
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["cost"] == 2**53 - 1
    assert error["message"].startswith(f"query cost over {2**53 - 1} exceeds the limit")


async def test_a_logout_refused_for_its_refresh_token_revokes_nothing(sqlite_api: Api):
    error = await sqlite_api.error('mutation { logout(refreshToken: "1e309") }')
    assert error["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await sqlite_api.gql("{ me { username } }"))["me"]["username"] == "admin"


@pytest.mark.parametrize("attempt", range(3))
async def test_a_failing_root_field_leaves_no_error_log_from_cancelled_siblings(sqlite_api: Api, caplog, attempt):
    pid = await project(sqlite_api, f"p{attempt}")
    rid = await requirement(sqlite_api, pid)
    tid = (await task(sqlite_api, rid, "gone"))["id"]
    await sqlite_api.gql("mutation($id: ID!) { deleteTask(id: $id) }", {"id": tid})
    siblings = " ".join(f"r{i}: requirement(id: $r) {{ updatedAt tasks {{ totalCount }} }}" for i in range(8))
    query = f"query($p: ID!, $r: ID!, $t: ID!) {{ project(id: $p) {{ techStack }} {siblings} task(id: $t) {{ name }} }}"
    with caplog.at_level(logging.WARNING):
        for _ in range(10):
            error = await sqlite_api.error(query, {"p": pid, "r": rid, "t": tid})
            assert error["extensions"]["code"] == "NOT_FOUND"
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], [r.getMessage() for r in caplog.records]
