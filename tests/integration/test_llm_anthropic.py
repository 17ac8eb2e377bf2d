"""AnthropicLLM driven through the real anthropic SDK against a local server speaking the Messages API."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from aiobreaker import CircuitBreakerState

from domain.errors import AIOutputError, RetryableError, ServiceUnavailable
from integrations.llm_anthropic import AnthropicLLM, AnthropicPool, new_circuit_breaker
from tests.fakes.anthropic_server import FakeAnthropic, api_error, overloaded, rate_limited, slow, text_only, tool_call
from tests.fakes.clock import SettableClock

REPO = Path(__file__).resolve().parents[2]
API_KEY = "sk-ant-test-key"
MODEL = "claude-sonnet-5-5"
SCHEMA = {
    "type": "object",
    "required": ["sections"],
    "additionalProperties": False,
    "properties": {
        "sections": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["title", "content"],
                "properties": {"title": {"type": "string"}, "content": {"type": "string"}},
            },
        },
    },
}
PRD = {"sections": [{"title": "Goals", "content": "Ship the export."}]}


@pytest.fixture(scope="module")
def fake_api():
    with FakeAnthropic(API_KEY) as server:
        yield server


@pytest.fixture
def api(fake_api):
    fake_api.reset()
    return fake_api


@pytest.fixture
async def make_llm(api):
    made: list[AnthropicLLM] = []

    def make(**options) -> AnthropicLLM:
        options = {"timeout_s": 5.0, "max_retries": 2, **options}
        llm = AnthropicLLM(API_KEY, MODEL, api.base_url, **options)
        made.append(llm)
        return llm

    yield make
    for llm in made:
        await llm.aclose()


async def ask(llm: AnthropicLLM, step: str = "prd"):
    return await llm.complete_json(
        step=step,
        system="You write PRDs.",
        prompt="Requirement: CSV export",
        schema=SCHEMA,
        context={"title": "CSV export"},
    )


async def test_returns_the_tool_input_with_usage_and_sends_the_schema_as_a_forced_tool(api, make_llm):
    api.plan(tool_call(PRD, input_tokens=321, output_tokens=54))

    result = await ask(make_llm(max_tokens=2048))

    assert result.data == PRD
    assert (result.model, result.input_tokens, result.output_tokens) == (MODEL, 321, 54)
    [sent] = api.requests
    assert sent.body["tools"] == [
        {"name": "submit_prd", "description": "Submit the prd result.", "input_schema": SCHEMA}
    ]
    assert sent.body["tool_choice"] == {"type": "tool", "name": "submit_prd"}
    assert sent.body["system"] == "You write PRDs."
    assert sent.body["messages"] == [{"role": "user", "content": "Requirement: CSV export"}]
    assert (sent.body["model"], sent.body["max_tokens"]) == (MODEL, 2048)
    assert not {"temperature", "top_p", "top_k"} & sent.body.keys()
    assert API_KEY in (sent.headers.get("x-api-key"), sent.headers.get("authorization", "").removeprefix("Bearer "))
    assert sent.headers["anthropic-version"]


async def test_a_rate_limit_is_retried_after_the_servers_retry_after(api, make_llm):
    api.plan(rate_limited(retry_after_s=0.05), tool_call(PRD))

    result = await ask(make_llm())

    assert result.data == PRD
    assert api.request_count == 2


async def test_an_overloaded_api_is_retried(api, make_llm):
    api.plan(overloaded(), tool_call(PRD))

    result = await ask(make_llm())

    assert result.data == PRD
    assert api.request_count == 2


async def test_timeouts_end_in_a_retryable_error_after_the_bounded_retries(api, make_llm):
    api.plan(slow(2.0, tool_call(PRD)), slow(2.0, tool_call(PRD)), slow(2.0, tool_call(PRD)))

    with pytest.raises(RetryableError, match="unavailable after 2 attempts: request timed out") as caught:
        await ask(make_llm(timeout_s=0.2, max_retries=1))

    assert caught.value.code == "SERVICE_UNAVAILABLE"
    assert api.request_count == 2


async def test_persistent_overload_ends_in_a_retryable_error_naming_the_status(api, make_llm):
    api.plan(overloaded(), overloaded())

    with pytest.raises(RetryableError, match="after 2 attempts: 529 overloaded_error: Overloaded"):
        await ask(make_llm(max_retries=1))

    assert api.request_count == 2


async def test_an_answer_without_the_tool_call_is_a_non_retryable_error_naming_the_problem(api, make_llm):
    api.plan(text_only("Here is your PRD: ...", input_tokens=200, output_tokens=30))

    with pytest.raises(AIOutputError) as caught:
        await ask(make_llm(), step="review")

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.message == (
        "the model answered without calling the submit_review tool: got text, stop_reason end_turn"
    )
    assert caught.value.details == {"model": MODEL, "input_tokens": 200, "output_tokens": 30}
    assert api.request_count == 1


async def test_a_tool_input_violating_the_schema_names_the_json_path(api, make_llm):
    api.plan(tool_call({"sections": [{"title": 7, "content": "x"}, {"title": "Scope"}]}))

    with pytest.raises(AIOutputError) as caught:
        await ask(make_llm())

    message = caught.value.message
    assert message.startswith("the prd answer does not match its schema: ")
    assert "$.sections[0].title: 7 is not of type 'string'" in message
    assert "$.sections[1]: 'content' is a required property" in message
    assert caught.value.details["violations"] == ["$.sections[0].title", "$.sections[1]"]
    assert caught.value.field == "output"
    assert api.request_count == 1


async def test_a_truncated_answer_says_it_hit_max_tokens(api, make_llm):
    api.plan(tool_call({}, output_tokens=64, stop_reason="max_tokens"))

    with pytest.raises(AIOutputError, match=r"schema \(the answer hit max_tokens=64\): \$: 'sections' is a required"):
        await ask(make_llm(max_tokens=64))


async def test_a_refused_request_is_not_retried_and_does_not_trip_the_breaker(api, make_llm):
    breaker = new_circuit_breaker(fail_max=1, reset_timeout_s=60)
    api.plan(api_error(400, "invalid_request_error", "prompt is too long: 250000 tokens > 200000 maximum"))

    with pytest.raises(ServiceUnavailable) as caught:
        await ask(make_llm(breaker=breaker))

    assert not isinstance(caught.value, RetryableError)
    assert caught.value.message == (
        "Anthropic API refused the request: 400 invalid_request_error: "
        "prompt is too long: 250000 tokens > 200000 maximum"
    )
    assert api.request_count == 1
    assert breaker.current_state is CircuitBreakerState.CLOSED


async def test_a_wrong_api_key_is_refused_by_the_server_without_retries(api):
    llm = AnthropicLLM("sk-ant-wrong", MODEL, api.base_url, max_retries=2)
    try:
        with pytest.raises(ServiceUnavailable, match="401 authentication_error: invalid x-api-key"):
            await ask(llm)
    finally:
        await llm.aclose()
    assert api.request_count == 1


async def test_the_circuit_opens_after_consecutive_failures_fails_fast_and_closes_after_its_reset(api, make_llm):
    clock = SettableClock()
    breaker = new_circuit_breaker(fail_max=2, reset_timeout_s=30, monotonic=clock.monotonic)
    llm = make_llm(max_retries=0, breaker=breaker)
    api.plan(overloaded(), overloaded())

    with pytest.raises(RetryableError, match="unavailable after 1 attempts"):
        await ask(llm)
    with pytest.raises(RetryableError, match=r"circuit is open after 2 consecutive failures.*last failure: 529"):
        await ask(llm)
    assert api.request_count == 2
    with pytest.raises(RetryableError, match="circuit is open") as caught:
        await ask(llm)
    assert caught.value.details["circuit"] == "open"
    assert api.request_count == 2, "an open circuit must not reach the server"

    clock.advance(29)
    with pytest.raises(RetryableError, match="circuit is open"):
        await ask(llm)
    clock.advance(1)
    api.plan(tool_call(PRD))
    result = await ask(llm)

    assert result.data == PRD
    assert api.request_count == 3
    assert breaker.current_state is CircuitBreakerState.CLOSED


async def test_llms_from_one_pool_share_the_endpoints_circuit(api):
    pool = AnthropicPool(timeout_s=5.0, max_retries=0, breaker_fail_max=1, breaker_reset_s=60)
    try:
        opus = pool.llm(API_KEY, "claude-opus-5-5", api.base_url)
        sonnet = pool.llm(API_KEY, MODEL, api.base_url, max_tokens=1024)
        api.plan(overloaded())

        with pytest.raises(RetryableError, match="circuit is open after 1 consecutive failures"):
            await ask(opus)
        with pytest.raises(RetryableError, match="circuit is open"):
            await ask(sonnet)

        assert api.request_count == 1
        assert sonnet.breaker is opus.breaker and sonnet.client is opus.client
    finally:
        await pool.aclose()


def test_the_sdk_is_loaded_only_when_an_anthropic_model_is_used(fake_api):
    """A server on the offline model never executes the SDK (half of a process's start-up); the first Anthropic
    call loads it, and its errors are classified as before."""
    probe = f"""
import asyncio, sys
import server.app
from integrations.llm_anthropic import AnthropicPool, is_outage
assert "anthropic.types" not in sys.modules, "the SDK ran at start-up"
llm = AnthropicPool(max_retries=0).llm({API_KEY!r}, {MODEL!r}, {fake_api.base_url!r})
assert "anthropic.types" in sys.modules
import anthropic
print(is_outage(anthropic.APIConnectionError(request=None)), type(llm.client).__name__)
"""
    done = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=120, cwd=REPO
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "AsyncAnthropic"]
