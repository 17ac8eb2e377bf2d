"""A production `rdflow serve` logs one JSON object per line on stderr; each GraphQL request gets an access line with
the request id it was given in X-Request-ID (when valid) or a generated one, and deeper lines carry it too."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import uuid

import httpx
import pytest
from cryptography.fernet import Fernet

from resolvers.ids import from_global_id
from tests.live import ServeProcess

pytestmark = pytest.mark.slow

GENERATED = re.compile(r"^[0-9a-f]{32}$")


def records(server: ServeProcess) -> list[dict]:
    """Every stderr line, parsed: the test fails on the first one that is not a JSON object with the basics."""
    parsed = []
    for line in server.stderr_lines():
        record = json.loads(line)
        assert isinstance(record, dict), line
        assert {"time", "level", "logger", "message"} <= record.keys(), line
        parsed.append(record)
    return parsed


async def logged(server: ServeProcess, match, what: str) -> dict:
    for _ in range(100):
        found = [r for r in records(server) if match(r)]
        if found:
            assert len(found) == 1, found
            return found[0]
        await asyncio.sleep(0.05)
    raise AssertionError(f"no {what} in the log:\n{server.log()[-4000:]}")


async def test_production_logs_are_json_lines_carrying_the_request_id(tmp_path):
    env = {
        "RDFLOW_ENV": "production",
        "JWT_SECRET": uuid.uuid4().hex * 2,
        "RDFLOW_FERNET_KEY": Fernet.generate_key().decode(),
    }
    async with (
        ServeProcess(tmp_path, tmp_path / "serve.out", env) as server,
        httpx.AsyncClient(base_url=server.url) as client,
    ):

        async def post(query: str, name: str, request_id: str | None = None, token: str | None = None, **variables):
            headers = {"x-request-id": request_id} if request_id is not None else {}
            if token:
                headers["authorization"] = f"Bearer {token}"
            body = {"query": query, "operationName": name, "variables": variables}
            return await client.post("/graphql", json=body, headers=headers)

        login = await post(
            'mutation Login($p: String!) { login(username: "admin", password: $p) { accessToken } }',
            "Login",
            "login-1",
            p=ServeProcess.ADMIN_PASSWORD,
        )
        assert login.headers["x-request-id"] == "login-1"
        token = login.json()["data"]["login"]["accessToken"]

        me = await post("query Me { me { id } }", "Me", "given.id_2-b", token)
        viewer_id = str(from_global_id(me.json()["data"]["me"]["id"])[1])
        without = await post("query Me { me { id } }", "Me", None, token)
        invalid = await post("query Me { me { id } }", "Me", "not valid!", token)
        generated_without, generated_invalid = without.headers["x-request-id"], invalid.headers["x-request-id"]
        assert GENERATED.match(generated_without) and GENERATED.match(generated_invalid)
        assert generated_without != generated_invalid

        # A row the code does not expect (an unknown status) makes an unexpected error with an incident id.
        await post('mutation Create { createProject(input: {name: "Logs"}) { id } }', "Create", "create-1", token)
        with sqlite3.connect(tmp_path / "rdflow.db") as db:
            db.execute("UPDATE projects SET status = 'MELTED'")
        boom = (await post("query Projects { projects { nodes { status } } }", "Projects", "boom-1", token)).json()
        error = boom["errors"][0]["extensions"]
        assert error["code"] == "INTERNAL_SERVER_ERROR", boom

        def access(request_id: str):
            return lambda r: r["logger"] == "rdflow.access" and r.get("request_id") == request_id

        line = await logged(server, access("login-1"), "access line of the login")
        assert line["operation"] == "Login" and line["outcome"] == "ok" and line["status"] == 200
        assert "viewer_id" not in line and line["level"] == "INFO" and line["duration_ms"] > 0
        for request_id in ("given.id_2-b", generated_without, generated_invalid):
            line = await logged(server, access(request_id), f"access line of {request_id}")
            assert line["operation"] == "Me" and line["outcome"] == "ok" and line["viewer_id"] == viewer_id
        assert not [r for r in records(server) if r.get("request_id") == "not valid!"]

        line = await logged(server, access("boom-1"), "access line of the failing request")
        assert line["outcome"] == "error" and line["error_codes"] == ["INTERNAL_SERVER_ERROR"]
        incident = await logged(
            server, lambda r: error["incident"] in r["message"] and r["logger"] == "rdflow.errors", "incident line"
        )
        assert incident["level"] == "ERROR" and incident["request_id"] == "boom-1"
        assert incident["operation"] == "Projects" and incident["viewer_id"] == viewer_id
        assert "Traceback" in incident["exc_info"]
        # uvicorn's own lines are JSON too, and its access log does not repeat ours.
        assert any(r["logger"].startswith("uvicorn") for r in records(server))
        assert not [r for r in records(server) if r["logger"] == "uvicorn.access"]
