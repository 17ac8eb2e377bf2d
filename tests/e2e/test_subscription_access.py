"""Live subscriptions end when the viewer's access does: membership removal (4403), logout, deactivation, another
sign-in's password change and a role change that removes access (4401), on the embedded bus and across two replicas
(relayed between embedded worker processes, or on Redis); missed events close with 4009."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
import websockets

from domain.enums import JobStatus, Role
from domain.events import EventsMissed
from domain.model import Job
from resolvers.ids import from_global_id, to_global_id
from resolvers.subscriptions import RESYNC_REASON
from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api
from tests.e2e.test_auth import LOGIN, PASSWORD, sign_up
from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ
from tests.live import LiveServer, TransportWs

PROJECT_EVENTS = "subscription($p: ID!) { projectEvents(projectId: $p) { entityType action } }"
JOB_UPDATES = "subscription($id: ID!) { jobUpdated(id: $id) { status } }"
DEPLOYMENT_UPDATES = "subscription($id: ID!) { deploymentUpdated(id: $id) { status } }"
ADD_MEMBER = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
REMOVE_MEMBER = "mutation($p: ID!, $u: ID!) { removeProjectMember(projectId: $p, userId: $u) { id } }"


@pytest.fixture
async def live(sqlite_api: Api):
    async with LiveServer(sqlite_api.app) as server:
        yield server


async def project_with_member(api: Api, name: str = "maria") -> tuple[str, dict]:
    """A project, and a signed-up member of it (a GUEST with a password and a refresh token)."""
    pid = (await api.gql(CREATE_PROJECT, {"input": {"name": f"Shared with {name}"}}))["createProject"]["id"]
    session = await sign_up(api, name)
    member = await api.client.post(
        "/graphql", json={"query": "{ me { id } }"}, headers={"authorization": f"Bearer {session['accessToken']}"}
    )
    session["id"] = member.json()["data"]["me"]["id"]
    await api.gql(ADD_MEMBER, {"p": pid, "u": session["id"]})
    return pid, session


async def closed_with(ws: TransportWs, timeout: float = 10) -> tuple[int, str]:
    """Read until the server closes the socket; its close code and reason."""
    with pytest.raises(websockets.ConnectionClosed) as closed:
        while True:
            await ws.recv(timeout=timeout)
    assert closed.value.rcvd is not None, "the connection dropped without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def subscribed(url: str, token: str, query: str, variables: dict) -> TransportWs:
    ws = await TransportWs(url).__aenter__()
    assert (await ws.init({"authorization": f"Bearer {token}"}))["type"] == "connection_ack"
    await ws.subscribe("1", query, variables)
    await ws.next_payload()  # the current state
    return ws


async def running_job(api: Api, pid: str) -> str:
    project_id = from_global_id(pid)[1]
    now = api.container.services.deps.clock.now()
    job = Job(
        kind="test.none",
        subject_type="Project",
        subject_id=project_id,
        project_id=project_id,
        status=JobStatus.RUNNING,
        created_at=now,
        updated_at=now,
    )
    async with api.container.services.deps.uow() as uow:
        uow.jobs.add(job)
        await uow.commit()
    return to_global_id("Job", str(job.id))


async def deployment(api: Api, pid: str) -> str:
    """A deployment that stays still: PROD, awaiting approval (a released one is rolled out, sending events)."""
    return (
        await api.gql(
            """mutation($p: ID!) { createDeployment(input: {projectId: $p, environment: PROD, version: "1.0.0"}) {
            id } }""",
            {"p": pid},
        )
    )["createDeployment"]["id"]


async def test_removing_a_member_ends_each_of_their_subscriptions_with_4403(sqlite_api: Api, live: LiveServer):
    pid, maria = await project_with_member(sqlite_api)
    job, dep = await running_job(sqlite_api, pid), await deployment(sqlite_api, pid)
    sockets = [
        await subscribed(live.ws_url, maria["accessToken"], PROJECT_EVENTS, {"p": pid}),
        await subscribed(live.ws_url, maria["accessToken"], JOB_UPDATES, {"id": job}),
        await subscribed(live.ws_url, maria["accessToken"], DEPLOYMENT_UPDATES, {"id": dep}),
    ]
    admin = await subscribed(live.ws_url, sqlite_api.tokens["admin"], PROJECT_EVENTS, {"p": pid})
    try:
        await sqlite_api.gql(REMOVE_MEMBER, {"p": pid, "u": maria["id"]})
        for ws in sockets:
            code, reason = await closed_with(ws)
            assert code == 4403 and "member" in reason, (code, reason)
        # Whoever keeps access keeps the subscription, and sees the removal.
        assert (await admin.next_payload())["data"]["projectEvents"] == {
            "entityType": "Project",
            "action": "member_removed",
        }
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "t", "content": "c"}})
        assert (await admin.next_payload())["data"]["projectEvents"]["action"] == "created"
    finally:
        for ws in (*sockets, admin):
            await ws.__aexit__(None, None, None)


async def test_another_members_removal_leaves_a_subscription_open(sqlite_api: Api, live: LiveServer):
    pid, maria = await project_with_member(sqlite_api)
    other = await sign_up(sqlite_api, "other")
    other_id = (
        await sqlite_api.client.post(
            "/graphql", json={"query": "{ me { id } }"}, headers={"authorization": f"Bearer {other['accessToken']}"}
        )
    ).json()["data"]["me"]["id"]
    await sqlite_api.gql(ADD_MEMBER, {"p": pid, "u": other_id})
    ws = await subscribed(live.ws_url, maria["accessToken"], PROJECT_EVENTS, {"p": pid})
    try:
        await sqlite_api.gql(REMOVE_MEMBER, {"p": pid, "u": other_id})
        assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "member_removed"
    finally:
        await ws.__aexit__(None, None, None)


async def logout(api: Api, session: dict) -> None:
    await api.client.post(
        "/graphql",
        json={"query": "mutation { logout }"},
        headers={"authorization": f"Bearer {session['accessToken']}"},
    )


async def change_password(api: Api, session: dict) -> None:
    response = await api.client.post(
        "/graphql",
        json={
            "query": "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }",
            "variables": {"c": PASSWORD, "n": "a brand new passphrase"},
        },
        headers={"authorization": f"Bearer {session['accessToken']}"},
    )
    assert response.json() == {"data": {"changePassword": True}}, response.json()


async def deactivate(api: Api, session: dict) -> None:
    await api.gql("mutation($u: ID!) { deactivateUser(userId: $u) { id } }", {"u": session["id"]})


@pytest.mark.parametrize("end_sign_in", [logout, deactivate])
async def test_ending_the_sign_in_ends_subscriptions_with_4401(sqlite_api: Api, live: LiveServer, end_sign_in):
    pid, maria = await project_with_member(sqlite_api)
    job = await running_job(sqlite_api, pid)
    sockets = [
        await subscribed(live.ws_url, maria["accessToken"], PROJECT_EVENTS, {"p": pid}),
        await subscribed(live.ws_url, maria["accessToken"], JOB_UPDATES, {"id": job}),
    ]
    try:
        await end_sign_in(sqlite_api, maria)
        for ws in sockets:
            assert (await closed_with(ws))[0] == 4401
    finally:
        for ws in sockets:
            await ws.__aexit__(None, None, None)


async def test_a_password_change_ends_the_subscriptions_of_every_other_sign_in_with_4401(
    sqlite_api: Api, live: LiveServer
):
    pid, maria = await project_with_member(sqlite_api)
    elsewhere = (await sqlite_api.gql(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None))["login"]
    other = await subscribed(live.ws_url, elsewhere["accessToken"], PROJECT_EVENTS, {"p": pid})
    same = await subscribed(live.ws_url, maria["accessToken"], PROJECT_EVENTS, {"p": pid})
    try:
        await change_password(sqlite_api, maria)
        code, reason = await closed_with(other)
        assert code == 4401 and "password" in reason, (code, reason)
        # The sign-in that changed the password goes on.
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "t", "content": "c"}})
        assert (await same.next_payload())["data"]["projectEvents"]["action"] == "created"
    finally:
        for ws in (other, same):
            await ws.__aexit__(None, None, None)


async def test_a_role_change_that_removes_access_ends_subscriptions_with_4401(sqlite_api: Api, live: LiveServer):
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Not theirs"}}))["createProject"]["id"]
    boss = await sqlite_api.user("boss", Role.SUPER_ADMIN)  # reads every project without being a member
    ws = await subscribed(live.ws_url, sqlite_api.tokens["boss"], PROJECT_EVENTS, {"p": pid})
    try:
        await sqlite_api.gql(
            "mutation($u: ID!) { updateUserRole(userId: $u, role: DEVELOPER) { id } }",
            {"u": to_global_id("User", str(boss.id))},
        )
        code, reason = await closed_with(ws)
        assert code == 4401 and "role" in reason, (code, reason)
    finally:
        await ws.__aexit__(None, None, None)


async def test_a_role_change_that_keeps_access_keeps_the_subscription(sqlite_api: Api, live: LiveServer):
    pid, maria = await project_with_member(sqlite_api)
    ws = await subscribed(live.ws_url, maria["accessToken"], PROJECT_EVENTS, {"p": pid})
    try:
        await sqlite_api.gql(
            "mutation($u: ID!) { updateUserRole(userId: $u, role: TESTER) { id } }", {"u": maria["id"]}
        )
        await sqlite_api.gql(CREATE_REQ, {"input": {"projectId": pid, "title": "t", "content": "c"}})
        assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "created"
    finally:
        await ws.__aexit__(None, None, None)


async def test_missed_events_close_the_subscription_with_4009_and_the_reason(
    sqlite_api: Api, live: LiveServer, monkeypatch
):
    bus = sqlite_api.container.bus
    lost = asyncio.Event()
    real_subscribe = bus.subscribe

    @contextlib.asynccontextmanager
    async def losing_subscribe(topics, on_overflow=None, direct=None) -> AsyncIterator[AsyncIterator]:
        """A subscription whose broker connection drops once `lost` is set (nothing is delivered directly)."""
        async with real_subscribe(topics, on_overflow):

            async def until_lost():
                await lost.wait()
                raise EventsMissed()
                yield

            yield until_lost()

    monkeypatch.setattr(bus, "subscribe", losing_subscribe)
    pid = (await sqlite_api.gql(CREATE_PROJECT, {"input": {"name": "Lossy"}}))["createProject"]["id"]
    ws = await subscribed(live.ws_url, sqlite_api.tokens["admin"], PROJECT_EVENTS, {"p": pid})
    try:
        lost.set()
        assert await closed_with(ws) == (4009, RESYNC_REASON)
    finally:
        await ws.__aexit__(None, None, None)


def _replica_settings(request, tmp_path, name: str) -> Settings:
    if request.param == "embedded":
        # Two worker processes' worth of the embedded default: one SQLite file and data folder, the events relayed.
        return Settings(database_url=f"sqlite:///{tmp_path}/rdflow.db", data_dir=tmp_path, workers=2)
    return Settings(
        database_url=request.getfixturevalue("fresh_postgres_url"),
        redis_url=request.getfixturevalue("redis_url"),
        redis_prefix=request.getfixturevalue("redis_prefix"),
        data_dir=tmp_path / name,
    )


@pytest.fixture(params=["embedded", pytest.param("redis", marks=[pytest.mark.postgres, pytest.mark.redis])])
async def replicas(request, tmp_path):
    async with contextlib.AsyncExitStack() as stack:
        made = []
        for name in ("a", "b"):
            settings = _replica_settings(request, tmp_path, name)
            api = await stack.enter_async_context(running_api(settings, first=not made))
            api.server = await stack.enter_async_context(LiveServer(api.app))
            made.append(api)
        made[1].tokens = made[0].tokens
        yield made


async def test_grants_ended_on_one_replica_end_subscriptions_on_the_other(replicas: list[Api]):
    a, b = replicas
    pid, maria = await project_with_member(a)
    other_pid, kept = await project_with_member(a, "kept")
    removed = await subscribed(b.server.ws_url, maria["accessToken"], PROJECT_EVENTS, {"p": pid})
    signed_out = await subscribed(b.server.ws_url, kept["accessToken"], PROJECT_EVENTS, {"p": other_pid})
    try:
        await a.gql(REMOVE_MEMBER, {"p": pid, "u": maria["id"]})
        assert (await closed_with(removed))[0] == 4403
        await logout(a, kept)
        assert (await closed_with(signed_out))[0] == 4401
    finally:
        for ws in (removed, signed_out):
            await ws.__aexit__(None, None, None)
