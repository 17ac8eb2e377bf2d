"""Two API replicas sharing PostgreSQL and Redis: a logout and a login throttle on one hold on the other."""

from __future__ import annotations

import contextlib

import jwt
import pytest
import redis.asyncio as redis

from server.settings import Settings
from tests.api import Api
from tests.e2e.conftest import running_api
from tests.e2e.test_auth import LOGIN, PASSWORD, me, sign_up

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


@pytest.fixture
async def replicas(fresh_postgres_url, redis_url, redis_prefix, tmp_path):
    async with contextlib.AsyncExitStack() as stack:
        made = []
        for name in ("a", "b"):
            settings = Settings(
                database_url=fresh_postgres_url,
                redis_url=redis_url,
                redis_prefix=redis_prefix,
                data_dir=tmp_path / name,
                login_max_per_account=3,
                login_max_per_address=6,
            )
            made.append(await stack.enter_async_context(running_api(settings, first=not made)))
        yield made


async def test_a_token_revoked_on_one_replica_is_refused_on_the_other(replicas: list[Api], redis_url, redis_prefix):
    a, b = replicas
    session = await sign_up(a)
    assert (await me(b, session["accessToken"]))["data"]["me"]["username"] == "maria"
    logout = await a.client.post(
        "/graphql", json={"query": "mutation { logout }"}, headers={"authorization": f"Bearer {session['accessToken']}"}
    )
    assert logout.json() == {"data": {"logout": True}}
    refused = await me(b, session["accessToken"])
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    jti = jwt.decode(session["accessToken"], options={"verify_signature": False})["jti"]
    client = redis.from_url(redis_url)
    try:  # the revocation lives in Redis until the token would have expired anyway
        assert 0 < await client.ttl(f"{redis_prefix}:token:blacklist:{jti}") <= 30 * 60
    finally:
        await client.aclose()


async def test_login_attempts_are_counted_across_replicas(replicas: list[Api]):
    a, b = replicas
    await sign_up(a)
    for api in (a, b, a):
        await api.error(LOGIN, {"u": "maria", "p": "wrong password!"}, as_=None)
    throttled = await b.error(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None)
    assert throttled["extensions"]["code"] == "TOO_MANY_REQUESTS", throttled


async def test_login_attempts_are_counted_per_client_address(replicas: list[Api]):
    a, b = replicas
    for i in range(6):  # different accounts, one address: the per-account limit never trips
        await (a if i % 2 else b).error(LOGIN, {"u": f"nobody{i}", "p": "wrong password!"}, as_=None)
    await sign_up(a, "fresh")
    throttled = await a.error(LOGIN, {"u": "fresh", "p": PASSWORD}, as_=None)
    assert throttled["extensions"]["code"] == "TOO_MANY_REQUESTS", throttled
    assert throttled["extensions"]["retryAfterSeconds"] > 0


# Replica B keeps signed-in users in its user cache; a change on replica A must reach B's next request.
USERS = "{ users(first: 1) { totalCount } }"
ROLE = "mutation($u: ID!, $r: Role!) { updateUserRole(userId: $u, role: $r) { role } }"
DEACTIVATE = "mutation($u: ID!) { deactivateUser(userId: $u) { status } }"
CHANGE_PASSWORD = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"


async def _as(api: Api, token: str, query: str, variables: dict | None = None) -> dict:
    response = await api.client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers={"authorization": f"Bearer {token}"}
    )
    return response.json()


def _code(body: dict) -> str | None:
    return body["errors"][0]["extensions"]["code"] if body.get("errors") else None


async def test_a_demotion_on_one_replica_takes_effect_on_the_others_next_request(replicas: list[Api]):
    a, b = replicas
    session = await sign_up(a)
    admin, maria = a.tokens["admin"], session["accessToken"]
    user_id = (await _as(a, maria, "{ me { id } }"))["data"]["me"]["id"]
    await _as(a, admin, ROLE, {"u": user_id, "r": "SUPER_ADMIN"})
    for _ in range(3):  # served from B's cache after the first
        assert _code(await _as(b, maria, USERS)) is None
    assert _code(await _as(a, admin, ROLE, {"u": user_id, "r": "GUEST"})) is None
    assert _code(await _as(b, maria, USERS)) == "FORBIDDEN"


async def test_a_deactivation_on_one_replica_refuses_the_user_on_the_other(replicas: list[Api]):
    a, b = replicas
    session = await sign_up(a)
    maria = session["accessToken"]
    user_id = (await _as(b, maria, "{ me { id } }"))["data"]["me"]["id"]
    assert (await me(b, maria))["data"]["me"]["username"] == "maria"
    assert _code(await _as(a, a.tokens["admin"], DEACTIVATE, {"u": user_id})) is None
    assert _code(await me(b, maria)) == "UNAUTHENTICATED"


async def test_a_password_change_on_one_replica_ends_the_other_sign_ins_there(replicas: list[Api]):
    a, b = replicas
    first = await sign_up(a)
    second = (await a.gql(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None))["login"]
    assert (await me(b, second["accessToken"]))["data"]["me"]["username"] == "maria"
    changed = await _as(a, first["accessToken"], CHANGE_PASSWORD, {"c": PASSWORD, "n": "another horse battery staple"})
    assert changed == {"data": {"changePassword": True}}
    assert _code(await me(b, second["accessToken"])) == "UNAUTHENTICATED"
    assert (await me(b, first["accessToken"]))["data"]["me"]["username"] == "maria"  # the sign-in that changed it


async def test_a_logout_takes_effect_at_once_although_the_user_is_cached(replicas: list[Api]):
    a, b = replicas
    session = await sign_up(a)
    other = (await a.gql(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None))["login"]
    assert (await me(b, session["accessToken"]))["data"]["me"]["username"] == "maria"
    assert (await me(b, other["accessToken"]))["data"]["me"]["username"] == "maria"
    logout = await _as(a, session["accessToken"], "mutation { logout }")
    assert logout == {"data": {"logout": True}}
    assert _code(await me(b, session["accessToken"])) == "UNAUTHENTICATED"
    assert (await me(b, other["accessToken"]))["data"]["me"]["username"] == "maria"  # a sign-in of its own
