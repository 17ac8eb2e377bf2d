"""Sign-ins that must end: a password change ends every other session; account and sign-up throttling."""

from __future__ import annotations

import httpx
import pytest

from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings

PASSWORD, NEW_PASSWORD = "first secret 123", "second secret 456"
REGISTER = """mutation($u: String!, $e: String!, $p: String!) {
  register(username: $u, email: $e, password: $p) { accessToken } }"""
LOGIN = "mutation($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken refreshToken } }"
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"
CHANGE = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
ME = "{ me { username } }"


async def call(api: Api, query: str, variables: dict, token: str | None = None) -> httpx.Response:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return await api.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)


def code(response: httpx.Response) -> str | None:
    errors = response.json().get("errors")
    return errors[0]["extensions"]["code"] if errors else None


async def sign_in(api: Api, who: str = "carol", password: str = PASSWORD) -> dict:
    response = await call(api, LOGIN, {"u": who, "p": password})
    assert code(response) is None, response.json()
    return response.json()["data"]["login"]


async def test_a_password_change_ends_every_other_session_and_keeps_this_one(api: Api):
    await call(api, REGISTER, {"u": "carol", "e": "carol@example.com", "p": PASSWORD})
    here, laptop, phone = await sign_in(api), await sign_in(api), await sign_in(api)
    phone_refreshed = (await call(api, REFRESH, {"t": phone["refreshToken"]})).json()["data"]["refreshToken"]
    phone_refreshed = phone_refreshed["refreshToken"]

    changed = await call(api, CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, here["accessToken"])
    assert changed.json() == {"data": {"changePassword": True}}

    assert code(await call(api, ME, {}, laptop["accessToken"])) == "UNAUTHENTICATED"
    assert code(await call(api, REFRESH, {"t": laptop["refreshToken"]})) == "UNAUTHENTICATED"
    assert code(await call(api, REFRESH, {"t": phone_refreshed})) == "UNAUTHENTICATED"
    # The session that changed the password goes on, through its refreshes too.
    assert code(await call(api, ME, {}, here["accessToken"])) is None
    renewed = (await call(api, REFRESH, {"t": here["refreshToken"]})).json()["data"]["refreshToken"]["refreshToken"]
    assert renewed and code(await call(api, REFRESH, {"t": renewed})) is None
    # A new sign-in with the new password works; the old password does not.
    assert code(await call(api, ME, {}, (await sign_in(api, password=NEW_PASSWORD))["accessToken"])) is None
    assert code(await call(api, LOGIN, {"u": "carol", "p": PASSWORD})) == "UNAUTHENTICATED"


@pytest.mark.redis
async def test_a_password_change_holds_with_sessions_in_redis(redis_url, redis_prefix, tmp_path):
    settings = sqlite_settings(tmp_path, redis_url=redis_url, redis_prefix=redis_prefix)
    async with running_api(settings) as api:
        await call(api, REGISTER, {"u": "carol", "e": "carol@example.com", "p": PASSWORD})
        here, there = await sign_in(api), await sign_in(api)
        await call(api, CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, here["accessToken"])
        assert code(await call(api, ME, {}, there["accessToken"])) == "UNAUTHENTICATED"
        assert code(await call(api, ME, {}, here["accessToken"])) is None
        assert code(await call(api, REFRESH, {"t": here["refreshToken"]})) is None


async def test_a_second_password_change_ends_the_session_kept_by_the_first(api: Api):
    await call(api, REGISTER, {"u": "carol", "e": "carol@example.com", "p": PASSWORD})
    first, second = await sign_in(api), await sign_in(api)
    await call(api, CHANGE, {"c": PASSWORD, "n": NEW_PASSWORD}, first["accessToken"])
    again = await sign_in(api, password=NEW_PASSWORD)
    await call(api, CHANGE, {"c": NEW_PASSWORD, "n": "third secret 789"}, again["accessToken"])
    assert code(await call(api, ME, {}, first["accessToken"])) == "UNAUTHENTICATED"
    assert code(await call(api, ME, {}, second["accessToken"])) == "UNAUTHENTICATED"
    assert code(await call(api, ME, {}, again["accessToken"])) is None


async def test_the_account_limit_counts_the_account_not_the_spelling(sqlite_api: Api):
    await call(sqlite_api, REGISTER, {"u": "Carol", "e": "carol@example.com", "p": PASSWORD})
    for _ in range(5):
        assert code(await call(sqlite_api, LOGIN, {"u": "Carol", "p": "wrong password 1"})) == "UNAUTHENTICATED"
    for spelling in ("carol@example.com", "CAROL@example.com", " Carol "):
        assert code(await call(sqlite_api, LOGIN, {"u": spelling, "p": PASSWORD})) == "TOO_MANY_REQUESTS"


async def test_unknown_names_are_limited_per_lowercase_name(sqlite_api: Api):
    for _ in range(5):
        assert code(await call(sqlite_api, LOGIN, {"u": "Ghost", "p": "wrong password 1"})) == "UNAUTHENTICATED"
    assert code(await call(sqlite_api, LOGIN, {"u": "ghost", "p": "wrong password 1"})) == "TOO_MANY_REQUESTS"
    assert code(await call(sqlite_api, LOGIN, {"u": "other", "p": "wrong password 1"})) == "UNAUTHENTICATED"


async def test_register_is_throttled_per_address(tmp_path):
    async with running_api(sqlite_settings(tmp_path, login_max_per_address=3)) as api:
        answers = [
            code(await call(api, REGISTER, {"u": "admin", "e": f"x{i}@example.com", "p": PASSWORD})) for i in range(4)
        ]
        assert answers == ["CONFLICT", "CONFLICT", "CONFLICT", "TOO_MANY_REQUESTS"]
        response = await call(api, REGISTER, {"u": "newcomer", "e": "n@example.com", "p": PASSWORD})
        assert code(response) == "TOO_MANY_REQUESTS"
        assert response.json()["errors"][0]["extensions"]["retryAfterSeconds"] > 0


@pytest.mark.parametrize("other", ["login", "register"])
async def test_register_and_login_count_separately(tmp_path, other: str):
    async with running_api(sqlite_settings(tmp_path, login_max_per_address=2)) as api:
        for i in range(2):
            await call(api, REGISTER, {"u": f"user{i}", "e": f"u{i}@example.com", "p": PASSWORD})
        if other == "login":
            assert code(await call(api, LOGIN, {"u": "user0", "p": PASSWORD})) is None
        else:
            assert code(await call(api, REGISTER, {"u": "user9", "e": "u9@example.com", "p": PASSWORD})) == (
                "TOO_MANY_REQUESTS"
            )
