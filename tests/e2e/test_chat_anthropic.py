"""Streamed chat replies with the Anthropic provider: the real SDK against the local Messages API server speaking
SSE, the reply followed over a real WebSocket subscription (acceptance 1 of issue 12)."""

from __future__ import annotations

import asyncio

import pytest

from tests.api import Api
from tests.e2e.conftest import running_api, sqlite_settings
from tests.e2e.test_chat_embedded import START, project_with_requirement
from tests.fakes.anthropic_server import FakeAnthropic, streamed
from tests.live import LiveServer, TransportWs

KEY = "sk-ant-test-chat"
MODEL = "claude-sonnet-5-5"
UPDATES = """subscription($id: ID!) { conversationUpdated(id: $id) { kind messageId index delta
  message { id role status content error citations { kind id title } inputTokens outputTokens costUsd } } }"""
SEND = "mutation($c: ID!, $t: String!) { sendMessage(conversationId: $c, text: $t) { id status job { id } } }"
JOB = "query($id: ID!) { job(id: $id) { status error inputTokens outputTokens costUsd } }"


@pytest.fixture(scope="module")
def fake():
    with FakeAnthropic(KEY) as server:
        yield server


@pytest.fixture
async def api(fake, tmp_path):
    fake.reset()
    settings = sqlite_settings(
        tmp_path,
        anthropic_api_key=KEY,
        anthropic_base_url=fake.base_url,
        anthropic_model=MODEL,
        anthropic_max_retries=0,
        anthropic_timeout_s=5,
    )
    async with running_api(settings) as api:
        yield api


@pytest.fixture
async def live(api: Api):
    async with LiveServer(api.app) as server:
        yield server


async def following(api: Api, live: LiveServer) -> tuple[TransportWs, str, str]:
    """A WebSocket following a new conversation about a requirement (its snapshot read): (ws, conversation, req)."""
    pid, rid = await project_with_requirement(api)
    cid = (await api.gql(START, {"p": pid, "about": {"requirementId": rid}}))["startConversation"]["id"]
    ws = TransportWs(live.ws_url)
    await ws.__aenter__()
    assert (await ws.init({"authorization": f"Bearer {api.tokens['admin']}"}))["type"] == "connection_ack"
    await ws.subscribe("1", UPDATES, {"id": cid})
    snapshot = (await ws.next_payload())["data"]["conversationUpdated"]
    assert (snapshot["kind"], snapshot["message"]) == ("SNAPSHOT", None)
    return ws, cid, rid


async def until_reply_ends(ws: TransportWs, reply_id: str) -> tuple[list[dict], dict]:
    """The updates up to the reply's final message, and that message."""
    seen = []
    while True:
        update = (await ws.next_payload())["data"]["conversationUpdated"]
        seen.append(update)
        message = update["message"]
        if update["kind"] == "MESSAGE" and message["id"] == reply_id and message["status"] != "STREAMING":
            return seen, message


def deltas(seen: list[dict], reply_id: str) -> list[str]:
    mine = [u for u in seen if u["kind"] == "DELTA" and u["messageId"] == reply_id]
    assert [u["index"] for u in mine] == list(range(len(mine))), "deltas out of order or missing"
    return [u["delta"] for u in mine]


async def test_tokens_arrive_in_order_then_the_stored_reply_with_citations_and_cost(
    api: Api, live: LiveServer, fake: FakeAnthropic
):
    chunks = ("The ", "reset ", "link ", "must ", "expire ", "after ", "30 ", "minutes ", "[1].")
    fake.plan(streamed(*chunks, input_tokens=1_200, output_tokens=40))
    ws, cid, rid = await following(api, live)
    try:
        reply = (await api.gql(SEND, {"c": cid, "t": "How long is a reset link valid?"}))["sendMessage"]
        seen, final = await until_reply_ends(ws, reply["id"])
    finally:
        await ws.__aexit__()

    assert [u["message"]["role"] for u in seen if u["kind"] == "MESSAGE"] == ["USER", "ASSISTANT", "ASSISTANT"]
    assert deltas(seen, reply["id"]) == list(chunks)
    assert final["status"] == "COMPLETE" and final["error"] is None and final["content"] == "".join(chunks)
    assert final["citations"] == [{"kind": "requirement", "id": rid, "title": "Password reset"}]
    assert (final["inputTokens"], final["outputTokens"]) == (1_200, 40) and final["costUsd"] > 0
    await api.container.queue.join()
    job = (await api.gql(JOB, {"id": reply["job"]["id"]}))["job"]
    assert job["status"] == "SUCCEEDED"
    assert (job["inputTokens"], job["outputTokens"], job["costUsd"]) == (1_200, 40, final["costUsd"])
    [sent] = fake.requests
    assert sent.body["stream"] is True and sent.body["model"] == MODEL
    assert "[1] requirement: Password reset" in sent.body["system"]
    assert sent.body["messages"] == [{"role": "user", "content": "How long is a reset link valid?"}]


async def test_an_error_mid_stream_keeps_the_text_received_marked_incomplete(
    api: Api, live: LiveServer, fake: FakeAnthropic
):
    fake.plan(streamed("Partial ", "answer ", "lost", error_after=2, input_tokens=500))
    ws, cid, _ = await following(api, live)
    try:
        reply = (await api.gql(SEND, {"c": cid, "t": "Summarise the requirement"}))["sendMessage"]
        seen, final = await until_reply_ends(ws, reply["id"])
    finally:
        await ws.__aexit__()

    assert deltas(seen, reply["id"]) == ["Partial ", "answer "]
    assert final["status"] == "INCOMPLETE" and final["content"] == "Partial answer "
    assert "stopped early" in final["error"] and "overloaded_error: Overloaded" in final["error"]
    assert final["inputTokens"] == 500, "the usage received before the error is recorded"
    await api.container.queue.join()
    job = (await api.gql(JOB, {"id": reply["job"]["id"]}))["job"]
    assert job["status"] == "FAILED" and "overloaded_error" in job["error"] and job["inputTokens"] == 500
    assert fake.request_count == 1, "a reply that streamed is not asked again"


async def test_cancelling_a_reply_closes_the_upstream_stream_and_keeps_the_text(
    api: Api, live: LiveServer, fake: FakeAnthropic
):
    fake.plan(streamed(*[f"word{i} " for i in range(200)], delay_s=0.05))
    ws, cid, _ = await following(api, live)
    try:
        reply = (await api.gql(SEND, {"c": cid, "t": "Tell me everything"}))["sendMessage"]
        first = (await ws.next_payload())["data"]["conversationUpdated"]
        seen = [first]
        while not any(u["kind"] == "DELTA" for u in seen):
            seen.append((await ws.next_payload())["data"]["conversationUpdated"])
        cancelled = await api.gql("mutation($m: ID!) { cancelMessage(messageId: $m) { id } }", {"m": reply["id"]})
        assert cancelled["cancelMessage"]["id"] == reply["id"]
        rest, final = await until_reply_ends(ws, reply["id"])
    finally:
        await ws.__aexit__()

    received = deltas(seen + rest, reply["id"])
    assert final["status"] == "CANCELLED" and final["content"] == "".join(received)
    assert 1 <= len(received) < 200
    assert await asyncio.to_thread(fake.stream_closed.wait, 10), "the upstream stream was not closed"
    assert fake.closed_early == 1
    await api.container.queue.join()
    assert (await api.gql(JOB, {"id": reply["job"]["id"]}))["job"]["status"] == "CANCELLED"
