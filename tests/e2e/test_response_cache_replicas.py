"""Acceptance 3 of issue 13: the response cache is never stale across replicas. Each test first makes replica B
serve a read from its cache (`x-rdflow-cache: hit`), then writes through replica A, then reads on B: the write
shows. On PostgreSQL + Redis (the production shape) and on one SQLite file served by two processes' worth of apps
without Redis (the embedded shape, where SQLite's own commit counter is the shared version)."""

from __future__ import annotations

import contextlib

import httpx
import pytest

from domain.enums import Role
from resolvers.ids import to_global_id
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api

PROJECTS = "{ projects { totalCount nodes { name } } }"
CREATE = "mutation($n: String!) { createProject(input: {name: $n}) { id } }"
RENAME = "mutation($id: ID!, $n: String!) { updateProject(id: $id, input: {name: $n}) { id } }"
DELETE = "mutation($id: ID!) { deleteProject(id: $id) }"
ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
REMOVE_MEMBER = "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) { id } }"
ROLE = "mutation($u: ID!, $r: Role!) { updateUserRole(userId: $u, role: $r) { role } }"
USERS = "{ users { totalCount } }"

POSTGRES_REDIS = pytest.param("postgres-redis", marks=[pytest.mark.postgres, pytest.mark.redis])


@contextlib.asynccontextmanager
async def two_replicas(shape: str, request: pytest.FixtureRequest, tmp_path):
    database_url = (
        f"sqlite:///{tmp_path}/shared.db" if shape == "sqlite" else request.getfixturevalue("fresh_postgres_url")
    )
    redis = (
        {"redis_url": request.getfixturevalue("redis_url"), "redis_prefix": request.getfixturevalue("redis_prefix")}
        if shape != "sqlite"
        else {}
    )
    async with contextlib.AsyncExitStack() as stack:
        made: list[Api] = []
        for name in ("a", "b"):
            settings = Settings(database_url=database_url, data_dir=tmp_path / name, **redis)
            made.append(await stack.enter_async_context(running_api(settings, first=not made)))
        a, b = made
        b.tokens = a.tokens  # one signing secret: A's tokens are good on B
        yield a, b


@pytest.fixture(params=["sqlite", POSTGRES_REDIS])
async def replicas(request, tmp_path):
    async with two_replicas(request.param, request, tmp_path) as pair:
        yield pair


@pytest.fixture
async def production_replicas(request, fresh_postgres_url, tmp_path):
    async with two_replicas("postgres-redis", request, tmp_path) as pair:
        yield pair


async def warm(api: Api, query: str, as_: str = "admin", variables: dict | None = None) -> httpx.Response:
    """Read until the replica serves it from its cache (the second read must be a hit)."""
    first = await api.post(query, variables, as_=as_)
    second = await api.post(query, variables, as_=as_)
    assert (first.headers["x-rdflow-cache"], second.headers["x-rdflow-cache"]) == ("miss", "hit")
    assert second.content == first.content
    return second


async def test_a_write_on_one_replica_shows_on_the_others_next_read(replicas: tuple[Api, Api]):
    a, b = replicas
    pid = (await a.gql(CREATE, {"n": "before"}))["createProject"]["id"]
    assert (await warm(b, PROJECTS)).json()["data"]["projects"]["nodes"] == [{"name": "before"}]
    await a.gql(RENAME, {"id": pid, "n": "after"})
    assert (await b.gql(PROJECTS))["projects"]["nodes"] == [{"name": "after"}]


async def test_a_deletion_on_one_replica_shows_on_the_others_next_read(replicas: tuple[Api, Api]):
    a, b = replicas
    keep = (await a.gql(CREATE, {"n": "kept"}))["createProject"]["id"]
    gone = (await a.gql(CREATE, {"n": "deleted"}))["createProject"]["id"]
    assert (await warm(b, PROJECTS)).json()["data"]["projects"]["totalCount"] == 2
    assert (await a.gql(DELETE, {"id": gone}))["deleteProject"] == gone
    assert (await b.gql(PROJECTS))["projects"] == {"totalCount": 1, "nodes": [{"name": "kept"}]}
    project = "query($id: ID!) { project(id: $id) { name } }"
    await warm(b, project, variables={"id": keep})
    await a.gql(DELETE, {"id": keep})
    assert (await b.error(project, {"id": keep}))["extensions"]["code"] == "NOT_FOUND"


async def test_a_removed_member_is_refused_on_the_next_read_on_another_replica(replicas: tuple[Api, Api]):
    a, b = replicas
    dev = await a.user("dev", Role.DEVELOPER)
    pid = (await a.gql(CREATE, {"n": "team"}))["createProject"]["id"]
    await a.gql(ADD_MEMBER, {"p": pid, "u": to_global_id("User", dev.id)})
    project = "query($id: ID!) { project(id: $id) { name } }"
    assert (await warm(b, PROJECTS, as_="dev")).json()["data"]["projects"]["nodes"] == [{"name": "team"}]
    await warm(b, project, as_="dev", variables={"id": pid})
    await a.gql(REMOVE_MEMBER, {"p": pid, "u": to_global_id("User", dev.id)})
    assert (await b.gql(PROJECTS, as_="dev"))["projects"] == {"totalCount": 0, "nodes": []}
    refused = await b.error(project, {"id": pid}, as_="dev")
    assert refused["extensions"]["code"] in ("FORBIDDEN", "NOT_FOUND")


async def test_a_role_change_on_one_replica_takes_effect_on_the_others_next_read(replicas: tuple[Api, Api]):
    """The viewer's role comes from authentication, which runs on every request, hit or not; its user cache trusts
    an entry only under the data version it was read under. Without Redis the change's event never reaches B at all
    (each process has its own bus), so on SQLite the version alone must do it; with Redis the event may still be on
    its way when B's next request arrives."""
    a, b = replicas
    maria = await a.user("maria", Role.SUPER_ADMIN)
    await warm(b, USERS, as_="maria")
    roles = "{ users { nodes { username role } } }"
    assert {"username": "maria", "role": "SUPER_ADMIN"} in (await warm(b, roles)).json()["data"]["users"]["nodes"]
    assert (await a.gql(ROLE, {"u": to_global_id("User", maria.id), "r": "GUEST"}))["updateUserRole"] == {
        "role": "GUEST"
    }
    assert (await b.error(USERS, as_="maria"))["extensions"]["code"] == "FORBIDDEN"
    # What others read about her changes too.
    assert {"username": "maria", "role": "GUEST"} in (await b.gql(roles))["users"]["nodes"]
