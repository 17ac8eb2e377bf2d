"""AnthropicLLM.stream_text through the real anthropic SDK against the local Messages API server speaking SSE."""

from __future__ import annotations

import asyncio
import contextlib

import pytest

from domain.errors import ServiceUnavailable
from domain.ports import ChatTurn, StreamUsage
from integrations.llm_anthropic import AnthropicLLM
from tests.fakes.anthropic_server import FakeAnthropic, api_error, streamed

API_KEY = "sk-ant-test-stream"
MODEL = "claude-sonnet-5-5"
ASK = [ChatTurn("user", "Why does test_reset_expires fail?")]


@pytest.fixture(scope="module")
def fake_api():
    with FakeAnthropic(API_KEY) as server:
        yield server


@pytest.fixture
async def llm(fake_api):
    fake_api.reset()
    llm = AnthropicLLM(API_KEY, MODEL, fake_api.base_url, timeout_s=5.0, max_retries=1)
    yield llm
    await llm.aclose()


async def collect(llm: AnthropicLLM) -> tuple[list[str], list[StreamUsage]]:
    texts: list[str] = []
    usages: list[StreamUsage] = []
    async for piece in llm.stream_text(system="You help.", messages=ASK, context={}):
        (usages if isinstance(piece, StreamUsage) else texts).append(piece)  # type: ignore[arg-type]
    return texts, usages


async def test_text_arrives_in_order_with_the_usage_last(llm, fake_api: FakeAnthropic):
    fake_api.plan(streamed("The ", "link ", "expired ", "[1].", input_tokens=321, output_tokens=7))

    texts, usages = await collect(llm)

    assert texts == ["The ", "link ", "expired ", "[1]."]
    assert usages[0] == StreamUsage(MODEL, 321, 1) and usages[-1] == StreamUsage(MODEL, 321, 7)
    [sent] = fake_api.requests
    assert sent.body["stream"] is True and sent.body["system"] == "You help."
    assert sent.body["messages"] == [{"role": "user", "content": "Why does test_reset_expires fail?"}]


async def test_an_error_event_mid_stream_raises_after_the_text_received(llm, fake_api: FakeAnthropic):
    fake_api.plan(streamed("Half ", "an ", "answer", error_after=2))
    texts: list[str] = []

    with pytest.raises(ServiceUnavailable) as caught:
        async for piece in llm.stream_text(system="s", messages=ASK, context={}):
            if isinstance(piece, str):
                texts.append(piece)  # noqa: PERF401 - the stream raises part-way: keep what came before

    assert texts == ["Half ", "an "]
    assert "overloaded_error: Overloaded" in caught.value.message and "after 8 characters" in caught.value.message


async def test_a_refused_stream_is_a_clear_error_before_any_text(llm, fake_api: FakeAnthropic):
    fake_api.plan(api_error(400, "invalid_request_error", "messages: roles must alternate"))

    with pytest.raises(ServiceUnavailable, match="roles must alternate"):
        await collect(llm)


async def test_cancelling_the_reader_closes_the_upstream_stream(llm, fake_api: FakeAnthropic):
    fake_api.plan(streamed(*[f"w{i} " for i in range(100)], delay_s=0.05))
    first = asyncio.Event()

    async def read() -> None:
        async for piece in llm.stream_text(system="s", messages=ASK, context={}):
            if isinstance(piece, str):
                first.set()

    reader = asyncio.create_task(read())
    await first.wait()
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader

    assert await asyncio.to_thread(fake_api.stream_closed.wait, 10), "the server never saw the stream closed"
    assert fake_api.closed_early == 1
