"""Prompt templates: placeholders `{name}` checked against declared variables, and rendering."""

from __future__ import annotations

import string
from collections.abc import Mapping
from typing import Any

from domain.ai import contracts
from domain.ai.schema_check import SchemaValidator
from domain.errors import InvalidInput
from domain.ports import LLM, LLMFactory, LLMResult, SecretBox, UnitOfWork

LITERAL_BRACES = "write {{ and }} for a literal brace"


def placeholders(content: str) -> list[tuple[str, str | None, str | None]]:
    """Each `{...}` of `content`: (field name, conversion, format spec)."""
    try:
        return [
            (name, conversion, spec)
            for _, name, spec, conversion in string.Formatter().parse(content)
            if name is not None
        ]
    except ValueError as exc:
        raise InvalidInput(f"content is not a valid template ({exc}); {LITERAL_BRACES}", field="content") from exc


def check_template(content: str, variables: list[str]) -> None:
    """A template renders with any values of its declared variables: plain `{name}` placeholders only (a `{}`, a
    conversion or a format would fail the AI job that renders it, not the save)."""
    fields = placeholders(content)
    if any(name == "" for name, _, _ in fields):
        raise InvalidInput(
            f"content has an empty placeholder {{}}; name a variable, or {LITERAL_BRACES}", field="content"
        )
    used = {name for name, _, _ in fields}
    bad = sorted(name for name in used if not name.isidentifier())
    if bad:
        raise InvalidInput(f"placeholders must be plain names, got: {', '.join(bad)}", field="content")
    formatted = sorted({name for name, conversion, spec in fields if conversion or spec})
    if formatted:
        raise InvalidInput(
            f"placeholders take no conversion or format (!r, :d): {', '.join(formatted)}; {LITERAL_BRACES}",
            field="content",
        )
    undeclared = sorted(used - set(variables))
    if undeclared:
        raise InvalidInput(f"content uses undeclared variables: {', '.join(undeclared)}", field="variables")


def render(content: str, values: Mapping[str, Any]) -> str:
    """Fill a template; a variable without a value renders empty rather than failing a job."""
    return string.Formatter().vformat(content, (), _Defaulting(values))


class _Defaulting(dict[str, Any]):
    def __init__(self, values: Mapping[str, Any]):
        super().__init__({k: ("" if v is None else v) for k, v in values.items()})

    def __missing__(self, key: str) -> str:
        return ""


async def default_llm(uow: UnitOfWork, llms: LLMFactory, secrets: SecretBox) -> LLM:
    """The LLM of the default AI model configuration (its API key decrypted), or the deployment's default provider."""
    async with uow:
        config = await uow.ai_models.find_one(is_default=True)
    key = secrets.decrypt(config.api_key_encrypted) if config and config.api_key_encrypted else None
    return llms.create(config, key)


async def ask(
    llm: LLM, step: str, context: dict[str, Any], validator: SchemaValidator, template: str | None = None
) -> LLMResult:
    """Ask `llm` for one AI step's output with its prompt `template` (default: the step's), checked against the
    step's contract before anyone uses it."""
    result = await llm.complete_json(
        step=step,
        system=contracts.system_prompt(step),
        prompt=render(template or contracts.default_prompt(step), contracts.prompt_values(step, context)),
        schema=contracts.schema(step),
        context=context,
    )
    contracts.validate(step, result.data, validator)
    return result
