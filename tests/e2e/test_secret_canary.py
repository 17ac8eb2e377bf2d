"""A secret's value never leaves the server: a unique canary is set through a running `rdflow serve` (as
variables, inline in the document, refused for a guest, refused as bad input, rotated), then searched for in every
GraphQL response and subscription message, every line the server logged (at DEBUG) and every audit row."""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.live import ServeProcess, TransportWs

pytestmark = pytest.mark.slow

PROJECT_EVENTS = """subscription Events($p: ID!) { projectEvents(projectId: $p) {
  entityType entityId action oldStatus newStatus data actor { username } } }"""
ENVIRONMENTS = """query Environments($p: ID!) { environments(projectId: $p) { environment namespace
  variables { name value } secrets { name updatedAt updatedBy { username } } } }"""
SET_SECRET = """mutation SetSecret($p: ID!, $e: Environment!, $n: String!, $v: String!) {
  setEnvironmentSecret(projectId: $p, environment: $e, name: $n, value: $v) { secrets { name } } }"""
AUDIT = """query Audit { auditLog(first: 100) { totalCount nodes { action outcome entityType entityId before after
  requestId actor { username } } } }"""


def audit_table(db: Path) -> str:
    with sqlite3.connect(db) as conn:
        return json.dumps(conn.execute("SELECT * FROM audit_log").fetchall(), default=str)


def assert_absent(needles: list[str], places: dict[str, str]) -> None:
    """None of `needles` in any of `places` (name -> text); the failure says where."""
    found = [
        (where, text[max(0, text.index(needle) - 300) : text.index(needle)])
        for needle in needles
        for where, text in places.items()
        if needle in text
    ]
    assert not found, f"secret material leaked (where, what came before it): {found}"


async def test_a_secret_canary_is_in_no_response_log_line_or_audit_entry(tmp_path):
    canary = f"canary-{uuid.uuid4().hex}"
    env = {
        "RDFLOW_ENV": "production",
        "RDFLOW_LOG_LEVEL": "debug",
        "JWT_SECRET": uuid.uuid4().hex * 2,
        "RDFLOW_FERNET_KEY": Fernet.generate_key().decode(),
    }
    responses: list[str] = []
    messages: list[str] = []
    async with (
        ServeProcess(tmp_path, tmp_path / "serve.out", env) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):

        async def post(query: str, token: str | None = None, **variables) -> dict:
            headers = {"authorization": f"Bearer {token}"} if token else {}
            named = re.match(r"\s*(?:query|mutation)\s+(\w+)", query)
            body = {"query": query, "variables": variables, "operationName": named.group(1) if named else None}
            response = await client.post("/graphql", json=body, headers=headers)
            responses.append(response.text)
            return response.json()

        async def login(name: str, password: str) -> str:
            query = "mutation Login($u: String!, $p: String!) { login(username: $u, password: $p) { accessToken } }"
            return (await post(query, u=name, p=password))["data"]["login"]["accessToken"]

        admin = await login("admin", ServeProcess.ADMIN_PASSWORD)
        pid = (await post('mutation { createProject(input: {name: "Vault"}) { id } }', admin))["data"]["createProject"][
            "id"
        ]
        tokens = {}
        for name, role in (("lead", "PROJECT_ADMIN"), ("guest", "GUEST")):
            created = await post(
                "mutation($i: CreateUserInput!) { createUser(input: $i) { id } }",
                admin,
                i={"username": name, "email": f"{name}@example.com", "password": "Pass-word-123", "role": role},
            )
            user_id = created["data"]["createUser"]["id"]
            add = "mutation($p: ID!, $u: ID!) { addProjectMember(projectId: $p, userId: $u) { id } }"
            await post(add, admin, p=pid, u=user_id)
            tokens[name] = await login(name, "Pass-word-123")

        async with TransportWs(server.ws_url) as ws:
            assert (await ws.init({"authorization": f"Bearer {tokens['guest']}"}))["type"] == "connection_ack"
            await ws.subscribe("1", PROJECT_EVENTS, {"p": pid})
            assert (await ws.next_payload())["data"]["projectEvents"]["action"] == "snapshot"

            set_ok = await post(SET_SECRET, tokens["lead"], p=pid, e="PROD", n="DB_PASSWORD", v=canary)
            assert set_ok["data"]["setEnvironmentSecret"]["secrets"] == [{"name": "DB_PASSWORD"}], set_ok
            inline = f"""mutation Rotate($p: ID!) {{ setEnvironmentSecret(projectId: $p, environment: PROD,
              name: "DB_PASSWORD", value: "{canary}-rotated") {{ secrets {{ name }} }} }}"""
            assert "errors" not in await post(inline, tokens["lead"], p=pid)
            refused = await post(SET_SECRET, tokens["guest"], p=pid, e="PROD", n="DB_PASSWORD", v=canary)
            assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
            bad = await post(SET_SECRET, tokens["lead"], p=pid, e="DEV", n="not a name", v=canary)
            assert bad["errors"][0]["extensions"]["field"] == "name"
            mistyped = await post(SET_SECRET, tokens["lead"], p=pid, e="NOWHERE", n="X", v=canary)
            assert mistyped["errors"]

            events = []
            while len([e for e in events if e["action"] == "secret_set"]) < 2:  # one per stored change, names only
                message = await ws.recv()
                messages.append(json.dumps(message))
                events.append(message["payload"]["data"]["projectEvents"])
            assert [(e["entityType"], e["action"], e["data"]) for e in events] == [
                ("ProjectEnvironment", "created", {}),
                *[("ProjectEnvironment", "secret_set", {"environment": "PROD", "secret": "DB_PASSWORD"})] * 2,
            ]

        for who in ("lead", "guest"):
            listed = await post(ENVIRONMENTS, tokens[who], p=pid)
            assert [s["name"] for s in listed["data"]["environments"][2]["secrets"]] == ["DB_PASSWORD"]
        audit = await post(AUDIT, admin)
        actions = {(a["action"], a["outcome"]) for a in audit["data"]["auditLog"]["nodes"]}
        assert {("environment.secret.set", "OK"), ("environment.secret.set", "DENIED")} <= actions

    db = tmp_path / "rdflow.db"
    with sqlite3.connect(db) as conn:
        [(ciphertext,)] = conn.execute("SELECT value_encrypted FROM environment_secrets").fetchall()
    log = server.log()
    places = {
        "GraphQL responses": "\n".join(responses),
        "subscription messages": "\n".join(messages),
        "server log": log,
        "audit table": audit_table(db),
    }
    # The places searched are the right ones: each holds the secret's name, and the log has the requests.
    assert all("DB_PASSWORD" in text for where, text in places.items() if where != "server log"), places
    access = [json.loads(line) for line in server.stderr_lines() if '"rdflow.access"' in line]
    assert {"SetSecret", "Rotate"} <= {line.get("operation") for line in access}
    assert len(access) >= len(responses)
    assert_absent([canary, ciphertext], places)

    # ...and the search would see a leak: an audit entry holding the value fails it.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE audit_log SET after = ? WHERE action = 'environment.secret.set'", [f'{{"v": "{canary}"}}'])
    with pytest.raises(AssertionError, match="audit table"):
        assert_absent([canary], {"audit table": audit_table(db)})
