"""The LLM port without a model: deterministic rule-based PRDs, task plans, code and reviews (embedded default)."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from domain.ai import contracts
from domain.errors import InvalidInput
from domain.ports import ChatTurn, LLMResult, StreamUsage
from integrations.json_schema import JsonSchemaValidator
from integrations.offline import chat
from integrations.offline.codegen import build_code
from integrations.offline.decompose import build_tasks
from integrations.offline.prd import build_prd
from integrations.offline.review import review_files

MODEL = "offline-v1"
CHARS_PER_TOKEN = 4


def estimate_tokens(text: str) -> int:
    """About four characters per token, the usual rule of thumb for English text and code."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _review(ctx: dict[str, Any], prompt: str) -> dict[str, Any]:
    files = [f for f in ctx.get("files") or [] if isinstance(f, dict) and f.get("path")]
    if not files:
        raise InvalidInput("the review step needs context['files']: a list of {path, language, content}", field="files")
    return review_files(files, ctx.get("focus"))


STEPS: dict[str, Callable[[dict[str, Any], str], dict[str, Any]]] = {
    "prd": build_prd,
    "decompose": build_tasks,
    "code": build_code,
    "review": _review,
}


class OfflineLLM:
    """Reads the step's structured `context` (the prompt is the fallback text) and answers the step's contract.

    Same input, same output: nothing here depends on time, randomness or hash ordering.
    """

    name = "offline"
    model = MODEL

    def __init__(self) -> None:
        self.validator = JsonSchemaValidator()

    async def complete_json(
        self, *, step: str, system: str, prompt: str, schema: dict[str, Any], context: dict[str, Any]
    ) -> LLMResult:
        if step not in STEPS:
            raise InvalidInput(f"the offline provider has no {step!r} step; known: {', '.join(STEPS)}", field="step")
        data = contracts.validate(step, STEPS[step](dict(context or {}), prompt), self.validator)
        return LLMResult(
            data=data,
            model=MODEL,
            input_tokens=estimate_tokens(system + prompt),
            output_tokens=estimate_tokens(json.dumps(data, ensure_ascii=False)),
        )

    async def stream_text(
        self, *, system: str, messages: Sequence[ChatTurn], context: dict[str, Any]
    ) -> AsyncIterator[str | StreamUsage]:
        """The offline assistant's answer to the last user turn, word by word, from `context['items']`."""
        question = next((m.text for m in reversed(messages) if m.role == "user"), "")
        text = chat.answer(question, list((context or {}).get("items") or []))
        input_tokens = estimate_tokens(system + "".join(m.text for m in messages))
        yield StreamUsage(MODEL, input_tokens, 0)
        for piece in chat.tokens(text):
            yield piece
        yield StreamUsage(MODEL, input_tokens, estimate_tokens(text))
