"""Sign-in, refresh rotation with reuse detection, logout revocation, password rules, login throttling, audit."""

from __future__ import annotations

import pytest

from domain.enums import Role
from tests.api import Api

LOGIN = """mutation($u: String!, $p: String!) { login(username: $u, password: $p) {
  accessToken refreshToken expiresAt user { username role } } }"""
REGISTER = """mutation($u: String!, $e: String!, $p: String!) { register(username: $u, email: $e, password: $p) {
  accessToken refreshToken user { username role } } }"""
REFRESH = "mutation($t: String!) { refreshToken(refreshToken: $t) { accessToken refreshToken } }"
PASSWORD = "correct horse battery staple"


async def me(api: Api, token: str) -> dict:
    r = await api.client.post(
        "/graphql", json={"query": "{ me { username } }"}, headers={"authorization": f"Bearer {token}"}
    )
    return r.json()


async def sign_up(api: Api, name: str = "maria") -> dict:
    return (await api.gql(REGISTER, {"u": name, "e": f"{name}@example.com", "p": PASSWORD}, as_=None))["register"]


async def test_register_then_login_with_username_or_email(api: Api):
    session = await sign_up(api)
    assert session["user"] == {"username": "maria", "role": "GUEST"}
    assert (await me(api, session["accessToken"]))["data"]["me"]["username"] == "maria"
    for identifier in ("maria", "MARIA@example.com"):
        login = (await api.gql(LOGIN, {"u": identifier, "p": PASSWORD}, as_=None))["login"]
        assert login["user"]["username"] == "maria" and login["accessToken"] != session["accessToken"]


async def test_login_failures_do_not_reveal_whether_the_user_exists(api: Api):
    await sign_up(api)
    wrong_password = await api.error(LOGIN, {"u": "maria", "p": "not the password"}, as_=None)
    unknown_user = await api.error(LOGIN, {"u": "nobody", "p": "not the password"}, as_=None)
    assert wrong_password["message"] == unknown_user["message"] == "invalid username/email or password"
    assert wrong_password["extensions"]["code"] == unknown_user["extensions"]["code"] == "UNAUTHENTICATED"


@pytest.mark.parametrize(
    "password, needle", [("short", "at least 10"), ("password123", "too common"), ("aaaaaaaaaaaa", "too simple")]
)
async def test_weak_passwords_are_refused_with_a_reason(api: Api, password, needle):
    error = await api.error(REGISTER, {"u": "weak", "e": "weak@example.com", "p": password}, as_=None)
    assert error["extensions"]["field"] == "password" and needle in error["message"]


