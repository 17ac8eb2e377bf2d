"""Two worker processes of `rdflow serve` on the embedded default (SQLite, no Redis): a change made through either
reaches live subscribers on both, relayed over local sockets (grants ended across them: test_subscription_access)."""

from __future__ import annotations

import httpx

from tests.e2e.test_crud_api import CREATE_PROJECT, CREATE_REQ
from tests.e2e.test_subscription_access import subscribed
from tests.live import ServeProcess

EVENTS_WITH_IDS = "subscription($p: ID!) { projectEvents(projectId: $p) { entityType action entityId } }"
LOGIN = 'mutation($p: String!) { login(username: "admin", password: $p) { accessToken } }'


async def gql(url: str, query: str, variables: dict, token: str | None = None) -> dict:
    """One request on a connection of its own: the kernel may hand it to either worker."""
    headers = {"authorization": f"Bearer {token}"} if token else {}
    async with httpx.AsyncClient(base_url=url) as client:
        body = (await client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)).json()
    assert "errors" not in body, body
    return body["data"]


async def test_changes_through_either_worker_reach_subscribers_on_both(tmp_path):
    async with ServeProcess(tmp_path, tmp_path / "serve.out", {"RDFLOW_WORKERS": "2"}) as server:
        token = (await gql(server.url, LOGIN, {"p": ServeProcess.ADMIN_PASSWORD}))["login"]["accessToken"]
        pid = (await gql(server.url, CREATE_PROJECT, {"input": {"name": "Two workers"}}, token))["createProject"]["id"]
        # Sixteen connections: the kernel spreads them over both workers' sockets (all on one: 1 in 32,768).
        sockets = [await subscribed(server.ws_url, token, EVENTS_WITH_IDS, {"p": pid}) for _ in range(16)]
        try:
            created = []
            for i in range(6):
                req = {"input": {"projectId": pid, "title": f"r{i}", "content": "c"}}
                created.append((await gql(server.url, CREATE_REQ, req, token))["createRequirement"]["id"])
            for ws in sockets:
                got = [(await ws.next_payload())["data"]["projectEvents"] for _ in created]
                assert [(e["action"], e["entityId"]) for e in got] == [("created", r) for r in created]
        finally:
            for ws in sockets:
                await ws.__aexit__(None, None, None)
        assert len(list((tmp_path / "live-events").glob("*.sock"))) == 2  # each worker listened
