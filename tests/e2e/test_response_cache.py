"""The response cache on one API (embedded SQLite, and PostgreSQL + Redis): what is served from it and what never
is. `x-rdflow-cache` says what happened: hit, miss (executed) or bypass (not looked up)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from domain.enums import Role
from resolvers.ids import to_global_id
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings

PROJECTS = "{ projects { totalCount nodes { name } } }"
CREATE = "mutation($n: String!) { createProject(input: {name: $n}) { id } }"
ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"


BACKENDS = ["sqlite", pytest.param("postgres-redis", marks=[pytest.mark.postgres, pytest.mark.redis])]


def backend_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    """The embedded default, or PostgreSQL + Redis, as a fixture parametrized with BACKENDS asks."""
    if request.param == "sqlite":
        return sqlite_settings(tmp_path)
    return Settings(
        database_url=request.getfixturevalue("fresh_postgres_url"),
        redis_url=request.getfixturevalue("redis_url"),
        redis_prefix=request.getfixturevalue("redis_prefix"),
        data_dir=tmp_path,
    )


@pytest.fixture(params=BACKENDS)
async def api(request, tmp_path):
    async with running_api(backend_settings(request, tmp_path)) as api:
        yield api


async def read(api: Api, query: str = PROJECTS, *, as_: str | None = "admin", **headers: str) -> httpx.Response:
    return await api.post(query, as_=as_, headers=headers)


def outcome(response: httpx.Response) -> str | None:
    return response.headers.get("x-rdflow-cache")


async def test_a_repeated_query_is_served_from_the_cache_until_a_write(api: Api):
    await api.gql(CREATE, {"n": "first"})
    miss, hit = await read(api), await read(api)
    assert (outcome(miss), outcome(hit)) == ("miss", "hit")
    assert hit.content == miss.content and hit.status_code == 200
    assert hit.headers["content-type"].startswith("application/json")
    await api.gql(CREATE, {"n": "second"})
    after = await read(api)
    assert outcome(after) == "miss"
    assert after.json()["data"]["projects"]["totalCount"] == 2


async def test_a_hit_is_answered_and_logged_as_its_miss_was(api: Api, caplog):
    """A hit skips starlette's request and response objects: its status, media type, request id and access line
    must still be the ones the executed request got."""
    await api.gql(CREATE, {"n": "logged"})
    caplog.set_level("INFO", logger="rdflow.access")
    accept = {"accept": "application/graphql-response+json"}
    miss = await read(api, **accept, **{"x-request-id": "dash-miss"})
    hit = await read(api, **accept, **{"x-request-id": "dash-hit"})
    plain = await read(api)
    assert [outcome(r) for r in (miss, hit, plain)] == ["miss", "hit", "hit"]
    assert hit.content == miss.content == plain.content
    assert hit.headers["content-type"] == miss.headers["content-type"] == "application/graphql-response+json"
    assert plain.headers["content-type"] == "application/json"
    assert (miss.headers["x-request-id"], hit.headers["x-request-id"]) == ("dash-miss", "dash-hit")
    assert plain.headers["x-request-id"] not in ("", "dash-miss", "dash-hit")
    assert int(hit.headers["content-length"]) == len(hit.content)
    lines = [r for r in caplog.records if r.name == "rdflow.access"]
    assert [(r.method, r.status, r.outcome, r.error_codes) for r in lines] == [("POST", 200, "ok", [])] * 3
    assert all(r.duration_ms >= 0 for r in lines)


async def test_get_and_post_share_entries_and_variables_are_keyed_canonically(api: Api):
    query = "query($f: ProjectFilter, $n: Int) { projects(filter: $f, first: $n) { totalCount } }"
    auth = {"authorization": f"Bearer {api.tokens['admin']}"}
    first = await api.client.post(
        "/graphql", json={"query": query, "variables": {"n": 5, "f": {"status": ["ACTIVE"]}}}, headers=auth
    )
    again = await api.client.get(
        "/graphql", params={"query": query, "variables": '{"f": {"status": ["ACTIVE"]}, "n": 5}'}, headers=auth
    )
    other = await api.client.post("/graphql", json={"query": query, "variables": {"n": 4}}, headers=auth)
    assert (outcome(first), outcome(again), outcome(other)) == ("miss", "hit", "miss")


async def test_no_cache_bypasses_the_cache_and_stores_nothing(api: Api):
    bypass = await read(api, **{"cache-control": "no-cache"})
    assert outcome(bypass) == "bypass" and bypass.json()["data"]["projects"]["totalCount"] == 0
    assert outcome(await read(api)) == "miss"
    assert outcome(await read(api, **{"cache-control": "no-cache"})) == "bypass"
    assert outcome(await read(api)) == "hit"


async def test_responses_with_errors_are_never_cached(api: Api):
    await api.user("dev", Role.DEVELOPER)
    users = "{ users { totalCount } }"  # super admins only
    for _ in range(2):
        refused = await read(api, users, as_="dev")
        assert outcome(refused) == "miss" and refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    invalid = "{ projects { noSuchField } }"
    for _ in range(2):
        response = await read(api, invalid)
        assert outcome(response) == "miss" and response.status_code in (200, 400) and response.json()["errors"]


async def test_mutation_responses_are_never_cached(api: Api):
    responses = [await api.post(CREATE, {"n": "same"}) for _ in range(2)]
    assert [outcome(r) for r in responses] == ["miss", "miss"]
    ids = {r.json()["data"]["createProject"]["id"] for r in responses}
    assert len(ids) == 2  # both ran
    assert (await api.gql(PROJECTS))["projects"]["totalCount"] == 2


async def test_one_viewers_cached_body_is_never_served_to_another(api: Api):
    dev = await api.user("dev", Role.DEVELOPER)
    await api.user("other", Role.DEVELOPER)
    pid = (await api.gql(CREATE, {"n": "theirs"}))["createProject"]["id"]
    await api.gql(ADD_MEMBER, {"p": pid, "u": to_global_id("User", dev.id)})
    assert outcome(await read(api)) == "miss"
    assert outcome(await read(api)) == "hit"
    as_dev = [await read(api, as_="dev") for _ in range(2)]
    assert [outcome(r) for r in as_dev] == ["miss", "hit"]
    as_other = await read(api, as_="other")
    assert outcome(as_other) == "miss"
    assert as_dev[1].json()["data"]["projects"]["nodes"] == [{"name": "theirs"}]
    assert as_other.json()["data"]["projects"] == {"totalCount": 0, "nodes": []}
    anonymous = await read(api, as_=None)
    assert outcome(anonymous) == "miss"
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


async def test_a_revoked_token_never_gets_a_cached_body(api: Api):
    session = (
        await api.gql(
            'mutation { register(username: "maria", email: "maria@example.com", '
            'password: "correct horse battery staple") { accessToken } }',
            as_=None,
        )
    )["register"]
    api.tokens["maria"] = session["accessToken"]
    me = "{ me { username } }"
    assert [outcome(await read(api, me, as_="maria")) for _ in range(2)] == ["miss", "hit"]
    assert (await api.post("mutation { logout }", as_="maria")).json() == {"data": {"logout": True}}
    refused = await read(api, me, as_="maria")
    assert refused.status_code == 401 or refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    assert outcome(refused) != "hit"


COMMIT_ELSEWHERE = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("UPDATE projects SET name = 'renamed elsewhere'")
connection.close()
"""