async def test_refresh_rotates_and_reuse_revokes_the_whole_sign_in(api: Api):
    session = await sign_up(api)
    second = (await api.gql(REFRESH, {"t": session["refreshToken"]}, as_=None))["refreshToken"]
    third = (await api.gql(REFRESH, {"t": second["refreshToken"]}, as_=None))["refreshToken"]
    assert (await me(api, third["accessToken"]))["data"]["me"]["username"] == "maria"

    reuse = await api.error(REFRESH, {"t": session["refreshToken"]}, as_=None)
    assert reuse["extensions"]["code"] == "UNAUTHENTICATED" and "reuse" in reuse["message"]
    # Every token of that sign-in is now dead, including the newest ones.
    assert (await me(api, third["accessToken"]))["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    dead = await api.error(REFRESH, {"t": third["refreshToken"]}, as_=None)
    assert dead["extensions"]["code"] == "UNAUTHENTICATED"
    # Another sign-in of the same user is unaffected.
    other = (await api.gql(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None))["login"]
    assert (await me(api, other["accessToken"]))["data"]["me"]["username"] == "maria"


async def test_an_access_token_is_not_a_refresh_token(api: Api):
    session = await sign_up(api)
    error = await api.error(REFRESH, {"t": session["accessToken"]}, as_=None)
    assert error["extensions"]["code"] == "UNAUTHENTICATED" and "refresh" in error["message"]


async def test_logout_revokes_the_token_on_the_next_request(api: Api):
    session = await sign_up(api)
    r = await api.client.post(
        "/graphql", json={"query": "mutation { logout }"}, headers={"authorization": f"Bearer {session['accessToken']}"}
    )
    assert r.json() == {"data": {"logout": True}}
    refused = await me(api, session["accessToken"])
    assert r.status_code == 200 and refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    error = await api.error(REFRESH, {"t": session["refreshToken"]}, as_=None)
    assert error["extensions"]["code"] == "UNAUTHENTICATED"


async def test_change_password(api: Api):
    session = await sign_up(api)
    headers = {"authorization": f"Bearer {session['accessToken']}"}
    change = "mutation($c: String!, $n: String!) { changePassword(currentPassword: $c, newPassword: $n) }"
    wrong = (
        await api.client.post("/graphql", json={"query": change, "variables": {"c": "nope", "n": "x"}}, headers=headers)
    ).json()
    assert wrong["errors"][0]["extensions"]["field"] == "currentPassword"
    ok = (
        await api.client.post(
            "/graphql",
            json={"query": change, "variables": {"c": PASSWORD, "n": "a much better passphrase"}},
            headers=headers,
        )
    ).json()
    assert ok == {"data": {"changePassword": True}}
    assert (await api.error(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None))["extensions"]["code"] == "UNAUTHENTICATED"
    assert (await api.gql(LOGIN, {"u": "maria", "p": "a much better passphrase"}, as_=None))["login"]


async def test_login_is_throttled_per_account(sqlite_api: Api):
    await sign_up(sqlite_api)
    for _ in range(5):
        await sqlite_api.error(LOGIN, {"u": "maria", "p": "wrong password!"}, as_=None)
    throttled = await sqlite_api.error(LOGIN, {"u": "maria", "p": PASSWORD}, as_=None)
    assert throttled["extensions"]["code"] == "TOO_MANY_REQUESTS"
    assert throttled["extensions"]["retryAfterSeconds"] > 0 and "try again" in throttled["message"]
    other = await sign_up(sqlite_api, "other")
    assert (await sqlite_api.gql(LOGIN, {"u": "other", "p": PASSWORD}, as_=None))["login"] and other


async def test_audit_log_records_changes_logins_and_refusals(api: Api):
    await sign_up(api)
    await api.error(LOGIN, {"u": "maria", "p": "wrong password!"}, as_=None)
    created = await api.client.post(
        "/graphql",
        json={"query": 'mutation { createProject(input: {name: "Audited"}) { id } }'},
        headers={"authorization": f"Bearer {api.tokens['admin']}", "x-request-id": "req-audit-1"},
    )
    assert created.status_code == 200
    await api.user("guest", Role.GUEST)
    await api.error('mutation { createProject(input: {name: "Nope"}) { id } }', as_="guest")

    q = """query($f: AuditFilter) { auditLog(first: 20, filter: $f) { totalCount nodes { action outcome entityType
        before after requestId clientAddress actor { username } } } }"""
    project = (await api.gql(q, {"f": {"action": "project.create", "outcome": "OK"}}))["auditLog"]["nodes"]
    assert len(project) == 1 and project[0]["outcome"] == "OK" and project[0]["before"] is None
    assert project[0]["after"]["name"] == "Audited" and project[0]["requestId"] == "req-audit-1"
    assert project[0]["actor"] == {"username": "admin"} and project[0]["clientAddress"]
    denied = (await api.gql(q, {"f": {"outcome": "DENIED"}}))["auditLog"]["nodes"]
    assert {d["action"] for d in denied} >= {"auth.login", "project.create"}
    assert any(d["actor"] == {"username": "guest"} for d in denied if d["action"] == "project.create")
    logins = (await api.gql(q, {"f": {"action": "auth.login", "outcome": "OK"}}))["auditLog"]["totalCount"]
    assert logins == 0  # sign_up registers; it does not log in
    error = await api.error("{ auditLog { totalCount } }", as_="guest")
    assert error["extensions"]["code"] == "FORBIDDEN"


async def test_audit_log_pages_with_cursors(sqlite_api: Api):
    for i in range(5):
        await sqlite_api.gql("mutation($n: String!) { createProject(input: {name: $n}) { id } }", {"n": f"p{i}"})
    q = """query($after: String) { auditLog(first: 2, after: $after, filter: {action: "project.create"}) {
        totalCount pageInfo { hasNextPage endCursor } nodes { after } } }"""
    names, after = [], None
    while True:
        page = (await sqlite_api.gql(q, {"after": after}))["auditLog"]
        assert page["totalCount"] == 5 and len(page["nodes"]) <= 2
        names += [n["after"]["name"] for n in page["nodes"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert sorted(names) == [f"p{i}" for i in range(5)]
