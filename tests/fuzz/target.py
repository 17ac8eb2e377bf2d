"""One fuzzed request against a seeded server, and every way its outcome breaks the API's contract."""

from __future__ import annotations

import json
import time

import httpx
from hypothesis import strategies as st

from domain.enums import Role
from tests.fuzz.fingerprint import DatabaseReader
from tests.fuzz.server import Seed, ServerProcess
from tests.fuzz.strategies import Operation

REFUSALS = {"BAD_USER_INPUT", "UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "CONFLICT", "TOO_MANY_REQUESTS"}


def refused(body: dict, root_keys: tuple[str, ...]) -> bool:
    """Every root field (or the whole request) failed with a client-caused refusal. An error under a root field
    (a bad argument of a connection it selects) comes after the mutation ran, so it is not a refusal."""
    errors = body.get("errors") or []
    if not errors or any((e.get("extensions") or {}).get("code") not in REFUSALS for e in errors):
        return False
    failed = {e["path"][0] for e in errors if e.get("path") and len(e["path"]) == 1}
    return "data" not in body or any(not e.get("path") for e in errors) or failed >= set(root_keys)


class Target:
    """A seeded server, a reader of its database, and the operations to send it."""

    def __init__(
        self,
        server: ServerProcess,
        seed: Seed,
        db: DatabaseReader,
        client: httpx.Client,
        operations: st.SearchStrategy[Operation],
    ):
        self.server, self.seed, self.db, self.client, self.operations = server, seed, db, client, operations

    def __repr__(self) -> str:
        # Short, because hypothesis prints the test's arguments with every falsifying example.
        return f"Target({self.server.url}, {self.server.database_url})"

    def post(self, op: Operation, role: Role | None) -> httpx.Response:
        # ASCII JSON: lone surrogates travel as \ud800 escapes, as a JavaScript client would send them.
        headers = {"content-type": "application/json"}
        if role is not None:
            headers["authorization"] = f"Bearer {self.seed.token(role)}"
        return self.client.post("/graphql", content=json.dumps(op.body(), ensure_ascii=True), headers=headers)

    def settle(self, timeout: float = 30.0) -> None:
        """Waits until no job is queued or running, so only the request under test can change the database."""
        deadline = time.monotonic() + timeout
        while self.db.active_jobs():
            assert time.monotonic() < deadline, f"jobs still active after {timeout:g} s"
            time.sleep(0.05)

    def exercise(self, op: Operation, role: Role | None) -> tuple[httpx.Response, list[str]]:
        """Sends `op` as `role`; returns the response and the contract violations it shows (none is a pass)."""
        before = None
        if op.is_mutation:
            self.settle()
            before = self.db.fingerprint()
        response = self.post(op, role)
        problems = []
        if response.status_code >= 500:
            problems.append(f"HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            body = {}
            problems.append("the body is not JSON")
        if not ("data" in body or body.get("errors")):
            problems.append("neither data nor errors")
        for error in body.get("errors") or []:
            code = (error.get("extensions") or {}).get("code")
            if not code:
                problems.append(f"an error without extensions.code: {error}")
            elif code == "INTERNAL_SERVER_ERROR":
                problems.append(f"INTERNAL_SERVER_ERROR at {error.get('path')}")
        logged = self.server.new_error_lines()
        if logged:
            problems.append(f"the server logged an error:\n{logged}")
        if before is not None and refused(body, op.root_keys):
            after = self.db.fingerprint()
            changed = sorted(name for name in after if after[name] != before.get(name))
            if changed:
                problems.append(f"the refused mutation changed tables {changed}")
        return response, problems