async def test_embedded_a_write_from_another_process_shows_on_the_next_read(tmp_path):
    settings = sqlite_settings(tmp_path)
    async with running_api(settings) as api:
        await api.gql(CREATE, {"n": "original"})
        assert [outcome(await read(api)) for _ in range(2)] == ["miss", "hit"]
        # Another process (a worker, the CLI) commits to the same file and tells nobody.
        path = str(tmp_path / "rdflow.db")
        subprocess.run([sys.executable, "-c", COMMIT_ELSEWHERE, path], check=True, timeout=30)
        assert sqlite3.connect(path).execute("SELECT name FROM projects").fetchone() == ("renamed elsewhere",)
        after = await read(api)
        assert outcome(after) == "miss"
        assert after.json()["data"]["projects"]["nodes"] == [{"name": "renamed elsewhere"}]


@pytest.mark.postgres
async def test_the_cache_is_off_when_no_version_is_shared_by_every_process(fresh_postgres_url, tmp_path):
    """PostgreSQL without Redis: a CLI command's writes would move no version this process can see."""
    async with running_api(Settings(database_url=fresh_postgres_url, data_dir=tmp_path)) as api:
        assert api.container.responses is None
        assert outcome(await read(api)) is None


async def test_the_cache_is_off_at_zero_megabytes(tmp_path):
    async with running_api(sqlite_settings(tmp_path, response_cache_mb=0)) as api:
        assert [outcome(await read(api)) for _ in range(2)] == [None, None]


class Unreachable:
    async def current(self) -> object:
        raise ConnectionError("the version store is down")

    async def bump(self) -> None:
        raise ConnectionError("the version store is down")


async def test_an_unreadable_version_serves_uncached(api: Api):
    assert [outcome(await read(api)) for _ in range(2)] == ["miss", "hit"]
    cache = api.container.responses
    assert cache is not None
    # The request reads the data version once, for the response cache and the user cache alike.
    cache.versions = api.container.versions = Unreachable()
    response = await read(api)
    assert outcome(response) == "bypass" and response.json() == {"data": {"projects": {"totalCount": 0, "nodes": []}}}
