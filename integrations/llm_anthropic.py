"""The LLM port over Anthropic's Messages API: forced tool use for JSON output, retries, circuit breaker."""

from __future__ import annotations

import importlib.util
import re
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import datetime, timedelta
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar, cast

import httpx2
from aiobreaker import CircuitBreaker, CircuitBreakerError
from aiobreaker.state import CircuitBreakerState
from aiobreaker.storage.memory import CircuitMemoryStorage
from jsonschema.validators import validator_for

from domain.errors import AIOutputError, InvalidInput, RetryableError, ServiceUnavailable
from domain.ports import ChatTurn, LLMResult, StreamUsage
from integrations.json_schema import JsonSchemaValidator


def _lazy(name: str) -> ModuleType:
    """The module, executed at its first attribute access (importlib's LazyLoader): the Anthropic SDK's types take
    about half of a server process's start-up, and a deployment on the offline model never uses them."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.loader is not None, f"{name} is a dependency"
    spec.loader = importlib.util.LazyLoader(spec.loader)
    module = sys.modules[name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import anthropic
else:
    anthropic = _lazy("anthropic")

TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}\Z")
SHOWN_VIOLATIONS = 3
R = TypeVar("R")


class _ClockedStorage(CircuitMemoryStorage):
    """Circuit state whose time since opening follows `monotonic`: aiobreaker compares `opened_at` with
    `datetime.utcnow()`, so `opened_at` is reported as that many seconds before it."""

    def __init__(self, monotonic: Callable[[], float]):
        super().__init__(CircuitBreakerState.CLOSED)
        self._monotonic = monotonic
        self._opened = 0.0

    @property
    def opened_at(self) -> datetime | None:
        if self._opened_at is None:
            return None
        return datetime.utcnow() - timedelta(seconds=self._monotonic() - self._opened)

    @opened_at.setter
    def opened_at(self, value: datetime | None) -> None:
        self._opened_at, self._opened = value, self._monotonic()


def new_circuit_breaker(
    fail_max: int = 5, reset_timeout_s: float = 30.0, monotonic: Callable[[], float] = time.monotonic
) -> CircuitBreaker:
    """A breaker that opens after `fail_max` consecutive outages and lets a trial call through after the reset timeout
    (measured by `monotonic`).

    Share one per endpoint (API key + base URL): it only protects calls that go through the same instance.
    """
    return CircuitBreaker(
        fail_max=fail_max,
        timeout_duration=timedelta(seconds=reset_timeout_s),
        exclude=[lambda exc: not is_outage(exc)],
        state_storage=_ClockedStorage(monotonic),
        name="anthropic",
    )


def is_outage(exc: BaseException) -> bool:
    """Failures that say the service is unwell (the ones the SDK retries), as opposed to a refused request."""
    if isinstance(exc, anthropic.APIConnectionError):  # includes APITimeoutError
        return True
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code in (408, 409, 429) or exc.status_code >= 500
    return False


class AnthropicLLM:
    """Asks Claude for JSON matching a schema by forcing a call of one tool whose input schema is that schema.

    Retries are the SDK's own (exponential backoff with jitter, honouring retry-after): up to `max_retries`
    extra attempts, each limited to `timeout_s`. Tenacity around them would multiply the attempts.
    A given `client` (shared, see AnthropicPool) brings its own timeout and retries.
    """

    name = "anthropic"

    def __init__(
        self,
        api_key: str,
        model: str,
        base_url: str | None = None,
        *,
        max_tokens: int = 4096,
        timeout_s: float = 60.0,
        max_retries: int = 3,
        breaker: CircuitBreaker | None = None,
        client: anthropic.AsyncAnthropic | None = None,
    ):
        if not api_key:
            raise InvalidInput("an Anthropic model needs an API key", field="apiKey")
        if not model:
            raise InvalidInput("an Anthropic model needs a model name", field="model")
        self.model = model
        self.max_tokens = max_tokens
        self.breaker = breaker or new_circuit_breaker()
        self._owns_client = client is None
        self.client = client or anthropic.AsyncAnthropic(
            api_key=api_key, base_url=base_url, timeout=timeout_s, max_retries=max_retries
        )
        self.max_retries = self.client.max_retries

    async def aclose(self) -> None:
        if self._owns_client:
            await self.client.close()

    async def complete_json(
        self, *, step: str, system: str, prompt: str, schema: dict[str, Any], context: dict[str, Any]
    ) -> LLMResult:
        tool = f"submit_{step}"
        if not TOOL_NAME.match(tool):
            raise ValueError(f"step {step!r} cannot name a tool")
        validator_for(schema).check_schema(schema)
        message = await self._create(
            model=self.model,
            max_tokens=self.max_tokens,
            system=system,
            messages=[{"role": "user", "content": prompt}],
            tools=[{"name": tool, "description": f"Submit the {step} result.", "input_schema": schema}],
            tool_choice={"type": "tool", "name": tool},
        )
        usage = {
            "model": message.model,
            "input_tokens": message.usage.input_tokens,
            "output_tokens": message.usage.output_tokens,
        }
        note = f" (the answer hit max_tokens={self.max_tokens})" if message.stop_reason == "max_tokens" else ""
        data = _tool_input(message, tool, usage, note)
        _check_against_schema(step, data, schema, usage, note)
        return LLMResult(
            data=data,
            model=message.model,
            input_tokens=message.usage.input_tokens,
            output_tokens=message.usage.output_tokens,
        )

    async def _create(self, **request: Any) -> anthropic.types.Message:
        return await self._call(self.client.messages.create, **request)

    async def _call(self, func: Callable[..., Awaitable[R]], *args: Any, **kwargs: Any) -> R:
        """`func` through the circuit breaker, its failures told apart: an outage may be retried, a refusal not."""
        try:
            return await self.breaker.call_async(func, *args, **kwargs)
        except CircuitBreakerError as exc:
            cause = f"; last failure: {_describe(exc.__cause__)}" if exc.__cause__ else ""
            raise RetryableError(
                f"Anthropic API circuit is open after {self.breaker.fail_max} consecutive failures; calls fail fast "
                f"for {self.breaker.timeout_duration.total_seconds():g}s{cause}",
                details={"provider": self.name, "circuit": "open"},
            ) from exc
        except anthropic.APIError as exc:
            if is_outage(exc):
                raise RetryableError(
                    f"Anthropic API unavailable after {self.max_retries + 1} attempts: {_describe(exc)}",
                    details={"provider": self.name, "attempts": self.max_retries + 1},
                ) from exc
            raise ServiceUnavailable(
                f"Anthropic API refused the request: {_describe(exc)}", details={"provider": self.name}
            ) from exc

    async def stream_text(
        self, *, system: str, messages: Sequence[ChatTurn], context: dict[str, Any]
    ) -> AsyncIterator[str | StreamUsage]:
        """The streaming Messages API: text deltas as they arrive, usage from message_start and message_delta.

        Opening the stream goes through the circuit breaker and the SDK's retries; once text has arrived nothing is
        retried. Leaving early (closing this generator, or cancelling its reader) closes the HTTP response."""
        manager = self.client.messages.stream(
            model=self.model,
            max_tokens=self.max_tokens,
            system=system,
            messages=[cast(anthropic.types.MessageParam, {"role": m.role, "content": m.text}) for m in messages],
        )
        stream = await self._call(manager.__aenter__)
        model, input_tokens, received = self.model, 0, 0
        try:
            async for event in stream:
                if event.type == "message_start":
                    model, input_tokens = event.message.model, event.message.usage.input_tokens
                    yield StreamUsage(model, input_tokens, event.message.usage.output_tokens)
                elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                    received += len(event.delta.text)
                    yield event.delta.text
                elif event.type == "message_delta":
                    yield StreamUsage(model, input_tokens, event.usage.output_tokens)
        except (anthropic.APIError, httpx2.HTTPError) as exc:  # the SDK streams over httpx2
            raise ServiceUnavailable(
                f"the Anthropic stream broke off after {received} characters: {_describe_stream_error(exc)}",
                details={"provider": self.name, "received": received},
            ) from exc
        finally:
            await manager.__aexit__(None, None, None)


class AnthropicPool:
    """Hands out AnthropicLLMs that share one SDK client (connection pool) and one circuit breaker per endpoint.

    Build one per process in the composition root; an LLM built afresh per call would start every call
    with a closed circuit and a cold connection pool.
    """

    def __init__(
        self, *, timeout_s: float = 60.0, max_retries: int = 3, breaker_fail_max: int = 5, breaker_reset_s: float = 30.0
    ):
        self.timeout_s = timeout_s
        self.max_retries = max_retries
        self.breaker_fail_max = breaker_fail_max
        self.breaker_reset_s = breaker_reset_s
        self._endpoints: dict[tuple[str, str | None], tuple[anthropic.AsyncAnthropic, CircuitBreaker]] = {}

    def llm(self, api_key: str, model: str, base_url: str | None = None, *, max_tokens: int = 4096) -> AnthropicLLM:
        if not api_key:
            raise InvalidInput("an Anthropic model needs an API key", field="apiKey")
        endpoint = self._endpoints.get((api_key, base_url))
        if endpoint is None:
            client = anthropic.AsyncAnthropic(
                api_key=api_key, base_url=base_url, timeout=self.timeout_s, max_retries=self.max_retries
            )
            endpoint = self._endpoints[(api_key, base_url)] = (
                client,
                new_circuit_breaker(self.breaker_fail_max, self.breaker_reset_s),
            )
        client, breaker = endpoint
        return AnthropicLLM(api_key, model, base_url, max_tokens=max_tokens, breaker=breaker, client=client)

    async def aclose(self) -> None:
        for client, _ in self._endpoints.values():
            await client.close()
        self._endpoints.clear()


def _describe(exc: BaseException) -> str:
    if isinstance(exc, anthropic.APITimeoutError):
        return "request timed out"
    if isinstance(exc, anthropic.APIStatusError):
        error = exc.body.get("error") if isinstance(exc.body, dict) else None
        error = error if isinstance(error, dict) else {}
        return f"{exc.status_code} {error.get('type', 'error')}: {error.get('message', exc.message)}"
    if isinstance(exc, anthropic.APIConnectionError):
        return f"connection failed ({exc.__cause__ or exc.message})"
    return str(exc)


def _describe_stream_error(exc: BaseException) -> str:
    """An `error` event inside a 200 stream names its type in the body; the status code says nothing."""
    body = getattr(exc, "body", None)
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('type', 'error')}: {error.get('message', '')}"
    return _describe(exc) if isinstance(exc, anthropic.APIError) else f"{type(exc).__name__}: {exc}"


def _tool_input(message: anthropic.types.Message, tool: str, usage: dict[str, Any], note: str) -> dict[str, Any]:
    for block in message.content:
        if block.type == "tool_use" and block.name == tool:
            if not isinstance(block.input, dict):
                raise AIOutputError(f"the {tool} tool input is not a JSON object{note}", field="output", details=usage)
            return block.input
    seen = ", ".join(b.type for b in message.content) or "no content"
    raise AIOutputError(
        f"the model answered without calling the {tool} tool: got {seen}, stop_reason {message.stop_reason}{note}",
        field="output",
        details=usage,
    )


def _check_against_schema(
    step: str, data: dict[str, Any], schema: dict[str, Any], usage: dict[str, Any], note: str
) -> None:
    violations = JsonSchemaValidator().violations(schema, data)
    if not violations:
        return
    shown = "; ".join(map(str, violations[:SHOWN_VIOLATIONS]))
    more = f" (and {len(violations) - SHOWN_VIOLATIONS} more)" if len(violations) > SHOWN_VIOLATIONS else ""
    raise AIOutputError(
        f"the {step} answer does not match its schema{note}: {shown}{more}",
        field="output",
        details={**usage, "violations": [v.path for v in violations]},
    )
